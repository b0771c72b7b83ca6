//! Every integration test in one binary (one link instead of sixteen): real HTTP against the
//! app and the built-in sandbox, on SQLite by default and on PostgreSQL with `DATABASE_URL`.
//! Each module is one area; `helpers` is what they share.
mod helpers;

mod booking;
mod browser;
mod chaos;
mod contract;
mod db_outage;
mod export_feeds;
mod fidelity;
mod foundation;
mod hostile_input;
mod mail;
mod mappings;
mod onboarding;
mod ops_sync_ui;
mod servicetitan;
mod sync_activity;
mod sync_engine;
mod sync_platform;
mod sync_queue;
mod sync_scenarios;
mod sync_two_workers;
mod wizard;
