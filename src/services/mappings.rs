//! The mapping steps behind both the wizard pages and the JSON API: each choice is verified
//! against the partner's live tenant (read fresh, never from the cache) and then saved with an
//! audit entry. Every refusal is a 4xx naming the field at fault.
use crate::domain::limits;
use serde::Serialize;
use utoipa::ToSchema;

use super::Actor;
use super::ServiceError;
use crate::domain::catalog::Catalog;
use crate::domain::mapping::{
    self as rules, CapacityMode, JobTypeChoice, MappingError, MissingItem, TargetKind,
};
use crate::domain::onboarding::IntegrationState;
use crate::state::AppState;
use crate::store::entities::integration;
use crate::store::integrations;
use crate::store::mappings::{self, Change, JobTypeRow, Rows, ServiceRow};
use crate::tenant_lists::{ListError, ListKind, Tenant, TenantLists};

/// What a mapping operation needs.
pub struct Ctx<'a> {
    /// Shared app state (store, settings).
    pub state: &'a AppState,
    /// The live-list reader.
    pub lists: &'a TenantLists,
    /// Plans and trades to map.
    pub catalog: &'a Catalog,
    /// Who acts.
    pub actor: &'a Actor,
    /// The integration, as read.
    pub row: &'a integration::Model,
}

/// Whether mappings may be edited in `row`'s state: from credentials connected on, including
/// after going live (edits affect future writes only).
pub fn editable(row: &integration::Model) -> Result<(), ServiceError> {
    use IntegrationState as S;
    let state = integrations::state_of(row)?;
    if matches!(
        state,
        S::CredentialsConnected | S::MappingsComplete | S::Active | S::Suspended
    ) {
        Ok(())
    } else {
        Err(ServiceError::Conflict {
            message: format!(
                "mappings can be edited once ServiceTitan credentials are connected; this integration is {}",
                state.as_str()
            ),
            allowed: vec![],
        })
    }
}

/// A list read failure as the API reports it.
pub fn list_error(e: ListError) -> ServiceError {
    match e {
        ListError::NotConnected => ServiceError::Conflict {
            message: e.to_string(),
            allowed: vec![],
        },
        ListError::Config(msg) => ServiceError::Internal(msg),
        ListError::ServiceTitan(st) => ServiceError::Upstream(st.to_string()),
    }
}

/// The tenant client of an editable integration.
pub fn tenant(lists: &TenantLists, row: &integration::Model) -> Result<Tenant, ServiceError> {
    lists.tenant(row).map_err(list_error)
}

fn refused(field: &str, e: MappingError) -> ServiceError {
    ServiceError::field(field, e.to_string())
}

fn bound(e: limits::OutOfBounds) -> ServiceError {
    ServiceError::field(e.field, e.message)
}

/// A name to look up in the tenant: bounded before any fuzzy matching runs over it.
fn bounded_name(name: &str) -> Result<(), ServiceError> {
    limits::text("name", name, limits::NAME_MAX_CHARS).map_err(bound)
}

