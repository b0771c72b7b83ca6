//! What a service action can fail with, in the service's own words; the web edge maps it to
//! HTTP once (`web/error.rs`), the worker and tests read it as is.
use serde::Serialize;

use crate::store::StoreError;

/// A field that failed validation: its name and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as the caller named it (`client_secret`, `membership_type_id`, …).
    pub field: String,
    /// What is wrong, in the partner's words.
    pub message: String,
}

/// Why a service action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// One or more fields are wrong (HTTP 422).
    #[error("invalid input: {}", summarize(.0))]
    Validation(Vec<FieldError>),
    /// The state does not allow it; `allowed` names the moves that are (HTTP 409).
    #[error("{message}")]
    Conflict {
        /// What is in the way.
        message: String,
        /// The moves the state allows.
        allowed: Vec<String>,
    },
    /// ServiceTitan refused or did not answer (HTTP 502).
    #[error("ServiceTitan: {0}")]
    Upstream(String),
    /// The database refused or did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or broken setup (logged; HTTP 500).
    #[error("{0}")]
    Internal(String),
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// A refusal of one field.
    pub fn field(field: &str, message: impl Into<String>) -> ServiceError {
        ServiceError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(e: sea_orm::DbErr) -> Self {
        ServiceError::Store(e.into())
    }
}
