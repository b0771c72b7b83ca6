//! An integration's mappings onto its ServiceTitan tenant: plan → membership type rows,
//! (trade, condition) → business unit + job type rows, eligible services, and the tag type,
//! Comfort Credit field, campaign and capacity columns of the integration row.
//!
//! Every change goes through [`save`], which writes it and records a `mapping_edited` entry in
//! the audit log (state unchanged) in one transaction. Sync workers read the mappings when
//! they write, so an edit affects only writes made after it.
use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::StoreResult;
use super::entities::{eligible_service, integration, job_type_mapping, not_offered, plan_mapping};
use super::integrations::{self, Actor};
use crate::domain::mapping::{CapacityMode, CurrentMappings, JobTypeChoice, MissingItem};

/// The audit-log event of a mapping change.
pub const EDIT_EVENT: &str = "mapping_edited";

/// One (trade, condition) row to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTypeRow {
    /// Trade code.
    pub trade: String,
    /// Condition code.
    pub condition: String,
    /// Business unit ID.
    pub business_unit_id: i64,
    /// Business unit name (as read from ServiceTitan when saved).
    pub business_unit_name: String,
    /// Job type ID.
    pub job_type_id: i64,
    /// Job type name.
    pub job_type_name: String,
}

/// One eligible pricebook service to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
    /// Pricebook service ID.
    pub service_id: i64,
    /// Its code.
    pub code: String,
    /// Its display name.
    pub name: String,
}

/// A verified mapping change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A plan's membership type.
    Plan {
        /// Plan code.
        plan_code: String,
        /// Membership type ID.
        membership_type_id: i64,
        /// Membership type name.
        membership_type_name: String,
        /// Business unit the membership is sold in.
        business_unit_id: Option<i64>,
        /// The pricebook item that sells it (the membership type's sale task).
        sale_task_id: Option<i64>,
    },
    /// One or more (trade, condition) rows ("apply to all conditions" gives several).
    JobTypes(Vec<JobTypeRow>),
    /// The Comfort Credit location custom-field type.
    CreditField {
        /// Type ID.
        id: i64,
        /// Name.
        name: String,
    },
    /// The whole set of eligible services (replaces the previous set).
    EligibleServices(Vec<ServiceRow>),
    /// The tag type.
    TagType {
        /// Tag type ID.
        id: i64,
        /// Name.
        name: String,
    },
    /// The booking provider tag call-centre bookings are created under.
    BookingProvider {
        /// Booking provider tag ID.
        id: i64,
        /// Its name.
        name: String,
    },
    /// The campaign our jobs carry.
    Campaign {
        /// Campaign ID.
        id: i64,
        /// Name.
        name: String,
    },
    /// Real-time capacity scheduling.
    Capacity {
        /// On or off.
        enabled: bool,
        /// How capacity is read (may be kept when off).
        mode: Option<CapacityMode>,
    },
    /// (trade, condition) pairs the contractor does (`offered`) or does not offer. Not
    /// offered pairs are refused at booking and need no job type; a saved job type is kept
    /// (so offering the pair again restores it).
    Offered {
        /// Trade code.
        trade: String,
        /// Its condition codes concerned.
        conditions: Vec<String>,
        /// Offered again (`true`) or not offered.
        offered: bool,
        /// Trade and condition labels, for the audit log.
        labels: String,
    },
}

