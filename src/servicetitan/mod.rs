//! ServiceTitan API client.
//!
//! One [`ServiceTitan`] per process holds the HTTP client, the token cache (per environment and
//! Client ID), the per-tenant rate limiters and the metrics. [`ServiceTitan::tenant`] hands out
//! cheap [`TenantClient`]s for typed calls. Paths live in [`paths`]; models in [`models`].
//!
//! Every call sends `Authorization: Bearer …` and `ST-App-Key`; a 401 triggers one token refresh
//! and one retry; 429 honours `Retry-After`; 5xx, 408 and network errors back off exponentially
//! with full jitter; other 4xx surface ServiceTitan's error body.
mod api;
mod environment;
mod error;
mod export;
mod limiter;
pub mod models;
mod paging;
pub mod paths;
mod request;
mod stats;
mod token;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

pub use environment::Environment;
pub use error::Error;
pub use export::{ExportFrom, ExportPage, Exported, Feed};
pub use limiter::client_burst;
pub(crate) use limiter::quota;
pub use models::*;
pub use paging::{Active, DEFAULT_PAGE_SIZE, ListQuery, MAX_IDS, MAX_PAGE_SIZE, PREFETCH, Page};
pub use request::TenantClient;
pub use stats::ClientStats;

/// Our application's settings for talking to ServiceTitan.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our App Key (`ST-App-Key`).
    pub app_key: SecretString,
    /// Calls per second per tenant (ServiceTitan's default is 60).
    pub rate_limit_per_sec: u32,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Retries after a retryable failure (429, 408, 5xx, network).
    pub max_retries: usize,
    /// Our application GUID, used in `externalData`.
    pub application_guid: String,
}

impl ClientConfig {
    /// Defaults: 60 calls/s, 30 s timeout, 5 retries.
    pub fn new(app_key: SecretString, application_guid: impl Into<String>) -> Self {
        Self {
            app_key,
            rate_limit_per_sec: 60,
            request_timeout: Duration::from_secs(30),
            max_retries: 5,
            application_guid: application_guid.into(),
        }
    }
}

/// A partner's API credentials (Settings → Integrations → API Application Access).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Client ID.
    pub client_id: String,
    /// Client Secret.
    pub client_secret: SecretString,
}

impl Credentials {
    /// Builds credentials.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) cfg: ClientConfig,
    pub(crate) tokens: token::TokenCache,
    pub(crate) limiters: limiter::Limiters,
    pub(crate) counters: stats::Counters,
}

/// The process-wide ServiceTitan client. Clone freely.
#[derive(Clone)]
pub struct ServiceTitan {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServiceTitan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTitan")
            .field("rate_limit_per_sec", &self.shared.cfg.rate_limit_per_sec)
            .finish_non_exhaustive()
    }
}

impl ServiceTitan {
    /// Builds the client.
    pub fn new(cfg: ClientConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("titanbridge/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(256)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let limiters = limiter::Limiters::new(cfg.rate_limit_per_sec);
        Self {
            shared: Arc::new(Shared {
                http,
                cfg,
                tokens: token::TokenCache::default(),
                limiters,
                counters: stats::Counters::default(),
            }),
        }
    }

    /// A client for one tenant. Tenants in the same environment share nothing but the HTTP
    /// pool; the same tenant always gets the same limiter, and the same Client ID the same token.
    pub fn tenant(&self, env: Environment, tenant_id: i64, creds: Credentials) -> TenantClient {
        let limiter = self.shared.limiters.get(&env.cache_key(), tenant_id);
        TenantClient {
            shared: self.shared.clone(),
            env: Arc::new(env),
            tenant_id,
            creds: Arc::new(creds),
            limiter,
            max_retries: None,
        }
    }

    /// Calls, 429s, retries and limiter waits since start.
    pub fn stats(&self) -> ClientStats {
        self.shared.counters.snapshot()
    }
}
