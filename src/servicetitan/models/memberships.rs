//! Membership records: membership types and customer memberships (API.md §7).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A membership type (plan mapping target; only active ones may be chosen).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MembershipType {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Whether active.
    pub active: bool,
    /// Discount mode.
    pub discount_mode: Option<String>,
    /// Location target.
    pub location_target: Option<String>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// A customer membership.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomerMembership {
    /// ID.
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Location.
    pub location_id: Option<i64>,
    /// Business unit.
    pub business_unit_id: Option<i64>,
    /// Membership type.
    pub membership_type_id: i64,
    /// `Active`, `Suspended`, `Expired`, `Canceled`, `Deleted`.
    pub status: String,
    /// Start.
    #[serde(with = "super::ts::lenient")]
    pub from: Option<DateTime<Utc>>,
    /// End.
    #[serde(with = "super::ts::lenient")]
    pub to: Option<DateTime<Utc>>,
    /// Memo.
    pub memo: Option<String>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// `POST /memberships/sale` body (low confidence; keep behind one call).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MembershipSale {
    /// Customer.
    pub customer_id: i64,
    /// Business unit.
    pub business_unit_id: i64,
    /// Sale task from the membership type.
    pub sale_task_id: i64,
    /// Duration-billing option from the membership type.
    pub duration_billing_id: i64,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<i64>,
    /// `None`, `Single` or `All`: how many of the customer's locations get the type's
    /// recurring services (required).
    pub recurring_service_action: String,
    /// Where recurring services are scheduled (with `Single`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring_location_id: Option<i64>,
}

/// The answer to a membership sale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MembershipSaleResult {
    /// The new customer membership.
    pub customer_membership_id: i64,
    /// The sale invoice, when one was made.
    pub invoice_id: Option<i64>,
}

/// `PATCH /memberships/{id}` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MembershipPatch {
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// End.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Memo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// One duration/billing option of a membership type
/// (`GET /membership-types/{id}/duration-billing-items`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DurationBillingItem {
    /// ID (the sale's `durationBillingId`).
    pub id: i64,
    /// Duration in months.
    pub duration: Option<i64>,
    /// `Monthly`, `Annual`, …
    pub billing_frequency: Option<String>,
    /// Whether active.
    pub active: bool,
}
