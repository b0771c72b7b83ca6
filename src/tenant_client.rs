//! How an integration row becomes a ServiceTitan tenant client: its environment, tenant ID,
//! Client ID and decrypted Client Secret over the process-wide client. The one place pages,
//! bookings and the sync worker turn stored credentials into calls.
use crate::config::Settings;
use crate::crypto::SecretBox;
use crate::servicetitan::{Credentials, Environment, ServiceTitan, TenantClient};
use crate::store::entities::integration;

/// Why an integration cannot talk to ServiceTitan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The settings lack the base URLs the integration's environment needs.
    #[error("environment '{0}' needs servicetitan.api_url (and auth_url) in the settings")]
    Environment(String),
    /// Onboarding has not stored this yet.
    #[error("integration {id} has no {what}")]
    Missing { id: i64, what: &'static str },
    /// The sealed secret cannot be opened (another encryption key?).
    #[error("integration {id}: Client Secret: {reason}")]
    Secret { id: i64, reason: String },
}

/// The ServiceTitan environment named `stored` (`production`, `integration`, or `sandbox` /
/// `custom`, which use the base URLs in `settings.servicetitan`; auth defaults to the API URL).
pub fn environment(settings: &Settings, stored: &str) -> Result<Environment, AccessError> {
    let s = &settings.servicetitan;
    match stored {
        "production" => Ok(Environment::Production),
        "integration" => Ok(Environment::Integration),
        "sandbox" | "custom" if !s.api_url.is_empty() => Ok(Environment::Custom {
            auth_url: if s.auth_url.is_empty() {
                s.api_url.clone()
            } else {
                s.auth_url.clone()
            },
            api_url: s.api_url.clone(),
        }),
        other => Err(AccessError::Environment(other.to_owned())),
    }
}

/// A tenant client for the integration, sharing the process's token cache and rate limiter.
pub fn tenant_client(
    settings: &Settings,
    secrets: &SecretBox,
    st: &ServiceTitan,
    row: &integration::Model,
) -> Result<TenantClient, AccessError> {
    let missing = |what| AccessError::Missing { id: row.id, what };
    let tenant = row.tenant_id.ok_or_else(|| missing("tenant ID"))?;
    let client_id = row.client_id.clone().ok_or_else(|| missing("Client ID"))?;
    let sealed = row
        .client_secret_enc
        .as_deref()
        .ok_or_else(|| missing("Client Secret"))?;
    let client_secret = secrets.open(sealed).map_err(|e| AccessError::Secret {
        id: row.id,
        reason: e.to_string(),
    })?;
    let env = environment(settings, &row.environment)?;
    Ok(st.tenant(
        env,
        tenant,
        Credentials {
            client_id,
            client_secret,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_resolve_from_settings() {
        let mut s = Settings::default();
        assert_eq!(
            environment(&s, "production").unwrap(),
            Environment::Production
        );
        assert_eq!(
            environment(&s, "integration").unwrap(),
            Environment::Integration
        );
        assert_eq!(
            environment(&s, "sandbox").unwrap_err(),
            AccessError::Environment("sandbox".into())
        );
        s.servicetitan.api_url = "http://127.0.0.1:8090".into();
        let Environment::Custom { auth_url, api_url } = environment(&s, "sandbox").unwrap() else {
            panic!("custom expected");
        };
        assert_eq!(auth_url, api_url, "auth falls back to the API URL");
        assert!(environment(&s, "staging").is_err());
    }
}
