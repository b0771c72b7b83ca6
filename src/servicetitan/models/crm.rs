//! CRM records: customers, contacts, locations, custom-field types, bookings (API.md §4).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Address, CustomFieldValue, ExternalData};

/// A phone or email contact (`type`: `Phone`, `MobilePhone`, `Email`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    /// ID (0 on writes).
    #[serde(skip_serializing_if = "is_zero")]
    pub id: i64,
    /// `Phone`, `MobilePhone`, `Email`, `Fax`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Number or address.
    pub value: String,
    /// Free-text memo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

impl Contact {
    /// A contact to write.
    pub fn new(kind: &str, value: &str) -> Self {
        Self {
            id: 0,
            kind: kind.to_owned(),
            value: value.to_owned(),
            memo: None,
        }
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// A customer of record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Customer {
    /// ID.
    pub id: i64,
    /// Whether active.
    pub active: bool,
    /// Name.
    pub name: String,
    /// `Residential` or `Commercial`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// Do not mail.
    pub do_not_mail: bool,
    /// Do not service.
    pub do_not_service: bool,
    /// Custom field values.
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tag type IDs on the customer.
    pub tag_type_ids: Vec<i64>,
    /// Our external data.
    pub external_data: Option<ExternalData>,
    /// Created.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_on: Option<DateTime<Utc>>,
}

/// A location created together with its customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewCustomerLocation {
    /// Location name.
    pub name: String,
    /// Service address.
    pub address: Address,
    /// Contacts at the location.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// `POST /customers` body. At least one location is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewCustomer {
    /// Name (required).
    pub name: String,
    /// `Residential` or `Commercial`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Billing address.
    pub address: Address,
    /// Locations (at least one).
    pub locations: Vec<NewCustomerLocation>,
    /// Customer contacts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_type_ids: Vec<i64>,
    /// Do not mail.
    pub do_not_mail: bool,
    /// Do not service.
    pub do_not_service: bool,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// `PATCH /customers/{id}` body: only set fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomerPatch {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Billing address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Active flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Custom fields (merged by `typeId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldValue>>,
    /// Tags (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_type_ids: Option<Vec<i64>>,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// A service location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Location {
    /// ID.
    pub id: i64,
    /// Owning customer.
    pub customer_id: i64,
    /// Name.
    pub name: String,
    /// Service address.
    pub address: Option<Address>,
    /// Whether active.
    pub active: bool,
    /// Custom field values (the Comfort Credits field lives here).
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tag type IDs.
    pub tag_type_ids: Vec<i64>,
    /// Our external data.
    pub external_data: Option<ExternalData>,
    /// Created.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_on: Option<DateTime<Utc>>,
}

/// `POST /locations` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewLocation {
    /// Owning customer.
    pub customer_id: i64,
    /// Name.
    pub name: String,
    /// Service address.
    pub address: Address,
    /// Contacts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_type_ids: Vec<i64>,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// `PATCH /locations/{id}` body: only set fields change; custom fields merge by `typeId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationPatch {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Active flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Custom fields, merged by `typeId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldValue>>,
    /// Tags (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_type_ids: Option<Vec<i64>>,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// A custom-field type (customer or location).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomFieldType {
    /// ID (the `typeId` of values).
    pub id: i64,
    /// Name, e.g. `Comfort Credits`.
    pub name: String,
    /// `Text`, `Numeric`, `Dropdown`, …
    pub data_type: String,
    /// Whether active (absent means active).
    pub active: Option<bool>,
}

/// A booking in the call-centre queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Booking {
    /// ID.
    pub id: i64,
    /// Source.
    pub source: String,
    /// Booking provider tag ID.
    pub booking_provider_id: Option<i64>,
    /// Customer name.
    pub name: String,
    /// Summary.
    pub summary: Option<String>,
    /// Address.
    pub address: Option<Address>,
    /// `Residential` or `Commercial`.
    pub customer_type: Option<String>,
    /// Requested start.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<DateTime<Utc>>,
    /// First-time client.
    pub is_first_time_client: bool,
    /// Our ID.
    pub external_id: Option<String>,
    /// Status (`New`, `Converted`, `Dismissed`).
    pub status: Option<String>,
    /// Job created from the booking.
    pub job_id: Option<i64>,
    /// Campaign.
    pub campaign_id: Option<i64>,
    /// Business unit.
    pub business_unit_id: Option<i64>,
    /// Job type.
    pub job_type_id: Option<i64>,
    /// Priority.
    pub priority: Option<String>,
    /// Contacts.
    pub contacts: Vec<Contact>,
    /// Created.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(
        deserialize_with = "super::ts::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub modified_on: Option<DateTime<Utc>>,
}

/// `POST /booking-provider/{provider}/bookings` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewBooking {
    /// Source (our product name).
    pub source: String,
    /// Customer name.
    pub name: String,
    /// Summary (carries the partner tag name).
    pub summary: String,
    /// Address.
    pub address: Address,
    /// Contacts.
    pub contacts: Vec<Contact>,
    /// `Residential` or `Commercial`.
    pub customer_type: String,
    /// Requested start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// First-time client.
    pub is_first_time_client: bool,
    /// Our ID (unique per provider).
    pub external_id: String,
    /// Campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<i64>,
    /// Business unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit_id: Option<i64>,
    /// Job type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type_id: Option<i64>,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Send the confirmation email.
    pub is_send_confirmation_email: bool,
}

/// `PATCH /booking-provider/{provider}/bookings/{id}` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BookingPatch {
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Requested start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Business unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit_id: Option<i64>,
    /// Job type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type_id: Option<i64>,
}
