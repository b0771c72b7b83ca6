//! Customer and location link: never two customers for one member.
//!
//! Order of lookups: the stored link; a customer carrying our member ID in `externalData`
//! (finds what an interrupted earlier attempt created); a customer with the same name whose
//! location address and contact match; only then a create, which carries our IDs in
//! `externalData` so the next attempt finds it.
use crate::store::task_kind::TaskKind;
use futures::TryStreamExt;

use crate::servicetitan::{
    Address, Contact, CreatedCustomer, Customer, ExternalData, ListQuery, Location, NewCustomer,
    NewCustomerLocation, NewLocation,
};
use crate::store::activity::NewActivity;
use crate::store::members::{Member, ServiceLocation};
use crate::store::{links, members};
use crate::sync::error::HandlerError;

use super::Run;

/// `externalData` key holding our member ID on customers.
pub const MEMBER_KEY: &str = "titanbridgeMemberId";
/// `externalData` key holding our location ID on locations.
pub const LOCATION_KEY: &str = "titanbridgeLocationId";

pub(super) async fn run(job: &Run<'_>, member_id: i64) -> Result<(), HandlerError> {
    let db = job.ctx.state.store.db();
    let iid = job.integration.id;
    let member = members::get(db, member_id)
        .await?
        .ok_or_else(|| HandlerError::Permanent(format!("member {member_id} not found")))?;
    let locations = members::locations_of(db, member_id).await?;
    // A customer we create comes back with its locations and their IDs: no need to list them.
    let mut st_locations: Option<Vec<Location>> = None;
    let customer_id = match links::st_id(db, iid, links::kind::CUSTOMER, member_id).await? {
        Some(id) => id,
        None => {
            let id = match find_customer(job, &member, &locations).await? {
                Some(c) => c.id,
                None => {
                    let created = create_customer(job, &member, &locations).await?;
                    job.wrote(
                        NewActivity::wrote("customer", Some(created.customer.id))
                            .member(member_id)
                            .field("name", None::<String>, Some(full_name(&member))),
                    );
                    for l in &created.locations {
                        let ours = locations.iter().find(|x| is_ours(l, x)).map(|x| x.id);
                        job.wrote(
                            NewActivity::wrote("location", Some(l.id))
                                .member(member_id)
                                .location(ours),
                        );
                    }
                    st_locations = Some(created.locations);
                    created.customer.id
                }
            };
            links::put(db, iid, links::kind::CUSTOMER, member_id, id).await?
        }
    };
    for loc in &locations {
        if links::st_id(db, iid, links::kind::LOCATION, loc.id)
            .await?
            .is_some()
        {
            continue;
        }
        // Deleted in ServiceTitan by the contractor: unlinked, never created again.
        if links::st_id(db, iid, links::kind::LOCATION_DELETED, loc.id)
            .await?
            .is_some()
        {
            continue;
        }
        if st_locations.is_none() {
            st_locations = Some(
                job.client
                    .locations(ListQuery::new().customer_id(customer_id).page_size(200))
                    .try_collect()
                    .await?,
            );
        }
        let existing = st_locations
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|l| is_ours(l, loc) || same_address(l.address.as_ref(), loc))
            .map(|l| l.id);
        let st_id = match existing {
            Some(id) => id,
            None => {
                let id = create_location(job, customer_id, loc).await?.id;
                job.wrote(
                    NewActivity::wrote("location", Some(id))
                        .member(member_id)
                        .location(Some(loc.id)),
                );
                id
            }
        };
        links::put(db, iid, links::kind::LOCATION, loc.id, st_id).await?;
        TaskKind::CreditBalance {
            location_id: loc.id,
        }
        .enqueue(db, iid)
        .await?;
        if !crate::store::reminders::open_at(db, loc.id)
            .await?
            .is_empty()
        {
            TaskKind::JobReminders {
                location_id: loc.id,
            }
            .enqueue(db, iid)
            .await?;
        }
    }
    TaskKind::TagCustomer { member_id }.enqueue(db, iid).await?;
    if member.plan_code.is_some() {
        TaskKind::Membership { member_id }.enqueue(db, iid).await?;
    }
    Ok(())
}