impl Change {
    /// What changed, for the audit log.
    pub fn describe(&self) -> String {
        match self {
            Change::Plan {
                plan_code,
                membership_type_id,
                membership_type_name,
                business_unit_id,
                sale_task_id,
            } => {
                let mut text = format!(
                    "plan {plan_code} → membership type '{membership_type_name}' ({membership_type_id})"
                );
                if let Some(bu) = business_unit_id {
                    text.push_str(&format!(", business unit {bu}"));
                }
                if let Some(task) = sale_task_id {
                    text.push_str(&format!(", sale task {task}"));
                }
                text
            }
            Change::JobTypes(rows) => {
                let parts: Vec<String> = rows
                    .iter()
                    .map(|r| format!("{}/{}", r.trade, r.condition))
                    .collect();
                match rows.first() {
                    Some(r) => format!(
                        "{} → business unit '{}' ({}), job type '{}' ({})",
                        parts.join(", "),
                        r.business_unit_name,
                        r.business_unit_id,
                        r.job_type_name,
                        r.job_type_id
                    ),
                    None => "no job type rows".to_owned(),
                }
            }
            Change::CreditField { id, name } => {
                format!("Comfort Credit field → '{name}' ({id})")
            }
            Change::EligibleServices(rows) => {
                let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
                format!("eligible services → {}", names.join(", "))
            }
            Change::Offered {
                offered, labels, ..
            } => {
                if *offered {
                    format!("{labels} → offered")
                } else {
                    format!("{labels} → not offered (bookings refused)")
                }
            }
            Change::TagType { id, name } => format!("tag type → '{name}' ({id})"),
            Change::Campaign { id, name } => format!("campaign → '{name}' ({id})"),
            Change::BookingProvider { id, name } => {
                format!("booking provider → '{name}' ({id})")
            }
            Change::Capacity { enabled, mode } => match (enabled, mode) {
                (true, Some(m)) => format!("capacity scheduling on ({m})"),
                (true, None) => "capacity scheduling on (no mode)".to_owned(),
                (false, _) => "capacity scheduling off".to_owned(),
            },
        }
    }
}

/// Every mapping row of one integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// Plan rows, by plan code.
    pub plans: Vec<plan_mapping::Model>,
    /// Job type rows, by trade and condition.
    pub job_types: Vec<job_type_mapping::Model>,
    /// Eligible services, by service ID.
    pub services: Vec<eligible_service::Model>,
    /// (trade, condition) pairs not offered.
    pub not_offered: Vec<not_offered::Model>,
}

/// Reads the mapping rows of `integration_id`.
pub async fn rows<C: ConnectionTrait>(db: &C, integration_id: i64) -> StoreResult<Rows> {
    Ok(Rows {
        plans: plan_mapping::Entity::find()
            .filter(plan_mapping::Column::IntegrationId.eq(integration_id))
            .order_by_asc(plan_mapping::Column::PlanCode)
            .all(db)
            .await?,
        job_types: job_type_mapping::Entity::find()
            .filter(job_type_mapping::Column::IntegrationId.eq(integration_id))
            .order_by_asc(job_type_mapping::Column::Trade)
            .order_by_asc(job_type_mapping::Column::Condition)
            .all(db)
            .await?,
        services: eligible_service::Entity::find()
            .filter(eligible_service::Column::IntegrationId.eq(integration_id))
            .order_by_asc(eligible_service::Column::ServiceId)
            .all(db)
            .await?,
        not_offered: not_offered::Entity::find()
            .filter(not_offered::Column::IntegrationId.eq(integration_id))
            .order_by_asc(not_offered::Column::Trade)
            .order_by_asc(not_offered::Column::Condition)
            .all(db)
            .await?,
    })
}

/// The (trade, condition) pairs the contractor marked not offered.
pub async fn not_offered_pairs<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
) -> StoreResult<std::collections::BTreeSet<(String, String)>> {
    Ok(not_offered::Entity::find()
        .filter(not_offered::Column::IntegrationId.eq(integration_id))
        .all(db)
        .await?
        .into_iter()
        .map(|n| (n.trade, n.condition))
        .collect())
}

/// The capacity mode stored on `row`, if it is one we know.
pub fn capacity_mode(row: &integration::Model) -> Option<CapacityMode> {
    row.capacity_mode.as_deref().and_then(|m| m.parse().ok())
}

/// The domain view of `row`'s mappings (for [`crate::domain::mapping::missing_items`]).
pub fn current(row: &integration::Model, rows: &Rows) -> CurrentMappings {
    CurrentMappings {
        plans: rows
            .plans
            .iter()
            .map(|p| (p.plan_code.clone(), p.membership_type_id))
            .collect(),
        job_types: rows
            .job_types
            .iter()
            .map(|j| {
                (
                    (j.trade.clone(), j.condition.clone()),
                    JobTypeChoice {
                        business_unit_id: j.business_unit_id,
                        job_type_id: j.job_type_id,
                    },
                )
            })
            .collect(),
        credit_field_type_id: row.credit_field_type_id,
        eligible_service_ids: rows.services.iter().map(|s| s.service_id).collect(),
        not_offered: rows
            .not_offered
            .iter()
            .map(|n| (n.trade.clone(), n.condition.clone()))
            .collect(),
        tag_type_id: row.tag_type_id,
        campaign_id: row.campaign_id,
        capacity_enabled: row.capacity_enabled,
        capacity_mode: capacity_mode(row),
    }
}

