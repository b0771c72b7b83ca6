//! `POST /dispatch/v2/tenant/{t}/capacity`: slots per arrival window, business unit and day.
//!
//! Each business unit has a fixed capacity in technician-hours per arrival window per day
//! (seeded). Every non-cancelled appointment of that unit starting inside the window takes its
//! job type's duration in hours, so `openAvailability` drops as jobs are booked, and a frame is
//! available while the requested job type still fits (API.md §16). Arrival windows are
//! tenant-local times: rows carry `start`/`end` in the tenant's wall clock without an offset and
//! `startUtc`/`endUtc` in UTC. The answer is `{timeStamp, availabilities}`.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::{Value, json};

use super::crm::int_list;
use super::{Problem, Reply, ok};
use crate::sandbox::tenant::{Tenant, now, res, ts};

fn time(b: &Value, field: &str) -> Result<DateTime<Utc>, Problem> {
    b.get(field)
        .and_then(Value::as_str)
        .and_then(crate::servicetitan::models::ts::parse)
        .ok_or_else(|| Problem::field(field, format!("The {field} field is required (ISO-8601).")))
}

/// A .NET TimeSpan string (`"HH:MM:SS"`; `"HH:MM"` accepted too).
fn hhmm(s: &str) -> Option<Duration> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    Some(t - NaiveTime::MIN)
}

/// A job type's duration in hours (its `duration` is in seconds; one hour when unknown).
fn hours_of(t: &Tenant, job_type: Option<i64>) -> f64 {
    job_type
        .and_then(|j| t.get(res::JOB_TYPES, j))
        .and_then(|j| j["duration"].as_f64())
        .map(|s| s / 3600.0)
        .unwrap_or(1.0)
}

pub(crate) fn capacity(t: &Tenant, b: &Value) -> Reply {
    let from = time(b, "startsOnOrAfter")?;
    let to = time(b, "endsOnOrBefore")?;
    if !b
        .get("skillBasedAvailability")
        .is_some_and(Value::is_boolean)
    {
        return Err(Problem::field(
            "skillBasedAvailability",
            "The skillBasedAvailability field is required.",
        ));
    }
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
    let wanted_job_type = b.get("jobTypeId").and_then(Value::as_i64);
    let needed = hours_of(t, wanted_job_type);
    let offset = Duration::minutes(i64::from(t.utc_offset_minutes));
    if let Some(jt) = wanted_job_type {
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
    // Days in the tenant's calendar that the window touches.
    let mut day = (from + offset).date_naive();
    while day <= (to + offset).date_naive() {
        let local_midnight = day.and_time(NaiveTime::MIN);
        for (start, len, window_units) in &windows {
            let (local_s, local_e) = (local_midnight + *start, local_midnight + *start + *len);
            let (s, e) = (local_s.and_utc() - offset, local_e.and_utc() - offset);
            if s < from || e > to {
                continue;
            }
            let (s_ts, e_ts) = (ts(s), ts(e));
            for bu in units.iter().filter(|u| window_units.contains(u)) {
                let total = t.capacity.get(bu).copied().unwrap_or(0) as f64;
                if total == 0.0 || !t.active(res::BUSINESS_UNITS, *bu) {
                    continue;
                }
                let booked: f64 = appointments
                    .iter()
                    .filter(|a| a["_businessUnitId"].as_i64() == Some(*bu))
                    .filter(|a| {
                        a["start"]
                            .as_str()
                            .is_some_and(|st| st >= s_ts.as_str() && st < e_ts.as_str())
                    })
                    .map(|a| hours_of(t, a["_jobTypeId"].as_i64()))
                    .sum();
                let open = (total - booked).max(0.0);
                let techs: Vec<Value> = t
                    .read(res::TECHNICIANS)
                    .into_iter()
                    .flat_map(|c| c.values())
                    .filter(|x| x["businessUnitId"].as_i64() == Some(*bu) && x["active"] == json!(true))
                    .map(|x| json!({"id": x["id"], "name": x["name"], "status": "Available", "hasRequiredSkills": true}))
                    .collect();
                slots.push(json!({
                    "start": local_s.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "end": local_e.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "startUtc": s_ts, "endUtc": e_ts,
                    "businessUnitIds": [bu],
                    "totalAvailability": total, "openAvailability": open,
                    "isAvailable": open >= needed && open > 0.0,
                    "isExceedingIdealBookingPercentage": booked * 5.0 > total * 4.0,
                    "technicians": techs,
                }));
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    ok(json!({ "timeStamp": now(), "availabilities": slots }))
}
