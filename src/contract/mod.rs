//! Contract checking against ServiceTitan's official OpenAPI documents (API.md §14).
//!
//! [`Specs`] loads the ten spec files once, finds the operation for a `(method, module, path)`,
//! and validates request bodies, query strings and responses against the documented schemas with
//! the `jsonschema` crate (JSON Schema 2020-12, the dialect of OpenAPI 3.1). [`Specs::instances`]
//! builds instances of a schema for decode tests; [`tally`] counts what a test run validated.
//!
//! The sandbox's one call per exchange is [`Specs::record_exchange`] (lookup, query, request
//! body, response; counted and recorded); tests that provoke violations on purpose use
//! [`Specs::check_exchange`], which records nothing. Load cost is about 0.1 s for the ten files;
//! a validator is compiled on first use of a schema (a few ms) and cached, after which checking a
//! customer response takes about 15 µs in a debug build.
//!
//! This module sits at the bottom of the layering: it imports nothing from the rest of the crate,
//! so the sandbox, the client tests and the contract tests can all use it.
//!
//! Formats: only `date-time` is asserted. `int64`/`int32` are covered by `type: integer`;
//! `decimal`, `guid`, `double` are unknown to JSON Schema and ignored; `date`, `duration`,
//! `email`, `uuid` and `time` are accepted as any string because ServiceTitan's .NET spellings
//! (for example a `duration` of `01:30:00`) are not the JSON Schema ones.
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

mod instances;
pub mod tally;

pub use instances::Fill;

/// Environment variable naming the folder with the spec files.
pub const OPENAPI_DIR_ENV: &str = "TITANBRIDGE_OPENAPI_DIR";

/// The prefix of every spec path; templates are given below it.
const TENANT_PREFIX: &str = "/tenant/{tenant}";

/// Base of the URIs under which each spec document is registered (never fetched).
const DOC_BASE: &str = "https://titanbridge.invalid/openapi/";

/// Formats asserted by name as "any string" (see the module docs).
const LENIENT_FORMATS: &[&str] = &["date", "duration", "email", "uuid", "time"];

/// Longest rule text kept in a [`Violation`]; instance dumps beyond it are cut.
const MAX_RULE_CHARS: usize = 300;

/// Why the specs could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A file or folder could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A spec file is not JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A spec file lacks what every ServiceTitan spec has.
    #[error("{path}: {what}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// The folder holds no spec file.
    #[error("no *-v2.json spec files in {0}")]
    Empty(PathBuf),
    /// The documents could not be registered for `$ref` resolution.
    #[error("registering the spec documents: {0}")]
    Registry(String),
}

/// Which part of an exchange a [`Violation`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The request body.
    Request,
    /// The query string.
    Query,
    /// The response (status or body).
    Response,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Request => "request",
            Direction::Query => "query",
            Direction::Response => "response",
        })
    }
}

/// One way an exchange departs from the spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Violation {
    /// The operationId, e.g. `Customers_Get`.
    pub operation: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template below `/tenant/{tenant}`, e.g. `/customers/{id}`.
    pub template: String,
    /// Request, query or response.
    pub direction: Direction,
    /// JSON pointer into the instance (`/data/0/externalData`; the parameter name for a query).
    pub instance_path: String,
    /// The keyword and message, e.g. `type: [..] is not of type "object"`.
    pub rule: String,
}

impl fmt::Display for Violation {
    /// One line: `Customers_Get GET /customers/{id} response /externalData: type: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.instance_path.is_empty() {
            "(root)"
        } else {
            &self.instance_path
        };
        write!(
            f,
            "{} {} {} {} {}: {}",
            self.operation, self.method, self.template, self.direction, path, self.rule
        )
    }
}

/// One HTTP exchange with a module's API, for [`Specs::check_exchange`].
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// HTTP method (any case).
    pub method: &'a str,
    /// Module path segment, e.g. `crm`.
    pub module: &'a str,
    /// Path below `/{module}/v2/tenant/{t}`, e.g. `/customers/123`.
    pub path: &'a str,
    /// The decoded query string.
    pub query: &'a [(String, String)],
    /// The JSON request body, if one was sent.
    pub request_body: Option<&'a Value>,
    /// The response status.
    pub status: u16,
    /// The JSON response body, `Value::Null` when there is none.
    pub response_body: &'a Value,
}

