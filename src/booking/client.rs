//! The ServiceTitan client bookings use: one per app settings, with no automatic retries, so a
//! job create is never repeated blindly (a retry first looks the job up by `externalData`).
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::BookingError;
use crate::config::Settings;
use crate::servicetitan::{ClientConfig, Credentials, ServiceTitan, TenantClient};
use crate::startup::AppState;
use crate::store::platform::Integration;

/// Longest single ServiceTitan request on the booking path.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// ServiceTitan clients by the settings they were built from.
#[derive(Default)]
pub(super) struct Clients {
    by_settings: Mutex<Vec<(Weak<Settings>, ServiceTitan)>>,
}

impl Clients {
    fn for_settings(&self, settings: &Arc<Settings>) -> ServiceTitan {
        let mut list = self.by_settings.lock();
        list.retain(|(w, _)| w.strong_count() > 0);
        if let Some((_, st)) = list
            .iter()
            .find(|(w, _)| w.upgrade().is_some_and(|s| Arc::ptr_eq(&s, settings)))
        {
            return st.clone();
        }
        let s = &settings.servicetitan;
        let mut cfg = ClientConfig::new(s.app_key.clone(), s.application_guid.clone());
        cfg.rate_limit_per_sec = s.rate_limit_per_sec;
        cfg.request_timeout =
            REQUEST_TIMEOUT.min(Duration::from_secs(s.request_timeout_secs.max(1)));
        cfg.max_retries = 0;
        let st = ServiceTitan::new(cfg);
        list.push((Arc::downgrade(settings), st.clone()));
        st
    }

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
        Ok(self.for_settings(&state.settings).tenant(
            env,
            tenant,
            Credentials {
                client_id,
                client_secret: secret,
            },
        ))
    }
}
