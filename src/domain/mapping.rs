//! Mapping rules: what is still missing before an integration can go live, and validation of
//! each choice against the partner's tenant.
//!
//! Inputs are small plain structs ([`Target`], [`JobTypeTarget`]); callers convert the
//! ServiceTitan models into them, so these rules know nothing of HTTP or JSON shapes.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::catalog::Catalog;

/// A ServiceTitan record offered as a mapping target: a membership type, business unit,
/// location custom-field type, pricebook service, tag type or campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// ServiceTitan ID.
    pub id: i64,
    /// Name as shown in ServiceTitan.
    pub name: String,
    /// Whether it is active (custom-field types have no flag: pass `true`).
    pub active: bool,
}

/// A ServiceTitan job type with the business units that may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTypeTarget {
    /// ServiceTitan ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Whether it is active.
    pub active: bool,
    /// `businessUnitIds`: the units this job type is allowed for.
    pub business_unit_ids: Vec<i64>,
}

/// What kind of ServiceTitan record a [`Target`] is (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Membership type (plan mapping).
    MembershipType,
    /// Business unit.
    BusinessUnit,
    /// Job type.
    JobType,
    /// Location custom-field type (Comfort Credit field).
    CustomField,
    /// Pricebook service.
    Service,
    /// Tag type.
    TagType,
    /// Campaign.
    Campaign,
}

impl TargetKind {
    /// Human name used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::MembershipType => "membership type",
            Self::BusinessUnit => "business unit",
            Self::JobType => "job type",
            Self::CustomField => "custom field",
            Self::Service => "pricebook service",
            Self::TagType => "tag type",
            Self::Campaign => "campaign",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A mapping choice that cannot be saved. Messages are shown to partners as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No record with that ID in the tenant.
    #[error("{kind} {id} does not exist in your ServiceTitan tenant")]
    Unknown {
        /// Record kind.
        kind: TargetKind,
        /// ID chosen.
        id: i64,
    },
    /// The record exists but is inactive.
    #[error("{kind} '{name}' ({id}) is inactive in ServiceTitan")]
    Inactive {
        /// Record kind.
        kind: TargetKind,
        /// ID chosen.
        id: i64,
        /// Its name.
        name: String,
    },
    /// The job type does not list the business unit.
    #[error("job type '{job_type_name}' is not allowed for business unit '{business_unit_name}'")]
    JobTypeNotAllowed {
        /// Job type ID.
        job_type_id: i64,
        /// Job type name.
        job_type_name: String,
        /// Business unit ID.
        business_unit_id: i64,
        /// Business unit name.
        business_unit_name: String,
    },
    /// An empty name was typed.
    #[error("enter the {kind} name")]
    NameRequired {
        /// Record kind.
        kind: TargetKind,
    },
    /// No record with that name; `suggestions` holds up to 3 close names.
    #[error(
        "no {kind} named '{name}' in your ServiceTitan tenant{}",
        did_you_mean(suggestions)
    )]
    NameNotFound {
        /// Record kind.
        kind: TargetKind,
        /// Name typed (trimmed).
        name: String,
        /// Close names, best first.
        suggestions: Vec<String>,
    },
    /// A plan code not in the catalogue.
    #[error("unknown plan '{0}'")]
    UnknownPlan(String),
    /// A trade code not in the catalogue.
    #[error("unknown trade '{0}'")]
    UnknownTrade(String),
    /// A condition code not in the trade.
    #[error("unknown condition '{condition}' for trade '{trade}'")]
    UnknownCondition {
        /// Trade code.
        trade: String,
        /// Condition code.
        condition: String,
    },
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = s.iter().map(|n| format!("'{n}'")).collect();
        format!("; did you mean {}?", quoted.join(", "))
    }
}

/// The record with `id`, which must be active.
pub fn find_active(kind: TargetKind, items: &[Target], id: i64) -> Result<&Target, MappingError> {
    let t = items
        .iter()
        .find(|t| t.id == id)
        .ok_or(MappingError::Unknown { kind, id })?;
    if !t.active {
        return Err(MappingError::Inactive {
            kind,
            id,
            name: t.name.clone(),
        });
    }
    Ok(t)
}

