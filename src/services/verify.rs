//! Verifies a partner's ServiceTitan credentials: a token, then one cheap read for the tenant.
use secrecy::SecretString;

use crate::config::Settings;
use crate::servicetitan::{Credentials, Environment, Error, ServiceTitan};

/// Why credentials could not be confirmed; each has its own message for the partner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// The token endpoint refused the Client ID / Client Secret.
    #[error("The Client ID or Client Secret was not accepted by ServiceTitan")]
    InvalidCredentials,
    /// The credentials work but do not reach this tenant.
    #[error(
        "This app is not connected to tenant {0}: in ServiceTitan, check the Tenant ID and that our app is connected under Settings → Integrations → API Application Access"
    )]
    NotConnected(i64),
    /// ServiceTitan did not answer.
    #[error("ServiceTitan could not be reached; try again")]
    Unreachable,
    /// Something else went wrong (logged).
    #[error("ServiceTitan answered unexpectedly: {0}")]
    Other(String),
}

/// The ServiceTitan environment an integration lives in (see [`crate::tenant_client`]).
fn environment(settings: &Settings, stored: &str) -> Result<Environment, VerifyFailure> {
    crate::tenant_client::environment(settings, stored)
        .map_err(|e| VerifyFailure::Other(e.to_string()))
}

/// Checks credentials for `tenant_id` in the integration's `environment` through the process's
/// one client: the cached token for this Client ID is dropped (so the secret itself is tested),
/// then one token request and one cheap read; the new token stays cached for what follows.
pub async fn verify(
    settings: &Settings,
    client: &ServiceTitan,
    environment_name: &str,
    tenant_id: i64,
    client_id: &str,
    secret: &SecretString,
) -> Result<(), VerifyFailure> {
    let env = environment(settings, environment_name)?;
    let creds = Credentials {
        client_id: client_id.to_owned(),
        client_secret: secret.clone(),
    };
    let tenant = client.tenant(env, tenant_id, creds).with_max_retries(1);
    match tenant.verify_fresh().await {
        Ok(()) => Ok(()),
        Err(Error::InvalidCredentials | Error::Unauthorized(_)) => {
            Err(VerifyFailure::InvalidCredentials)
        }
        Err(Error::Forbidden(_) | Error::NotFound(_)) => {
            Err(VerifyFailure::NotConnected(tenant_id))
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(tenant_id, error = %e, "ServiceTitan unreachable during verification");
            Err(VerifyFailure::Unreachable)
        }
        Err(e) => {
            tracing::warn!(tenant_id, error = %e, "ServiceTitan refused verification");
            Err(VerifyFailure::Other(e.to_string()))
        }
    }
}
