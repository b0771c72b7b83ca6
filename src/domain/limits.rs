//! Bounds on what a caller may ask of us, so that no request loops, stores an unbounded value or
//! sends ServiceTitan a date it cannot take. Each check names the field it refuses; the web edge
//! turns that into a 422. The README's "Errors and limits" table lists these values.
use chrono::{DateTime, Duration, Utc};

/// Longest availability window (`to − from`).
pub const AVAILABILITY_MAX_DAYS: i64 = 14;
/// How far ahead availability may be asked and a slot booked.
pub const BOOKING_HORIZON_DAYS: i64 = 90;
/// Longest booking slot.
pub const SLOT_MAX_HOURS: i64 = 24;
/// Most pricebook services eligible for Comfort Credits.
pub const ELIGIBLE_SERVICES_MAX: usize = 200;
/// Longest reject, suspend or other free-text reason.
pub const REASON_MAX_CHARS: usize = 2000;
/// Longest name looked up in a tenant (custom field, tag type) or search text.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest ServiceTitan client ID.
pub const CLIENT_ID_MAX_CHARS: usize = 200;
/// Longest ServiceTitan client secret.
pub const CLIENT_SECRET_MAX_CHARS: usize = 500;
/// Longest booking summary.
pub const SUMMARY_MAX_CHARS: usize = 2000;
/// Longest email address or password at sign-in.
pub const SIGN_IN_FIELD_MAX_CHARS: usize = 1000;
/// Largest page number of a list.
pub const PAGE_MAX: usize = 100_000;

/// A bound that a value broke: the field and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OutOfBounds {
    pub field: &'static str,
    pub message: String,
}

fn out(field: &'static str, message: impl Into<String>) -> OutOfBounds {
    OutOfBounds {
        field,
        message: message.into(),
    }
}

/// A text of at most `max` characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), OutOfBounds> {
    if value.chars().count() > max {
        return Err(out(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// A window of availability to ask for: `from < to`, `to` in the future, at most
/// [`AVAILABILITY_MAX_DAYS`] long and ending within [`BOOKING_HORIZON_DAYS`].
pub fn availability_window(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), OutOfBounds> {
    if to <= from {
        return Err(out("to", "must be after from"));
    }
    if to <= now {
        return Err(out("to", "must be in the future"));
    }
    if to - from > Duration::days(AVAILABILITY_MAX_DAYS) {
        return Err(out(
            "to",
            format!("the window may span at most {AVAILABILITY_MAX_DAYS} days"),
        ));
    }
    if from > now + Duration::days(BOOKING_HORIZON_DAYS) {
        return Err(out(
            "from",
            format!("must be within the next {BOOKING_HORIZON_DAYS} days"),
        ));
    }
    if to > now + Duration::days(BOOKING_HORIZON_DAYS) {
        return Err(out(
            "to",
            format!("must be within the next {BOOKING_HORIZON_DAYS} days"),
        ));
    }
    Ok(())
}

/// A slot to book: in the future, at most [`SLOT_MAX_HOURS`] long and ending within
/// [`BOOKING_HORIZON_DAYS`].
pub fn booking_slot(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), OutOfBounds> {
    if end <= start {
        return Err(out("slot.end", "must be after slot.start"));
    }
    if start <= now {
        return Err(out("slot.start", "must be in the future"));
    }
    if end - start > Duration::hours(SLOT_MAX_HOURS) {
        return Err(out(
            "slot.end",
            format!("a slot may last at most {SLOT_MAX_HOURS} hours"),
        ));
    }
    if end > now + Duration::days(BOOKING_HORIZON_DAYS) {
        return Err(out(
            "slot.start",
            format!("must be within the next {BOOKING_HORIZON_DAYS} days"),
        ));
    }
    Ok(())
}

/// At most [`ELIGIBLE_SERVICES_MAX`] eligible services.
pub fn eligible_services(count: usize) -> Result<(), OutOfBounds> {
    if count > ELIGIBLE_SERVICES_MAX {
        return Err(out(
            "service_ids",
            format!("at most {ELIGIBLE_SERVICES_MAX} services may be eligible (got {count})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn availability_windows_are_bounded() {
        let n = now();
        assert!(availability_window(n, n + Duration::days(14), n).is_ok());
        let e = availability_window(n, n + Duration::days(15), n).unwrap_err();
        assert_eq!(e.field, "to");
        assert!(e.message.contains("14 days"), "{e}");
        assert_eq!(
            availability_window(n - Duration::days(3), n - Duration::days(1), n)
                .unwrap_err()
                .field,
            "to"
        );
        let far = Utc.with_ymd_and_hms(9999, 12, 20, 0, 0, 0).unwrap();
        let e = availability_window(far, far + Duration::days(10), n).unwrap_err();
        assert_eq!(e.field, "from");
        assert_eq!(
            availability_window(n + Duration::days(85), n + Duration::days(95), n)
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(availability_window(n, n, n).unwrap_err().field, "to");
    }

    #[test]
    fn slots_are_bounded() {
        let n = now();
        let s = n + Duration::days(1);
        assert!(booking_slot(s, s + Duration::hours(4), n).is_ok());
        assert!(booking_slot(s, s + Duration::hours(24), n).is_ok());
        assert_eq!(
            booking_slot(s, s + Duration::days(3650), n)
                .unwrap_err()
                .field,
            "slot.end"
        );
        let far = Utc.with_ymd_and_hms(9999, 1, 1, 8, 0, 0).unwrap();
        assert_eq!(
            booking_slot(far, far + Duration::hours(2), n)
                .unwrap_err()
                .field,
            "slot.start"
        );
        assert_eq!(
            booking_slot(n - Duration::hours(1), n + Duration::hours(1), n)
                .unwrap_err()
                .field,
            "slot.start"
        );
        assert_eq!(booking_slot(s, s, n).unwrap_err().field, "slot.end");
    }

    #[test]
    fn counts_and_texts_are_bounded() {
        assert!(eligible_services(200).is_ok());
        assert!(eligible_services(201).is_err());
        assert!(text("reason", &"é".repeat(2000), REASON_MAX_CHARS).is_ok());
        assert!(text("reason", &"é".repeat(2001), REASON_MAX_CHARS).is_err());
    }
}
