//! JSON API under `/api/v1`.
pub mod ops_sync;
pub mod platform;
