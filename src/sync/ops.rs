//! Per-integration queue figures for the ops console, its retry button, and `/metrics`.
use serde::Serialize;

use crate::state::AppState;
use crate::store::StoreResult;
use crate::store::platform;
use crate::store::tasks::{self, QueueStats, Task, state};

/// A task as the ops console shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    /// Task ID.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// State.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// Last error.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Task> for TaskView {
    fn from(t: Task) -> Self {
        TaskView {
            id: t.id,
            kind: t.kind,
            state: t.state,
            attempts: t.attempts,
            last_error: t.last_error,
            updated_at: t.updated_at,
        }
    }
}

/// One integration's sync health.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntegrationSync {
    /// Integration.
    pub integration_id: i64,
    /// Partner.
    pub partner_id: i64,
    /// Onboarding state (only `active` syncs).
    pub state: String,
    /// Seconds the oldest due task has waited.
    pub lag_seconds: i64,
    /// Pending tasks.
    pub queue_depth: i64,
    /// Running tasks.
    pub running: i64,
    /// Pending tasks that failed at least once.
    pub failures: i64,
    /// Dead tasks.
    pub dead: i64,
    /// Finished tasks.
    pub done: i64,
    /// Backfill progress in percent (100 when nothing to backfill).
    pub backfill_percent: u8,
    /// The most recent dead tasks with their last error.
    pub dead_tasks: Vec<TaskView>,
    /// The most recent failing (retrying) tasks.
    pub failing_tasks: Vec<TaskView>,
}

/// Backfill percentage from the integration's counters.
pub fn backfill_percent(total: i64, done: i64) -> u8 {
    if total <= 0 {
        return 100;
    }
    ((done.clamp(0, total) * 100) / total) as u8
}

/// The sync health of every integration (`only`: just that one).
pub async fn overview(state: &AppState, only: Option<i64>) -> StoreResult<Vec<IntegrationSync>> {
    let db = state.store.db();
    let stats = tasks::queue_stats(db).await?;
    let mut out = Vec::new();
    for i in platform::all_integrations(db).await? {
        if only.is_some_and(|id| id != i.id) {
            continue;
        }
        let s = stats
            .iter()
            .find(|s| s.integration_id == i.id)
            .cloned()
            .unwrap_or(QueueStats {
                integration_id: i.id,
                ..QueueStats::default()
            });
        out.push(IntegrationSync {
            integration_id: i.id,
            partner_id: i.partner_id,
            state: i.state.clone(),
            lag_seconds: s.lag_seconds,
            queue_depth: s.pending,
            running: s.running,
            failures: s.retrying,
            dead: s.dead,
            done: s.done,
            backfill_percent: backfill_percent(i.backfill_total, i.backfill_done),
            dead_tasks: tasks::list(db, i.id, state::DEAD, 20)
                .await?
                .into_iter()
                .map(TaskView::from)
                .collect(),
            failing_tasks: tasks::retrying(db, i.id, 20)
                .await?
                .into_iter()
                .map(TaskView::from)
                .collect(),
        });
    }
    Ok(out)
}

/// Updates the `sync_*` gauges from the queue (unfinished tasks only: finished ones are not
/// read every few seconds).
pub async fn refresh_metrics(state: &AppState) -> StoreResult<()> {
    let stats = tasks::open_stats(state.store.db()).await?;
    let m = &state.metrics;
    let mut pending = 0;
    for s in &stats {
        let id = s.integration_id.to_string();
        for (label, v) in [
            ("pending", s.pending),
            ("running", s.running),
            ("dead", s.dead),
            ("retrying", s.retrying),
        ] {
            m.sync_queue_depth
                .with_label_values(&[id.as_str(), label])
                .set(v);
        }
        m.sync_lag_seconds
            .with_label_values(&[id.as_str()])
            .set(s.lag_seconds);
        pending += s.pending;
    }
    m.sync_tasks_pending.set(pending);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_percent_is_bounded() {
        assert_eq!(backfill_percent(0, 0), 100);
        assert_eq!(backfill_percent(200, 50), 25);
        assert_eq!(backfill_percent(10, 20), 100);
        assert_eq!(backfill_percent(10, -1), 0);
    }
}
