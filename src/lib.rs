//! titanbridge: connects a smart-home HVAC membership platform to contractors on ServiceTitan.
//!
//! Layout (see README "Architecture"):
//! - `domain`: pure rules (onboarding state machine, mapping validation, credits, reminders, slots)
//! - `store`: the only module that touches the database
//! - `servicetitan`: the ServiceTitan API client; `sandbox`: the built-in ServiceTitan simulator
//! - `sync`: durable task queue, workers, pollers; `web`: actix-web pages and JSON API
//! - `mail`: outgoing email; `domain::catalog`: the data files under `mappings/`
//! - `startup`: builds the application once for `main` and for tests
//! - `contract`: checks exchanges against the official ServiceTitan OpenAPI documents
pub mod booking;
pub mod capacity;
pub mod config;
pub mod contract;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod locks;
pub mod mail;
pub mod metrics;
pub mod sandbox;
pub mod services;
pub mod servicetitan;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tenant_client;
pub mod tenant_lists;
pub mod web;