/// Checks a (business unit, job type) choice: both exist and are active, and the job type
/// lists the business unit in its `businessUnitIds`.
pub fn check_job_type<'a>(
    business_units: &'a [Target],
    job_types: &'a [JobTypeTarget],
    business_unit_id: i64,
    job_type_id: i64,
) -> Result<(&'a Target, &'a JobTypeTarget), MappingError> {
    let bu = find_active(TargetKind::BusinessUnit, business_units, business_unit_id)?;
    let jt = job_types
        .iter()
        .find(|j| j.id == job_type_id)
        .ok_or(MappingError::Unknown {
            kind: TargetKind::JobType,
            id: job_type_id,
        })?;
    if !jt.active {
        return Err(MappingError::Inactive {
            kind: TargetKind::JobType,
            id: jt.id,
            name: jt.name.clone(),
        });
    }
    if !jt.business_unit_ids.contains(&business_unit_id) {
        return Err(MappingError::JobTypeNotAllowed {
            job_type_id,
            job_type_name: jt.name.clone(),
            business_unit_id,
            business_unit_name: bu.name.clone(),
        });
    }
    Ok((bu, jt))
}

/// The job types allowed for a business unit (active ones only), for a dropdown.
pub fn job_types_for_business_unit(
    job_types: &[JobTypeTarget],
    business_unit_id: i64,
) -> Vec<&JobTypeTarget> {
    job_types
        .iter()
        .filter(|j| j.active && j.business_unit_ids.contains(&business_unit_id))
        .collect()
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Finds the record a partner named: trimmed, case-insensitive. When several match, an exact
/// (case-sensitive) match wins, then an active one. A match that is inactive is refused. When
/// none matches, the error lists up to 3 close names.
pub fn match_name<'a>(
    kind: TargetKind,
    items: &'a [Target],
    typed: &str,
) -> Result<&'a Target, MappingError> {
    let name = typed.trim();
    if name.is_empty() {
        return Err(MappingError::NameRequired { kind });
    }
    let wanted = normalise(name);
    let best = items
        .iter()
        .filter(|t| normalise(&t.name) == wanted)
        .max_by_key(|t| (t.name.trim() == name, t.active));
    match best {
        Some(t) if t.active => Ok(t),
        Some(t) => Err(MappingError::Inactive {
            kind,
            id: t.id,
            name: t.name.clone(),
        }),
        None => Err(MappingError::NameNotFound {
            kind,
            name: name.to_owned(),
            suggestions: suggestions(items, name, 3),
        }),
    }
}

/// Up to `n` names close to `typed`: within a small edit distance (a third of the length, at
/// least 2) or containing / contained in it, nearest first. Active records only.
pub fn suggestions(items: &[Target], typed: &str, n: usize) -> Vec<String> {
    let wanted = normalise(typed);
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = items
        .iter()
        .filter(|t| t.active)
        .filter_map(|t| {
            let cand = normalise(&t.name);
            let d = levenshtein(&wanted, &cand);
            let related = !cand.is_empty()
                && !wanted.is_empty()
                && (cand.contains(&wanted) || wanted.contains(&cand));
            (d <= limit || related).then_some((d, t.name.as_str()))
        })
        .collect();
    scored.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, name) in scored {
        if out.len() == n {
            break;
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// Edit distance (insertions, deletions, substitutions) over characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Records whose name contains `query` (trimmed, case-insensitive; empty matches all), at
/// most `limit`, in input order. Used to search long lists (pricebook services).
pub fn search<'a>(items: &'a [Target], query: &str, limit: usize) -> Vec<&'a Target> {
    let q = normalise(query);
    items
        .iter()
        .filter(|t| normalise(&t.name).contains(&q))
        .take(limit)
        .collect()
}

/// Checks each chosen service is an active pricebook service.
pub fn check_services<'a>(
    services: &'a [Target],
    ids: &[i64],
) -> Result<Vec<&'a Target>, MappingError> {
    ids.iter()
        .map(|id| find_active(TargetKind::Service, services, *id))
        .collect()
}

