//! Every integration test in one binary (one link instead of sixteen): real HTTP against the
//! app and the built-in sandbox, on SQLite by default and on PostgreSQL with `DATABASE_URL`.
//! Each module is one area; `helpers` is what they share.
mod helpers;

mod booking;
mod browser;
mod chaos;
mod contract;
mod db_outage;
mod fidelity;
mod foundation;
mod mail;
mod mappings;
mod onboarding;
mod ops_sync_ui;
mod servicetitan;
mod sync_platform;
mod sync_queue;
mod sync_scenarios;
mod sync_two_workers;
mod wizard;
