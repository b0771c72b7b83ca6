//! The ServiceTitan client bookings use: the process-wide client (shared tokens and per-tenant
//! limiter) with no automatic retries, so a job create is never repeated blindly (a retry first
//! looks the job up by `externalData`).
use super::BookingError;
use crate::servicetitan::TenantClient;
use crate::startup::AppState;
use crate::store::platform::Integration;

/// Builds tenant clients for bookings.
#[derive(Default)]
pub(super) struct Clients;

impl Clients {
    /// A tenant client for an integration (its tenant, Client ID and decrypted secret).
    pub(super) fn tenant(
        &self,
        state: &AppState,
        integration: &Integration,
    ) -> Result<TenantClient, BookingError> {
        crate::tenant_client::tenant_client(state, integration)
            .map(|c| c.with_max_retries(0))
            .map_err(|e| BookingError::Permanent(e.to_string()))
    }
}