impl Ctx<'_> {
    fn open(&self) -> Result<Tenant, ServiceError> {
        editable(self.row)?;
        tenant(self.lists, self.row)
    }

    async fn by_ids(
        &self,
        t: &Tenant,
        kind: ListKind,
        ids: &[i64],
    ) -> Result<Vec<crate::tenant_lists::TenantRecord>, ServiceError> {
        self.lists.by_ids(t, kind, ids).await.map_err(list_error)
    }

    async fn save(&self, change: Change) -> Result<(), ServiceError> {
        Ok(mappings::save(self.state.store.db(), self.row, self.actor, &change).await?)
    }

    /// Maps plan `plan_code` to an active membership type, with the business unit and the sale
    /// task (an active pricebook service) a membership sale needs.
    pub async fn set_plan(&self, plan_code: &str, choice: PlanChoice) -> Result<(), ServiceError> {
        let t = self.open()?;
        let change = self.check_plan(&t, plan_code, choice, "").await?;
        self.save(change).await
    }

    /// The plans step's one form: every plan row is checked first, refusals are reported
    /// together (fields prefixed with the plan code, e.g. `basic.membership_type_id`), and
    /// only when all pass are they saved, in one transaction. Rows left empty are skipped.
    pub async fn set_plans(&self, choices: &[(String, PlanChoice)]) -> Result<(), ServiceError> {
        let t = self.open()?;
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        for (code, choice) in choices {
            match self
                .check_plan(&t, code, *choice, &format!("{code}."))
                .await
            {
                Ok(c) => changes.push(c),
                Err(ServiceError::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        Ok(mappings::save_all(self.state.store.db(), self.row, self.actor, &changes).await?)
    }

    async fn check_plan(
        &self,
        t: &Tenant,
        plan_code: &str,
        choice: PlanChoice,
        prefix: &str,
    ) -> Result<Change, ServiceError> {
        let f = |name: &str| format!("{prefix}{name}");
        rules::check_plan(self.catalog, plan_code).map_err(|e| refused(&f("plan"), e))?;
        let found = self
            .by_ids(t, ListKind::MembershipTypes, &[choice.membership_type_id])
            .await?;
        let targets: Vec<_> = found.iter().map(|r| r.target()).collect();
        let mt = rules::find_active(
            TargetKind::MembershipType,
            &targets,
            choice.membership_type_id,
        )
        .map_err(|e| refused(&f("membership_type_id"), e))?;
        for (id, kind, target, field) in [
            (
                choice.business_unit_id,
                ListKind::BusinessUnits,
                TargetKind::BusinessUnit,
                "business_unit_id",
            ),
            (
                choice.sale_task_id,
                ListKind::Services,
                TargetKind::Service,
                "sale_task_id",
            ),
        ] {
            let Some(id) = id else { continue };
            let found = self.by_ids(t, kind, &[id]).await?;
            let targets: Vec<_> = found.iter().map(|r| r.target()).collect();
            rules::find_active(target, &targets, id).map_err(|e| refused(&f(field), e))?;
        }
        Ok(Change::Plan {
            plan_code: plan_code.to_owned(),
            membership_type_id: mt.id,
            membership_type_name: mt.name.clone(),
            business_unit_id: choice.business_unit_id,
            sale_task_id: choice.sale_task_id,
        })
    }

    /// Marks (trade, condition), or every condition of the trade, offered or not offered.
    /// Not offered pairs need no job type and bookings for them are refused.
    pub async fn set_offered(
        &self,
        trade: &str,
        condition: Option<&str>,
        offered: bool,
    ) -> Result<(), ServiceError> {
        editable(self.row)?;
        let t = self
            .catalog
            .trade(trade)
            .ok_or_else(|| ServiceError::field("trade", format!("unknown trade '{trade}'")))?;
        let conditions: Vec<&crate::domain::catalog::Condition> = match condition {
            Some(c) => vec![t.condition(c).ok_or_else(|| {
                ServiceError::field("condition", format!("unknown condition '{c}'"))
            })?],
            None => t.conditions.iter().collect(),
        };
        let labels = match condition {
            Some(_) => format!("{} → {}", t.label, conditions[0].label),
            None => format!("{} (all conditions)", t.label),
        };
        self.save(Change::Offered {
            trade: t.code.clone(),
            conditions: conditions.iter().map(|c| c.code.clone()).collect(),
            offered,
            labels,
        })
        .await
    }

    /// Maps (trade, condition) to a business unit and a job type allowed for it; with no
    /// condition, every condition of the trade ("apply to all conditions of this trade").
    pub async fn set_job_type(
        &self,
        trade: &str,
        condition: Option<&str>,
        business_unit_id: i64,
        job_type_id: i64,
    ) -> Result<(), ServiceError> {
        let choice = JobTypeChoice {
            business_unit_id,
            job_type_id,
        };
        let keys = match condition {
            Some(c) => {
                rules::check_trade_condition(self.catalog, trade, c).map_err(|e| match e {
                    MappingError::UnknownTrade(_) => refused("trade", e),
                    _ => refused("condition", e),
                })?;
                vec![(trade.to_owned(), c.to_owned())]
            }
            None => rules::apply_to_all_conditions(self.catalog, trade, choice)
                .map_err(|e| refused("trade", e))?
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        };
        let t = self.open()?;
        let bus: Vec<_> = self
            .by_ids(&t, ListKind::BusinessUnits, &[business_unit_id])
            .await?
            .iter()
            .map(|r| r.target())
            .collect();
        let jts: Vec<_> = self
            .by_ids(&t, ListKind::JobTypes, &[job_type_id])
            .await?
            .iter()
            .map(|r| r.job_type())
            .collect();
        let (bu, jt) = rules::check_job_type(&bus, &jts, business_unit_id, job_type_id).map_err(
            |e| match &e {
                MappingError::Unknown {
                    kind: TargetKind::BusinessUnit,
                    ..
                }
                | MappingError::Inactive {
                    kind: TargetKind::BusinessUnit,
                    ..
                } => refused("business_unit_id", e),
                _ => refused("job_type_id", e),
            },
        )?;
        let rows = keys
            .into_iter()
            .map(|(trade, condition)| JobTypeRow {
                trade,
                condition,
                business_unit_id: bu.id,
                business_unit_name: bu.name.clone(),
                job_type_id: jt.id,
                job_type_name: jt.name.clone(),
            })
            .collect::<Vec<_>>();
        // Choosing a job type offers the pair (again).
        let offered = Change::Offered {
            trade: trade.to_owned(),
            conditions: rows.iter().map(|r| r.condition.clone()).collect(),
            offered: true,
            labels: format!("{trade}: job type chosen"),
        };
        let pairs = mappings::not_offered_pairs(self.state.store.db(), self.row.id).await?;
        let mut changes = vec![Change::JobTypes(rows)];
        if pairs.iter().any(|(t, _)| t == trade) {
            changes.insert(0, offered);
        }
        Ok(mappings::save_all(self.state.store.db(), self.row, self.actor, &changes).await?)
    }

    /// Finds the Comfort Credit location custom field by name (trimmed, case-insensitive).
    pub async fn set_credit_field(&self, name: &str) -> Result<(), ServiceError> {
        bounded_name(name)?;
        let t = self.open()?;
        let fields = self
            .lists
            .fresh(&t, ListKind::CustomFields)
            .await
            .map_err(list_error)?;
        let targets: Vec<_> = fields.iter().map(|r| r.target()).collect();
        let f = rules::match_name(TargetKind::CustomField, &targets, name)
            .map_err(|e| refused("name", e))?;
        self.save(Change::CreditField {
            id: f.id,
            name: f.name.clone(),
        })
        .await
    }

    /// Replaces the eligible services; each must be an active pricebook service.
    pub async fn set_services(&self, service_ids: &[i64]) -> Result<(), ServiceError> {
        let mut ids = service_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        limits::eligible_services(ids.len()).map_err(bound)?;
        let t = self.open()?;
        let found = self.by_ids(&t, ListKind::Services, &ids).await?;
        let targets: Vec<_> = found.iter().map(|r| r.target()).collect();
        rules::check_services(&targets, &ids).map_err(|e| refused("service_ids", e))?;
        let rows = ids
            .iter()
            .filter_map(|id| found.iter().find(|r| r.id == *id))
            .map(|r| ServiceRow {
                service_id: r.id,
                code: r.code.clone().unwrap_or_default(),
                name: r.name.clone(),
            })
            .collect();
        self.save(Change::EligibleServices(rows)).await
    }

    /// Finds the tag type by name and stores its ID.
    pub async fn set_tag_type(&self, name: &str) -> Result<(), ServiceError> {
        bounded_name(name)?;
        let t = self.open()?;
        let tags = self
            .lists
            .fresh(&t, ListKind::TagTypes)
            .await
            .map_err(list_error)?;
        let targets: Vec<_> = tags.iter().map(|r| r.target()).collect();
        let tag = rules::match_name(TargetKind::TagType, &targets, name)
            .map_err(|e| refused("name", e))?;
        self.save(Change::TagType {
            id: tag.id,
            name: tag.name.clone(),
        })
        .await
    }

    /// Chooses the (active) campaign our jobs carry.
    pub async fn set_campaign(&self, campaign_id: i64) -> Result<(), ServiceError> {
        let t = self.open()?;
        let found = self.by_ids(&t, ListKind::Campaigns, &[campaign_id]).await?;
        let targets: Vec<_> = found.iter().map(|r| r.target()).collect();
        let c = rules::find_active(TargetKind::Campaign, &targets, campaign_id)
            .map_err(|e| refused("campaign_id", e))?;
        self.save(Change::Campaign {
            id: c.id,
            name: c.name.clone(),
        })
        .await
    }

    /// Chooses the booking provider tag (one the tenant admin created in ServiceTitan) that
    /// call-centre bookings are created under.
    pub async fn set_booking_provider(&self, provider_id: i64) -> Result<(), ServiceError> {
        use futures::TryStreamExt;
        let t = self.open()?;
        let tags: Vec<crate::servicetitan::BookingProviderTag> = t
            .client
            .booking_provider_tags(crate::servicetitan::ListQuery::new())
            .try_collect()
            .await
            .map_err(|e| ServiceError::Upstream(e.to_string()))?;
        let Some(tag) = tags.into_iter().find(|x| x.id == provider_id) else {
            return Err(ServiceError::field(
                "booking_provider_id",
                format!("booking provider tag {provider_id} does not exist in the tenant"),
            ));
        };
        if !tag.active {
            return Err(ServiceError::field(
                "booking_provider_id",
                format!("booking provider tag '{}' is inactive", tag.tag_name),
            ));
        }
        self.save(Change::BookingProvider {
            id: tag.id,
            name: tag.tag_name,
        })
        .await
    }

    /// Turns real-time capacity scheduling on (verifying the capacity endpoint answers for
    /// the tenant in `mode`) or off.
    pub async fn set_capacity(
        &self,
        enabled: bool,
        mode: Option<&str>,
    ) -> Result<(), ServiceError> {
        let mode = match mode.map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => Some(
                m.parse::<CapacityMode>()
                    .map_err(|e| ServiceError::field("mode", e.to_string()))?,
            ),
            None => None,
        };
        let t = self.open()?;
        if !enabled {
            // Turning off keeps the stored mode, so turning on again remembers it.
            let mode = mode.or_else(|| mappings::capacity_mode(self.row));
            return self.save(Change::Capacity { enabled, mode }).await;
        }
        let Some(m) = mode else {
            return Err(ServiceError::field(
                "mode",
                "choose how capacity is read: business_unit or technician",
            ));
        };
        let rows = mappings::rows(self.state.store.db(), self.row.id).await?;
        let mut units: Vec<i64> = rows.job_types.iter().map(|j| j.business_unit_id).collect();
        units.sort_unstable();
        units.dedup();
        match self.lists.probe_capacity(&t, m, units).await {
            Ok(slots) => {
                tracing::info!(
                    integration_id = self.row.id,
                    mode = m.as_str(),
                    slots,
                    "capacity endpoint verified"
                );
                self.save(Change::Capacity {
                    enabled,
                    mode: Some(m),
                })
                .await
            }
            Err(e) => {
                tracing::info!(integration_id = self.row.id, error = %e, "capacity endpoint failed");
                Err(ServiceError::field(
                    "mode",
                    format!(
                        "ServiceTitan's capacity endpoint did not answer for your tenant ({e}); real-time capacity scheduling stays off"
                    ),
                ))
            }
        }
    }
}

/// A ServiceTitan record chosen in a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Chosen {
    /// ServiceTitan ID.
    pub id: i64,
    /// Its name when it was chosen.
    pub name: String,
}

