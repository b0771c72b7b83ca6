//! The application's shared state and how it is built: settings, database, secrets, metrics,
//! the process-wide ServiceTitan client, the catalogue, tenant lists, the mail outbox and the
//! booking locks and capacity cache. It sits below the services, the sync engine and the web
//! edge, and imports only lower layers.
use std::sync::Arc;

use crate::config::{ConfigError, Settings};
use crate::crypto::SecretBox;
use crate::locks::KeyedLocks;
use crate::mail::delivery::Outbox;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::tenant_lists::TenantLists;

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
    pub catalog: Arc<crate::domain::catalog::Catalog>,
    /// Live lists of each tenant (membership types, business units, …), cached briefly.
    pub lists: Arc<TenantLists>,
    /// The mail outbox (its delivery loop runs where the web server runs).
    pub outbox: Outbox,
    /// Booking state of this process: per-booking and per-slot locks, capacity answers.
    pub booking: Arc<BookingState>,
}

/// What bookings share inside one process (tests get their own with each state).
#[derive(Default)]
pub struct BookingState {
    /// Per-booking and per-slot locks.
    pub locks: KeyedLocks,
    /// Capacity answers per tenant.
    pub cache: crate::capacity::Cache,
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
    /// The tenant client of an integration row (its environment, tenant, Client ID and
    /// decrypted secret over the process-wide client).
    pub fn tenant_client(
        &self,
        row: &crate::store::entities::integration::Model,
    ) -> Result<crate::servicetitan::TenantClient, crate::tenant_client::AccessError> {
        crate::tenant_client::tenant_client(&self.settings, &self.secrets, &self.st, row)
    }

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
            crate::domain::catalog::Catalog::embedded()
        } else {
            crate::domain::catalog::Catalog::load(std::path::Path::new(&settings.mappings_dir))
        }
        .map_err(|e| ConfigError::Invalid {
            setting: "mappings_dir".into(),
            reason: e.to_string(),
        })?;
        let mailer = crate::mail::Mailer::from_settings(&settings.mail).map_err(|e| {
            ConfigError::Invalid {
                setting: "mail".into(),
                reason: e.to_string(),
            }
        })?;
        let store = Store::connect_with(
            &settings.database_url,
            None,
            crate::store::DEFAULT_ACQUIRE_TIMEOUT,
            settings.database.max_connections,
        )
        .await?;
        if migrate {
            store.migrate().await?;
        }
        let st = servicetitan_client(&settings.servicetitan);
        let settings = Arc::new(settings);
        let lists = Arc::new(TenantLists::new(
            settings.clone(),
            secrets.clone(),
            st.clone(),
            crate::tenant_lists::DEFAULT_TTL,
        ));
        Ok(AppState {
            st,
            catalog: Arc::new(catalog),
            outbox: Outbox::new(store.clone(), secrets.clone(), mailer),
            lists,
            booking: Arc::new(BookingState::default()),
            settings,
            store,
            metrics: Metrics::new(),
            secrets,
        })
    }
}
