//! Builds the application once, for `main` and for tests (random port, own database).
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::{ConfigError, Settings};
use crate::crypto::SecretBox;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Shared state every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub metrics: Metrics,
    pub secrets: SecretBox,
    /// The process-wide ServiceTitan client: one token cache and one rate limiter per tenant,
    /// shared by the pages, the booking API and the sync worker.
    pub st: crate::servicetitan::ServiceTitan,
    /// The catalogues from `mappings/` (plans, trades, reminder templates), loaded and validated
    /// once at start: a broken file stops start-up with file, line and reason.
    pub catalog: Arc<crate::catalog::Catalog>,
}

/// The ServiceTitan client for our application's settings.
fn servicetitan_client(
    s: &crate::config::ServiceTitanSettings,
) -> crate::servicetitan::ServiceTitan {
    let mut cfg =
        crate::servicetitan::ClientConfig::new(s.app_key.clone(), s.application_guid.clone());
    cfg.rate_limit_per_sec = s.rate_limit_per_sec;
    cfg.request_timeout = std::time::Duration::from_secs(s.request_timeout_secs.max(1));
    cfg.max_retries = 3;
    crate::servicetitan::ServiceTitan::new(cfg)
}

impl AppState {
    /// Connects the database (migrating when configured) and builds the shared services.
    pub async fn build(settings: Settings, migrate: bool) -> Result<AppState, StartupError> {
        settings.require_secrets()?;
        let secrets = SecretBox::new(&settings.encryption_key_bytes()?).map_err(|e| {
            ConfigError::Invalid {
                setting: "encryption_key".into(),
                reason: e.to_string(),
            }
        })?;
        let catalog = if settings.mappings_dir.is_empty() {
            crate::catalog::Catalog::embedded()
        } else {
            crate::catalog::Catalog::load(std::path::Path::new(&settings.mappings_dir))
        }
        .map_err(|e| ConfigError::Invalid {
            setting: "mappings_dir".into(),
            reason: e.to_string(),
        })?;
        let store = Store::connect(&settings.database_url, None).await?;
        if migrate {
            store.migrate().await?;
        }
        Ok(AppState {
            st: servicetitan_client(&settings.servicetitan),
            catalog: Arc::new(catalog),
            settings: Arc::new(settings),
            store,
            metrics: Metrics::new(),
            secrets,
        })
    }
}

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
        let onboarding = web::Data::new(crate::web::flows::Onboarding::build(&state)?);
        onboarding
            .outbox
            .clone()
            .spawn(std::time::Duration::from_secs(5));
        let tenant_lists = web::Data::new(crate::tenant_lists::TenantLists::new(
            state.settings.clone(),
            state.secrets.clone(),
            state.st.clone(),
            crate::tenant_lists::DEFAULT_TTL,
        ));
        let session_key = actix_web::cookie::Key::from(&state.settings.session_key_bytes()?);
        let secure_cookies = !state.settings.is_local();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(onboarding.clone())
                .app_data(tenant_lists.clone())
                .app_data(metrics.clone())
                .app_data(crate::web::error::json_config())
                .app_data(crate::web::error::query_config())
                .app_data(crate::web::error::form_config())
                .wrap(from_fn(crate::web::middleware::record_metrics))
                .wrap(TracingLogger::<crate::web::middleware::RedactedRootSpan>::new())
                .configure(crate::web::health::configure)
                // Sync scopes first: they sit under /api/v1 but have their own auth.
                .configure(crate::web::api::platform::configure)
                .configure(crate::web::api::ops_sync::configure)
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
