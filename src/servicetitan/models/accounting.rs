//! Invoices and invoice items (API.md §9).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IdName, decimal, null_default};

/// The job an invoice belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvoiceJob {
    /// Job ID.
    pub id: i64,
    /// Job number.
    #[serde(deserialize_with = "null_default")]
    pub number: String,
    /// Job type name.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// An invoice line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvoiceItem {
    /// ID.
    pub id: i64,
    /// Pricebook SKU ID.
    pub sku_id: i64,
    /// SKU name.
    #[serde(deserialize_with = "null_default")]
    pub sku_name: String,
    /// Code.
    pub code: Option<String>,
    /// `Service`, `Material`, `Equipment`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub quantity: f64,
    /// Unit price.
    #[serde(deserialize_with = "decimal")]
    pub price: f64,
    /// Line total.
    #[serde(deserialize_with = "decimal")]
    pub total: f64,
    /// Description.
    pub description: Option<String>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// An invoice with its items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Invoice {
    /// ID.
    pub id: i64,
    /// Reference number.
    #[serde(deserialize_with = "null_default")]
    pub reference_number: String,
    /// Invoice date.
    #[serde(with = "super::ts::lenient")]
    pub invoice_date: Option<DateTime<Utc>>,
    /// Total.
    #[serde(deserialize_with = "decimal")]
    pub total: f64,
    /// Balance.
    #[serde(deserialize_with = "decimal")]
    pub balance: f64,
    /// Customer.
    pub customer: Option<IdName>,
    /// Location.
    pub location: Option<IdName>,
    /// Job.
    pub job: Option<InvoiceJob>,
    /// Lines.
    #[serde(deserialize_with = "null_default")]
    pub items: Vec<InvoiceItem>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}
