//! `POST /dispatch/v2/tenant/{t}/capacity`: slots per arrival window, business unit and day.
//!
//! Each business unit has a fixed capacity per arrival window per day (seeded); every
//! non-cancelled appointment of that unit starting inside the window takes one unit, so
//! `openAvailability` drops as jobs are booked. The tenant's local time is taken as UTC.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::{Value, json};

use super::crm::int_list;
use super::{Problem, Reply, ok};
use crate::sandbox::tenant::{Tenant, res, ts};

fn time(b: &Value, field: &str) -> Result<DateTime<Utc>, Problem> {
    b.get(field)
        .and_then(Value::as_str)
        .and_then(crate::servicetitan::models::ts::parse)
        .ok_or_else(|| Problem::field(field, format!("The {field} field is required (ISO-8601).")))
}

fn hhmm(s: &str) -> Option<Duration> {
    let t = NaiveTime::parse_from_str(s, "%H:%M").ok()?;
    Some(t - NaiveTime::MIN)
}

pub(crate) fn capacity(t: &Tenant, b: &Value) -> Reply {
    let from = time(b, "startsOnOrAfter")?;
    let to = time(b, "endsOnOrBefore")?;
    if to <= from || to - from > Duration::days(14) {
        return Err(Problem::field(
            "endsOnOrBefore",
            "The window must be positive and at most 14 days.",
        ));
    }
    let mut units: BTreeSet<i64> = int_list(b.get("businessUnitIds")).into_iter().collect();
    if units.is_empty() {
        units = t.capacity.keys().copied().collect();
    }
    if let Some(jt) = b.get("jobTypeId").and_then(Value::as_i64) {
        let Some(job_type) = t.get(res::JOB_TYPES, jt) else {
            return Err(Problem::field(
                "jobTypeId",
                format!("Job type {jt} does not exist."),
            ));
        };
        let allowed = int_list(job_type.get("businessUnitIds"));
        units.retain(|u| allowed.contains(u));
    }
    let mut windows: Vec<(Duration, Duration, Vec<i64>)> = t
        .read(res::ARRIVAL_WINDOWS)
        .into_iter()
        .flat_map(|c| c.values())
        .filter(|w| w["active"] == json!(true))
        .filter_map(|w| {
            let start = hhmm(w["start"].as_str()?)?;
            let len = hhmm(w["duration"].as_str()?)?;
            Some((start, len, int_list(w.get("businessUnitIds"))))
        })
        .collect();
    windows.sort_by_key(|w| w.0);
    let appointments: Vec<&Value> = t
        .read(res::APPOINTMENTS)
        .into_iter()
        .flat_map(|c| c.values())
        .filter(|a| a["status"] != json!("Canceled"))
        .collect();
    let mut slots = Vec::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        let midnight = day.and_time(NaiveTime::MIN).and_utc();
        for (start, len, window_units) in &windows {
            let (s, e) = (midnight + *start, midnight + *start + *len);
            if s < from || e > to {
                continue;
            }
            let (s_ts, e_ts) = (ts(s), ts(e));
            for bu in units.iter().filter(|u| window_units.contains(u)) {
                let total = t.capacity.get(bu).copied().unwrap_or(0);
                if total == 0 || !t.active(res::BUSINESS_UNITS, *bu) {
                    continue;
                }
                let booked = appointments
                    .iter()
                    .filter(|a| a["businessUnitId"].as_i64() == Some(*bu))
                    .filter(|a| {
                        a["start"]
                            .as_str()
                            .is_some_and(|st| st >= s_ts.as_str() && st < e_ts.as_str())
                    })
                    .count() as i64;
                let open = (total - booked).max(0);
                let techs: Vec<Value> = t
                    .read(res::TECHNICIANS)
                    .into_iter()
                    .flat_map(|c| c.values())
                    .filter(|x| x["businessUnitId"].as_i64() == Some(*bu) && x["active"] == json!(true))
                    .map(|x| json!({"id": x["id"], "name": x["name"], "status": "Available", "hasRequiredSkills": true}))
                    .collect();
                slots.push(json!({
                    "start": s.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "end": e.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "startUtc": s_ts, "endUtc": e_ts,
                    "businessUnitIds": [bu],
                    "totalAvailability": total, "openAvailability": open,
                    "isAvailable": open > 0,
                    "isExceedingIdealBookingPercentage": booked * 5 > total * 4,
                    "technicians": techs,
                }));
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    ok(json!({
        "startsOnOrAfter": ts(from), "endsOnOrBefore": ts(to), "availabilities": slots,
    }))
}