/// One path segment of a template.
#[derive(Debug)]
enum Segment {
    Literal(String),
    Param,
}

/// One operation of one module, as indexed at load time.
#[derive(Debug)]
struct OpEntry {
    method: String,
    template: String,
    segments: Vec<Segment>,
    id: String,
    /// JSON pointer to the operation object in its document.
    pointer: String,
}

/// One spec document.
struct Module {
    name: String,
    uri: String,
    doc: Arc<Value>,
    ops: Vec<OpEntry>,
}

/// The parsed spec documents with their operations and a cache of compiled validators.
pub struct Specs {
    modules: Vec<Module>,
    registry: Registry<'static>,
    /// Compiled validators keyed by absolute schema URI (`<doc uri>#<pointer>`).
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl fmt::Debug for Specs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Specs")
            .field("modules", &self.modules().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Escapes one JSON pointer token (RFC 6901).
fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Percent-encodes a JSON pointer for use as a URI fragment.
fn fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + 16);
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/').filter(|s| !s.is_empty())
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// The module path segment a document serves, from its first server URL
/// (`https://api.servicetitan.io/crm/v2` → `crm`).
fn module_name(doc: &Value, file: &Path) -> Option<String> {
    let from_server = doc
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .and_then(|url| {
            let mut segs = url.trim_end_matches('/').rsplit('/');
            let _version = segs.next()?;
            segs.next().map(str::to_owned)
        });
    from_server.or_else(|| {
        file.file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.trim_end_matches("-v2").replace('-', ""))
    })
}

fn index_operations(doc: &Value, path: &Path) -> Result<Vec<OpEntry>, ContractError> {
    let paths =
        doc.get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| ContractError::Shape {
                path: path.to_owned(),
                what: "no `paths` object".into(),
            })?;
    let mut ops = Vec::new();
    for (full, item) in paths {
        let template = full.strip_prefix(TENANT_PREFIX).unwrap_or(full).to_owned();
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item.iter().filter(|(k, _)| is_method(k)) {
            let segments = split_path(&template)
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Param
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            ops.push(OpEntry {
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                segments,
                id: op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                pointer: format!("/paths/{}/{method}", escape_token(full)),
            });
        }
    }
    Ok(ops)
}

impl Specs {
    /// `TITANBRIDGE_OPENAPI_DIR`, else `<CARGO_MANIFEST_DIR>/../shared/servicetitan/openapi`, if
    /// that folder exists.
    pub fn default_dir() -> Option<PathBuf> {
        let dir = match std::env::var_os(OPENAPI_DIR_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/servicetitan/openapi"),
        };
        dir.is_dir().then_some(dir)
    }

