//! Why a task or the engine failed.
use std::time::Duration;

use crate::servicetitan;
use crate::store::StoreError;

/// A handler's failure: retry later (with an optional server-requested delay) or give up.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another attempt (ServiceTitan unavailable, rate limited, a prerequisite not ready).
    #[error("{reason}")]
    Retry {
        /// What went wrong, for `last_error`.
        reason: String,
        /// At least this long before the next attempt (`Retry-After`).
        after: Option<Duration>,
    },
    /// Will not succeed by retrying (bad data, missing mapping): the task goes dead at once.
    #[error("{0}")]
    Permanent(String),
    /// ServiceTitan refused the integration's credentials or a scope (token 400/401, API 401
    /// after a refresh, 403). The handler dispatcher counts it towards `disconnected` and hands
    /// the worker a retry; the worker treats one that reaches it as a retry too.
    #[error("{reason}")]
    Refused {
        /// What ServiceTitan said (and, for a scope, which call).
        reason: String,
        /// Which count it goes to.
        refusal: Refusal,
    },
}

pub use crate::store::sync_control::Refusal;

/// How a 403 reads in a task's `last_error` (the text of `servicetitan::Error::Forbidden`).
const SCOPE_REFUSED_TEXT: &str = "ServiceTitan denied access (403)";

/// Whether a task's `last_error` says ServiceTitan refused it a scope.
pub fn is_scope_refusal(last_error: &str) -> bool {
    last_error.contains(SCOPE_REFUSED_TEXT)
}

impl HandlerError {
    /// A retry without a server-requested delay.
    pub fn retry(reason: impl Into<String>) -> HandlerError {
        HandlerError::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

impl From<servicetitan::Error> for HandlerError {
    fn from(e: servicetitan::Error) -> Self {
        use servicetitan::Error as E;
        match &e {
            E::RateLimited { retry_after } => HandlerError::Retry {
                reason: e.to_string(),
                after: *retry_after,
            },
            // Bad input will stay bad; everything else (5xx, network, auth that may be fixed
            // by reconnecting) is retried until the attempts run out.
            E::Api { status, .. } if (400..500).contains(status) && *status != 408 => {
                HandlerError::Permanent(e.to_string())
            }
            E::Decode(_) => HandlerError::Permanent(e.to_string()),
            E::InvalidCredentials | E::Unauthorized(_) => HandlerError::Refused {
                reason: e.to_string(),
                refusal: Refusal::Credentials,
            },
            E::Forbidden(_) => HandlerError::Refused {
                reason: e.to_string(),
                refusal: Refusal::Scope,
            },
            _ => HandlerError::retry(e.to_string()),
        }
    }
}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        HandlerError::retry(format!("database: {e}"))
    }
}

/// Why the engine could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The integration cannot be synced (unknown, not configured).
    #[error("integration {id}: {reason}")]
    Integration {
        /// Integration ID.
        id: i64,
        /// What is wrong.
        reason: String,
    },
    /// The reminder templates could not be loaded.
    #[error("reminder templates: {0}")]
    Catalog(String),
    /// A backfill page failed.
    #[error("backfill: {0}")]
    Backfill(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_is_a_scope_refusal_and_reads_as_one_in_last_error() {
        let e = HandlerError::from(servicetitan::Error::Forbidden("no scope: GET /x".into()));
        let HandlerError::Refused { reason, refusal } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*refusal, Refusal::Scope);
        assert!(is_scope_refusal(reason));
        assert!(is_scope_refusal(&format!(
            "gave up after 5 attempts: {reason}"
        )));
        let creds = HandlerError::from(servicetitan::Error::InvalidCredentials);
        assert!(matches!(
            creds,
            HandlerError::Refused {
                refusal: Refusal::Credentials,
                ..
            }
        ));
        assert!(!is_scope_refusal(&creds.to_string()));
    }
}