/// A missing item as a noun phrase a partner understands (the submit step appends "is not
/// mapped yet").
pub fn missing_label(item: &MissingItem) -> String {
    match item {
        MissingItem::Plan { name, .. } => format!("Membership type for plan \"{name}\""),
        MissingItem::JobType {
            trade_label,
            condition_label,
            ..
        } => format!("Job type for {trade_label} → {condition_label}"),
        MissingItem::CreditField => "Custom field for Comfort Credit".to_owned(),
        MissingItem::EligibleServices => "Eligible services for Comfort Credits".to_owned(),
        MissingItem::TagType => "Tag type for members".to_owned(),
        MissingItem::Campaign => "Campaign for new jobs".to_owned(),
        MissingItem::CapacityMode => "Capacity mode (capacity scheduling is on)".to_owned(),
    }
}

/// Applies `change` to `row`'s mappings and records it in the audit log, in one transaction.
pub async fn save(
    db: &DatabaseConnection,
    row: &integration::Model,
    actor: &Actor,
    change: &Change,
) -> StoreResult<()> {
    save_all(db, row, actor, std::slice::from_ref(change)).await
}

/// Applies every change (one form's worth) and its audit entries in one transaction: all or
/// nothing.
pub async fn save_all(
    db: &DatabaseConnection,
    row: &integration::Model,
    actor: &Actor,
    changes: &[Change],
) -> StoreResult<()> {
    let txn = db.begin().await?;
    for change in changes {
        write(&txn, row.id, change).await?;
        integrations::audit(&txn, row, actor, EDIT_EVENT, Some(change.describe())).await?;
    }
    txn.commit().await?;
    for change in changes {
        tracing::info!(
            integration_id = row.id,
            actor = %actor.label,
            change = %change.describe(),
            "mapping edited"
        );
    }
    Ok(())
}

