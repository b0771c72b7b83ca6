//! Pure domain rules: no async, no database, no HTTP.
//!
//! - [`onboarding`]: integration states, events and the transition function.
//! - [`ids`]: parse-don't-validate newtypes for user input (tenant ID, email, idempotency key).
//! - [`mapping`]: which mappings are missing, and validation of each choice against the tenant.
//! - [`credits`]: the Comfort Credit ledger rules.
//! - [`reminders`]: device alerts, job-note markers and templates.
//! - [`booking`]: slot choice over capacity availabilities.
//! - [`limits`]: bounds on request input (windows, slots, counts, text lengths).
pub mod booking;
pub mod catalog;
pub mod credits;
pub mod ids;
pub mod limits;
pub mod mapping;
pub mod onboarding;
pub mod reminders;
