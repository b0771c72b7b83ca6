//! CRM records: customers, contacts, locations, custom-field types, bookings (API.md §4).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Address, CustomFieldValue, CustomFieldWrite, ExternalData, ExternalDataItem, external_value,
    null_default,
};

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
    #[serde(deserialize_with = "null_default")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tag type IDs on the customer.
    #[serde(deserialize_with = "null_default")]
    pub tag_type_ids: Vec<i64>,
    /// Our `externalData` entries (only those of the GUID the request named).
    #[serde(deserialize_with = "null_default")]
    pub external_data: Vec<ExternalDataItem>,
    /// Created.
    #[serde(with = "super::ts::lenient")]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

impl Customer {
    /// Our `externalData` value under `key`.
    pub fn external(&self, key: &str) -> Option<&str> {
        external_value(&self.external_data, key)
    }
}

/// The answer to `POST /customers` (`CreatedCustomerResponse`): the customer with the new
/// locations and contacts, each carrying its ID, so nothing has to be read back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreatedCustomer {
    /// The customer.
    #[serde(flatten)]
    pub customer: Customer,
    /// The locations created with it.
    #[serde(deserialize_with = "null_default")]
    pub locations: Vec<Location>,
    /// The customer's contacts.
    #[serde(deserialize_with = "null_default")]
    pub contacts: Vec<Contact>,
}

/// The answer to adding or removing a customer or location tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagsResponse {
    /// The record's tags after the call.
    #[serde(deserialize_with = "null_default")]
    pub tag_type_ids: Vec<i64>,
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
    pub custom_fields: Vec<CustomFieldWrite>,
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
    pub custom_fields: Vec<CustomFieldWrite>,
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
    /// Custom fields: the **whole** list (a field left out loses its value); build it with
    /// [`merged_custom_fields`](super::merged_custom_fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldWrite>>,
    /// Tags: the whole list (a tag left out is removed).
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
    #[serde(deserialize_with = "null_default")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Tag type IDs.
    #[serde(deserialize_with = "null_default")]
    pub tag_type_ids: Vec<i64>,
    /// Our `externalData` entries (only those of the GUID the request named).
    #[serde(deserialize_with = "null_default")]
    pub external_data: Vec<ExternalDataItem>,
    /// Created.
    #[serde(with = "super::ts::lenient")]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

impl Location {
    /// Our `externalData` value under `key`.
    pub fn external(&self, key: &str) -> Option<&str> {
        external_value(&self.external_data, key)
    }

    /// The value of custom field `type_id`, if the location has it.
    pub fn custom_field(&self, type_id: i64) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|f| f.type_id == type_id)
            .and_then(|f| f.value.as_deref())
    }
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
    pub custom_fields: Vec<CustomFieldWrite>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_type_ids: Vec<i64>,
    /// Our external data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// `PATCH /locations/{id}` body: only set fields change, but `customFields` and `tagTypeIds`
/// each replace the whole list (API.md §4.3): read, merge, write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationPatch {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Custom fields: the **whole** list (a field left out loses its value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldWrite>>,
    /// Tags: the whole list (a tag left out is removed).
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
    /// Name, e.g. `Comfort Credits` (nullable in the spec).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `Text`, `Numeric`, `Dropdown`, … (nullable in the spec).
    #[serde(deserialize_with = "null_default")]
    pub data_type: String,
    /// Options of a `Dropdown` field.
    #[serde(deserialize_with = "null_default")]
    pub data_type_options: Vec<String>,
}

/// A booking in the call-centre queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Booking {
    /// ID.
    pub id: i64,
    /// Source.
    #[serde(deserialize_with = "null_default")]
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
    #[serde(with = "super::ts::lenient")]
    pub start: Option<DateTime<Utc>>,
    /// First-time client.
    pub is_first_time_client: Option<bool>,
    /// Our ID.
    pub external_id: Option<String>,
    /// Status (`New`, `Converted`, `Dismissed`, `Accepted`).
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
    /// Created.
    #[serde(with = "super::ts::lenient")]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// `Residential` or `Commercial`.
    pub customer_type: String,
    /// Requested start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// First-time client.
    pub is_first_time_client: bool,
    /// Our ID. ServiceTitan does not enforce uniqueness: look it up before creating.
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
    /// Business unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit_id: Option<i64>,
    /// Job type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type_id: Option<i64>,
}

/// A booking provider tag (`/booking-provider-tags`): the tenant admin picks one when connecting
/// the app, and bookings are created under its ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BookingProviderTag {
    /// ID (the `{booking_provider}` of booking paths).
    pub id: i64,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub tag_name: String,
    /// Description.
    pub description: Option<String>,
    /// Whether active.
    pub active: bool,
}