/// How capacity is read when real-time capacity scheduling is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityMode {
    /// By business unit.
    BusinessUnit,
    /// By technician skills (`skillBasedAvailability`).
    Technician,
}

impl CapacityMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BusinessUnit => "business_unit",
            Self::Technician => "technician",
        }
    }

    /// The value of `skillBasedAvailability` in a capacity request.
    pub fn skill_based(self) -> bool {
        self == Self::Technician
    }
}

impl fmt::Display for CapacityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown capacity mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capacity mode '{0}' (expected business_unit or technician)")]
pub struct UnknownCapacityMode(pub String);

impl FromStr for CapacityMode {
    type Err = UnknownCapacityMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "business_unit" => Ok(Self::BusinessUnit),
            "technician" => Ok(Self::Technician),
            _ => Err(UnknownCapacityMode(s.to_owned())),
        }
    }
}

/// One (trade, condition) choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTypeChoice {
    /// ServiceTitan business unit ID.
    pub business_unit_id: i64,
    /// ServiceTitan job type ID.
    pub job_type_id: i64,
}

/// A (trade code, condition code) pair.
pub type TradeConditionKey = (String, String);

/// An integration's current mapping rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentMappings {
    /// Plan code → membership type ID.
    pub plans: BTreeMap<String, i64>,
    /// (trade code, condition code) → business unit and job type.
    pub job_types: BTreeMap<TradeConditionKey, JobTypeChoice>,
    /// Comfort Credit location custom-field type ID.
    pub credit_field_type_id: Option<i64>,
    /// Eligible pricebook service IDs.
    pub eligible_service_ids: BTreeSet<i64>,
    /// (trade, condition) pairs the contractor does not offer: no job type needed, bookings
    /// refused.
    pub not_offered: BTreeSet<TradeConditionKey>,
    /// Tag type ID.
    pub tag_type_id: Option<i64>,
    /// Campaign ID carried by our jobs.
    pub campaign_id: Option<i64>,
    /// Whether real-time capacity scheduling is on.
    pub capacity_enabled: bool,
    /// How capacity is read (required when enabled).
    pub capacity_mode: Option<CapacityMode>,
}

/// One thing still missing before the mappings are complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum MissingItem {
    /// A catalogue plan without a membership type.
    Plan {
        /// Plan code.
        code: String,
        /// Plan name.
        name: String,
    },
    /// A (trade, condition) pair without business unit and job type.
    JobType {
        /// Trade code.
        trade: String,
        /// Condition code.
        condition: String,
        /// Trade label.
        trade_label: String,
        /// Condition label.
        condition_label: String,
    },
    /// No Comfort Credit custom field.
    CreditField,
    /// No eligible service chosen.
    EligibleServices,
    /// No tag type.
    TagType,
    /// No campaign.
    Campaign,
    /// Capacity scheduling on, but no mode chosen.
    CapacityMode,
}

impl MissingItem {
    /// The human message, e.g. "plan 'Gold' has no membership type".
    pub fn message(&self) -> String {
        match self {
            Self::Plan { name, .. } => format!("plan '{name}' has no membership type"),
            Self::JobType {
                trade_label,
                condition_label,
                ..
            } => format!("'{trade_label}: {condition_label}' has no business unit and job type"),
            Self::CreditField => "no Comfort Credit custom field chosen".to_owned(),
            Self::EligibleServices => "no eligible services chosen".to_owned(),
            Self::TagType => "no tag type chosen".to_owned(),
            Self::Campaign => "no campaign chosen".to_owned(),
            Self::CapacityMode => {
                "capacity scheduling is on but no capacity mode is chosen".to_owned()
            }
        }
    }
}

impl fmt::Display for MissingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why a booking for (trade, condition) is refused although both codes exist: the contractor
/// does not offer it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{partner} does not offer {trade_label} → {condition_label}; choose another service or contact them directly"
)]
pub struct NotOffered {
    /// The contractor's name.
    pub partner: String,
    /// Trade label.
    pub trade_label: String,
    /// Condition label.
    pub condition_label: String,
}

