//! JPM records: jobs, appointments, job notes, job types (API.md §5).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    CustomFieldValue, CustomFieldWrite, ExternalData, ExternalDataItem, external_value,
    null_default,
};

/// A job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Job {
    /// ID.
    pub id: i64,
    /// Human job number.
    pub job_number: String,
    /// Customer.
    pub customer_id: i64,
    /// Location.
    pub location_id: i64,
    /// `Scheduled`, `Dispatched`, `InProgress`, `Hold`, `Completed`, `Canceled`.
    pub job_status: String,
    /// When completed.
    #[serde(with = "super::ts::lenient")]
    pub completed_on: Option<DateTime<Utc>>,
    /// Business unit.
    pub business_unit_id: i64,
    /// Job type.
    pub job_type_id: i64,
    /// `Low`, `Normal`, `High`, `Urgent`.
    pub priority: String,
    /// Campaign.
    pub campaign_id: i64,
    /// Summary.
    pub summary: Option<String>,
    /// Tags (including those inherited from the job type and business unit).
    #[serde(deserialize_with = "null_default")]
    pub tag_type_ids: Vec<i64>,
    /// Custom fields.
    #[serde(deserialize_with = "null_default")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// The booking this job realises.
    pub booking_id: Option<i64>,
    /// The job's invoice.
    pub invoice_id: Option<i64>,
    /// Appointment count.
    pub appointment_count: i64,
    /// First appointment.
    pub first_appointment_id: Option<i64>,
    /// Last appointment.
    pub last_appointment_id: Option<i64>,
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

impl Job {
    /// Our `externalData` value under `key`.
    pub fn external(&self, key: &str) -> Option<&str> {
        external_value(&self.external_data, key)
    }
}

/// An appointment in a job create body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAppointmentInput {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Arrival window start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_window_start: Option<DateTime<Utc>>,
    /// Arrival window end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_window_end: Option<DateTime<Utc>>,
    /// Technicians.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub technician_ids: Vec<i64>,
}

/// `POST /jobs` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewJob {
    /// Customer.
    pub customer_id: i64,
    /// Location.
    pub location_id: i64,
    /// Business unit.
    pub business_unit_id: i64,
    /// Job type (must list the business unit).
    pub job_type_id: i64,
    /// `Low`, `Normal`, `High`, `Urgent`.
    pub priority: String,
    /// Campaign (required by ServiceTitan).
    pub campaign_id: i64,
    /// At least one appointment.
    pub appointments: Vec<JobAppointmentInput>,
    /// Summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_type_ids: Vec<i64>,
    /// Custom fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldWrite>,
    /// Our external data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_data: Option<ExternalData>,
}

/// `PATCH /jobs/{id}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobPatch {
    /// Tags: the full list (replaces the old one; read, add, write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_type_ids: Option<Vec<i64>>,
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Custom fields: the whole list (a field left out loses its value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldWrite>>,
}

/// A job note. Notes have no ID: dedupe with a marker in the text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobNote {
    /// Text.
    pub text: String,
    /// Pinned.
    pub is_pinned: bool,
    /// Author.
    pub created_by_id: Option<i64>,
    /// Created.
    #[serde(with = "super::ts::lenient")]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// `POST /jobs/{id}/notes` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewNote {
    /// Text.
    pub text: String,
    /// Pin to top.
    pub pin_to_top: bool,
}

/// A job type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobType {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Business units it is valid for.
    pub business_unit_ids: Vec<i64>,
    /// Skills.
    #[serde(deserialize_with = "null_default")]
    pub skills: Vec<String>,
    /// Tags applied to jobs of this type.
    #[serde(deserialize_with = "null_default")]
    pub tag_type_ids: Vec<i64>,
    /// Priority.
    pub priority: Option<String>,
    /// Duration in seconds.
    pub duration: Option<i64>,
    /// Whether active.
    pub active: bool,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// An appointment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Appointment {
    /// ID.
    pub id: i64,
    /// Job.
    pub job_id: i64,
    /// Number.
    #[serde(deserialize_with = "null_default")]
    pub appointment_number: String,
    /// Start.
    #[serde(with = "super::ts::lenient")]
    pub start: Option<DateTime<Utc>>,
    /// End.
    #[serde(with = "super::ts::lenient")]
    pub end: Option<DateTime<Utc>>,
    /// Arrival window start.
    #[serde(with = "super::ts::lenient")]
    pub arrival_window_start: Option<DateTime<Utc>>,
    /// Arrival window end.
    #[serde(with = "super::ts::lenient")]
    pub arrival_window_end: Option<DateTime<Utc>>,
    /// `Scheduled`, `Dispatched`, `Working`, `Hold`, `Done`, `Canceled`.
    pub status: String,
    /// Customer.
    pub customer_id: i64,
    /// Created.
    #[serde(with = "super::ts::lenient")]
    pub created_on: Option<DateTime<Utc>>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}
