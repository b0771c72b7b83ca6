//! Task kinds, payloads and dedupe keys, and the enqueue helpers the web edge calls.
//!
//! Dedupe keys name the resource a task writes, so a burst coalesces into one pending task
//! and two tasks for one resource never run at once.
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::StoreResult;
use crate::store::tasks::{self, Enqueued, NewTask};

/// Find or create the member's customer and locations in ServiceTitan; store the links.
pub const LINK_MEMBER: &str = "link_member";
/// The partner's tag on the member's customer.
pub const TAG_CUSTOMER: &str = "tag_customer";
/// The member's plan as a customer membership.
pub const MEMBERSHIP: &str = "membership";
/// The location's Comfort Credit balance in the mapped custom field.
pub const CREDIT_BALANCE: &str = "credit_balance";
/// One note per open alert on every upcoming job at the location.
pub const JOB_REMINDERS: &str = "job_reminders";
/// One page of an inbound stream.
pub const POLL: &str = "poll";

/// Every kind, for the ops console.
pub const ALL: [&str; 6] = [
    LINK_MEMBER,
    TAG_CUSTOMER,
    MEMBERSHIP,
    CREDIT_BALANCE,
    JOB_REMINDERS,
    POLL,
];

/// Payload of member tasks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MemberPayload {
    /// Our member ID.
    pub member_id: i64,
}

/// Payload of location tasks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LocationPayload {
    /// Our service location ID.
    pub location_id: i64,
}

/// Payload of poll tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollPayload {
    /// Stream name (see [`crate::sync::poll::STREAMS`]).
    pub stream: String,
}

fn member_task(integration_id: i64, kind: &str, member_id: i64) -> NewTask {
    let key = match kind {
        LINK_MEMBER => format!("link:{member_id}"),
        TAG_CUSTOMER => format!("tags:{member_id}"),
        _ => format!("membership:{member_id}"),
    };
    NewTask::now(
        integration_id,
        kind,
        json!(MemberPayload { member_id }),
        Some(key),
    )
}

/// Queues the customer/location link for a member (which queues tags, membership and credit
/// writes once linked).
pub async fn enqueue_link<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    member_id: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(db, member_task(integration_id, LINK_MEMBER, member_id)).await
}

/// Queues the customer tag for a member.
pub async fn enqueue_tags<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    member_id: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(db, member_task(integration_id, TAG_CUSTOMER, member_id)).await
}

/// Queues the membership write for a member.
pub async fn enqueue_membership<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    member_id: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(db, member_task(integration_id, MEMBERSHIP, member_id)).await
}

/// Queues the balance write for a location: `credit:<location id>`, so a burst of ledger
/// changes coalesces into one write of the balance read at run time.
pub async fn enqueue_credit<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    location_id: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(
        db,
        NewTask::now(
            integration_id,
            CREDIT_BALANCE,
            json!(LocationPayload { location_id }),
            Some(format!("credit:{location_id}")),
        ),
    )
    .await
}

/// Queues the job-note reminders for a location.
pub async fn enqueue_reminders<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    location_id: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(
        db,
        NewTask::now(
            integration_id,
            JOB_REMINDERS,
            json!(LocationPayload { location_id }),
            Some(format!("reminders:{location_id}")),
        ),
    )
    .await
}

/// Queues the next page of an inbound stream, due at `run_after_ms`.
pub async fn enqueue_poll<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    stream: &str,
    run_after_ms: i64,
) -> StoreResult<Enqueued> {
    tasks::enqueue(
        db,
        NewTask {
            integration_id,
            kind: POLL.to_owned(),
            payload: json!(PollPayload {
                stream: stream.to_owned()
            }),
            dedupe_key: Some(format!("poll:{integration_id}:{stream}")),
            run_after_ms,
        },
    )
    .await
}

/// Queues the full outbound sync of every member of a partner (call on activation, so members
/// enrolled before the integration went live reach ServiceTitan). Returns the tasks queued.
pub async fn enqueue_all_members<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    partner_id: i64,
) -> StoreResult<usize> {
    let members = crate::store::members::of_partner(db, partner_id).await?;
    for m in &members {
        enqueue_link(db, integration_id, m.id).await?;
    }
    Ok(members.len())
}
