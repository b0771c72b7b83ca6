//! Why a booking attempt did not finish.
use crate::servicetitan;
use crate::store::StoreError;

/// A booking attempt's failure.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// ServiceTitan was slow, down or rate limiting: try again later (the queue will).
    #[error("ServiceTitan unavailable: {0}")]
    Unavailable(String),
    /// A prerequisite is not ready yet (the member's ServiceTitan link): try again later.
    #[error("waiting: {0}")]
    NotReady(String),
    /// Retrying will not help (integration gone, no credentials, tenant refused the request).
    #[error("{0}")]
    Permanent(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BookingError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, BookingError::Permanent(_))
    }
}

impl From<servicetitan::Error> for BookingError {
    fn from(e: servicetitan::Error) -> Self {
        if e.is_retryable() {
            BookingError::Unavailable(e.to_string())
        } else {
            BookingError::Permanent(e.to_string())
        }
    }
}