/// Refuses a booking for a pair the contractor marked not offered.
pub fn check_offered(
    catalog: &Catalog,
    not_offered: &BTreeSet<TradeConditionKey>,
    partner: &str,
    trade: &str,
    condition: &str,
) -> Result<(), NotOffered> {
    let key = (trade.to_owned(), condition.to_owned());
    if !not_offered.contains(&key) {
        return Ok(());
    }
    let (trade_label, condition_label) = catalog
        .condition(trade, condition)
        .map(|(t, c)| (t.label.clone(), c.label.clone()))
        .unwrap_or_else(|| (trade.to_owned(), condition.to_owned()));
    Err(NotOffered {
        partner: partner.to_owned(),
        trade_label,
        condition_label,
    })
}

/// Everything missing, in wizard order: plans, trade conditions (unless not offered), credit field, eligible
/// services (at least one is required), tag type, campaign, capacity mode. Rows for codes no
/// longer in the catalogue are ignored. Empty means the mappings are complete.
pub fn missing_items(catalog: &Catalog, current: &CurrentMappings) -> Vec<MissingItem> {
    let mut out = Vec::new();
    for p in catalog.plans() {
        if !current.plans.contains_key(&p.code) {
            out.push(MissingItem::Plan {
                code: p.code.clone(),
                name: p.name.clone(),
            });
        }
    }
    for (t, c) in catalog.trade_conditions() {
        let key = (t.code.clone(), c.code.clone());
        if !current.job_types.contains_key(&key) && !current.not_offered.contains(&key) {
            out.push(MissingItem::JobType {
                trade: t.code.clone(),
                condition: c.code.clone(),
                trade_label: t.label.clone(),
                condition_label: c.label.clone(),
            });
        }
    }
    if current.credit_field_type_id.is_none() {
        out.push(MissingItem::CreditField);
    }
    if current.eligible_service_ids.is_empty() {
        out.push(MissingItem::EligibleServices);
    }
    if current.tag_type_id.is_none() {
        out.push(MissingItem::TagType);
    }
    if current.campaign_id.is_none() {
        out.push(MissingItem::Campaign);
    }
    if current.capacity_enabled && current.capacity_mode.is_none() {
        out.push(MissingItem::CapacityMode);
    }
    out
}

/// Checks a plan code is in the catalogue.
pub fn check_plan<'a>(
    catalog: &'a Catalog,
    code: &str,
) -> Result<&'a crate::domain::catalog::Plan, MappingError> {
    catalog
        .plan(code)
        .ok_or_else(|| MappingError::UnknownPlan(code.to_owned()))
}

/// Checks a (trade, condition) pair is in the catalogue.
pub fn check_trade_condition(
    catalog: &Catalog,
    trade: &str,
    condition: &str,
) -> Result<(), MappingError> {
    let t = catalog
        .trade(trade)
        .ok_or_else(|| MappingError::UnknownTrade(trade.to_owned()))?;
    t.condition(condition)
        .map(|_| ())
        .ok_or_else(|| MappingError::UnknownCondition {
            trade: trade.to_owned(),
            condition: condition.to_owned(),
        })
}

