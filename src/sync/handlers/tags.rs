//! The partner's tag type on the member's customer (adding a tag twice is harmless, but we
//! read first to spare the call).
use crate::store::activity::NewActivity;
use crate::sync::error::HandlerError;

use super::{Run, linked_customer};

pub(super) async fn run(job: &Run<'_>, member_id: i64) -> Result<(), HandlerError> {
    let Some(tag) = job.integration.tag_type_id else {
        tracing::debug!(
            integration_id = job.integration.id,
            "no tag type mapped; nothing to tag"
        );
        return Ok(());
    };
    let customer_id = linked_customer(job, member_id).await?;
    let customer = job.client.customer(customer_id).await?;
    if !customer.tag_type_ids.contains(&tag) {
        job.client.add_customer_tag(customer_id, tag).await?;
        job.wrote(
            NewActivity::wrote("tag", Some(customer_id))
                .member(member_id)
                .field("tag type", None::<String>, Some(tag.to_string())),
        );
    }
    Ok(())
}