fn is_ours(l: &Location, loc: &ServiceLocation) -> bool {
    l.external(LOCATION_KEY) == Some(loc.id.to_string().as_str())
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn same_address(a: Option<&Address>, loc: &ServiceLocation) -> bool {
    a.is_some_and(|a| {
        norm(&a.street) == norm(&loc.street)
            && norm(a.unit.as_deref().unwrap_or("")) == norm(loc.unit.as_deref().unwrap_or(""))
            && norm(&a.zip) == norm(&loc.zip)
    })
}

fn full_name(m: &Member) -> String {
    format!("{} {}", m.first_name, m.last_name)
        .trim()
        .to_owned()
}

async fn find_customer(
    job: &Run<'_>,
    member: &Member,
    locations: &[ServiceLocation],
) -> Result<Option<Customer>, HandlerError> {
    let guid = job.client.application_guid().to_owned();
    let id = member.id.to_string();
    let by_ours = job
        .client
        .customers_page(
            &ListQuery::new().external_data(&guid, MEMBER_KEY, &[id.as_str()]),
            1,
        )
        .await?;
    if let Some(c) = by_ours.data.into_iter().next() {
        return Ok(Some(c));
    }
    // Address + contact match: a customer of the same name (one page at most) with a location
    // at one of the member's addresses and one of the member's email / phone.
    if locations.is_empty() {
        return Ok(None);
    }
    let candidates = job
        .client
        .customers_page(
            &ListQuery::new()
                .param("name", full_name(member))
                .page_size(50),
            1,
        )
        .await?;
    for c in candidates.data {
        if norm(&c.name) != norm(&full_name(member)) {
            continue;
        }
        let locs: Vec<Location> = job
            .client
            .locations(ListQuery::new().customer_id(c.id))
            .try_collect()
            .await?;
        let at_our_address = locs.iter().any(|l| {
            locations
                .iter()
                .any(|ours| same_address(l.address.as_ref(), ours))
        });
        if !at_our_address {
            continue;
        }
        let contacts = job.client.customer_contacts(c.id).await?;
        let wanted: Vec<String> = [member.email.as_deref(), member.phone.as_deref()]
            .into_iter()
            .flatten()
            .map(norm)
            .collect();
        if contacts.iter().any(|ct| wanted.contains(&norm(&ct.value))) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn address_of(loc: &ServiceLocation) -> Address {
    Address {
        street: loc.street.clone(),
        unit: loc.unit.clone(),
        city: loc.city.clone(),
        state: loc.state.clone(),
        zip: loc.zip.clone(),
        country: loc.country.clone(),
    }
}

fn contacts_of(m: &Member) -> Vec<Contact> {
    let mut v = Vec::new();
    if let Some(e) = &m.email {
        v.push(Contact::new("Email", e));
    }
    if let Some(p) = &m.phone {
        v.push(Contact::new("MobilePhone", p));
    }
    v
}

async fn create_customer(
    job: &Run<'_>,
    member: &Member,
    locations: &[ServiceLocation],
) -> Result<CreatedCustomer, HandlerError> {
    let guid = job.client.application_guid().to_owned();
    let Some(first) = locations.first() else {
        return Err(HandlerError::Permanent(format!(
            "member {} has no service location (ServiceTitan needs one to create a customer)",
            member.id
        )));
    };
    let body = NewCustomer {
        name: full_name(member),
        kind: Some("Residential".into()),
        address: address_of(first),
        locations: locations
            .iter()
            .map(|l| NewCustomerLocation {
                name: l.name.clone(),
                address: address_of(l),
                external_data: Some(ExternalData::single(&guid, LOCATION_KEY, &l.id.to_string())),
                ..Default::default()
            })
            .collect(),
        contacts: contacts_of(member),
        tag_type_ids: job.integration.tag_type_id.into_iter().collect(),
        external_data: Some(ExternalData::single(
            &guid,
            MEMBER_KEY,
            &member.id.to_string(),
        )),
        ..Default::default()
    };
    tracing::info!(
        member_id = member.id,
        integration_id = job.integration.id,
        "creating customer"
    );
    Ok(job.client.create_customer(&body).await?)
}

async fn create_location(
    job: &Run<'_>,
    customer_id: i64,
    loc: &ServiceLocation,
) -> Result<Location, HandlerError> {
    let guid = job.client.application_guid().to_owned();
    let body = NewLocation {
        customer_id,
        name: loc.name.clone(),
        address: address_of(loc),
        external_data: Some(ExternalData::single(
            &guid,
            LOCATION_KEY,
            &loc.id.to_string(),
        )),
        ..Default::default()
    };
    tracing::info!(location_id = loc.id, customer_id, "creating location");
    Ok(job.client.create_location(&body).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_comparison_ignores_case_and_punctuation() {
        assert_eq!(norm("12 Elm St."), norm("12 elm st"));
        assert_ne!(norm("12 Elm St"), norm("14 Elm St"));
    }
}
