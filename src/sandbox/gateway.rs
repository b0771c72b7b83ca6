//! HTTP front of the simulated API: token endpoint, then App Key, token, tenant, grant, rate
//! limit and fault checks before a call reaches its handler.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use governor::clock::{Clock, DefaultClock};
use serde::Deserialize;
use serde_json::json;

use super::routes::{self, Problem, Req};
use super::state::{Access, SandboxState};

fn problem(p: &Problem) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(p.body())
}

fn outage() -> HttpResponse {
    problem(&Problem::new(
        503,
        "Service Unavailable: the sandbox is in a forced outage.",
    ))
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /connect/token` (client credentials).
pub(crate) async fn token(body: web::Bytes, state: web::Data<SandboxState>) -> HttpResponse {
    let faults = state.faults();
    if faults.in_outage() {
        return outage();
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let oauth_error = |error: &str, description: &str| {
        HttpResponse::BadRequest().json(json!({"error": error, "error_description": description}))
    };
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        );
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            "unsupported_grant_type",
            "Only client_credentials is supported.",
        );
    }
    let (Some(id), Some(secret)) = (form.client_id, form.client_secret) else {
        return oauth_error(
            "invalid_client",
            "client_id and client_secret are required.",
        );
    };
    match state.issue_token(&id, &secret) {
        Some((token, ttl)) => HttpResponse::Ok().json(json!({
            "access_token": token,
            "expires_in": ttl.as_secs().max(1),
            "token_type": "Bearer",
            "scope": "tn.crm tn.jpm tn.dispatch tn.settings tn.memberships tn.pricebook tn.accounting tn.marketing",
        })),
        None => oauth_error("invalid_client", "Unknown client or wrong secret."),
    }
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Every API path: `/{module}/v2/tenant/{tenant}/{rest}`.
pub(crate) async fn api(
    req: HttpRequest,
    path: web::Path<(String, i64, String)>,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    let (module, tenant_id, rest) = path.into_inner();
    let faults = state.faults();
    if faults.in_outage() {
        return outage();
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if !state.app_key_ok(header(&req, "ST-App-Key")) {
        return unauthorized("The ST-App-Key header is missing or is not a valid App Key.");
    }
    let token = header(&req, "Authorization").map(|h| {
        let h = h.trim();
        match h.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("bearer ") => h[7..].trim(),
            _ => h,
        }
    });
    let entry = match state.access(token, tenant_id, &module) {
        Access::Granted(e) => e,
        Access::NoToken => return unauthorized("The Authorization header is missing."),
        Access::BadToken => return unauthorized("The access token is invalid or has expired."),
        Access::UnknownTenant => {
            return problem(&Problem::new(
                404,
                format!("Tenant {tenant_id} was not found."),
            ));
        }
        Access::NotGranted => {
            return problem(&Problem::new(
                403,
                format!("This client is not granted access to tenant {tenant_id}."),
            ));
        }
        Access::ScopeDenied => {
            return problem(&Problem::new(
                403,
                "Provided authentication is insufficient to grant access",
            ));
        }
    };
    if let Err(not_until) = entry.limiter.check() {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        entry.data.lock().rate_limited += 1;
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .json(
                Problem::new(
                    429,
                    "Too many requests: the limit is per application per tenant.",
                )
                .body(),
            );
    }
    if let Some(status) = state.next_scripted().or_else(|| faults.roll()) {
        entry.data.lock().calls += 1;
        let mut resp = HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        if status == 429 {
            resp.insert_header(("Retry-After", faults.retry_after_secs.to_string()));
        }
        return resp.json(Problem::new(status, format!("Injected fault {status}")).body());
    }
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let below = format!("/{rest}");
    let request_json: Option<serde_json::Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => {
                return problem(&Problem::field(
                    "body",
                    format!("The request body is not valid JSON: {e}"),
                ));
            }
        }
    };
    let contract = state
        .checks_contract()
        .then(|| Contract::for_call(&req, &module, &below))
        .flatten();
    if let Some(c) = &contract
        && let Err(p) = c.check_request(&mut pairs, request_json.as_ref())
    {
        return problem(&p);
    }
    let query: HashMap<String, String> = pairs.into_iter().collect();
    let r = Req {
        method: req.method().as_str(),
        module: &module,
        segs: rest.split('/').filter(|s| !s.is_empty()).collect(),
        query,
        body: &body,
    };
    let reply = {
        let mut t = entry.data.lock();
        t.calls += 1;
        *t.calls_by_endpoint
            .entry(routes::endpoint_name(&r))
            .or_default() += 1;
        routes::dispatch(&mut t, &r)
    };
    // Records carry `externalData` only for the GUID the request named (the query on reads,
    // the body's `applicationGuid` on writes), and never the sandbox's internal fields.
    let body_guid = request_json.as_ref().and_then(|b| {
        b.get("externalData")
            .and_then(|e| e.get("applicationGuid"))
            .and_then(|g| g.as_str())
            .map(str::to_owned)
    });
    let guid = r
        .query
        .get("externalDataApplicationGuid")
        .cloned()
        .or(body_guid);
    if reply.is_ok() && state.take_lost_answer(r.method, &format!("/{rest}")) {
        return problem(&Problem::new(
            502,
            "Bad Gateway: the answer was lost after the request was processed.",
        ));
    }
    let (status, v) = match reply {
        Ok((status, v)) => (
            status,
            routes::present(&v, routes::Guid::Named(guid.as_deref())),
        ),
        Err(p) => (p.status, p.body()),
    };
    if let Some(c) = &contract {
        c.check_response(status, &v);
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).json(v)
}

/// Where ServiceTitan is known to answer differently from its own spec, and the sandbox follows
/// ServiceTitan (API.md §8.1, §12 gotcha 8, §16): capacity rows carry `start`/`end` in the
/// tenant's wall clock without an offset, although the spec types them `date-time`.
fn known_deviation(v: &crate::contract::Violation) -> bool {
    v.operation == "Capacity_GetList"
        && v.rule.starts_with("format:")
        && (v.instance_path.ends_with("/start") || v.instance_path.ends_with("/end"))
}

/// Checks one call against ServiceTitan's official OpenAPI documents, when they are present
/// (`TITANBRIDGE_OPENAPI_DIR` or `../shared/servicetitan/openapi`): a request body or query
/// value that breaks the operation's schema is refused with a 400, as ServiceTitan would; an
/// unknown query parameter is ignored, as ServiceTitan ignores it, but recorded when our own
/// client sent it; every response the sandbox gives is validated and a mismatch recorded (a
/// sandbox bug). Records go to [`crate::contract::tally`], which a test run reports.
struct Contract {
    op: crate::contract::Operation<'static>,
    /// Whether the call came from titanbridge's client (its User-Agent), whose requests must
    /// match the spec; tests that send bad requests on purpose use other clients.
    ours: bool,
}

impl Contract {
    fn for_call(req: &HttpRequest, module: &str, below: &str) -> Option<Contract> {
        let specs = crate::contract::Specs::global()?;
        let ours = header(req, "User-Agent").is_some_and(|ua| ua.starts_with("titanbridge/"));
        match specs.operation(req.method().as_str(), module, below) {
            Some(op) => Some(Contract { op, ours }),
            None => {
                if ours {
                    crate::contract::tally::record_request();
                    crate::contract::tally::record_violation(&crate::contract::Violation {
                        operation: "(none)".into(),
                        method: req.method().as_str().to_owned(),
                        template: format!("/{module}{below}"),
                        direction: crate::contract::Direction::Request,
                        instance_path: String::new(),
                        rule: "paths: no such operation in the official specs".into(),
                    });
                }
                None
            }
        }
    }

    fn check_request(
        &self,
        query: &mut Vec<(String, String)>,
        body: Option<&serde_json::Value>,
    ) -> Result<(), Problem> {
        use crate::contract::tally;
        let mut refused = Vec::new();
        let mut unknown = Vec::new();
        for v in self.op.validate_query(query) {
            if v.rule.starts_with("parameters: unknown query parameter") {
                unknown.push(v);
            } else {
                refused.push(v);
            }
        }
        query.retain(|(k, _)| !unknown.iter().any(|v| &v.instance_path == k));
        refused.extend(self.op.validate_request_body(body));
        if self.ours {
            tally::record_request();
            for v in refused.iter().chain(&unknown) {
                tracing::error!(violation = %v, "titanbridge request breaks the ServiceTitan spec");
                tally::record_violation(v);
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let mut p = Problem::new(400, "One or more validation errors occurred.");
        for v in refused {
            let field = if v.instance_path.is_empty() {
                "body".to_owned()
            } else {
                v.instance_path.clone()
            };
            p.errors.entry(field).or_default().push(v.rule.clone());
        }
        Err(p)
    }

    fn check_response(&self, status: u16, body: &serde_json::Value) {
        use crate::contract::tally;
        tally::record_response();
        for v in self
            .op
            .validate_response(status, body)
            .into_iter()
            .filter(|v| !known_deviation(v))
        {
            tracing::error!(violation = %v, "sandbox response breaks the ServiceTitan spec");
            tally::record_violation(&v);
        }
    }
}

fn unauthorized(msg: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
        .json(Problem::new(401, msg).body())
}