fn chosen(id: Option<i64>, name: Option<&String>) -> Option<Chosen> {
    id.map(|id| Chosen {
        id,
        name: name.cloned().unwrap_or_default(),
    })
}

/// What a plan maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChoice {
    /// Membership type.
    pub membership_type_id: i64,
    /// Business unit the sale is made in.
    pub business_unit_id: Option<i64>,
    /// Pricebook item that sells the membership (the type's sale task).
    pub sale_task_id: Option<i64>,
}

/// A plan and its membership type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    /// Plan code.
    pub code: String,
    /// Plan name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The membership type, when mapped.
    pub membership_type: Option<Chosen>,
    /// Business unit of the sale.
    pub business_unit_id: Option<i64>,
    /// Sale task (pricebook item) of the sale.
    pub sale_task_id: Option<i64>,
}

/// A trade condition and its business unit and job type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConditionView {
    /// Condition code.
    pub code: String,
    /// Label.
    pub label: String,
    /// Business unit, when mapped.
    pub business_unit: Option<Chosen>,
    /// Job type, when mapped.
    pub job_type: Option<Chosen>,
    /// The contractor does not offer it: bookings are refused, no job type needed.
    pub not_offered: bool,
}

/// A trade with its conditions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradeView {
    /// Trade code.
    pub code: String,
    /// Label.
    pub label: String,
    /// Conditions in catalogue order.
    pub conditions: Vec<ConditionView>,
}

