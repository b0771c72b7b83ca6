//! `GET /{module}/v2/tenant/{t}/export/{feed}`: ServiceTitan's change feeds (API.md §2.2, §16).
//!
//! - Batches of [`BATCH`] records ordered by `(modifiedOn, id)`; `continueFrom` is an opaque
//!   token encoding the position after the batch's last record, `hasMore` says whether more
//!   follow right now.
//! - `from` is a token, a date or date-time (`modifiedOn >= from`, UTC midnight for a date), or
//!   absent (the start of the feed).
//! - A change is visible only once it is older than the tenant's visibility delay (15 minutes
//!   by default), unless `includeRecentChanges=true`. Then the final batch's token does not
//!   move past the delay horizon, so the recent records are served again on later calls (dedupe
//!   by `id` + `modifiedOn`).
//! - Active, inactive and deleted records are all served; deleted ones with `active: false`.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Problem, Reply, Req, not_served};
use crate::sandbox::tenant::{Tenant, id_of, res, ts};

/// Records per export batch.
pub(crate) const BATCH: usize = 500;

/// Marks a record deleted in ServiceTitan: gone from lists and reads, `active: false` in
/// exports.
pub(crate) const DELETED: &str = "_deleted";

/// A feed position: records strictly after `(modified_on, id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    modified_on: String,
    id: i64,
}

fn encode(p: &Pos) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{}|{}", p.modified_on, p.id))
}

fn decode(token: &str) -> Option<Pos> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = raw.splitn(3, '|');
    (parts.next()? == "v1").then_some(())?;
    let modified_on = parts.next()?.to_owned();
    let id = parts.next()?.parse().ok()?;
    Some(Pos { modified_on, id })
}

/// Where `from` starts the feed (`None` when it cannot be read).
fn start(from: Option<&str>) -> Option<Pos> {
    let Some(from) = from.map(str::trim).filter(|f| !f.is_empty()) else {
        return Some(Pos {
            modified_on: String::new(),
            id: i64::MIN,
        });
    };
    if let Some(p) = decode(from) {
        return Some(p);
    }
    let at = crate::servicetitan::models::ts::parse(from).or_else(|| {
        chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    })?;
    Some(Pos {
        modified_on: ts(at),
        id: i64::MIN,
    })
}

fn flag(req: &Req<'_>, name: &str) -> Result<Option<bool>, Problem> {
    match req
        .query
        .get(name)
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(Problem::field(
            name,
            format!("The value of '{name}' is not valid."),
        )),
    }
}

/// A record as the export serves it: `active` always present, `false` once deleted.
fn exported(v: &Value) -> Value {
    let mut out = v.clone();
    let deleted = v.get(DELETED).and_then(Value::as_bool).unwrap_or(false);
    if let Some(o) = out.as_object_mut() {
        let active = !deleted && o.get("active").and_then(Value::as_bool).unwrap_or(true);
        o.insert("active".into(), json!(active));
    }
    out
}

/// Job notes with the IDs only the export shows.
fn job_notes(t: &Tenant) -> Vec<Value> {
    let mut out = Vec::new();
    for (job_id, notes) in &t.notes {
        for (i, n) in notes.iter().enumerate() {
            let id = n
                .get("_id")
                .and_then(Value::as_i64)
                .unwrap_or(job_id * 1000 + i as i64);
            out.push(json!({
                "id": id, "jobId": job_id, "active": true, "text": n["text"],
                "isPinned": n["isPinned"], "createdById": n["createdById"],
                "createdOn": n["createdOn"], "modifiedOn": n["modifiedOn"],
            }));
        }
    }
    out
}

