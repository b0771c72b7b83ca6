//! What the tests share: the app on a random port with its own database (`app`), the
//! onboarding world with partners, users and a browser-like client (`onb`), a local SMTP sink
//! (`smtp`), sandbox clients (`st`) and the sync world with seeded active integrations (`sync`).
//! The benches include this module too.
pub mod app;
pub mod onb;
pub mod smtp;
pub mod st;
pub mod sync;
