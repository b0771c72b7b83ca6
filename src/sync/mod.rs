//! The sync engine: durable tasks, both directions, effects exactly once.
//!
//! - task kinds are typed in [`crate::store::task_kind::TaskKind`] (payload and dedupe key);
//!   callers enqueue them in the same transaction as the change that causes the task.
//! - [`worker`]: claims tasks fairly across integrations, runs handlers, retries with
//!   exponential backoff and full jitter (honouring `Retry-After`), marks tasks dead after
//!   `worker.max_attempts`; also schedules the inbound pollers and refreshes the metrics.
//! - [`handlers`]: one idempotent handler per outbound kind (read before write, links kept).
//! - [`poll`] and [`inbound`]: per-integration, per-stream polling with a `modifiedOnOrAfter`
//!   watermark and overlap, deduplicated by ID + modifiedOn, cursor saved with the page's
//!   effects; the first pass is the backfill (progress in `integrations.backfill_*`).
//! - [`ops`]: per-integration queue figures for the ops console and `/metrics`.
//! - [`health`]: credential refusals → `disconnected`, ops alerts and their digest, pruning
//!   of the activity log.
pub mod backoff;
mod context;
mod error;
pub mod handlers;
pub mod health;
pub mod inbound;
pub mod ops;
pub mod poll;
pub mod worker;

pub use context::{SyncContext, WorkerOptions, client_for, environment_for};
pub use error::{HandlerError, SyncError};
pub use poll::{BackfillProgress, Inbound, STREAMS, run_backfill, run_backfill_with};
pub use worker::run_worker;
