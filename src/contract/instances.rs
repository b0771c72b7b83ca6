//! Instances of spec schemas for decode tests.
use serde_json::{Map, Value, json};

/// Which instance of a schema to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fill {
    /// Every property present with a valid value; nullable ones non-null.
    Full,
    /// Nullable properties present and `null`; other optional ones absent; required ones
    /// present (the specs never make a required property nullable).
    Nulls,
    /// Required properties only, all non-null.
    RequiredOnly,
}

impl Fill {
    /// The three fills, in the order [`Specs::instances`](super::Specs::instances) returns them.
    pub const ALL: [Fill; 3] = [Fill::Full, Fill::Nulls, Fill::RequiredOnly];

    /// `full`, `nulls` or `required-only`.
    pub fn name(self) -> &'static str {
        match self {
            Fill::Full => "full",
            Fill::Nulls => "nulls",
            Fill::RequiredOnly => "required-only",
        }
    }
}

/// The fixed time used for `date-time` strings.
pub(super) const DATE_TIME: &str = "2024-05-01T10:00:00Z";

/// Deeper than this, optional properties are left out and arrays are empty (cycle protection).
const MAX_DEPTH: usize = 24;

struct Builder<'a> {
    doc: &'a Value,
    fill: Fill,
    /// `$ref`s being expanded, innermost last.
    stack: Vec<&'a str>,
}

pub(super) fn build(doc: &Value, schema: &Value, fill: Fill) -> Value {
    let mut b = Builder {
        doc,
        fill,
        stack: Vec::new(),
    };
    b.value(schema, false)
}

/// Whether `t` (a `type` value) allows `name`.
fn type_has(t: Option<&Value>, name: &str) -> bool {
    match t {
        Some(Value::String(s)) => s == name,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(name)),
        _ => false,
    }
}

fn first_non_null_type(t: Option<&Value>) -> Option<&str> {
    match t {
        Some(Value::String(s)) => Some(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).find(|s| *s != "null"),
        _ => None,
    }
}

impl<'a> Builder<'a> {
    fn deref(&self, r: &str) -> Option<&'a Value> {
        self.doc.pointer(r.strip_prefix('#')?)
    }

    /// Whether `schema` accepts `null` (a `type` with `null`, or a `{type: null}` branch).
    fn nullable(&self, schema: &'a Value) -> bool {
        if type_has(schema.get("type"), "null") {
            return true;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return self.deref(r).is_some_and(|s| self.nullable(s));
        }
        ["oneOf", "anyOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|bs| bs.iter().any(|b| self.nullable(b)))
        })
    }

    /// A value for `schema`; `null` when `null_ok` and the fill is [`Fill::Nulls`] and the schema
    /// is nullable.
    fn value(&mut self, schema: &'a Value, null_ok: bool) -> Value {
        if null_ok && self.fill == Fill::Nulls && self.nullable(schema) {
            return Value::Null;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let Some(target) = self.deref(r) else {
                return json!({});
            };
            self.stack.push(r);
            let v = self.value(target, false);
            self.stack.pop();
            return v;
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.iter().find(|v| !v.is_null()).or(e.first()))
        {
            return first.clone();
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let branch = branches
                    .iter()
                    .find(|b| !type_has(b.get("type"), "null"))
                    .or(branches.first());
                if let Some(branch) = branch {
                    return self.value(branch, false);
                }
            }
        }
        let kind = first_non_null_type(schema.get("type")).or_else(|| {
            if schema.get("properties").is_some() {
                Some("object")
            } else if schema.get("items").is_some() {
                Some("array")
            } else {
                None
            }
        });
        match kind {
            Some("object") => self.object(schema),
            Some("array") => self.array(schema),
            Some("string") => string(schema),
            Some("integer") => json!(number(schema, 1.0) as i64),
            Some("number") => json!(number(schema, 12.5)),
            Some("boolean") => Value::Bool(true),
            Some("null") => Value::Null,
            // `{}` (any value) and unknown types: a string is as good as anything
            _ => Value::String("value".into()),
        }
    }

    fn too_deep(&self, schema: &'a Value) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            return true;
        }
        // a `$ref` (possibly through one level of oneOf) already being expanded
        let refs = |s: &'a Value| -> Vec<&'a str> {
            let mut out: Vec<&'a str> = s.get("$ref").and_then(Value::as_str).into_iter().collect();
            for key in ["oneOf", "anyOf", "allOf"] {
                for b in s.get(key).and_then(Value::as_array).into_iter().flatten() {
                    out.extend(b.get("$ref").and_then(Value::as_str));
                }
            }
            if let Some(items) = s.get("items") {
                out.extend(items.get("$ref").and_then(Value::as_str));
            }
            out
        };
        refs(schema).iter().any(|r| self.stack.contains(r))
    }

    fn object(&mut self, schema: &'a Value) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                let wanted = required.contains(&name.as_str())
                    || match self.fill {
                        Fill::Full => !self.too_deep(prop),
                        Fill::Nulls => self.nullable(prop),
                        Fill::RequiredOnly => false,
                    };
                if !wanted {
                    continue;
                }
                let mut v = self.value(prop, true);
                if MONEY_FIELDS.contains(&name.as_str()) && v.is_string() {
                    v = Value::String("12.50".into());
                }
                out.insert(name.clone(), v);
            }
        }
        let extra = schema.get("additionalProperties");
        let has_props = schema.get("properties").is_some();
        if let Some(extra) = extra.filter(|e| e.is_object() && !has_props)
            && self.fill == Fill::Full
            && schema.get("maxProperties").and_then(Value::as_u64) != Some(0)
        {
            let v = self.value(extra, false);
            out.insert("key".into(), v);
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &'a Value) -> Value {
        let Some(items) = schema.get("items") else {
            return json!([]);
        };
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let max = schema.get("maxItems").and_then(Value::as_u64);
        if max == Some(0) || (min == 0 && self.too_deep(items)) {
            return json!([]);
        }
        let item = self.value(items, false);
        let n = min.max(1) as usize;
        let unique = schema.get("uniqueItems").and_then(Value::as_bool) == Some(true);
        if unique && n > 1 {
            // one distinct item is all a generated instance can promise
            return json!([item]);
        }
        Value::Array(vec![item; n])
    }
}

