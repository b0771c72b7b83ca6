//! Slot choice over ServiceTitan capacity availabilities.
//!
//! Capacity is advisory (a slot can fill between read and book), so the booking flow reads
//! availability, offers only open slots, and re-checks the chosen slot just before writing.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Longest window the capacity endpoint accepts in one call.
pub const MAX_CAPACITY_WINDOW_DAYS: i64 = 14;

/// One availability row of `POST /dispatch/v2/tenant/{t}/capacity` (the fields we read).
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// Slot start (UTC).
    pub start: DateTime<Utc>,
    /// Slot end (UTC).
    pub end: DateTime<Utc>,
    /// `openAvailability`: remaining capacity (hours or jobs, per the tenant's setup).
    pub open_availability: f64,
    /// `isAvailable`.
    pub is_available: bool,
}

impl Availability {
    /// Open: marked available, with capacity left, and a real time span.
    pub fn is_open(&self) -> bool {
        self.is_available && self.open_availability > 0.0 && self.start < self.end
    }
}

/// A bookable time slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC).
    pub end: DateTime<Utc>,
}

/// The open slots, sorted by start then end, without duplicates. Full slots never appear.
pub fn open_slots(availabilities: &[Availability]) -> Vec<Slot> {
    let mut slots: Vec<Slot> = availabilities
        .iter()
        .filter(|a| a.is_open())
        .map(|a| Slot {
            start: a.start,
            end: a.end,
        })
        .collect();
    slots.sort();
    slots.dedup();
    slots
}

/// The requested slot is not open (now).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the requested slot is no longer available ({} alternatives)", alternatives.len())]
pub struct SlotTaken {
    /// Up to N nearest open slots, by start time.
    pub alternatives: Vec<Slot>,
}

/// Confirms `requested` is open in `availabilities` (same start and end), or returns up to
/// `max_alternatives` open slots nearest to it.
pub fn choose_slot(
    availabilities: &[Availability],
    requested: Slot,
    max_alternatives: usize,
) -> Result<Slot, SlotTaken> {
    let open = open_slots(availabilities);
    if open.contains(&requested) {
        return Ok(requested);
    }
    Err(SlotTaken {
        alternatives: nearest(&open, requested.start, max_alternatives),
    })
}

/// Up to `n` slots nearest to `at` by start time (ties: the earlier first), sorted by start.
pub fn nearest(open: &[Slot], at: DateTime<Utc>, n: usize) -> Vec<Slot> {
    let mut by_distance: Vec<Slot> = open.to_vec();
    by_distance.sort_by_key(|s| ((s.start - at).abs(), s.start, s.end));
    by_distance.truncate(n);
    by_distance.sort();
    by_distance
}

/// Booking states as stored.
pub mod status {
    /// Accepted; the job or booking request is not written yet.
    pub const PENDING: &str = "pending";
    /// A ServiceTitan job exists in the chosen slot.
    pub const SCHEDULED: &str = "scheduled";
    /// Handed to the partner's call centre as a ServiceTitan booking.
    pub const REQUESTED: &str = "requested";
    /// The job's appointment moved.
    pub const RESCHEDULED: &str = "rescheduled";
    /// The job was cancelled in ServiceTitan.
    pub const CANCELLED: &str = "cancelled";
    /// The job was completed.
    pub const COMPLETED: &str = "completed";
    /// Could not be booked (the slot filled, or the tenant refused it); see `last_error`.
    pub const FAILED: &str = "failed";
}

/// What a ServiceTitan change does to a booking whose job it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingChange {
    /// The booking's new status (one of [`status`]).
    pub status: &'static str,
    /// The new arrival window, when it changes.
    pub window: Option<ArrivalWindow>,
}

/// The booking status a ServiceTitan job status ends in, if it is an end.
fn finished(job_status: &str) -> Option<&'static str> {
    match job_status {
        "Completed" => Some(status::COMPLETED),
        "Canceled" | "Cancelled" => Some(status::CANCELLED),
        _ => None,
    }
}

