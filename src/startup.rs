//! The HTTP server: middleware and route mounting, built once for `main` and for tests (random
//! port, own database). The only importer of `web/`; the shared state lives in `state.rs`.
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

pub use crate::state::{AppState, StartupError};

/// Runs the sync worker inside this process (single-process deployments and the demo). On
/// SQLite keep to one worker per database; on PostgreSQL any number may run.
pub fn spawn_embedded_worker(state: AppState) {
    tokio::spawn(async move {
        let never = std::future::pending::<()>();
        if let Err(e) = crate::sync::run_worker(state, never).await {
            tracing::error!(error = %e, "embedded sync worker stopped");
        }
    });
}

/// A bound, not yet running web server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Binds `settings.bind` (port 0 picks a free port) and builds the server.
    pub async fn build(state: AppState) -> Result<Application, StartupError> {
        let addr = state.settings.bind.clone();
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        // Web requests get a pool of their own with a short acquire timeout: while the
        // database is down a call answers 503 within that bound instead of waiting the
        // worker's 10 s, and a busy worker cannot take every connection from the web.
        let web_state = AppState {
            store: state
                .store
                .with_acquire_timeout(std::time::Duration::from_millis(
                    state.settings.database.web_acquire_timeout_ms,
                ))
                .await?,
            ..state.clone()
        };
        let data = web::Data::new(web_state);
        let metrics = web::Data::new(state.metrics.clone());
        state
            .outbox
            .clone()
            .spawn(std::time::Duration::from_secs(5));
        let signin = web::Data::new(crate::web::auth::SignInLimiter::default());
        let session_key = actix_web::cookie::Key::from(&state.settings.session_key_bytes()?);
        let secure_cookies = !state.settings.is_local();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(signin.clone())
                .app_data(metrics.clone())
                .app_data(crate::web::error::payload_config())
                .app_data(crate::web::error::path_config())
                .wrap(from_fn(crate::web::middleware::security_headers))
                .wrap(from_fn(crate::web::middleware::record_metrics))
                .wrap(TracingLogger::<crate::web::middleware::RedactedRootSpan>::new())
                .configure(crate::web::health::configure)
                // Sync scopes first: they sit under /api/v1 but have their own auth.
                .configure(crate::web::api::platform::configure)
                .configure(crate::web::api::ops_sync::configure)
                .configure(crate::web::api::sync::configure)
                .configure(crate::web::api::configure)
                .configure(crate::web::pages::configure)
                .wrap(crate::web::auth::session_middleware(
                    session_key.clone(),
                    secure_cookies,
                ))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: format!("port {port}"),
            source,
        })?
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use its store).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process is told to stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
