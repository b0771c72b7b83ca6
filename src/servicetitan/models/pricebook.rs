//! Pricebook services (API.md §9).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IdName, null_default};

/// A pricebook service (SKU).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PricebookService {
    /// ID (`skuId` on invoice items).
    pub id: i64,
    /// Code.
    pub code: String,
    /// Display name.
    #[serde(deserialize_with = "null_default")]
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Price.
    pub price: f64,
    /// Member price.
    pub member_price: Option<f64>,
    /// Whether active.
    pub active: bool,
    /// Categories.
    #[serde(deserialize_with = "null_default")]
    pub categories: Vec<IdName>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}