/// The change a job status (jobs stream) or an appointment window (appointments stream) makes
/// to a booking now in `current` with window `window_now`; `None` when it changes nothing.
///
/// - `Completed` / `Canceled` end the booking (completed / cancelled);
/// - a window different from the booking's reschedules it, unless it has ended;
/// - the first window of a booking that had none (a call-centre request followed to its job)
///   is recorded without calling it a reschedule.
pub fn after_job_change(
    current: &str,
    window_now: Option<ArrivalWindow>,
    job_status: Option<&str>,
    window: Option<ArrivalWindow>,
) -> Option<BookingChange> {
    if let Some(end) = job_status.and_then(finished) {
        return (end != current).then_some(BookingChange {
            status: end,
            window: None,
        });
    }
    let w = window?;
    if [status::CANCELLED, status::COMPLETED].contains(&current) || window_now == Some(w) {
        return None;
    }
    let status = match window_now {
        None => [
            status::PENDING,
            status::SCHEDULED,
            status::REQUESTED,
            status::RESCHEDULED,
            status::FAILED,
        ]
        .into_iter()
        .find(|s| *s == current)?,
        Some(_) => status::RESCHEDULED,
    };
    Some(BookingChange {
        status,
        window: Some(w),
    })
}

/// A time window with start before end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalWindow {
    /// Earliest arrival.
    pub start: DateTime<Utc>,
    /// Latest arrival.
    pub end: DateTime<Utc>,
}

/// A window whose end is not after its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `end <= start`.
    #[error("window end must be after its start")]
    Empty,
}

impl ArrivalWindow {
    /// A window; refuses an empty or reversed one.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, WindowError> {
        if end <= start {
            return Err(WindowError::Empty);
        }
        Ok(Self { start, end })
    }

    /// The arrival window offered for a capacity slot: the slot itself (ServiceTitan capacity
    /// slots are arrival windows; the technician arrives within it).
    pub fn for_slot(slot: Slot) -> Self {
        Self {
            start: slot.start,
            end: slot.end,
        }
    }

    /// Whether `t` falls in the window (start inclusive, end exclusive).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// The appointment written with a job: it starts at the slot start, lasts the job type's
/// duration if known (else the slot), and carries the slot as its arrival window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentPlan {
    /// Appointment start.
    pub start: DateTime<Utc>,
    /// Appointment end.
    pub end: DateTime<Utc>,
    /// Arrival window shown to the homeowner.
    pub arrival_window: ArrivalWindow,
}

/// Plans the appointment for `slot`; a non-positive duration is ignored.
pub fn plan_appointment(slot: Slot, job_duration: Option<Duration>) -> AppointmentPlan {
    let end = match job_duration {
        Some(d) if d > Duration::zero() => slot.start + d,
        _ => slot.end,
    };
    AppointmentPlan {
        start: slot.start,
        end,
        arrival_window: ArrivalWindow::for_slot(slot),
    }
}

/// One capacity request's time range (`startsOnOrAfter`, `endsOnOrBefore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityWindow {
    /// `startsOnOrAfter`.
    pub starts_on_or_after: DateTime<Utc>,
    /// `endsOnOrBefore`.
    pub ends_on_or_before: DateTime<Utc>,
}

