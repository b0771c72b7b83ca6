//! Newtypes for identifiers typed by people or sent by clients. Each can only be built by
//! parsing, so a value in hand is always valid ("parse, don't validate").
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Fewest digits a ServiceTitan Tenant ID may have.
pub const TENANT_ID_MIN_DIGITS: usize = 3;
/// Most digits a ServiceTitan Tenant ID may have.
pub const TENANT_ID_MAX_DIGITS: usize = 12;

/// Why a Tenant ID was refused. Messages are shown to partners as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantIdError {
    /// Nothing was typed.
    #[error("Tenant ID is required")]
    Empty,
    /// Something other than a digit was typed.
    #[error("Tenant ID must contain only digits (got '{0}')")]
    NotDigits(String),
    /// Too few or too many digits.
    #[error(
        "Tenant ID must be {TENANT_ID_MIN_DIGITS} to {TENANT_ID_MAX_DIGITS} digits long (got {0} digits)"
    )]
    Length(usize),
    /// A leading zero: ServiceTitan tenant IDs never start with 0, so this is a typo.
    #[error("Tenant ID cannot start with 0 (got '{0}')")]
    LeadingZero(String),
}

/// A ServiceTitan Tenant ID: 3 to 12 digits, no leading zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "TenantIdRepr", into = "i64")]
pub struct TenantId(i64);

impl TenantId {
    /// Parses user text: surrounding whitespace is ignored, then digits only.
    pub fn parse(text: &str) -> Result<Self, TenantIdError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(TenantIdError::Empty);
        }
        if !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(TenantIdError::NotDigits(shorten(t)));
        }
        if !(TENANT_ID_MIN_DIGITS..=TENANT_ID_MAX_DIGITS).contains(&t.len()) {
            return Err(TenantIdError::Length(t.len()));
        }
        if t.starts_with('0') {
            return Err(TenantIdError::LeadingZero(t.to_owned()));
        }
        // 12 ASCII digits always fit an i64; the error arm cannot be reached but is not unwrapped.
        t.parse::<i64>()
            .map(TenantId)
            .map_err(|_| TenantIdError::Length(t.len()))
    }

    /// The numeric value, as used in ServiceTitan paths.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for TenantId {
    type Error = TenantIdError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        if v < 0 {
            return Err(TenantIdError::NotDigits(v.to_string()));
        }
        Self::parse(&v.to_string())
    }
}

impl From<TenantId> for i64 {
    fn from(t: TenantId) -> i64 {
        t.0
    }
}

impl FromStr for TenantId {
    type Err = TenantIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Accepts a tenant ID as a JSON number or string.
#[derive(Deserialize)]
#[serde(untagged)]
enum TenantIdRepr {
    Number(i64),
    Text(String),
}

impl TryFrom<TenantIdRepr> for TenantId {
    type Error = TenantIdError;
    fn try_from(r: TenantIdRepr) -> Result<Self, Self::Error> {
        match r {
            TenantIdRepr::Number(n) => TenantId::try_from(n),
            TenantIdRepr::Text(s) => TenantId::parse(&s),
        }
    }
}

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was typed.
    #[error("email is required")]
    Empty,
    /// Longer than 254 characters.
    #[error("email is too long (at most 254 characters)")]
    TooLong,
    /// Not of the shape `name@domain.tld`.
    #[error("'{0}' is not a valid email address")]
    Invalid(String),
}

/// An email address, trimmed and lowercased, of the shape `local@domain.tld`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses user text. Checks only basic sanity; delivery is the real test.
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let t = text.trim().to_lowercase();
        if t.is_empty() {
            return Err(EmailError::Empty);
        }
        if t.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let invalid = || EmailError::Invalid(shorten(&t));
        let (local, domain) = t.split_once('@').ok_or_else(invalid)?;
        let bad_char =
            |c: char| c.is_whitespace() || c.is_control() || "@<>(),;:\"[]\\".contains(c);
        if local.is_empty() || local.chars().any(bad_char) || domain.chars().any(bad_char) {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-')) {
            return Err(invalid());
        }
        Ok(Email(t))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 200;

/// Why an idempotency key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    /// Empty or only spaces.
    #[error("Idempotency-Key is required")]
    Empty,
    /// More than [`IDEMPOTENCY_KEY_MAX`] characters.
    #[error("Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} characters (got {0})")]
    TooLong(usize),
    /// A character outside printable ASCII.
    #[error("Idempotency-Key must contain only printable ASCII characters")]
    NotPrintable,
}

