//! The ServiceTitan client bookings use: the process-wide client (shared tokens and per-tenant
//! limiter) with no automatic retries, so a job create is never repeated blindly (a retry first
//! looks the job up by `externalData`).
use super::BookingError;
use crate::servicetitan::{Credentials, TenantClient};
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
        let missing = |what: &str| {
            BookingError::Permanent(format!("integration {} has no {what}", integration.id))
        };
        let tenant = integration.tenant_id.ok_or_else(|| missing("tenant ID"))?;
        let client_id = integration
            .client_id
            .clone()
            .ok_or_else(|| missing("Client ID"))?;
        let sealed = integration
            .client_secret_enc
            .as_deref()
            .ok_or_else(|| missing("Client Secret"))?;
        let secret = state
            .secrets
            .open(sealed)
            .map_err(|e| BookingError::Permanent(format!("Client Secret: {e}")))?;
        let env = crate::sync::environment_for(state, integration)
            .map_err(|e| BookingError::Permanent(e.to_string()))?;
        Ok(state
            .st
            .tenant(
                env,
                tenant,
                Credentials {
                    client_id,
                    client_secret: secret,
                },
            )
            .with_max_retries(0))
    }
}
