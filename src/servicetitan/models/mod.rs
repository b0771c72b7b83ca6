//! Typed ServiceTitan records (serde, camelCase). Reads ignore unknown fields and tolerate
//! missing ones; writes omit unset optional fields.
mod accounting;
mod crm;
mod dispatch;
mod jpm;
mod marketing;
mod memberships;
mod pricebook;
mod settings;
pub(crate) mod ts;

pub use accounting::*;
pub use crm::*;
pub use dispatch::*;
pub use jpm::*;
pub use marketing::*;
pub use memberships::*;
pub use pricebook::*;
pub use settings::*;

use serde::{Deserialize, Serialize};

/// A custom field value on a record: `typeId`, `name` (read only) and a string `value`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomFieldValue {
    /// The custom-field type ID.
    pub type_id: i64,
    /// The field's name (returned on reads; not needed on writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value; ServiceTitan treats values as strings.
    pub value: String,
}

impl CustomFieldValue {
    /// A value to write.
    pub fn new(type_id: i64, value: impl Into<String>) -> Self {
        Self {
            type_id,
            name: None,
            value: value.into(),
        }
    }
}

/// One key/value of `externalData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalDataItem {
    /// Key (ours).
    pub key: String,
    /// Value (ours).
    pub value: String,
}

/// `externalData`: our application's key/values stored on a customer, location or job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalData {
    /// Our application GUID.
    pub application_guid: String,
    /// The entries.
    pub external_data: Vec<ExternalDataItem>,
}

impl ExternalData {
    /// One key/value under our application GUID.
    pub fn single(application_guid: &str, key: &str, value: &str) -> Self {
        Self {
            application_guid: application_guid.to_owned(),
            external_data: vec![ExternalDataItem {
                key: key.to_owned(),
                value: value.to_owned(),
            }],
        }
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.external_data
            .iter()
            .find(|i| i.key == key)
            .map(|i| i.value.as_str())
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    /// Street line.
    pub street: String,
    /// Unit / apartment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// ZIP / postal code.
    pub zip: String,
    /// Country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// An `{id, name}` reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdName {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// The answer to a create call that returns only an ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Created {
    /// The new record's ID.
    pub id: i64,
}