/// A client-chosen idempotency key: 1 to 200 printable ASCII characters (space allowed, not
/// only spaces). Kept exactly as sent: `"a"` and `"a "` are different keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key as received (header or JSON field).
    pub fn parse(text: &str) -> Result<Self, IdempotencyKeyError> {
        if text.trim().is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if !text.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(IdempotencyKeyError::NotPrintable);
        }
        if text.len() > IDEMPOTENCY_KEY_MAX {
            return Err(IdempotencyKeyError::TooLong(text.len()));
        }
        Ok(IdempotencyKey(text.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = IdempotencyKeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

impl FromStr for IdempotencyKey {
    type Err = IdempotencyKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Cuts echoed user input to a readable length for error messages.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_accepts_trimmed_digits() {
        assert_eq!(
            TenantId::parse("  1234567 ").map(TenantId::get),
            Ok(1_234_567)
        );
        assert_eq!(TenantId::parse("123").map(TenantId::get), Ok(123));
        assert_eq!(
            TenantId::parse("999999999999").map(TenantId::get),
            Ok(999_999_999_999)
        );
    }

    #[test]
    fn tenant_id_errors_are_clear() {
        assert_eq!(
            TenantId::parse("abc").unwrap_err().to_string(),
            "Tenant ID must contain only digits (got 'abc')"
        );
        assert_eq!(TenantId::parse("   ").unwrap_err(), TenantIdError::Empty);
        assert_eq!(TenantId::parse("12").unwrap_err(), TenantIdError::Length(2));
        assert_eq!(
            TenantId::parse("1234567890123").unwrap_err().to_string(),
            "Tenant ID must be 3 to 12 digits long (got 13 digits)"
        );
        assert!(matches!(
            TenantId::parse("12 34"),
            Err(TenantIdError::NotDigits(_))
        ));
        assert!(matches!(
            TenantId::parse("-123"),
            Err(TenantIdError::NotDigits(_))
        ));
        assert!(matches!(
            TenantId::parse("١٢٣"),
            Err(TenantIdError::NotDigits(_))
        ));
        assert!(matches!(
            TenantId::parse("0123"),
            Err(TenantIdError::LeadingZero(_))
        ));
    }

    #[test]
    fn tenant_id_serde_accepts_number_or_string_and_validates() {
        let n: TenantId = serde_json::from_str("123456").unwrap();
        let s: TenantId = serde_json::from_str("\" 123456 \"").unwrap();
        assert_eq!(n, s);
        assert_eq!(serde_json::to_string(&n).unwrap(), "123456");
        assert!(serde_json::from_str::<TenantId>("12").is_err());
        assert!(serde_json::from_str::<TenantId>("-123").is_err());
        assert!(serde_json::from_str::<TenantId>("\"x1\"").is_err());
    }

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").unwrap().as_str(),
            "ann.lee@example.com"
        );
        for bad in [
            "ann",
            "@example.com",
            "ann@",
            "ann@example",
            "ann@@example.com",
            "ann lee@example.com",
            "ann@example..com",
            "ann@.example.com",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(EmailError::Invalid(_))),
                "{bad} accepted"
            );
        }
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[test]
    fn idempotency_key_bounds() {
        assert_eq!(IdempotencyKey::parse("k").unwrap().as_str(), "k");
        assert_eq!(
            IdempotencyKey::parse("a b-c_1").unwrap().as_str(),
            "a b-c_1"
        );
        assert!(IdempotencyKey::parse(&"x".repeat(200)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"x".repeat(201)),
            Err(IdempotencyKeyError::TooLong(201))
        );
        assert_eq!(IdempotencyKey::parse(""), Err(IdempotencyKeyError::Empty));
        assert_eq!(IdempotencyKey::parse("  "), Err(IdempotencyKeyError::Empty));
        assert_eq!(
            IdempotencyKey::parse("a\nb"),
            Err(IdempotencyKeyError::NotPrintable)
        );
        assert_eq!(
            IdempotencyKey::parse("clé"),
            Err(IdempotencyKeyError::NotPrintable)
        );
    }

    #[test]
    fn long_input_is_shortened_in_messages() {
        let msg = TenantId::parse(&"z".repeat(100)).unwrap_err().to_string();
        assert!(msg.len() < 100, "{msg}");
        assert!(msg.contains('…'));
    }
}