    /// Loads every `*-v2.json` spec in `dir`.
    pub fn load(dir: &Path) -> Result<Specs, ContractError> {
        let io = |source| ContractError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with("-v2.json"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ContractError::Empty(dir.to_owned()));
        }
        let mut modules = Vec::with_capacity(files.len());
        for path in files {
            let bytes = std::fs::read(&path).map_err(|source| ContractError::Io {
                path: path.clone(),
                source,
            })?;
            let doc: Value =
                serde_json::from_slice(&bytes).map_err(|source| ContractError::Json {
                    path: path.clone(),
                    source,
                })?;
            let name = module_name(&doc, &path).ok_or_else(|| ContractError::Shape {
                path: path.clone(),
                what: "no server URL to name the module".into(),
            })?;
            let ops = index_operations(&doc, &path)?;
            modules.push(Module {
                uri: format!("{DOC_BASE}{name}"),
                name,
                doc: Arc::new(doc),
                ops,
            });
        }
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .retrieve_known_draft_meta_schemas(false)
            .extend(modules.iter().map(|m| (m.uri.clone(), Arc::clone(&m.doc))))
            .and_then(|b| b.prepare())
            .map_err(|e| ContractError::Registry(e.to_string()))?;
        Ok(Specs {
            modules,
            registry,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Loaded once per process from [`Specs::default_dir`]; `None` when the files are absent
    /// (a load error is printed once to stderr and also gives `None`).
    pub fn global() -> Option<&'static Specs> {
        static GLOBAL: OnceLock<Option<Specs>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let dir = Specs::default_dir()?;
                match Specs::load(&dir) {
                    Ok(specs) => Some(specs),
                    Err(e) => {
                        eprintln!("contract: ServiceTitan specs not loaded: {e}");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// The module names (`accounting`, `crm`, …, `schedulingpro`, `settings`).
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name.as_str())
    }

    fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// The whole spec document of a module.
    pub fn document(&self, module: &str) -> Option<&Value> {
        self.module(module).map(|m| &*m.doc)
    }

    /// The operation for `(method, module, path)`, where `path` is below
    /// `/{module}/v2/tenant/{t}` (e.g. `/customers/123/tags/5`; a query string is ignored).
    /// Literal segments win over `{param}` segments, leftmost first.
    pub fn operation(&self, method: &str, module: &str, path: &str) -> Option<Operation<'_>> {
        let m = self.module(module)?;
        let segs: Vec<&str> = split_path(path).collect();
        let mut best: Option<(&OpEntry, Vec<bool>)> = None;
        for op in &m.ops {
            if !op.method.eq_ignore_ascii_case(method) || op.segments.len() != segs.len() {
                continue;
            }
            let mut literal = Vec::with_capacity(segs.len());
            let matched = op.segments.iter().zip(&segs).all(|(t, s)| match t {
                Segment::Literal(l) => {
                    literal.push(true);
                    l == s
                }
                Segment::Param => {
                    literal.push(false);
                    true
                }
            });
            if matched && best.as_ref().is_none_or(|(_, b)| literal > *b) {
                best = Some((op, literal));
            }
        }
        best.map(|(entry, _)| Operation {
            specs: self,
            module: m,
            entry,
        })
    }

    /// The operation whose template is `template` modulo parameter names
    /// (`/customers/{customerId}` finds `/customers/{id}`).
    pub fn operation_by_template(
        &self,
        method: &str,
        module: &str,
        template: &str,
    ) -> Option<Operation<'_>> {
        let m = self.module(module)?;
        let want: Vec<Option<&str>> = split_path(template)
            .map(|s| (!s.starts_with('{')).then_some(s))
            .collect();
        m.ops
            .iter()
            .find(|op| {
                op.method.eq_ignore_ascii_case(method)
                    && op.segments.len() == want.len()
                    && op.segments.iter().zip(&want).all(|(t, w)| match (t, w) {
                        (Segment::Literal(l), Some(w)) => l == w,
                        (Segment::Param, None) => true,
                        _ => false,
                    })
            })
            .map(|entry| Operation {
                specs: self,
                module: m,
                entry,
            })
    }

