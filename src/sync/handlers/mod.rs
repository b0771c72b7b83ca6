//! One idempotent handler per outbound task kind. Each reads before it writes and keeps what
//! it created in `external_links` (or, for notes, a marker in the text), so a retry after a
//! crash at any point finds the earlier write instead of repeating it.
mod booking;
mod credit;
mod link;
mod membership;
mod reminders;
mod tags;

use crate::servicetitan::TenantClient;
use crate::store::platform::Integration;
use crate::store::task_kind::TaskKind;
use crate::store::tasks::Task;

use super::error::HandlerError;
use super::{SyncContext, client_for};

/// What a handler works with.
pub(crate) struct Run<'a> {
    pub ctx: &'a SyncContext,
    pub integration: Integration,
    pub client: TenantClient,
}

/// Runs one task's handler, reading its integration first.
pub async fn run(ctx: &SyncContext, task: &Task) -> Result<(), HandlerError> {
    let db = ctx.state.store.db();
    let integration = crate::store::integrations::find(db, task.integration_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent("integration deleted".into()))?;
    let client = client_for(ctx, &integration)?;
    run_with(ctx, task, integration, client).await
}

/// Runs one task's handler with its integration row (as read after the claim) and that
/// integration's tenant client (the worker reads a batch's rows at once and reuses clients).
pub async fn run_with(
    ctx: &SyncContext,
    task: &Task,
    integration: Integration,
    client: TenantClient,
) -> Result<(), HandlerError> {
    let db = ctx.state.store.db();
    let job = Run {
        ctx,
        integration,
        client,
    };
    let kind = TaskKind::from_row(task.integration_id, &task.kind, &task.payload)
        .map_err(|e| HandlerError::Permanent(e.to_string()))?;
    match kind {
        TaskKind::LinkMember { member_id } => link::run(&job, member_id).await,
        TaskKind::TagCustomer { member_id } => tags::run(&job, member_id).await,
        TaskKind::Membership { member_id } => membership::run(&job, member_id).await,
        TaskKind::CreditBalance { location_id } => credit::run(&job, location_id).await,
        TaskKind::JobReminders { location_id } => reminders::run(&job, location_id).await,
        TaskKind::Poll {
            integration_id,
            stream,
        } => {
            let out = super::poll::run_page(&job, &stream).await?;
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
        TaskKind::Booking { booking_id } => booking::run(&job, booking_id).await,
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
