//! The built-in ServiceTitan simulator (`titanbridge sandbox`, tests, the demo).
//!
//! It serves `POST /connect/token` and `/{module}/v2/tenant/{tenant}/…` for the modules the
//! client uses, following `shared/servicetitan/API.md`: expiring client-credentials tokens, the
//! `ST-App-Key` header (401 when missing or wrong), 401 for a missing/expired token, 404 for an
//! unknown tenant, 403 for a tenant the client is not granted, 429 with `Retry-After` past the
//! per-tenant rate (GCRA, burst of one second's worth), paged envelopes and `ApiErrorResponse`
//! bodies. Records are served as ServiceTitan serves them: `externalData` is the `[{key,value}]`
//! list of the GUID the request named; `customFields` and `tagTypeIds` PATCHes replace the whole
//! list; no uniqueness is enforced on creates. Each tenant starts from `seed/tenant.json`.
//!
//! Admin endpoints (no auth; bind to localhost):
//! - `GET  /_sandbox/health`
//! - `POST /_sandbox/tenants` `{"tenantId","clientId","clientSecret","bulkJobs"?,"largeCatalog"?}`
//! - `GET  /_sandbox/tenants/{t}`: inspection snapshot (customers, locations, contacts, bookings,
//!   jobs, appointments, notes, memberships, invoices, call counts)
//! - `POST /_sandbox/tenants/{t}/activity` `{"completeJobs":5}`: complete jobs, create invoices
//! - `POST /_sandbox/tenants/{t}/bulk-jobs` `{"count":50000}`
//! - `POST /_sandbox/tenants/{t}/large-catalog` `{"jobTypes":500,"services":2000}`
//! - `POST /_sandbox/tenants/{t}/invoices` `{"jobId","items":[{"skuId","type","quantity","price"}]}`
//! - `PUT  /_sandbox/tenants/{t}/jobs/{job}/status` `{"status":"Completed"}`
//! - `GET|PUT /_sandbox/faults` `{"latencyMs","errorRates":{"503":0.1},"outageSeconds","retryAfterSecs"}`
//! - `POST /_sandbox/fail-next` `{"status":429,"count":1}`: answer the next calls with a status
//! - `POST /_sandbox/lose-next-answer` `{"method":"POST","path":"/customers"}`: process the
//!   next such call, then answer 502 as if the response were lost
//! - `POST /_sandbox/tokens/expire`; `PUT /_sandbox/token-ttl` `{"seconds":900}`
//! - `POST /_sandbox/clients/{clientId}/revoke`: the tenant admin revokes the app's access
//!   (the secret stops working: token endpoint 400 `invalid_client`; issued tokens: 401)
mod activity;
mod admin;
mod faults;
mod gateway;
mod query;
mod routes;
mod state;
mod tenant;

use std::time::Duration;

use actix_web::{App, HttpServer, web};

pub use activity::{ActivityReport, InvoiceLine};
pub use faults::{Faults, FaultsJson};
pub use state::{SandboxState, TenantSnapshot};

use crate::servicetitan::{Credentials, Environment};

/// A tenant to create at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSeed {
    /// Tenant ID.
    pub tenant_id: i64,
    /// Client ID granted the tenant.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

impl TenantSeed {
    /// The demo tenant: 1234567 / `sandbox-client` / `sandbox-secret`.
    pub fn demo() -> Self {
        Self {
            tenant_id: 1_234_567,
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
        }
    }

    /// Client credentials for this tenant.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.client_id.clone(), self.client_secret.clone())
    }
}

/// Sandbox settings.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The App Key calls must carry (`ST-App-Key`).
    pub app_key: String,
    /// Calls per second per tenant before 429 (burst: one second's worth).
    pub rate_limit_per_sec: u32,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Initial fault knobs.
    pub faults: Faults,
    /// Tenants to create at start.
    pub tenants: Vec<TenantSeed>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Check every call against the official OpenAPI documents when they are present (see
    /// `gateway`); benchmarks turn it off so they measure our engine, not the checker.
    pub check_contract: bool,
    /// Export visibility delay (API.md §2.2: 15 minutes; tests mostly use 0).
    pub export_delay: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            app_key: "sandbox-app-key".into(),
            rate_limit_per_sec: 60,
            token_ttl: Duration::from_secs(900),
            faults: Faults::default(),
            tenants: Vec::new(),
            workers: 2,
            check_contract: true,
            export_delay: Duration::from_secs(15 * 60),
        }
    }
}

/// A running sandbox.
pub struct SandboxHandle {
    /// `http://127.0.0.1:PORT` (auth and API share it).
    pub base_url: String,
    /// In-process access to the state.
    pub state: SandboxState,
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SandboxHandle {
    /// The environment that points the client here.
    pub fn environment(&self) -> Environment {
        Environment::Custom {
            auth_url: self.base_url.clone(),
            api_url: self.base_url.clone(),
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.server.stop(true).await;
        let _ = self.task.await;
    }
}

/// Starts the sandbox on `bind` (`127.0.0.1:0` for a random port). Must run inside Tokio.
pub async fn start(bind: &str, cfg: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let listener = std::net::TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let state = SandboxState::new(
        &cfg.app_key,
        cfg.rate_limit_per_sec,
        cfg.token_ttl,
        cfg.faults.clone(),
    );
    state.set_export_delay(cfg.export_delay);
    for t in &cfg.tenants {
        state.add_tenant(t.tenant_id, &t.client_id, &t.client_secret);
    }
    state.set_check_contract(cfg.check_contract);
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
            .configure(admin::configure)
            .route("/connect/token", web::post().to(gateway::token))
            .route(
                "/{module}/v2/tenant/{tenant}/{rest:.*}",
                web::route().to(gateway::api),
            )
    })
    .workers(cfg.workers.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    Ok(SandboxHandle {
        base_url: format!("http://{host}:{}", addr.port()),
        state,
        server: handle,
        task,
    })
}

/// Runs the sandbox until Ctrl-C (for `titanbridge sandbox`), printing how to connect.
pub async fn run_cli(bind: &str, cfg: SandboxConfig) -> std::io::Result<()> {
    let app_key = cfg.app_key.clone();
    let tenants = cfg.tenants.clone();
    let handle = start(bind, cfg).await?;
    println!("ServiceTitan sandbox listening on {}", handle.base_url);
    println!(
        "  auth URL and API URL: {}   App Key: {app_key}",
        handle.base_url
    );
    for t in &tenants {
        println!(
            "  tenant {}  client id {}  client secret {}",
            t.tenant_id, t.client_id, t.client_secret
        );
    }
    println!(
        "  admin: {}/_sandbox/… (see docs); Ctrl-C to stop",
        handle.base_url
    );
    tracing::info!(base_url = %handle.base_url, "sandbox started");
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(())
}
