//! Members (the platform's homeowners) and their service locations.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use super::StoreResult;
use super::entities::{member, service_location};

/// A member row.
pub type Member = member::Model;
/// A service location row.
pub type ServiceLocation = service_location::Model;

/// A member as the platform sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInput {
    /// The platform's member ID.
    pub external_id: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Maintenance plan code.
    pub plan_code: Option<String>,
    /// Service locations.
    pub locations: Vec<LocationInput>,
}

/// A service location as the platform sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationInput {
    /// The platform's location ID.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Street line.
    pub street: String,
    /// Unit.
    pub unit: Option<String>,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// ZIP.
    pub zip: String,
    /// Country.
    pub country: String,
}

/// What an upsert changed.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// The member after the upsert.
    pub member: Member,
    /// Its locations (all of them, not only those sent).
    pub locations: Vec<ServiceLocation>,
    /// Whether the plan changed (or the member is new with a plan).
    pub plan_changed: bool,
}

/// Inserts or updates a member and the locations sent (locations not sent are kept).
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    input: &MemberInput,
) -> StoreResult<Upserted> {
    let now = Utc::now();
    let existing = member::Entity::find()
        .filter(member::Column::PartnerId.eq(partner_id))
        .filter(member::Column::ExternalId.eq(&input.external_id))
        .one(db)
        .await?;
    let (member, plan_changed) = match existing {
        Some(m) => {
            let plan_changed = m.plan_code != input.plan_code;
            let mut am = m.into_active_model();
            am.first_name = Set(input.first_name.clone());
            am.last_name = Set(input.last_name.clone());
            am.email = Set(input.email.clone());
            am.phone = Set(input.phone.clone());
            am.plan_code = Set(input.plan_code.clone());
            am.updated_at = Set(now);
            (am.update(db).await?, plan_changed)
        }
        None => {
            let am = member::ActiveModel {
                partner_id: Set(partner_id),
                external_id: Set(input.external_id.clone()),
                first_name: Set(input.first_name.clone()),
                last_name: Set(input.last_name.clone()),
                email: Set(input.email.clone()),
                phone: Set(input.phone.clone()),
                plan_code: Set(input.plan_code.clone()),
                membership_status: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            (am.insert(db).await?, input.plan_code.is_some())
        }
    };
    for loc in &input.locations {
        let existing = service_location::Entity::find()
            .filter(service_location::Column::PartnerId.eq(partner_id))
            .filter(service_location::Column::ExternalId.eq(&loc.external_id))
            .one(db)
            .await?;
        let mut am = match existing {
            Some(l) => l.into_active_model(),
            None => service_location::ActiveModel {
                partner_id: Set(partner_id),
                external_id: Set(loc.external_id.clone()),
                created_at: Set(now),
                ..Default::default()
            },
        };
        am.member_id = Set(member.id);
        am.name = Set(loc.name.clone());
        am.street = Set(loc.street.clone());
        am.unit = Set(loc.unit.clone());
        am.city = Set(loc.city.clone());
        am.state = Set(loc.state.clone());
        am.zip = Set(loc.zip.clone());
        am.country = Set(loc.country.clone());
        am.updated_at = Set(now);
        am.save(db).await?;
    }
    let locations = locations_of(db, member.id).await?;
    Ok(Upserted {
        member,
        locations,
        plan_changed,
    })
}

/// One member by ID.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<Member>> {
    Ok(member::Entity::find_by_id(id).one(db).await?)
}

/// A partner's member by the platform's ID.
pub async fn by_external<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    external_id: &str,
) -> StoreResult<Option<Member>> {
    Ok(member::Entity::find()
        .filter(member::Column::PartnerId.eq(partner_id))
        .filter(member::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// Every member of a partner, oldest first.
pub async fn of_partner<C: ConnectionTrait>(db: &C, partner_id: i64) -> StoreResult<Vec<Member>> {
    Ok(member::Entity::find()
        .filter(member::Column::PartnerId.eq(partner_id))
        .order_by_asc(member::Column::Id)
        .all(db)
        .await?)
}

/// A member's locations, oldest first.
pub async fn locations_of<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> StoreResult<Vec<ServiceLocation>> {
    Ok(service_location::Entity::find()
        .filter(service_location::Column::MemberId.eq(member_id))
        .order_by_asc(service_location::Column::Id)
        .all(db)
        .await?)
}

/// One location by ID.
pub async fn location<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<ServiceLocation>> {
    Ok(service_location::Entity::find_by_id(id).one(db).await?)
}

/// The member of each of these locations (one query), as `(location, member)` pairs.
pub async fn members_of_locations<C: ConnectionTrait>(
    db: &C,
    location_ids: &[i64],
) -> StoreResult<Vec<(i64, i64)>> {
    if location_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(service_location::Entity::find()
        .filter(service_location::Column::Id.is_in(location_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l.member_id))
        .collect())
}

/// A partner's location by the platform's ID.
pub async fn location_by_external<C: ConnectionTrait>(
    db: &C,
    partner_id: i64,
    external_id: &str,
) -> StoreResult<Option<ServiceLocation>> {
    Ok(service_location::Entity::find()
        .filter(service_location::Column::PartnerId.eq(partner_id))
        .filter(service_location::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// Records the membership status ServiceTitan reports. `true` when it changed.
pub async fn set_membership_status<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    status: &str,
) -> StoreResult<bool> {
    let Some(m) = get(db, member_id).await? else {
        return Ok(false);
    };
    if m.membership_status.as_deref() == Some(status) {
        return Ok(false);
    }
    let mut am = m.into_active_model();
    am.membership_status = Set(Some(status.to_owned()));
    am.updated_at = Set(Utc::now());
    am.update(db).await?;
    Ok(true)
}

/// An address edit coming from ServiceTitan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressEdit {
    /// Location name.
    pub name: String,
    /// Street.
    pub street: String,
    /// Unit.
    pub unit: Option<String>,
    /// City.
    pub city: String,
    /// State.
    pub state: String,
    /// ZIP.
    pub zip: String,
}

/// Applies a location edit made in ServiceTitan. `true` when something changed.
pub async fn apply_location_edit<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    edit: &AddressEdit,
) -> StoreResult<bool> {
    let Some(l) = location(db, location_id).await? else {
        return Ok(false);
    };
    let same = l.name == edit.name
        && l.street == edit.street
        && l.unit == edit.unit
        && l.city == edit.city
        && l.state == edit.state
        && l.zip == edit.zip;
    if same {
        return Ok(false);
    }
    let mut am = l.into_active_model();
    am.name = Set(edit.name.clone());
    am.street = Set(edit.street.clone());
    am.unit = Set(edit.unit.clone());
    am.city = Set(edit.city.clone());
    am.state = Set(edit.state.clone());
    am.zip = Set(edit.zip.clone());
    am.updated_at = Set(Utc::now());
    am.update(db).await?;
    Ok(true)
}