async fn write<C: ConnectionTrait>(db: &C, id: i64, change: &Change) -> StoreResult<()> {
    let now = Utc::now();
    match change {
        Change::Plan {
            plan_code,
            membership_type_id,
            membership_type_name,
            business_unit_id,
            sale_task_id,
        } => {
            plan_mapping::Entity::insert(plan_mapping::ActiveModel {
                integration_id: Set(id),
                plan_code: Set(plan_code.clone()),
                membership_type_id: Set(*membership_type_id),
                membership_type_name: Set(membership_type_name.clone()),
                business_unit_id: Set(*business_unit_id),
                sale_task_id: Set(*sale_task_id),
                updated_at: Set(now),
                ..Default::default()
            })
            .on_conflict(
                OnConflict::columns([
                    plan_mapping::Column::IntegrationId,
                    plan_mapping::Column::PlanCode,
                ])
                .update_columns([
                    plan_mapping::Column::MembershipTypeId,
                    plan_mapping::Column::MembershipTypeName,
                    plan_mapping::Column::BusinessUnitId,
                    plan_mapping::Column::SaleTaskId,
                    plan_mapping::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec(db)
            .await?;
        }
        Change::JobTypes(rows) => {
            for r in rows {
                job_type_mapping::Entity::insert(job_type_mapping::ActiveModel {
                    integration_id: Set(id),
                    trade: Set(r.trade.clone()),
                    condition: Set(r.condition.clone()),
                    business_unit_id: Set(r.business_unit_id),
                    business_unit_name: Set(r.business_unit_name.clone()),
                    job_type_id: Set(r.job_type_id),
                    job_type_name: Set(r.job_type_name.clone()),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .on_conflict(
                    OnConflict::columns([
                        job_type_mapping::Column::IntegrationId,
                        job_type_mapping::Column::Trade,
                        job_type_mapping::Column::Condition,
                    ])
                    .update_columns([
                        job_type_mapping::Column::BusinessUnitId,
                        job_type_mapping::Column::BusinessUnitName,
                        job_type_mapping::Column::JobTypeId,
                        job_type_mapping::Column::JobTypeName,
                        job_type_mapping::Column::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec(db)
                .await?;
            }
        }
        Change::Offered {
            trade,
            conditions,
            offered,
            ..
        } => {
            not_offered::Entity::delete_many()
                .filter(not_offered::Column::IntegrationId.eq(id))
                .filter(not_offered::Column::Trade.eq(trade.as_str()))
                .filter(not_offered::Column::Condition.is_in(conditions.iter().map(String::as_str)))
                .exec(db)
                .await?;
            if !*offered && !conditions.is_empty() {
                not_offered::Entity::insert_many(conditions.iter().map(|c| {
                    not_offered::ActiveModel {
                        integration_id: Set(id),
                        trade: Set(trade.clone()),
                        condition: Set(c.clone()),
                        created_at: Set(now),
                        ..Default::default()
                    }
                }))
                .exec(db)
                .await?;
            }
        }
        Change::EligibleServices(rows) => {
            eligible_service::Entity::delete_many()
                .filter(eligible_service::Column::IntegrationId.eq(id))
                .exec(db)
                .await?;
            if !rows.is_empty() {
                eligible_service::Entity::insert_many(rows.iter().map(|r| {
                    eligible_service::ActiveModel {
                        integration_id: Set(id),
                        service_id: Set(r.service_id),
                        code: Set(r.code.clone()),
                        name: Set(r.name.clone()),
                        created_at: Set(now),
                        ..Default::default()
                    }
                }))
                .exec(db)
                .await?;
            }
        }
        Change::CreditField { id: f, name } => {
            update_row(db, id, |u| {
                u.col_expr(
                    integration::Column::CreditFieldTypeId,
                    Expr::value(Some(*f)),
                )
                .col_expr(
                    integration::Column::CreditFieldName,
                    Expr::value(Some(name.clone())),
                )
            })
            .await?;
        }
        Change::TagType { id: t, name } => {
            update_row(db, id, |u| {
                u.col_expr(integration::Column::TagTypeId, Expr::value(Some(*t)))
                    .col_expr(
                        integration::Column::TagTypeName,
                        Expr::value(Some(name.clone())),
                    )
            })
            .await?;
        }
        Change::BookingProvider { id: b, name } => {
            integrations::set_booking_provider(db, id, *b, name).await?;
        }
        Change::Campaign { id: c, name } => {
            update_row(db, id, |u| {
                u.col_expr(integration::Column::CampaignId, Expr::value(Some(*c)))
                    .col_expr(
                        integration::Column::CampaignName,
                        Expr::value(Some(name.clone())),
                    )
            })
            .await?;
        }
        Change::Capacity { enabled, mode } => {
            let mode = mode.map(|m| m.as_str().to_owned());
            update_row(db, id, |u| {
                u.col_expr(integration::Column::CapacityEnabled, Expr::value(*enabled))
                    .col_expr(integration::Column::CapacityMode, Expr::value(mode.clone()))
            })
            .await?;
        }
    }
    Ok(())
}

type Update = sea_orm::UpdateMany<integration::Entity>;

async fn update_row<C: ConnectionTrait>(
    db: &C,
    id: i64,
    set: impl FnOnce(Update) -> Update,
) -> StoreResult<()> {
    let update = integration::Entity::update_many()
        .col_expr(integration::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(integration::Column::Id.eq(id));
    set(update).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_changes_for_the_audit_log() {
        let c = Change::JobTypes(vec![
            JobTypeRow {
                trade: "heating".into(),
                condition: "no_heat".into(),
                business_unit_id: 1,
                business_unit_name: "HVAC".into(),
                job_type_id: 2,
                job_type_name: "Repair".into(),
            },
            JobTypeRow {
                trade: "heating".into(),
                condition: "noisy".into(),
                business_unit_id: 1,
                business_unit_name: "HVAC".into(),
                job_type_id: 2,
                job_type_name: "Repair".into(),
            },
        ]);
        assert_eq!(
            c.describe(),
            "heating/no_heat, heating/noisy → business unit 'HVAC' (1), job type 'Repair' (2)"
        );
        let c = Change::Capacity {
            enabled: true,
            mode: Some(CapacityMode::Technician),
        };
        assert_eq!(c.describe(), "capacity scheduling on (technician)");
        assert_eq!(
            missing_label(&MissingItem::Plan {
                code: "basic".into(),
                name: "Basic".into()
            }),
            "Membership type for plan \"Basic\""
        );
    }
}
