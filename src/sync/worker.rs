//! The worker loop: claim fairly, run handlers with bounded concurrency, keep leases alive,
//! retry with backoff, schedule the pollers, refresh the queue metrics.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::startup::AppState;
use crate::store::tasks::{self, ClaimRequest, FailOutcome, Task};
use crate::store::{now_ms, platform};

use super::error::{HandlerError, SyncError};
use super::{SyncContext, WorkerOptions, backoff, handlers, kinds, ops, poll};

/// Runs the worker with options from the settings until `shutdown` completes, then lets
/// running tasks finish (for at most one lease).
pub async fn run_worker<F>(state: AppState, shutdown: F) -> Result<(), SyncError>
where
    F: Future<Output = ()>,
{
    let opts = WorkerOptions::from_settings(&state.settings.worker);
    run_worker_with(state, opts, shutdown).await
}

/// Runs the worker with explicit options (tests and benchmarks tune them).
pub async fn run_worker_with<F>(
    state: AppState,
    opts: WorkerOptions,
    shutdown: F,
) -> Result<(), SyncError>
where
    F: Future<Output = ()>,
{
    let ctx = Arc::new(SyncContext::new(state, opts)?);
    tracing::info!(owner = %ctx.opts.owner, concurrency = ctx.opts.concurrency, "worker started");
    let mut background = JoinSet::new();
    background.spawn(heartbeat(ctx.clone()));
    background.spawn(scheduler(ctx.clone()));
    background.spawn(metrics(ctx.clone()));
    let slots = Arc::new(Semaphore::new(ctx.opts.concurrency));
    let mut running = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        // Claim in batches: a claim ranks every due task, so claiming one slot at a time
        // under a deep backlog would spend the database on claims instead of work.
        let batch = (ctx.opts.concurrency / 4).max(1);
        if free == 0 || (free < batch && !running.is_empty()) {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = running.join_next() => continue,
                _ = tokio::time::sleep(ctx.opts.idle_sleep) => continue,
            }
        }
        let req = ClaimRequest {
            owner: &ctx.opts.owner,
            limit: free,
            lease_ms: ctx.opts.lease.as_millis() as i64,
            per_integration: ctx.opts.per_integration,
        };
        let claimed = match tasks::claim(ctx.state.store.db(), &req).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claim failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(ctx.opts.idle_sleep) => continue,
                Some(_) = running.join_next() => continue,
            }
        }
        for task in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let ctx = ctx.clone();
            running.spawn(async move {
                execute(&ctx, task).await;
                drop(permit);
            });
        }
    }
    tracing::info!(owner = %ctx.opts.owner, in_flight = running.len(), "worker stopping");
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(ctx.opts.lease, drain).await.is_err() {
        running.abort_all();
    }
    background.abort_all();
    Ok(())
}

/// Runs one claimed task and records the outcome.
pub async fn execute(ctx: &SyncContext, task: Task) {
    let db = ctx.state.store.db();
    let owner = ctx.opts.owner.as_str();
    let kind = task.kind.clone();
    let record = |outcome: &str| {
        ctx.state
            .metrics
            .sync_tasks
            .with_label_values(&[kind.as_str(), outcome])
            .inc();
    };
    if task.attempts > ctx.opts.max_attempts {
        let why = format!(
            "gave up after {} attempts; the last one never finished (worker stopped?); last error: {}",
            task.attempts - 1,
            task.last_error.as_deref().unwrap_or("none")
        );
        let _ = tasks::fail(db, task.id, owner, &why, None).await;
        record("dead");
        return;
    }
    let result = handlers::run(ctx, &task).await;
    let outcome = match result {
        Ok(()) => match tasks::complete(db, task.id, owner).await {
            Ok(true) => "done",
            Ok(false) => "lease_lost",
            Err(e) => {
                tracing::warn!(task_id = task.id, error = %e, "could not mark task done");
                "error"
            }
        },
        Err(err) => {
            let (reason, retry_at) = match &err {
                HandlerError::Retry { reason, after } if task.attempts < ctx.opts.max_attempts => {
                    let d = backoff::delay(
                        task.attempts,
                        ctx.opts.backoff_base,
                        ctx.opts.backoff_cap,
                        *after,
                    );
                    (reason.clone(), Some(now_ms() + d.as_millis() as i64))
                }
                HandlerError::Retry { reason, .. } => (
                    format!("gave up after {} attempts: {reason}", task.attempts),
                    None,
                ),
                HandlerError::Permanent(reason) => (reason.clone(), None),
            };
            tracing::info!(task_id = task.id, kind = %task.kind, attempts = task.attempts, %reason, "task failed");
            match tasks::fail(db, task.id, owner, &reason, retry_at).await {
                Ok(FailOutcome::Retry { .. }) => "retry",
                Ok(FailOutcome::Superseded) => "superseded",
                Ok(FailOutcome::Dead) => "dead",
                Ok(FailOutcome::LeaseLost) => "lease_lost",
                Err(e) => {
                    tracing::warn!(task_id = task.id, error = %e, "could not record failure");
                    "error"
                }
            }
        }
    };
    record(outcome);
}

async fn heartbeat(ctx: Arc<SyncContext>) {
    let every = (ctx.opts.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let lease_ms = ctx.opts.lease.as_millis() as i64;
        if let Err(e) = tasks::renew_leases(ctx.state.store.db(), &ctx.opts.owner, lease_ms).await {
            tracing::warn!(error = %e, "lease renewal failed");
        }
    }
}

/// Queues one poll per active integration and stream every poll interval (coalesced with a
/// poll already pending).
async fn scheduler(ctx: Arc<SyncContext>) {
    loop {
        if let Err(e) = schedule_polls(&ctx.state).await {
            tracing::warn!(error = %e, "poll scheduling failed");
        }
        tokio::time::sleep(ctx.opts.poll_interval).await;
    }
}

/// Queues a poll of every stream of every active integration, due now.
pub async fn schedule_polls(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let db = state.store.db();
    let mut n = 0;
    for i in platform::active_integrations(db).await? {
        for s in poll::STREAMS {
            kinds::enqueue_poll(db, i.id, s, now_ms()).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn metrics(ctx: Arc<SyncContext>) {
    loop {
        if let Err(e) = ops::refresh_metrics(&ctx.state).await {
            tracing::debug!(error = %e, "metrics refresh failed");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
