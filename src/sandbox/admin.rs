//! `/_sandbox/…` admin endpoints (see the module docs of [`crate::sandbox`]).
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::activity::InvoiceLine;
use super::faults::FaultsJson;
use super::state::SandboxState;

type State = web::Data<SandboxState>;

fn bad(msg: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"title": msg.into(), "status": 400}))
}

fn unknown_tenant(t: i64) -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({"title": format!("Tenant {t} was not found."), "status": 404}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewTenant {
    tenant_id: i64,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    bulk_jobs: usize,
    #[serde(default)]
    large_catalog: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Count {
    count: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailNext {
    status: u16,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    #[serde(default = "five")]
    complete_jobs: usize,
}

fn five() -> usize {
    5
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Catalog {
    job_types: usize,
    services: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewInvoice {
    job_id: i64,
    items: Vec<InvoiceLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobStatus {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ttl {
    seconds: u64,
}

/// Registers the admin routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_sandbox")
            .route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"ok": true})) }),
            )
            .route("/tenants", web::post().to(add_tenant))
            .route("/tenants/{t}", web::get().to(snapshot))
            .route("/tenants/{t}/activity", web::post().to(activity))
            .route("/tenants/{t}/bulk-jobs", web::post().to(bulk_jobs))
            .route("/tenants/{t}/large-catalog", web::post().to(large_catalog))
            .route("/tenants/{t}/invoices", web::post().to(add_invoice))
            .route("/tenants/{t}/jobs/{job}/status", web::put().to(job_status))
            .route("/faults", web::get().to(get_faults))
            .route("/faults", web::put().to(put_faults))
            .route("/fail-next", web::post().to(fail_next))
            .route("/lose-next-answer", web::post().to(lose_next_answer))
            .route("/tokens/expire", web::post().to(expire_tokens))
            .route("/clients/{id}/revoke", web::post().to(revoke_client))
            .route("/clients/{id}/scopes", web::put().to(client_scopes))
            .route("/token-ttl", web::put().to(token_ttl)),
    );
}

async fn add_tenant(state: State, body: web::Json<NewTenant>) -> HttpResponse {
    let b = body.into_inner();
    state.add_tenant(b.tenant_id, &b.client_id, &b.client_secret);
    if b.bulk_jobs > 0 {
        state.seed_bulk_jobs(b.tenant_id, b.bulk_jobs);
    }
    if b.large_catalog {
        state.seed_large_catalog(b.tenant_id, 500, 2000);
    }
    HttpResponse::Created().json(json!({"tenantId": b.tenant_id}))
}

async fn snapshot(state: State, t: web::Path<i64>) -> HttpResponse {
    let t = t.into_inner();
    match state.snapshot(t) {
        Some(s) => HttpResponse::Ok().json(s),
        None => unknown_tenant(t),
    }
}

async fn activity(
    state: State,
    t: web::Path<i64>,
    body: Option<web::Json<Activity>>,
) -> HttpResponse {
    let t = t.into_inner();
    let n = body.map_or(5, |b| b.complete_jobs);
    match state.generate_activity(t, n) {
        Some(r) => HttpResponse::Ok().json(r),
        None => unknown_tenant(t),
    }
}

async fn bulk_jobs(state: State, t: web::Path<i64>, body: web::Json<Count>) -> HttpResponse {
    let t = t.into_inner();
    match state.seed_bulk_jobs(t, body.count) {
        Some(n) => HttpResponse::Ok().json(json!({"added": n})),
        None => unknown_tenant(t),
    }
}

async fn large_catalog(state: State, t: web::Path<i64>, body: web::Json<Catalog>) -> HttpResponse {
    let t = t.into_inner();
    if state.seed_large_catalog(t, body.job_types, body.services) {
        HttpResponse::Ok().json(json!({"jobTypes": body.job_types, "services": body.services}))
    } else {
        unknown_tenant(t)
    }
}

async fn add_invoice(state: State, t: web::Path<i64>, body: web::Json<NewInvoice>) -> HttpResponse {
    let t = t.into_inner();
    match state.add_invoice(t, body.job_id, &body.items) {
        Some(id) => HttpResponse::Created().json(json!({"id": id})),
        None => bad(format!("tenant {t} or job {} not found", body.job_id)),
    }
}

async fn job_status(
    state: State,
    p: web::Path<(i64, i64)>,
    body: web::Json<JobStatus>,
) -> HttpResponse {
    let (t, job) = p.into_inner();
    if state.set_job_status(t, job, &body.status) {
        HttpResponse::Ok().json(json!({"jobId": job, "jobStatus": body.status}))
    } else {
        bad(format!("tenant {t} or job {job} not found"))
    }
}

async fn get_faults(state: State) -> HttpResponse {
    HttpResponse::Ok().json(FaultsJson::from_faults(&state.faults()))
}

async fn put_faults(state: State, body: web::Json<FaultsJson>) -> HttpResponse {
    match body.into_inner().into_faults() {
        Ok(f) => {
            state.set_faults(f.clone());
            HttpResponse::Ok().json(FaultsJson::from_faults(&f))
        }
        Err(e) => bad(e),
    }
}

async fn fail_next(state: State, body: web::Json<FailNext>) -> HttpResponse {
    if !(400..600).contains(&body.status) {
        return bad("status must be 4xx or 5xx");
    }
    state.fail_next(body.status, body.count);
    HttpResponse::Ok().json(json!({"status": body.status, "count": body.count}))
}

#[derive(serde::Deserialize)]
struct LoseAnswer {
    method: String,
    path: String,
}

async fn lose_next_answer(state: State, body: web::Json<LoseAnswer>) -> HttpResponse {
    state.lose_next_answer(&body.method, &body.path);
    HttpResponse::Ok().json(json!({"method": body.method, "path": body.path}))
}

async fn expire_tokens(state: State) -> HttpResponse {
    state.expire_tokens();
    HttpResponse::Ok().json(json!({"expired": true}))
}

async fn revoke_client(state: State, id: web::Path<String>) -> HttpResponse {
    if state.revoke_client(&id) {
        HttpResponse::Ok().json(json!({"clientId": id.as_str(), "revoked": true}))
    } else {
        bad(format!("unknown client {id}"))
    }
}

/// `{"denyModules": ["memberships"]}`: the modules whose scope the client loses (all others
/// are given back), as a tenant admin editing the app's scopes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Scopes {
    deny_modules: Vec<String>,
}

async fn client_scopes(
    state: State,
    id: web::Path<String>,
    body: web::Json<Scopes>,
) -> HttpResponse {
    let denied = body.into_inner().deny_modules;
    if let Some(m) = denied
        .iter()
        .find(|m| !super::routes::MODULES.contains(&m.as_str()))
    {
        return bad(format!("denyModules: unknown module {m}"));
    }
    for m in super::routes::MODULES {
        if !state.deny_module(&id, m, denied.iter().any(|d| d == m)) {
            return bad(format!("unknown client {id}"));
        }
    }
    HttpResponse::Ok().json(json!({"clientId": id.as_str(), "denyModules": denied}))
}

async fn token_ttl(state: State, body: web::Json<Ttl>) -> HttpResponse {
    state.set_token_ttl(Duration::from_secs(body.seconds.max(1)));
    HttpResponse::Ok().json(json!({"seconds": body.seconds.max(1)}))
}
