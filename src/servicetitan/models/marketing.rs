//! Marketing campaigns (API.md §10).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::IdName;

/// A campaign; every job needs one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Campaign {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Whether active.
    pub active: bool,
    /// Category.
    pub category: Option<IdName>,
    /// Last modified.
    #[serde(with = "super::ts::lenient")]
    pub modified_on: Option<DateTime<Utc>>,
}
