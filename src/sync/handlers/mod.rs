//! One idempotent handler per outbound task kind. Each reads before it writes and keeps what
//! it created in `external_links` (or, for notes, a marker in the text), so a retry after a
//! crash at any point finds the earlier write instead of repeating it.
mod booking;
mod credit;
mod link;
mod membership;
mod reminders;
mod tags;

use parking_lot::Mutex;

use crate::servicetitan::TenantClient;
use crate::store::activity::{self, NewActivity};
use crate::store::platform::{self, Integration};
use crate::store::sync_control;
use crate::store::task_kind::TaskKind;
use crate::store::tasks::Task;

use super::error::{HandlerError, Refusal, is_scope_refusal};
use super::{SyncContext, client_for};

/// What a handler works with.
pub(crate) struct Run<'a> {
    pub ctx: &'a SyncContext,
    pub integration: Integration,
    pub client: TenantClient,
    /// The writes made so far, for the activity log (written when the handler returns).
    log: Mutex<Vec<NewActivity>>,
    /// Whether anything was written to ServiceTitan (the last sync moves, log on or off).
    wrote_any: std::sync::atomic::AtomicBool,
}

impl Run<'_> {
    /// Notes a write made to ServiceTitan (its row is kept only when the activity log is on).
    pub fn wrote(&self, row: NewActivity) {
        if row.direction == activity::direction::OUT {
            self.wrote_any
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if self.ctx.state.settings.sync.activity_log {
            self.log.lock().push(row);
        }
    }
}

/// What a task that succeeded leaves for the worker to record with its completion (in the
/// same transaction, batched with other tasks'): its activity rows and whether it wrote to
/// ServiceTitan (the integration's last sync).
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// The task's activity rows (empty when the log is off).
    pub activity: activity::TaskActivity,
    /// Whether anything was written to ServiceTitan.
    pub wrote: bool,
}

/// Runs one task's handler, reading its integration first.
pub async fn run(ctx: &SyncContext, task: &Task) -> Result<Finished, HandlerError> {
    let db = ctx.state.store.db();
    let integration = crate::store::integrations::find(db, task.integration_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent("integration deleted".into()))?;
    let client = client_for(ctx, &integration)?;
    run_with(ctx, task, integration, client).await
}

/// Runs one task's handler with its integration row (as read after the claim) and that
/// integration's tenant client (the worker reads a batch's rows at once and reuses clients).
/// A success returns its writes for the activity log and the last sync, which the worker
/// records with the task's completion; a failure records them (and the failure) here, and
/// counts a credential refusal towards the integration's health.
pub async fn run_with(
    ctx: &SyncContext,
    task: &Task,
    integration: Integration,
    client: TenantClient,
) -> Result<Finished, HandlerError> {
    let db = ctx.state.store.db();
    let job = Run {
        ctx,
        integration,
        client,
        log: Mutex::new(Vec::new()),
        wrote_any: std::sync::atomic::AtomicBool::new(false),
    };
    let kind = TaskKind::from_row(task.integration_id, &task.kind, &task.payload)
        .map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let result = dispatch(&job, kind.clone()).await;
    let mut rows = std::mem::take(&mut *job.log.lock());
    let wrote = job.wrote_any.load(std::sync::atomic::Ordering::Relaxed);
    let Err(e) = result else {
        if job.integration.auth_failures > 0 {
            sync_control::accepted(db, job.integration.id, Refusal::Credentials).await?;
        }
        // The task that was refused a scope now went through: the scope is back.
        if job.integration.scope_refusals > 0
            && task.last_error.as_deref().is_some_and(is_scope_refusal)
        {
            sync_control::accepted(db, job.integration.id, Refusal::Scope).await?;
        }
        return Ok(Finished {
            activity: activity::TaskActivity {
                integration_id: job.integration.id,
                task_id: Some(task.id),
                attempt: task.attempts,
                rows,
            },
            wrote,
        });
    };
    if ctx.state.settings.sync.activity_log
        && let Some(row) = failure_row(&kind, &e, task.attempts >= ctx.opts.max_attempts)
    {
        rows.push(row);
    }
    // Bookkeeping must not turn a failure into another failure: problems here are logged.
    if let Err(e) =
        activity::record(db, job.integration.id, Some(task.id), task.attempts, rows).await
    {
        tracing::warn!(task_id = task.id, error = %e, "could not record sync activity");
    }
    if wrote && let Err(e) = platform::touch_last_sync(db, job.integration.id).await {
        tracing::warn!(task_id = task.id, error = %e, "could not record the last sync");
    }
    if let HandlerError::Refused { reason, refusal } = &e {
        super::health::refused(ctx, &job.integration, reason, *refusal).await;
    }
    Err(e)
}

/// The log row of a failed task: what it was writing, for whom, and why it failed.
fn failure_row(kind: &TaskKind, e: &HandlerError, last_attempt: bool) -> Option<NewActivity> {
    let (what, member, location) = match kind {
        TaskKind::LinkMember { member_id } => ("customer", Some(*member_id), None),
        TaskKind::TagCustomer { member_id } => ("tag", Some(*member_id), None),
        TaskKind::Membership { member_id } => ("membership", Some(*member_id), None),
        TaskKind::CreditBalance { location_id } => ("credit_balance", None, Some(*location_id)),
        TaskKind::JobReminders { location_id } => ("reminder_note", None, Some(*location_id)),
        TaskKind::Booking { .. } => ("booking", None, None),
        // A failed read has no write to show; the task's own error says why.
        TaskKind::Poll { .. } => return None,
    };
    let failed = last_attempt || matches!(e, HandlerError::Permanent(_));
    Some(NewActivity {
        direction: activity::direction::OUT,
        kind: what,
        member_id: member,
        location_id: location,
        result: if failed {
            activity::result::FAILED
        } else {
            activity::result::RETRY
        },
        error: Some(e.to_string()),
        ..NewActivity::default()
    })
}

async fn dispatch(job: &Run<'_>, kind: TaskKind) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    match kind {
        TaskKind::LinkMember { member_id } => link::run(job, member_id).await,
        TaskKind::TagCustomer { member_id } => tags::run(job, member_id).await,
        TaskKind::Membership { member_id } => membership::run(job, member_id).await,
        TaskKind::CreditBalance { location_id } => credit::run(job, location_id).await,
        TaskKind::JobReminders { location_id } => reminders::run(job, location_id).await,
        TaskKind::Poll {
            integration_id,
            stream,
        } => {
            let out = super::poll::run_page(job, &stream).await?;
            if out.more {
                TaskKind::Poll {
                    integration_id,
                    stream,
                }
                .enqueue(db, job.integration.id)
                .await?;
            }
            Ok(())
        }
        TaskKind::Booking { booking_id } => booking::run(job, booking_id).await,
    }
}

/// The member's customer in ServiceTitan, or a retry after queueing the link.
pub(crate) async fn linked_customer(job: &Run<'_>, member_id: i64) -> Result<i64, HandlerError> {
    use crate::store::links;
    let db = job.ctx.state.store.db();
    match links::st_id(db, job.integration.id, links::kind::CUSTOMER, member_id).await? {
        Some(id) => Ok(id),
        None => {
            TaskKind::LinkMember { member_id }
                .enqueue(db, job.integration.id)
                .await?;
            Err(HandlerError::retry("waiting for the customer link"))
        }
    }
}