/// Splits `[from, to)` into capacity request windows of at most 14 days.
pub fn capacity_windows(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CapacityWindow>, WindowError> {
    if to <= from {
        return Err(WindowError::Empty);
    }
    let step = Duration::days(MAX_CAPACITY_WINDOW_DAYS);
    let mut out = Vec::new();
    let mut s = from;
    while s < to {
        let e = (s + step).min(to);
        out.push(CapacityWindow {
            starts_on_or_after: s,
            ends_on_or_before: e,
        });
        s = e;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 2, 0, 0, 0).unwrap() + Duration::hours(h as i64)
    }

    fn av(h: u32, open: f64, avail: bool) -> Availability {
        Availability {
            start: t(h),
            end: t(h + 2),
            open_availability: open,
            is_available: avail,
        }
    }

    fn slot(h: u32) -> Slot {
        Slot {
            start: t(h),
            end: t(h + 2),
        }
    }

    #[test]
    fn full_slots_are_never_offered() {
        let a = [
            av(12, 1.0, true),
            av(8, 2.0, true),
            av(10, 0.0, true),
            av(14, 3.0, false),
            av(8, 2.0, true),
        ];
        assert_eq!(open_slots(&a), vec![slot(8), slot(12)]);
    }

    #[test]
    fn requested_open_slot_is_confirmed() {
        let a = [av(8, 1.0, true), av(10, 1.0, true)];
        assert_eq!(choose_slot(&a, slot(10), 3), Ok(slot(10)));
    }

    #[test]
    fn taken_slot_gives_nearest_alternatives() {
        let a = [
            av(8, 1.0, true),
            av(10, 0.0, true),
            av(12, 1.0, true),
            av(16, 1.0, true),
            av(30, 1.0, true),
        ];
        let err = choose_slot(&a, slot(10), 2).unwrap_err();
        // 8 and 12 are both 2h away; both fit.
        assert_eq!(err.alternatives, vec![slot(8), slot(12)]);
        let err = choose_slot(&a, slot(10), 3).unwrap_err();
        assert_eq!(err.alternatives, vec![slot(8), slot(12), slot(16)]);
        let err = choose_slot(&[], slot(10), 3).unwrap_err();
        assert!(err.alternatives.is_empty());
        // Same start, different end is a different slot.
        let odd = Slot {
            start: t(8),
            end: t(9),
        };
        assert!(choose_slot(&a, odd, 1).is_err());
    }

    #[test]
    fn arrival_windows_and_appointments() {
        assert_eq!(ArrivalWindow::new(t(2), t(2)), Err(WindowError::Empty));
        let w = ArrivalWindow::for_slot(slot(8));
        assert!(w.contains(t(8)) && w.contains(t(9)) && !w.contains(t(10)));
        let p = plan_appointment(slot(8), Some(Duration::hours(1)));
        assert_eq!((p.start, p.end), (t(8), t(9)));
        assert_eq!(p.arrival_window, w);
        let p = plan_appointment(slot(8), Some(Duration::zero()));
        assert_eq!(p.end, t(10));
    }

    #[test]
    fn capacity_windows_split_at_14_days() {
        let w = capacity_windows(t(0), t(0) + Duration::days(30)).unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].starts_on_or_after, t(0));
        assert_eq!(w[0].ends_on_or_before, t(0) + Duration::days(14));
        assert_eq!(w[1].starts_on_or_after, w[0].ends_on_or_before);
        assert_eq!(w[2].ends_on_or_before, t(0) + Duration::days(30));
        assert_eq!(capacity_windows(t(1), t(1)), Err(WindowError::Empty));
    }

    proptest! {
        #[test]
        fn alternatives_are_open_and_bounded(
            rows in proptest::collection::vec((0u32..48, 0u8..3, any::<bool>()), 0..30),
            req in 0u32..48,
            n in 0usize..6,
        ) {
            let a: Vec<Availability> =
                rows.iter().map(|(h, o, ok)| av(*h, f64::from(*o), *ok)).collect();
            let open = open_slots(&a);
            match choose_slot(&a, slot(req), n) {
                Ok(s) => prop_assert!(open.contains(&s)),
                Err(e) => {
                    prop_assert!(!open.contains(&slot(req)));
                    prop_assert!(e.alternatives.len() <= n);
                    prop_assert_eq!(e.alternatives.len(), n.min(open.len()));
                    for s in &e.alternatives {
                        prop_assert!(open.contains(s));
                    }
                    // Nothing left out is nearer than the farthest one kept.
                    let d = |s: &Slot| (s.start - t(req)).abs();
                    if let Some(far) = e.alternatives.iter().map(d).max() {
                        for s in open.iter().filter(|s| !e.alternatives.contains(s)) {
                            prop_assert!(d(s) >= far);
                        }
                    }
                }
            }
        }
    }
}

