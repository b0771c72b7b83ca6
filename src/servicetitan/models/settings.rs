//! Settings records: business units, tag types, technicians (API.md §6).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A business unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessUnit {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Official name.
    pub official_name: Option<String>,
    /// Whether active.
    pub active: bool,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}

/// A tag type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagType {
    /// ID.
    pub id: i64,
    /// Name, e.g. `SmartAC.com`.
    pub name: String,
    /// Code.
    pub code: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Whether active.
    pub active: bool,
}

/// A technician.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Technician {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Home business unit.
    pub business_unit_id: Option<i64>,
    /// Whether active.
    pub active: bool,
}
