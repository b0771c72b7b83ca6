//! The actions behind the pages and the JSON API, free of HTTP: onboarding moves and mapping
//! edits. Each takes the acting [`Actor`] (recorded in the audit log) and returns a
//! [`ServiceError`]; the web edge maps that to HTTP once, and the worker and tests can call these
//! directly.
mod error;
pub mod homeowner;
pub mod mappings;
pub mod onboarding;
pub mod sync_control;
pub mod verify;

pub use crate::store::integrations::Actor;
pub use error::{FieldError, ServiceError};
