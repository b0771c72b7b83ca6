//! The web edge: JSON API under `/api/v1`, server-rendered pages, health and metrics.
pub mod error;
pub mod health;
pub mod middleware;

pub use error::{ApiError, FieldError};