/// The tenant's offset from UTC in minutes, from one capacity row: ServiceTitan sends `start` in
/// the tenant's wall clock (no offset) next to `startUtc` (API.md §8, §16). `None` when `local`
/// is not a plain date-time.
pub fn utc_offset_minutes(local: &str, utc: DateTime<Utc>) -> Option<i32> {
    let local = local.trim().trim_end_matches('Z');
    let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    i32::try_from((naive - utc.naive_utc()).num_minutes()).ok()
}

/// The UTC instant of midnight starting `day` in a tenant `offset_minutes` from UTC.
pub fn tenant_midnight(day: chrono::NaiveDate, offset_minutes: i32) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
        - chrono::Duration::minutes(i64::from(offset_minutes))
}

/// A UTC instant on the tenant's wall clock (`YYYY-MM-DDTHH:MM:SS`, no offset).
pub fn tenant_wall_clock(t: DateTime<Utc>, offset_minutes: i32) -> String {
    (t + chrono::Duration::minutes(i64::from(offset_minutes)))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod time_zone_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_offset_comes_from_local_and_utc_times() {
        let utc = Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap();
        assert_eq!(utc_offset_minutes("2026-12-02T08:00:00", utc), Some(-360));
        assert_eq!(
            utc_offset_minutes("2026-12-02T19:30:00.000", utc),
            Some(330)
        );
        assert_eq!(utc_offset_minutes("soon", utc), None);
    }

    #[test]
    fn a_tenant_day_starts_at_its_own_midnight() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(
            tenant_midnight(day, -360),
            Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap()
        );
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 3, 0, 0).unwrap();
        assert_eq!(tenant_wall_clock(t, -360), "2026-12-01T21:00:00");
    }
}

#[cfg(test)]
mod job_change_tests {
    use super::*;
    use chrono::TimeZone;

    fn window(h: u32) -> ArrivalWindow {
        ArrivalWindow {
            start: Utc.with_ymd_and_hms(2026, 12, 3, h, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 3, h + 4, 0, 0).unwrap(),
        }
    }

    #[test]
    fn an_ended_job_ends_the_booking_once() {
        let c = after_job_change(status::SCHEDULED, Some(window(8)), Some("Canceled"), None);
        assert_eq!(c.map(|c| c.status), Some(status::CANCELLED));
        assert_eq!(
            after_job_change(status::CANCELLED, None, Some("Canceled"), None),
            None
        );
        let c = after_job_change(status::RESCHEDULED, None, Some("Completed"), None);
        assert_eq!(c.map(|c| c.status), Some(status::COMPLETED));
        assert_eq!(
            after_job_change(status::SCHEDULED, None, Some("Dispatched"), None),
            None
        );
    }

    #[test]
    fn a_moved_window_reschedules_unless_the_booking_ended() {
        let c = after_job_change(status::SCHEDULED, Some(window(8)), None, Some(window(12)));
        assert_eq!(
            c,
            Some(BookingChange {
                status: status::RESCHEDULED,
                window: Some(window(12))
            })
        );
        // The same window again is no change; an ended booking keeps its end (the race of
        // the appointments stream reading a window after the jobs stream cancelled it).
        assert_eq!(
            after_job_change(status::SCHEDULED, Some(window(8)), None, Some(window(8))),
            None
        );
        assert_eq!(
            after_job_change(status::CANCELLED, Some(window(8)), None, Some(window(12))),
            None
        );
    }

    #[test]
    fn the_first_window_of_a_followed_request_is_not_a_reschedule() {
        let c = after_job_change(status::SCHEDULED, None, None, Some(window(8)));
        assert_eq!(
            c,
            Some(BookingChange {
                status: status::SCHEDULED,
                window: Some(window(8))
            })
        );
    }
}
