//! What every handler needs: the app state, the process-wide ServiceTitan client, the reminder
//! templates and the worker's tuning; and how an integration row becomes a tenant client.
use std::sync::Arc;
use std::time::Duration;

use crate::domain::catalog::Catalog;
use crate::servicetitan::{Environment, ServiceTitan, TenantClient};
use crate::state::AppState;
use crate::store::platform::Integration;

use super::error::{HandlerError, SyncError};

/// Worker tuning (from `settings.worker`, with engine defaults for the rest).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Lease name of this process.
    pub owner: String,
    /// Tasks run at once.
    pub concurrency: usize,
    /// Tasks in flight at most per integration.
    pub per_integration: usize,
    /// Lease length.
    pub lease: Duration,
    /// Attempts before a task is dead.
    pub max_attempts: i32,
    /// First retry delay ceiling (doubles per attempt, full jitter).
    pub backoff_base: Duration,
    /// Largest retry delay ceiling.
    pub backoff_cap: Duration,
    /// Sleep between claims when the queue is empty.
    pub idle_sleep: Duration,
    /// How long this worker keeps an integration without a break before it hands it over:
    /// it claims none of its tasks until those in hand are done, plus two idle sleeps, so
    /// that another worker (which claims every idle sleep) can take it. Without it, claims
    /// made ahead would keep a busy integration with one worker for good.
    pub handover_after: Duration,
    /// Seconds between inbound polls per integration and stream.
    pub poll_interval: Duration,
    /// How far back each poll re-reads (clock skew, late commits).
    pub poll_overlap: Duration,
    /// Records per inbound page (page lists only; export batches are the server's choice).
    pub page_size: u32,
    /// Export feeds (default) or page lists.
    pub inbound: super::poll::Inbound,
}

impl WorkerOptions {
    /// Options from the settings.
    pub fn from_settings(s: &crate::config::WorkerSettings) -> WorkerOptions {
        let owner = format!(
            "worker-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        WorkerOptions {
            owner,
            concurrency: s.concurrency.max(1),
            per_integration: s.concurrency.div_ceil(2).max(1),
            lease: Duration::from_secs(s.lease_secs.max(1) as u64),
            max_attempts: s.max_attempts.max(1),
            backoff_base: Duration::from_millis(s.backoff_base_ms),
            backoff_cap: Duration::from_secs(s.backoff_cap_secs),
            idle_sleep: Duration::from_millis(100),
            handover_after: Duration::from_secs(5),
            poll_interval: Duration::from_secs(s.poll_interval_secs.max(1)),
            poll_overlap: Duration::from_secs(120),
            page_size: 200,
            inbound: super::poll::Inbound::Export,
        }
    }
}

/// Shared by the worker's tasks.
#[derive(Clone)]
pub struct SyncContext {
    /// App state (store, settings, secrets, metrics).
    pub state: AppState,
    /// The process-wide ServiceTitan client (one rate limiter per tenant).
    pub st: ServiceTitan,
    /// Reminder templates.
    pub catalog: Arc<Catalog>,
    /// Tuning.
    pub opts: WorkerOptions,
    /// When this worker last moved each integration's last sync (written at most once a
    /// second per integration).
    pub last_sync_touched:
        Arc<parking_lot::Mutex<std::collections::HashMap<i64, std::time::Instant>>>,
}

impl SyncContext {
    /// Builds the context: the ServiceTitan client from the settings and the catalogue.
    pub fn new(state: AppState, opts: WorkerOptions) -> Result<SyncContext, SyncError> {
        Ok(SyncContext {
            st: state.st.clone(),
            catalog: state.catalog.clone(),
            opts,
            state,
            last_sync_touched: Arc::default(),
        })
    }
}

/// The ServiceTitan environment an integration talks to (see [`crate::tenant_client`]).
pub fn environment_for(
    state: &AppState,
    integration: &Integration,
) -> Result<Environment, SyncError> {
    crate::tenant_client::environment(&state.settings, &integration.environment).map_err(|e| {
        SyncError::Integration {
            id: integration.id,
            reason: e.to_string(),
        }
    })
}

/// A tenant client for an integration (its tenant, Client ID and decrypted secret).
pub fn client_for(
    ctx: &SyncContext,
    integration: &Integration,
) -> Result<TenantClient, HandlerError> {
    ctx.state
        .tenant_client(integration)
        .map_err(|e| HandlerError::Permanent(e.to_string()))
}