/// Accounting's money and quantities are decimal strings (API.md §9.2, the official sample shows
/// `"0.00"`) that the spec types as plain strings: generated instances carry decimals there, as
/// ServiceTitan does, rather than arbitrary text.
const MONEY_FIELDS: &[&str] = &[
    "subTotal",
    "salesTax",
    "total",
    "balance",
    "discountTotal",
    "quantity",
    "price",
    "cost",
    "totalCost",
    "memberPrice",
    "soldHours",
    "unappliedAmount",
    "appliedAmount",
];

/// Strings for the `pattern`s the specs use (a general regex inverter is not worth a crate).
const PATTERN_SAMPLES: &[(&str, &str)] = &[("^#([0-9A-Fa-f]{6})$", "#1A2B3C")];

fn string(schema: &Value) -> Value {
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && let Some((_, sample)) = PATTERN_SAMPLES.iter().find(|(p, _)| *p == pattern)
    {
        return Value::String((*sample).to_owned());
    }
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let base = match format {
        "date-time" => DATE_TIME,
        "date" => "2024-05-01",
        "time" => "10:00:00",
        "duration" => "01:00:00",
        "decimal" => "12.50",
        "uuid" | "guid" => "0b9d6a34-6c1f-4a0e-9f5e-2f8a1d3c4b5e",
        "email" => "someone@example.com",
        "phone" => "5555550100",
        _ => "text",
    };
    let mut s = base.to_owned();
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        while (s.chars().count() as u64) < min {
            s.push('x');
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        s = s.chars().take(max as usize).collect();
    }
    Value::String(s)
}

fn number(schema: &Value, default: f64) -> f64 {
    let mut n = default;
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        n = n.max(min);
    }
    if let Some(min) = schema.get("exclusiveMinimum").and_then(Value::as_f64)
        && n <= min
    {
        n = min + 1.0;
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        n = n.min(max);
    }
    if let Some(max) = schema.get("exclusiveMaximum").and_then(Value::as_f64)
        && n >= max
    {
        n = max - 1.0;
    }
    n
}
