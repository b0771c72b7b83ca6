//! Verifies a partner's ServiceTitan credentials: a token, then one cheap read for the tenant.
use secrecy::SecretString;

use crate::config::Settings;

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

/// Checks credentials for `tenant_id` in the integration's `environment`.
pub async fn verify(
    _settings: &Settings,
    _environment: &str,
    _tenant_id: i64,
    _client_id: &str,
    _secret: &SecretString,
) -> Result<(), VerifyFailure> {
    // Replaced by the ServiceTitan client once the `st` branch lands.
    Err(VerifyFailure::Unreachable)
}
