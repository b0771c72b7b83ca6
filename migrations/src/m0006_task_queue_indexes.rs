//! Claims in O(batch): partial indexes that hold only the rows a claim looks at, so finished
//! tasks (kept for a retention period, then purged) stay out of the hot path.
//!
//! - `ix_sync_tasks_ready`: pending tasks per integration in claim order; a claim walks the
//!   first few entries of each integration instead of ranking the whole due backlog.
//! - `ix_sync_tasks_running`: leased tasks per integration (who holds a tenant, expired
//!   leases, dedupe keys in flight).
//! - `ix_sync_tasks_done`: finished tasks by age, for the retention purge.
//!
//! The `(state, run_after_ms)` index they replace covered every row, done ones included.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX ix_sync_tasks_ready ON sync_tasks (integration_id, run_after_ms, id) \
     WHERE state = 'pending'",
    "CREATE INDEX ix_sync_tasks_running ON sync_tasks (integration_id, lease_until_ms) \
     WHERE state = 'running'",
    "CREATE INDEX ix_sync_tasks_done ON sync_tasks (updated_at) WHERE state = 'done'",
    "DROP INDEX ix_sync_tasks_due",
];

const DOWN: &[&str] = &[
    "CREATE INDEX ix_sync_tasks_due ON sync_tasks (state, run_after_ms)",
    "DROP INDEX ix_sync_tasks_done",
    "DROP INDEX ix_sync_tasks_running",
    "DROP INDEX ix_sync_tasks_ready",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(m, UP).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(m, DOWN).await
    }
}
