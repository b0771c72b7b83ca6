//! The web edge: JSON API under `/api/v1`, server-rendered pages, health and metrics.
pub mod api;
pub mod auth;
pub mod csrf;
pub mod error;
pub mod health;
pub mod input;
pub mod middleware;
pub mod pages;

pub use crate::services::FieldError;
pub use error::ApiError;
