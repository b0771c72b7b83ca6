//! Lenient timestamp parsing: RFC 3339, or a naive ISO time taken as UTC.
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// Parses a ServiceTitan timestamp.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// `deserialize_with` for `Option<DateTime<Utc>>`: null, missing or unparsable become `None`.
pub fn opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.as_deref().and_then(parse))
}

/// `#[serde(with = "ts::lenient")]` for read-model timestamps: reads like [`opt`], writes
/// RFC 3339 (or `null`).
pub mod lenient {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serialize, Serializer};

    /// See [`super::opt`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        super::opt(d)
    }

    /// As chrono writes it.
    pub fn serialize<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_offset_and_naive_forms() {
        assert!(parse("2024-05-01T10:00:00Z").is_some());
        assert!(parse("2024-05-01T10:00:00.5316667Z").is_some());
        assert!(parse("2024-05-01T10:00:00-05:00").is_some());
        assert_eq!(parse("2024-05-01T10:00:00"), parse("2024-05-01T10:00:00Z"));
        assert!(parse("yesterday").is_none());
    }
}