/// An eligible service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceView {
    /// Pricebook service ID.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// Real-time capacity scheduling.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CapacityView {
    /// On or off.
    pub enabled: bool,
    /// `business_unit` or `technician`.
    pub mode: Option<String>,
}

/// Something still to map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MissingView {
    /// `plan`, `job_type`, `credit_field`, `eligible_services`, `tag_type`, `campaign` or
    /// `capacity_mode`.
    pub item: String,
    /// e.g. `Membership type for plan "Basic"`.
    pub label: String,
}

fn missing_kind(m: &MissingItem) -> &'static str {
    match m {
        MissingItem::Plan { .. } => "plan",
        MissingItem::JobType { .. } => "job_type",
        MissingItem::CreditField => "credit_field",
        MissingItem::EligibleServices => "eligible_services",
        MissingItem::TagType => "tag_type",
        MissingItem::Campaign => "campaign",
        MissingItem::CapacityMode => "capacity_mode",
    }
}

/// Every mapping of an integration and what is still missing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MappingsView {
    /// Integration ID.
    pub integration_id: i64,
    /// Onboarding state.
    pub state: String,
    /// Whether mappings may be edited now.
    pub editable: bool,
    /// Plans → membership types.
    pub plans: Vec<PlanView>,
    /// Trades and conditions → business units and job types.
    pub trades: Vec<TradeView>,
    /// The Comfort Credit location custom field.
    pub credit_field: Option<Chosen>,
    /// Pricebook services eligible for Comfort Credits.
    pub eligible_services: Vec<ServiceView>,
    /// The tag type put on members' customers and jobs.
    pub tag_type: Option<Chosen>,
    /// The campaign our jobs carry.
    pub campaign: Option<Chosen>,
    /// Real-time capacity scheduling.
    pub capacity: CapacityView,
    /// What is still missing before submitting, in wizard order.
    pub missing: Vec<MissingView>,
}