/// "Apply to all conditions of this trade": one row per condition of `trade`, each with
/// `choice`, as ((trade, condition), choice).
pub fn apply_to_all_conditions(
    catalog: &Catalog,
    trade: &str,
    choice: JobTypeChoice,
) -> Result<Vec<(TradeConditionKey, JobTypeChoice)>, MappingError> {
    let t = catalog
        .trade(trade)
        .ok_or_else(|| MappingError::UnknownTrade(trade.to_owned()))?;
    Ok(t.conditions
        .iter()
        .map(|c| ((t.code.clone(), c.code.clone()), choice))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(id: i64, name: &str, active: bool) -> Target {
        Target {
            id,
            name: name.into(),
            active,
        }
    }

    fn catalog() -> Catalog {
        Catalog::embedded().expect("embedded catalogue")
    }

    fn complete(c: &Catalog) -> CurrentMappings {
        let choice = JobTypeChoice {
            business_unit_id: 1,
            job_type_id: 2,
        };
        CurrentMappings {
            plans: c.plans().iter().map(|p| (p.code.clone(), 10)).collect(),
            job_types: c
                .trade_conditions()
                .map(|(t, k)| ((t.code.clone(), k.code.clone()), choice))
                .collect(),
            credit_field_type_id: Some(501),
            eligible_service_ids: BTreeSet::from([7]),
            not_offered: BTreeSet::new(),
            tag_type_id: Some(3),
            campaign_id: Some(4),
            capacity_enabled: false,
            capacity_mode: None,
        }
    }

    #[test]
    fn nothing_mapped_names_everything() {
        let c = catalog();
        let missing = missing_items(&c, &CurrentMappings::default());
        let n_pairs = c.trade_conditions().count();
        // Capacity is off by default, so no capacity-mode item.
        assert_eq!(missing.len(), c.plans().len() + n_pairs + 4);
        assert!(!missing.contains(&MissingItem::CapacityMode));
        assert_eq!(missing[0].message(), "plan 'Basic' has no membership type");
        assert!(missing.contains(&MissingItem::Campaign));
        assert!(
            missing
                .iter()
                .any(|m| m.message() == "'Cooling: Not cooling' has no business unit and job type")
        );
    }

    #[test]
    fn complete_mappings_have_no_gaps() {
        let c = catalog();
        let mut m = complete(&c);
        assert_eq!(missing_items(&c, &m), vec![]);
        m.capacity_enabled = true;
        assert_eq!(missing_items(&c, &m), vec![MissingItem::CapacityMode]);
        m.capacity_mode = Some(CapacityMode::Technician);
        assert_eq!(missing_items(&c, &m), vec![]);
        // A stale row for a plan no longer in the catalogue does not count.
        m.plans.remove("plus");
        m.plans.insert("gold".into(), 1);
        assert_eq!(
            missing_items(&c, &m),
            vec![MissingItem::Plan {
                code: "plus".into(),
                name: "Plus".into()
            }]
        );
        m.eligible_service_ids.clear();
        assert!(missing_items(&c, &m).contains(&MissingItem::EligibleServices));
    }

    #[test]
    fn not_offered_conditions_need_no_job_type_and_refuse_bookings() {
        let c = catalog();
        let mut m = complete(&c);
        m.job_types.retain(|(t, _), _| t != "air_quality");
        let n = c.trade("air_quality").unwrap().conditions.len();
        assert_eq!(missing_items(&c, &m).len(), n);
        m.not_offered.insert(("air_quality".into(), "odor".into()));
        assert_eq!(missing_items(&c, &m).len(), n - 1);
        for k in &c.trade("air_quality").unwrap().conditions {
            m.not_offered.insert(("air_quality".into(), k.code.clone()));
        }
        assert!(missing_items(&c, &m).is_empty());
        let err = check_offered(&c, &m.not_offered, "Acme", "air_quality", "odor").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Acme does not offer Air quality → Odor or stale air; choose another service or contact them directly"
        );
        assert!(check_offered(&c, &m.not_offered, "Acme", "cooling", "noisy").is_ok());
    }

    #[test]
    fn missing_item_json_is_tagged() {
        let v = serde_json::to_value(MissingItem::TagType).unwrap();
        assert_eq!(v, serde_json::json!({"item": "tag_type"}));
        let v = serde_json::to_value(MissingItem::Plan {
            code: "basic".into(),
            name: "Basic".into(),
        })
        .unwrap();
        assert_eq!(v["item"], "plan");
        assert_eq!(v["code"], "basic");
    }

    #[test]
    fn apply_to_all_expands_every_condition() {
        let c = catalog();
        let choice = JobTypeChoice {
            business_unit_id: 5,
            job_type_id: 6,
        };
        let rows = apply_to_all_conditions(&c, "heating", choice).unwrap();
        let heating = c.trade("heating").unwrap();
        assert_eq!(rows.len(), heating.conditions.len());
        assert!(
            rows.iter()
                .all(|((t, _), ch)| t == "heating" && *ch == choice)
        );
        let mut m = complete(&c);
        m.job_types.retain(|(t, _), _| t != "heating");
        assert_eq!(missing_items(&c, &m).len(), heating.conditions.len());
        m.job_types.extend(rows);
        assert!(missing_items(&c, &m).is_empty());
        assert_eq!(
            apply_to_all_conditions(&c, "plumbing", choice),
            Err(MappingError::UnknownTrade("plumbing".into()))
        );
    }

    #[test]
    fn catalogue_checks() {
        let c = catalog();
        assert!(check_plan(&c, "basic").is_ok());
        assert_eq!(
            check_plan(&c, "gold").unwrap_err().to_string(),
            "unknown plan 'gold'"
        );
        assert!(check_trade_condition(&c, "cooling", "leaking").is_ok());
        assert!(matches!(
            check_trade_condition(&c, "cooling", "no_heat"),
            Err(MappingError::UnknownCondition { .. })
        ));
    }

    #[test]
    fn active_checks() {
        let items = [t(1, "Gold", true), t(2, "Old", false)];
        assert_eq!(
            find_active(TargetKind::MembershipType, &items, 1)
                .unwrap()
                .id,
            1
        );
        assert_eq!(
            find_active(TargetKind::MembershipType, &items, 2)
                .unwrap_err()
                .to_string(),
            "membership type 'Old' (2) is inactive in ServiceTitan"
        );
        assert_eq!(
            find_active(TargetKind::Campaign, &items, 3),
            Err(MappingError::Unknown {
                kind: TargetKind::Campaign,
                id: 3
            })
        );
        assert_eq!(check_services(&items, &[1]).unwrap().len(), 1);
        assert!(matches!(
            check_services(&items, &[1, 2]),
            Err(MappingError::Inactive {
                kind: TargetKind::Service,
                ..
            })
        ));
    }

    #[test]
    fn job_type_must_allow_business_unit() {
        let bus = [
            t(10, "HVAC Service", true),
            t(11, "Plumbing", true),
            t(12, "Closed", false),
        ];
        let jts = [
            JobTypeTarget {
                id: 100,
                name: "AC Repair".into(),
                active: true,
                business_unit_ids: vec![10],
            },
            JobTypeTarget {
                id: 101,
                name: "Retired".into(),
                active: false,
                business_unit_ids: vec![10],
            },
        ];
        let (bu, jt) = check_job_type(&bus, &jts, 10, 100).unwrap();
        assert_eq!((bu.id, jt.id), (10, 100));
        assert_eq!(
            check_job_type(&bus, &jts, 11, 100).unwrap_err().to_string(),
            "job type 'AC Repair' is not allowed for business unit 'Plumbing'"
        );
        assert!(matches!(
            check_job_type(&bus, &jts, 10, 101),
            Err(MappingError::Inactive {
                kind: TargetKind::JobType,
                ..
            })
        ));
        assert!(matches!(
            check_job_type(&bus, &jts, 12, 100),
            Err(MappingError::Inactive {
                kind: TargetKind::BusinessUnit,
                ..
            })
        ));
        assert!(matches!(
            check_job_type(&bus, &jts, 10, 999),
            Err(MappingError::Unknown {
                kind: TargetKind::JobType,
                id: 999
            })
        ));
        let ids: Vec<i64> = job_types_for_business_unit(&jts, 10)
            .iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(ids, [100]);
        assert!(job_types_for_business_unit(&jts, 11).is_empty());
    }

    #[test]
    fn name_matching_is_trimmed_and_case_insensitive() {
        let tags = [t(1, "SmartAC.com", true), t(2, "VIP", true)];
        assert_eq!(
            match_name(TargetKind::TagType, &tags, "  smartac.COM ")
                .unwrap()
                .id,
            1
        );
        assert_eq!(
            match_name(TargetKind::TagType, &tags, " "),
            Err(MappingError::NameRequired {
                kind: TargetKind::TagType
            })
        );
    }

    #[test]
    fn exact_match_wins_then_active() {
        let items = [
            t(1, "comfort credits", true),
            t(2, "Comfort Credits", true),
            t(3, "COMFORT CREDITS", false),
        ];
        assert_eq!(
            match_name(TargetKind::CustomField, &items, "Comfort Credits")
                .unwrap()
                .id,
            2
        );
        assert_eq!(
            match_name(TargetKind::CustomField, &items, "comfort credits")
                .unwrap()
                .id,
            1
        );
        // Only an inactive exact match, but an active case-insensitive one: active wins over
        // nothing, exactness first.
        assert!(matches!(
            match_name(TargetKind::CustomField, &items, "COMFORT CREDITS"),
            Err(MappingError::Inactive { id: 3, .. })
        ));
        let only_inactive = [t(9, "Old Tag", false)];
        assert!(matches!(
            match_name(TargetKind::TagType, &only_inactive, "old tag"),
            Err(MappingError::Inactive { id: 9, .. })
        ));
    }

    #[test]
    fn missing_name_suggests_close_ones() {
        let fields = [
            t(1, "Comfort Credits", true),
            t(2, "Comfort Credit Balance", true),
            t(3, "Gate Code", true),
            t(4, "Comfort Credit", false),
            t(5, "Dog Name", true),
        ];
        let err = match_name(TargetKind::CustomField, &fields, "Comfort Credit").unwrap_err();
        match &err {
            MappingError::Inactive { id, .. } => assert_eq!(*id, 4),
            other => panic!("{other:?}"),
        }
        // Typo: near by edit distance only.
        let err = match_name(TargetKind::CustomField, &fields, "Comfort Credts").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no custom field named 'Comfort Credts' in your ServiceTitan tenant; did you mean 'Comfort Credits'?"
        );
        // Without the inactive exact name: near by distance (1) and by substring, nearest
        // first; the inactive field is never suggested.
        let active_only: Vec<Target> = fields.iter().filter(|f| f.id != 4).cloned().collect();
        let err = match_name(TargetKind::CustomField, &active_only, "comfort credit").unwrap_err();
        let MappingError::NameNotFound { suggestions, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(suggestions, &["Comfort Credits", "Comfort Credit Balance"]);
        let err = match_name(TargetKind::CustomField, &fields, "xyzzy").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no custom field named 'xyzzy' in your ServiceTitan tenant"
        );
        // Substring: "smartac" finds "SmartAC.com" although the distance is large.
        let tags = [t(1, "SmartAC.com", true), t(2, "Warranty", true)];
        let err = match_name(TargetKind::TagType, &tags, "SmartAC").unwrap_err();
        assert!(
            matches!(&err, MappingError::NameNotFound { suggestions, .. } if suggestions == &["SmartAC.com"])
        );
    }

    #[test]
    fn suggestions_are_capped_at_three() {
        let items: Vec<Target> = (0..10).map(|i| t(i, &format!("Tag {i}"), true)).collect();
        assert_eq!(suggestions(&items, "Tag", 3), ["Tag 0", "Tag 1", "Tag 2"]);
    }

    #[test]
    fn search_filters_by_substring() {
        let svcs = [
            t(1, "AC Tune-Up", true),
            t(2, "Furnace Tune-Up", true),
            t(3, "Duct Clean", true),
        ];
        let ids: Vec<i64> = search(&svcs, " tune-up", 10).iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(search(&svcs, "", 2).len(), 2);
    }

    #[test]
    fn capacity_mode_names() {
        for m in [CapacityMode::BusinessUnit, CapacityMode::Technician] {
            assert_eq!(m.as_str().parse::<CapacityMode>(), Ok(m));
        }
        assert!(CapacityMode::Technician.skill_based());
        assert!("skills".parse::<CapacityMode>().is_err());
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("café", "cafe"), 1);
    }

    proptest! {
        #[test]
        fn levenshtein_is_a_metric(a in "[a-c]{0,8}", b in "[a-c]{0,8}", c in "[a-c]{0,8}") {
            prop_assert_eq!(levenshtein(&a, &b), levenshtein(&b, &a));
            prop_assert_eq!(levenshtein(&a, &a), 0);
            prop_assert!(levenshtein(&a, &c) <= levenshtein(&a, &b) + levenshtein(&b, &c));
            prop_assert!(levenshtein(&a, &b) <= a.len().max(b.len()));
        }
    }
}
