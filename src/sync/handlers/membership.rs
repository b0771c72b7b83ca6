//! The member's plan, mapped to the partner's membership type, sold once on the customer.
//!
//! Before selling, the customer's memberships are read: an active one of the mapped type (for
//! example from an attempt interrupted after the sale) is linked instead of selling again.
//!
//! A plan change (the member's plan now maps to another type) sells the new type, then cancels
//! the membership we linked before (`PATCH status=Canceled, to=now`, API.md §7), and only then
//! moves the link: an attempt interrupted anywhere finds the new sale and still retires the old
//! one, so the customer keeps exactly one active membership of ours.
use futures::TryStreamExt;

use crate::servicetitan::{Active, CustomerMembership, ListQuery, MembershipPatch, MembershipSale};
use crate::store::activity::NewActivity;
use crate::store::entities::plan_mapping;
use crate::store::{links, members, platform};
use crate::sync::error::HandlerError;

use super::{Run, linked_customer};

pub(super) async fn run(job: &Run<'_>, member_id: i64) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    let iid = job.integration.id;
    let member = members::get(db, member_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent(format!("member {member_id} not found")))?;
    let Some(plan) = member.plan_code.as_deref() else {
        return Ok(());
    };
    let mapping = platform::plan_mapping(db, iid, plan)
        .await?
        .ok_or_else(|| {
            HandlerError::Permanent(format!("plan '{plan}' is not mapped to a membership type"))
        })?;
    let type_id = mapping.membership_type_id;
    let customer_id = linked_customer(job, member_id).await?;
    // `customerIds` is the filter this endpoint has (an unknown `customerId` would be ignored
    // and list every customer's memberships).
    let existing: Vec<CustomerMembership> = job
        .client
        .memberships(
            ListQuery::new()
                .customer_ids(&[customer_id])
                .active(Active::Any),
        )
        .try_collect()
        .await?;
    let live = |m: &&CustomerMembership| {
        m.customer_id == customer_id && m.membership_type_id == type_id && m.status == "Active"
    };
    let current = match existing.iter().find(live) {
        Some(m) => m.id,
        None => {
            let sale = sale_for(job, &mapping, customer_id, member_id).await?;
            let sold = job.client.sell_membership(&sale).await?;
            tracing::info!(member_id, membership_id = sold.id, "membership sold");
            job.wrote(
                NewActivity::wrote("membership", Some(sold.id))
                    .member(member_id)
                    .field("membership type", None::<String>, Some(type_id.to_string())),
            );
            sold.id
        }
    };
    let previous = links::st_id(db, iid, links::kind::MEMBERSHIP, member_id).await?;
    if let Some(old) = previous.filter(|old| *old != current)
        && let Some(m) = existing.iter().find(|m| m.id == old)
        && m.status == "Active"
    {
        let patch = MembershipPatch {
            status: Some("Canceled".into()),
            to: Some(chrono::Utc::now()),
            memo: Some(format!(
                "Plan changed to '{plan}': replaced by membership {current} (titanbridge)"
            )),
        };
        job.client.patch_membership(old, &patch).await?;
        job.wrote(
            NewActivity::wrote("membership", Some(old))
                .member(member_id)
                .field(
                    "status",
                    Some("Active".to_string()),
                    Some("Canceled".to_string()),
                ),
        );
        tracing::info!(
            member_id,
            old,
            new = current,
            "plan change: old membership cancelled"
        );
    }
    relink(db, iid, member_id, current).await?;
    Ok(())
}

/// Points the member's membership link at `st_id` (a plan change replaces the old link).
async fn relink(
    db: &sea_orm::DatabaseConnection,
    iid: i64,
    member_id: i64,
    st_id: i64,
) -> Result<(), HandlerError> {
    if links::st_id(db, iid, links::kind::MEMBERSHIP, member_id).await? != Some(st_id) {
        links::replace(db, iid, links::kind::MEMBERSHIP, member_id, st_id).await?;
    }
    Ok(())
}

/// The sale: the plan's business unit and sale task come from setup (ServiceTitan's
/// membership-type API exposes neither), the duration/billing option from the type.
async fn sale_for(
    job: &Run<'_>,
    mapping: &plan_mapping::Model,
    customer_id: i64,
    member_id: i64,
) -> Result<MembershipSale, HandlerError> {
    let db = job.ctx.state.store.db();
    let type_id = mapping.membership_type_id;
    let (Some(business_unit_id), Some(sale_task_id)) =
        (mapping.business_unit_id, mapping.sale_task_id)
    else {
        return Err(HandlerError::Permanent(format!(
            "plan '{}' has no business unit or sale task: choose both in the Plans step of the \
             ServiceTitan setup",
            mapping.plan_code
        )));
    };
    let billing = job
        .client
        .membership_duration_billing_items(type_id)
        .await?
        .into_iter()
        .find(|b| b.active)
        .ok_or_else(|| {
            HandlerError::Permanent(format!(
                "membership type {type_id} has no active duration/billing option"
            ))
        })?;
    let first_location = match members::locations_of(db, member_id).await?.first() {
        Some(l) => links::st_id(db, job.integration.id, links::kind::LOCATION, l.id).await?,
        None => None,
    };
    Ok(MembershipSale {
        customer_id,
        business_unit_id,
        sale_task_id,
        duration_billing_id: billing.id,
        location_id: first_location,
        // Recurring services at the member's home only; `None` without a location.
        recurring_service_action: if first_location.is_some() {
            "Single"
        } else {
            "None"
        }
        .to_owned(),
        recurring_location_id: first_location,
    })
}