/// Builds the view of `row`'s mappings.
pub async fn view(
    state: &AppState,
    catalog: &Catalog,
    row: &integration::Model,
) -> Result<MappingsView, ServiceError> {
    let rows = mappings::rows(state.store.db(), row.id).await?;
    Ok(build_view(catalog, row, &rows))
}

fn build_view(catalog: &Catalog, row: &integration::Model, rows: &Rows) -> MappingsView {
    let plans = catalog
        .plans()
        .iter()
        .map(|p| {
            let m = rows.plans.iter().find(|m| m.plan_code == p.code);
            PlanView {
                code: p.code.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                membership_type: m.map(|m| Chosen {
                    id: m.membership_type_id,
                    name: m.membership_type_name.clone(),
                }),
                business_unit_id: m.and_then(|m| m.business_unit_id),
                sale_task_id: m.and_then(|m| m.sale_task_id),
            }
        })
        .collect();
    let trades = catalog
        .trades()
        .iter()
        .map(|t| TradeView {
            code: t.code.clone(),
            label: t.label.clone(),
            conditions: t
                .conditions
                .iter()
                .map(|c| {
                    let m = rows
                        .job_types
                        .iter()
                        .find(|j| j.trade == t.code && j.condition == c.code);
                    ConditionView {
                        code: c.code.clone(),
                        label: c.label.clone(),
                        business_unit: m.map(|m| Chosen {
                            id: m.business_unit_id,
                            name: m.business_unit_name.clone(),
                        }),
                        job_type: m.map(|m| Chosen {
                            id: m.job_type_id,
                            name: m.job_type_name.clone(),
                        }),
                        not_offered: rows
                            .not_offered
                            .iter()
                            .any(|n| n.trade == t.code && n.condition == c.code),
                    }
                })
                .collect(),
        })
        .collect();
    let missing = rules::missing_items(catalog, &mappings::current(row, rows))
        .iter()
        .map(|m| MissingView {
            item: missing_kind(m).to_owned(),
            label: mappings::missing_label(m),
        })
        .collect();
    MappingsView {
        integration_id: row.id,
        state: row.state.clone(),
        editable: editable(row).is_ok(),
        plans,
        trades,
        credit_field: chosen(row.credit_field_type_id, row.credit_field_name.as_ref()),
        eligible_services: rows
            .services
            .iter()
            .map(|s| ServiceView {
                id: s.service_id,
                code: s.code.clone(),
                name: s.name.clone(),
            })
            .collect(),
        tag_type: chosen(row.tag_type_id, row.tag_type_name.as_ref()),
        campaign: chosen(row.campaign_id, row.campaign_name.as_ref()),
        capacity: CapacityView {
            enabled: row.capacity_enabled,
            mode: row.capacity_mode.clone(),
        },
        missing,
    }
}

/// A reminder note as it will appear in a job's notes, filled with an example member.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReminderPreview {
    /// e.g. "Smart hub offline".
    pub alert: String,
    /// The note text (from `mappings/reminders.toml`), filled with example values.
    pub text: String,
}

/// Previews of the automatic reminder notes, one per alert kind, as the sync worker fills
/// them (same placeholders, example values).
pub fn reminder_previews(catalog: &Catalog) -> Vec<ReminderPreview> {
    use crate::domain::reminders::AlertKind;
    AlertKind::ALL
        .into_iter()
        .filter_map(|alert| {
            let vars = std::collections::BTreeMap::from([
                ("member_name", "Pat Lee".to_owned()),
                ("location_name", "Home".to_owned()),
                ("address", "1 Elm St, Austin, TX 78701".to_owned()),
                ("alert", alert.label().to_owned()),
                ("since", "2026-12-01 09:00 UTC".to_owned()),
                ("job_number", "10452".to_owned()),
            ]);
            let text = catalog.render_reminder(alert, &vars).ok()?;
            Some(ReminderPreview {
                alert: alert.label().to_owned(),
                text,
            })
        })
        .collect()
}