    /// Every operation of every module.
    pub fn operations(&self) -> impl Iterator<Item = Operation<'_>> {
        self.modules.iter().flat_map(move |m| {
            m.ops.iter().map(move |entry| Operation {
                specs: self,
                module: m,
                entry,
            })
        })
    }

    /// Follows `$ref`s (within the module's document) until a schema without one.
    pub fn resolve<'a>(&'a self, module: &str, schema: &'a Value) -> &'a Value {
        let Some(m) = self.module(module) else {
            return schema;
        };
        resolve_in(&m.doc, schema)
    }

    /// Validates `instance` against the named schema under `components.schemas` of `module`.
    /// Returns `(instance path, rule)` pairs; an unknown schema name is one pair with rule
    /// `$ref: unknown schema`.
    pub fn validate_component(
        &self,
        module: &str,
        name: &str,
        instance: &Value,
    ) -> Vec<(String, String)> {
        let Some(m) = self.module(module) else {
            return vec![(String::new(), format!("$ref: unknown module {module}"))];
        };
        self.check(
            m,
            &format!("/components/schemas/{}", escape_token(name)),
            instance,
        )
    }

    /// The compiled validator for the schema at `pointer` in module `m`.
    fn validator(&self, m: &Module, pointer: &str) -> Result<Arc<Validator>, String> {
        let key = format!("{}#{}", m.uri, fragment(pointer));
        if let Some(v) = self.lock_validators().get(&key) {
            return Ok(Arc::clone(v));
        }
        if m.doc.pointer(pointer).is_none() {
            return Err(format!("$ref: unknown schema {pointer}"));
        }
        let wrapper = serde_json::json!({ "$ref": key });
        let mut options = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true);
        for name in LENIENT_FORMATS {
            options = options.with_format(*name, |_: &str| true);
        }
        let compiled = Arc::new(
            options
                .build(&wrapper)
                .map_err(|e| format!("schema: {e}"))?,
        );
        self.lock_validators()
            .entry(key)
            .or_insert_with(|| Arc::clone(&compiled));
        Ok(compiled)
    }

    fn lock_validators(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Validator>>> {
        self.validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Validates `instance` against the schema at `pointer` (a JSON pointer into `m`'s document).
    fn check(&self, m: &Module, pointer: &str, instance: &Value) -> Vec<(String, String)> {
        let validator = match self.validator(m, pointer) {
            Ok(v) => v,
            Err(rule) => return vec![(String::new(), rule)],
        };
        if validator.is_valid(instance) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in validator.iter_errors(instance) {
            flatten(&e, &mut out);
        }
        out
    }

    /// Checks one whole exchange: the operation must exist, then the query, the request body and
    /// the response are validated. Records nothing; see [`Specs::record_exchange`].
    pub fn check_exchange(&self, exchange: &Exchange<'_>) -> Vec<Violation> {
        let Some(op) = self.operation(exchange.method, exchange.module, exchange.path) else {
            let method = exchange.method.to_ascii_uppercase();
            return vec![Violation {
                operation: "(no operation)".into(),
                rule: format!(
                    "paths: the {} spec has no {method} {}",
                    exchange.module, exchange.path
                ),
                method,
                template: exchange.path.to_owned(),
                direction: Direction::Request,
                instance_path: String::new(),
            }];
        };
        let mut v = op.validate_query(exchange.query);
        v.extend(op.validate_request_body(exchange.request_body));
        v.extend(op.validate_response(exchange.status, exchange.response_body));
        v
    }

    /// [`Specs::check_exchange`], counted in [`tally`] (one request, one response) with every
    /// violation recorded: what the sandbox calls for each exchange of the test suite.
    pub fn record_exchange(&self, exchange: &Exchange<'_>) -> Vec<Violation> {
        let violations = self.check_exchange(exchange);
        tally::record_request();
        tally::record_response();
        for v in &violations {
            tally::record_violation(v);
        }
        violations
    }

    /// Builds instances of `schema` (a schema object of `module`'s document, usually a
    /// `{"$ref": …}`) for decode tests: [`Fill::Full`], [`Fill::Nulls`] and
    /// [`Fill::RequiredOnly`], in that order. See [`Fill`] for the rules. Every instance is valid
    /// against the schema (the unit tests check that for every schema of every module).
    pub fn instances(&self, module: &str, schema: &Value) -> Vec<Value> {
        Fill::ALL
            .iter()
            .map(|fill| self.instance(module, schema, *fill))
            .collect()
    }

    /// One instance of `schema`; see [`Specs::instances`].
    pub fn instance(&self, module: &str, schema: &Value, fill: Fill) -> Value {
        let doc = self.module(module).map(|m| &*m.doc).unwrap_or(&Value::Null);
        instances::build(doc, schema, fill)
    }
}

/// Turns a validation error into `(instance path, rule)` pairs. A failed `oneOf`/`anyOf` with
/// one plausible branch (the specs' `oneOf: [{$ref}]` enums and `[{$ref}, {type: null}]`
/// nullables) reports that branch's errors, which name the real keyword (`enum`, `required`…).
fn flatten(e: &jsonschema::ValidationError<'_>, out: &mut Vec<(String, String)>) {
    use jsonschema::error::ValidationErrorKind;
    if let ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } =
        e.kind()
    {
        let here = e.instance_path().as_str();
        // a branch that fails only because the value has the wrong type is not the one meant
        let plausible: Vec<&Vec<jsonschema::ValidationError<'static>>> = context
            .iter()
            .filter(|errors| {
                !(errors.len() == 1
                    && errors[0].kind().keyword() == "type"
                    && errors[0].instance_path().as_str() == here)
            })
            .collect();
        if let [branch] = plausible[..]
            && !branch.is_empty()
        {
            for inner in branch {
                flatten(inner, out);
            }
            return;
        }
    }
    let rule = format!("{}: {e}", e.kind().keyword()).replace(['\n', '\r'], " ");
    out.push((e.instance_path().as_str().to_owned(), truncate(rule)));
}

fn truncate(mut rule: String) -> String {
    if rule.chars().count() > MAX_RULE_CHARS {
        let cut = rule
            .char_indices()
            .nth(MAX_RULE_CHARS)
            .map_or(rule.len(), |(i, _)| i);
        rule.truncate(cut);
        rule.push('…');
    }
    rule
}

/// Follows local `$ref`s in `doc`, at most 32 deep (a cycle of bare refs stops there).
fn resolve_in<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| doc.pointer(p))
        else {
            break;
        };
        schema = target;
    }
    schema
}