/// Invoice items with their `invoiceId`.
fn invoice_items(t: &Tenant) -> Vec<Value> {
    let mut out = Vec::new();
    for inv in t.read(res::INVOICES).into_iter().flat_map(|c| c.values()) {
        let deleted = inv.get(DELETED).is_some();
        for item in inv["items"].as_array().into_iter().flatten() {
            let mut item = item.clone();
            item["invoiceId"] = inv["id"].clone();
            if deleted {
                item[DELETED] = json!(true);
            }
            out.push(item);
        }
    }
    out
}

/// Serves one export call (the tenant's `export_delay` is the visibility delay).
pub(crate) fn route(t: &mut Tenant, req: &Req<'_>, feed: &str) -> Reply {
    let delay = t.export_delay;
    let owned: Vec<Value>;
    let records: Vec<&Value> = match (req.module, feed) {
        ("crm", "customers") => t.coll(res::CUSTOMERS).values().collect(),
        ("crm", "locations") => t.coll(res::LOCATIONS).values().collect(),
        ("crm", "bookings") => t.coll(res::BOOKINGS).values().collect(),
        ("jpm", "jobs") => t.coll(res::JOBS).values().collect(),
        ("jpm", "appointments") => {
            let want = flag(req, "active")?;
            t.coll(res::APPOINTMENTS)
                .values()
                .filter(|a| want.is_none_or(|w| exported(a)["active"] == json!(w)))
                .collect()
        }
        ("jpm", "job-notes") => {
            owned = job_notes(t);
            owned.iter().collect()
        }
        ("accounting", "invoices") => t.coll(res::INVOICES).values().collect(),
        ("accounting", "invoice-items") => {
            owned = invoice_items(t);
            owned.iter().collect()
        }
        ("memberships", "memberships") => t.coll(res::MEMBERSHIPS).values().collect(),
        _ => return Err(not_served(req)),
    };
    let from = start(req.query.get("from").map(String::as_str)).ok_or_else(|| {
        Problem::field("from", "The value of 'from' is not a valid token or date.")
    })?;
    let recent = flag(req, "includeRecentChanges")?.unwrap_or(false);
    let horizon = ts(chrono::Utc::now() - chrono::Duration::from_std(delay).unwrap_or_default());
    let pos_of = |v: &Value| Pos {
        modified_on: v
            .get("modifiedOn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        id: id_of(v),
    };
    let mut after: Vec<(Pos, &Value)> = records
        .into_iter()
        .map(|v| (pos_of(v), v))
        .filter(|(p, _)| *p > from && (recent || p.modified_on < horizon))
        .collect();
    // The batch is the smallest BATCH positions: select, then sort only those.
    let has_more = after.len() > BATCH;
    if has_more {
        after.select_nth_unstable_by(BATCH - 1, |a, b| a.0.cmp(&b.0));
        after.truncate(BATCH);
    }
    after.sort_by(|a, b| a.0.cmp(&b.0));
    let last = after.last().map(|(p, _)| p.clone());
    let next = match last {
        None => from.clone(),
        Some(last) if has_more || !recent => last,
        // Caught up with recent changes included: the stored position stays at the horizon,
        // so what is newer than the delay is served again (API.md §2.2).
        Some(last) => {
            let hold = Pos {
                modified_on: horizon.clone(),
                id: i64::MIN,
            };
            if hold < last {
                hold.max(from.clone())
            } else {
                last
            }
        }
    };
    let data: Vec<Value> = after.iter().map(|(_, v)| exported(v)).collect();
    Ok((
        200,
        json!({"hasMore": has_more, "continueFrom": encode(&next), "data": data}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_dates_start_at_midnight() {
        let p = Pos {
            modified_on: "2026-01-02T03:04:05.000000Z".into(),
            id: 42,
        };
        assert_eq!(decode(&encode(&p)), Some(p));
        let d = start(Some("2026-01-02")).expect("date");
        assert_eq!(d.modified_on, "2026-01-02T00:00:00.000000Z");
        assert_eq!(start(Some("soon")), None);
        assert_eq!(start(None).map(|p| p.id), Some(i64::MIN));
    }
}
