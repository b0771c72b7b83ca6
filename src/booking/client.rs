//! The ServiceTitan client bookings use: the process-wide client (shared tokens and per-tenant
//! limiter) with a short retry budget, so a capacity read survives a 429. A job or booking create
//! is never repeated blindly by the client (only a 429, which ServiceTitan did not process, is);
//! the booking's own retry first looks it up by `externalData` or `externalId`.
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
            .map(|c| c.with_max_retries(2))
            .map_err(|e| BookingError::Permanent(e.to_string()))
    }
}
