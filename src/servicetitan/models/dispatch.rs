//! Dispatch records: capacity and arrival windows (API.md §8).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /capacity` body. The window may span at most 14 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityRequest {
    /// Window start.
    pub starts_on_or_after: DateTime<Utc>,
    /// Window end.
    pub ends_on_or_before: DateTime<Utc>,
    /// Business units to ask about (empty: all).
    #[serde(default)]
    pub business_unit_ids: Vec<i64>,
    /// Job type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type_id: Option<i64>,
    /// Use technician skills.
    #[serde(default)]
    pub skill_based_availability: bool,
}

/// A technician in an availability slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CapacityTechnician {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: Option<String>,
    /// Has the job type's skills.
    pub has_required_skills: Option<bool>,
}

/// One slot of capacity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Availability {
    /// Start in the tenant's local time (as sent).
    pub start: String,
    /// End in the tenant's local time (as sent).
    pub end: String,
    /// Start in UTC.
    #[serde(with = "super::ts::lenient")]
    pub start_utc: Option<DateTime<Utc>>,
    /// End in UTC.
    #[serde(with = "super::ts::lenient")]
    pub end_utc: Option<DateTime<Utc>>,
    /// Business units of the slot.
    pub business_unit_ids: Vec<i64>,
    /// Total capacity.
    pub total_availability: f64,
    /// Capacity still open.
    pub open_availability: f64,
    /// Whether it can be booked.
    pub is_available: bool,
    /// Past the ideal booking percentage.
    pub is_exceeding_ideal_booking_percentage: bool,
    /// Technicians.
    pub technicians: Vec<CapacityTechnician>,
}

/// `POST /capacity` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CapacityResponse {
    /// When ServiceTitan computed the answer.
    #[serde(with = "super::ts::lenient")]
    pub time_stamp: Option<DateTime<Utc>>,
    /// One row per time frame and business-unit group.
    pub availabilities: Vec<Availability>,
}

/// An arrival window (`start` as `HH:MM` local, `duration` as `HH:MM`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArrivalWindow {
    /// ID.
    pub id: i64,
    /// Start time of day, `HH:MM`.
    pub start: String,
    /// Length, `HH:MM`.
    pub duration: String,
    /// Business units using it.
    pub business_unit_ids: Vec<i64>,
    /// Whether active.
    pub active: bool,
}