/// One operation of one module's spec.
#[derive(Clone, Copy)]
pub struct Operation<'a> {
    specs: &'a Specs,
    module: &'a Module,
    entry: &'a OpEntry,
}

impl fmt::Debug for Operation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.entry.id, self.module.name, self.entry.method, self.entry.template
        )
    }
}

impl<'a> Operation<'a> {
    /// The operationId, e.g. `Customers_Get`.
    pub fn id(&self) -> &'a str {
        &self.entry.id
    }

    /// The method, upper case.
    pub fn method(&self) -> &'a str {
        &self.entry.method
    }

    /// The module path segment, e.g. `crm`.
    pub fn module(&self) -> &'a str {
        &self.module.name
    }

    /// The template below `/tenant/{tenant}`, e.g. `/customers/{id}/tags/{tagTypeId}`.
    pub fn template(&self) -> &'a str {
        &self.entry.template
    }

    /// The operation object of the spec.
    pub fn spec(&self) -> &'a Value {
        self.module
            .doc
            .pointer(&self.entry.pointer)
            .unwrap_or(&Value::Null)
    }

    fn violation(&self, direction: Direction, instance_path: String, rule: String) -> Violation {
        Violation {
            operation: self.entry.id.clone(),
            method: self.entry.method.clone(),
            template: self.entry.template.clone(),
            direction,
            instance_path,
            rule,
        }
    }

    fn check(&self, direction: Direction, pointer: &str, instance: &Value) -> Vec<Violation> {
        self.specs
            .check(self.module, pointer, instance)
            .into_iter()
            .map(|(path, rule)| self.violation(direction, path, rule))
            .collect()
    }

    /// The request body schema, if the operation takes a JSON body.
    pub fn request_schema(&self) -> Option<&'a Value> {
        self.spec()
            .pointer("/requestBody/content/application~1json/schema")
    }

    /// Whether a body must be sent: `requestBody.required`, or (the ServiceTitan specs never set
    /// that flag) a body schema with required properties.
    pub fn request_body_required(&self) -> bool {
        let Some(body) = self.spec().get("requestBody") else {
            return false;
        };
        if let Some(required) = body.get("required").and_then(Value::as_bool) {
            return required;
        }
        self.request_schema().is_some_and(|s| {
            resolve_in(&self.module.doc, s)
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty())
        })
    }

    /// Checks a request body: against the documented schema; a missing required body and a body
    /// sent to an operation that documents none are violations too.
    pub fn validate_request_body(&self, body: Option<&Value>) -> Vec<Violation> {
        let body = body.filter(|b| !b.is_null());
        match (self.request_schema(), body) {
            (Some(_), Some(body)) => {
                let pointer = format!(
                    "{}/requestBody/content/application~1json/schema",
                    self.entry.pointer
                );
                self.check(Direction::Request, &pointer, body)
            }
            (Some(_), None) if self.request_body_required() => vec![self.violation(
                Direction::Request,
                String::new(),
                "requestBody: the required request body is missing".into(),
            )],
            (None, Some(_)) => vec![self.violation(
                Direction::Request,
                String::new(),
                "requestBody: the operation documents no request body".into(),
            )],
            _ => Vec::new(),
        }
    }

    /// The query parameters with their index in `parameters`.
    fn query_params(&self) -> impl Iterator<Item = (usize, &'a Value)> {
        self.spec()
            .get("parameters")
            .and_then(Value::as_array)
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.get("in").and_then(Value::as_str) == Some("query"))
    }

    /// Checks a query string: unknown parameter names, missing required parameters, and values
    /// that do not parse as the parameter's schema (integer, number, boolean, date-time, enum;
    /// arrays as comma-separated values). Names match exactly; an object parameter `p` accepts
    /// `p[key]` and `p.key`.
    pub fn validate_query(&self, query: &[(String, String)]) -> Vec<Violation> {
        let doc = &*self.module.doc;
        let params: Vec<(usize, &str, &Value)> = self
            .query_params()
            .filter_map(|(i, p)| Some((i, p.get("name")?.as_str()?, p)))
            .collect();
        let mut out = Vec::new();
        for (key, value) in query {
            let found = params.iter().find(|(_, name, p)| {
                key == name
                    || (schema_type(doc, p.get("schema").unwrap_or(&Value::Null)) == "object"
                        && key
                            .strip_prefix(*name)
                            .is_some_and(|rest| rest.starts_with(['[', '.'])))
            });
            let Some((index, name, param)) = found else {
                out.push(self.violation(
                    Direction::Query,
                    key.clone(),
                    format!("parameters: unknown query parameter `{key}`"),
                ));
                continue;
            };
            let schema = param.get("schema").unwrap_or(&Value::Null);
            if key != name {
                continue; // one entry of an object parameter: values are free-form strings
            }
            let typed = typed_value(doc, schema, value);
            let pointer = format!("{}/parameters/{index}/schema", self.entry.pointer);
            for (path, rule) in self.specs.check(self.module, &pointer, &typed) {
                out.push(self.violation(Direction::Query, format!("{key}{path}"), rule));
            }
        }
        for (_, name, param) in &params {
            let required = param.get("required").and_then(Value::as_bool) == Some(true);
            if required && !query.iter().any(|(k, _)| k == name) {
                out.push(self.violation(
                    Direction::Query,
                    (*name).to_owned(),
                    format!("required: query parameter `{name}` is missing"),
                ));
            }
        }
        out
    }

    fn response(&self, status: u16) -> Option<&'a Value> {
        self.spec().get("responses")?.get(status.to_string())
    }

    /// The documented response schema for `status`, if that status has a JSON body.
    pub fn response_schema(&self, status: u16) -> Option<&'a Value> {
        self.response(status)?
            .pointer("/content/application~1json/schema")
    }

    /// The spec's example body for `status`, if any (often not valid against its own schema).
    pub fn response_example(&self, status: u16) -> Option<&'a Value> {
        self.response(status)?
            .pointer("/content/application~1json/example")
    }

    /// The documented statuses, e.g. `[200, 400, 404]`.
    pub fn statuses(&self) -> Vec<u16> {
        self.spec()
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Checks a response (`body` is `Value::Null` when there is none): against the documented
    /// response for `status`; an undocumented error status (>= 400) against the module's
    /// `ApiErrorResponse`; any other undocumented status is a violation. A body where the spec
    /// documents none is a violation.
    pub fn validate_response(&self, status: u16, body: &Value) -> Vec<Violation> {
        let escaped = format!("{}/responses/{status}", self.entry.pointer);
        match self.response(status) {
            Some(_) if self.response_schema(status).is_some() => self.check(
                Direction::Response,
                &format!("{escaped}/content/application~1json/schema"),
                body,
            ),
            Some(_) if body.is_null() => Vec::new(),
            Some(_) => vec![self.violation(
                Direction::Response,
                String::new(),
                format!("content: the spec documents no body for status {status}"),
            )],
            None if status >= 400 => self.check(
                Direction::Response,
                "/components/schemas/ApiErrorResponse",
                body,
            ),
            None => vec![self.violation(
                Direction::Response,
                String::new(),
                format!(
                    "responses: status {status} is not documented (documented: {:?})",
                    self.statuses()
                ),
            )],
        }
    }
}

/// The JSON type a parameter schema asks for (`$ref` and single-branch `oneOf` followed).
fn schema_type<'a>(doc: &'a Value, schema: &'a Value) -> &'a str {
    let schema = resolve_in(doc, schema);
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .or_else(|| schema.get("allOf"))
            .and_then(|b| b.get(0))
            .map_or("", |b| schema_type(doc, b)),
    }
}

/// The JSON value a query string value stands for under `schema`; a value that does not parse
/// stays a string so that the validator reports the type mismatch.
fn typed_value(doc: &Value, schema: &Value, raw: &str) -> Value {
    match schema_type(doc, schema) {
        "integer" => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| raw.into()),
        "number" => raw
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| raw.into()),
        "boolean" => match raw.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => raw.into(),
        },
        "array" => {
            let items = resolve_in(doc, schema)
                .get("items")
                .unwrap_or(&Value::Null)
                .clone();
            Value::Array(
                raw.split(',')
                    .map(|v| typed_value(doc, &items, v.trim()))
                    .collect(),
            )
        }
        _ => raw.into(),
    }
}

#[cfg(test)]
mod tests;
