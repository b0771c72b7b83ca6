//! Which ServiceTitan deployment a tenant lives in.
use std::fmt;

const PRODUCTION_AUTH: &str = "https://auth.servicetitan.io";
const PRODUCTION_API: &str = "https://api.servicetitan.io";
const INTEGRATION_AUTH: &str = "https://auth-integration.servicetitan.io";
const INTEGRATION_API: &str = "https://api-integration.servicetitan.io";

/// A ServiceTitan environment: the two public ones, or a custom base-URL pair (the sandbox).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `auth.servicetitan.io` / `api.servicetitan.io`.
    Production,
    /// `auth-integration.servicetitan.io` / `api-integration.servicetitan.io`.
    Integration,
    /// Any other pair of base URLs (no trailing slash needed), e.g. the built-in sandbox.
    Custom {
        /// Base URL of the token endpoint (`{auth_url}/connect/token`).
        auth_url: String,
        /// Base URL of the API (`{api_url}/{module}/v2/tenant/{tenant}/…`).
        api_url: String,
    },
}

impl Environment {
    /// Base URL of the OAuth server, without a trailing slash.
    pub fn auth_base(&self) -> &str {
        match self {
            Self::Production => PRODUCTION_AUTH,
            Self::Integration => INTEGRATION_AUTH,
            Self::Custom { auth_url, .. } => auth_url.trim_end_matches('/'),
        }
    }

    /// Base URL of the API, without a trailing slash.
    pub fn api_base(&self) -> &str {
        match self {
            Self::Production => PRODUCTION_API,
            Self::Integration => INTEGRATION_API,
            Self::Custom { api_url, .. } => api_url.trim_end_matches('/'),
        }
    }

    /// `production`, `integration` or `custom`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Integration => "integration",
            Self::Custom { .. } => "custom",
        }
    }

    /// A key that tells environments apart, including two custom ones.
    pub(crate) fn cache_key(&self) -> String {
        format!("{}|{}|{}", self.as_str(), self.auth_base(), self.api_base())
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Custom { api_url, .. } => write!(f, "custom ({api_url})"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_bases_drop_trailing_slash() {
        let env = Environment::Custom {
            auth_url: "http://127.0.0.1:9/".into(),
            api_url: "http://127.0.0.1:9".into(),
        };
        assert_eq!(env.auth_base(), "http://127.0.0.1:9");
        assert_eq!(env.api_base(), "http://127.0.0.1:9");
        assert_eq!(env.as_str(), "custom");
    }

    #[test]
    fn public_environments_use_documented_hosts() {
        assert_eq!(
            Environment::Production.api_base(),
            "https://api.servicetitan.io"
        );
        assert_eq!(
            Environment::Integration.auth_base(),
            "https://auth-integration.servicetitan.io"
        );
        assert_ne!(
            Environment::Production.cache_key(),
            Environment::Integration.cache_key()
        );
    }
}
