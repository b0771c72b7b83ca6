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
use crate::store::platform::{self, Integration};
use crate::store::tasks::Task;

use super::error::HandlerError;
use super::kinds::{self, LocationPayload, MemberPayload, PollPayload};
use super::{SyncContext, client_for};

/// What a handler works with.
pub(crate) struct Run<'a> {
    pub ctx: &'a SyncContext,
    pub integration: Integration,
    pub client: TenantClient,
}

fn payload<T: serde::de::DeserializeOwned>(task: &Task) -> Result<T, HandlerError> {
    serde_json::from_str(&task.payload)
        .map_err(|e| HandlerError::Permanent(format!("bad payload for {}: {e}", task.kind)))
}

/// Runs one task's handler.
pub async fn run(ctx: &SyncContext, task: &Task) -> Result<(), HandlerError> {
    let db = ctx.state.store.db();
    let integration = platform::integration(db, task.integration_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent("integration deleted".into()))?;
    let client = client_for(ctx, &integration)?;
    let job = Run {
        ctx,
        integration,
        client,
    };
    match task.kind.as_str() {
        kinds::LINK_MEMBER => link::run(&job, payload::<MemberPayload>(task)?.member_id).await,
        kinds::TAG_CUSTOMER => tags::run(&job, payload::<MemberPayload>(task)?.member_id).await,
        kinds::MEMBERSHIP => membership::run(&job, payload::<MemberPayload>(task)?.member_id).await,
        kinds::CREDIT_BALANCE => {
            credit::run(&job, payload::<LocationPayload>(task)?.location_id).await
        }
        kinds::JOB_REMINDERS => {
            reminders::run(&job, payload::<LocationPayload>(task)?.location_id).await
        }
        kinds::POLL => {
            let p: PollPayload = payload(task)?;
            let out = super::poll::run_page(&job, &p.stream).await?;
            if out.more {
                kinds::enqueue_poll(db, job.integration.id, &p.stream, crate::store::now_ms())
                    .await?;
            }
            Ok(())
        }
        crate::booking::TASK_KIND => booking::run(&job, task).await,
        other => Err(HandlerError::Permanent(format!(
            "unknown task kind '{other}'"
        ))),
    }
}

/// The member's customer in ServiceTitan, or a retry after queueing the link.
pub(crate) async fn linked_customer(job: &Run<'_>, member_id: i64) -> Result<i64, HandlerError> {
    use crate::store::links;
    let db = job.ctx.state.store.db();
    match links::st_id(db, job.integration.id, links::kind::CUSTOMER, member_id).await? {
        Some(id) => Ok(id),
        None => {
            kinds::enqueue_link(db, job.integration.id, member_id).await?;
            Err(HandlerError::retry("waiting for the customer link"))
        }
    }
}
