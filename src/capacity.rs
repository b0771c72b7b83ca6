//! Open slots from ServiceTitan's capacity endpoint, cached briefly per tenant.
//!
//! A cached answer is at most [`CACHE_TTL`] old and is dropped for the whole tenant as soon as
//! we book a job there, so our own bookings never leave a full slot on offer. A slot filled by
//! someone else inside the TTL can still show; booking re-reads capacity before writing.
//!
//! Each answer also teaches the tenant's UTC offset (its rows carry the wall-clock `start` next
//! to `startUtc`), kept per tenant so dates can mean the tenant's days and slots can be shown on
//! its clock.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::domain::booking::{Availability, Slot, capacity_windows, open_slots};
use crate::servicetitan::{CapacityRequest, Error, TenantClient};

/// How long a capacity answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(15);
/// Longest date range one availability request may cover.
pub const MAX_RANGE_DAYS: i64 = 31;

/// What to ask the capacity endpoint about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapacityQuery {
    /// Mapped business unit.
    pub business_unit_id: i64,
    /// Mapped job type.
    pub job_type_id: i64,
    /// `skillBasedAvailability` (technician capacity mode).
    pub skill_based: bool,
}

type Key = (String, CapacityQuery, DateTime<Utc>, DateTime<Utc>);

/// Capacity answers by tenant, query and range.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<Key, (Instant, Vec<Availability>)>>,
    offsets: Mutex<HashMap<String, i32>>,
}

/// The cache's name for a tenant (environment and tenant ID).
pub fn tenant_key(client: &TenantClient) -> String {
    format!("{}|{}", client.environment().api_base(), client.tenant_id())
}

impl Cache {
    fn get(&self, key: &Key) -> Option<Vec<Availability>> {
        let map = self.entries.lock();
        map.get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: Key, value: Vec<Availability>) {
        let mut map = self.entries.lock();
        if map.len() > 4096 {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        map.insert(key, (Instant::now(), value));
    }

    /// The tenant's UTC offset in minutes, once a capacity answer has shown it.
    pub fn utc_offset(&self, tenant: &str) -> Option<i32> {
        self.offsets.lock().get(tenant).copied()
    }

    fn learn_offset(&self, tenant: &str, rows: &[crate::servicetitan::Availability]) {
        let offset = rows
            .iter()
            .find_map(|a| crate::domain::booking::utc_offset_minutes(&a.start, a.start_utc?));
        if let Some(o) = offset {
            self.offsets.lock().insert(tenant.to_owned(), o);
        }
    }

    /// Forgets every answer for a tenant (after we booked there).
    pub fn invalidate(&self, tenant: &str) {
        self.entries.lock().retain(|k, _| k.0 != tenant);
    }
}

fn to_domain(a: &crate::servicetitan::Availability) -> Option<Availability> {
    Some(Availability {
        start: a.start_utc?,
        end: a.end_utc?,
        open_availability: a.open_availability,
        is_available: a.is_available,
    })
}

/// Reads capacity for `[from, to)` (split into 14-day calls), fresh from ServiceTitan.
pub async fn read_fresh(
    client: &TenantClient,
    q: CapacityQuery,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Availability>, Error> {
    read_learning(None, client, q, from, to).await
}

async fn read_learning(
    cache: Option<&Cache>,
    client: &TenantClient,
    q: CapacityQuery,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Availability>, Error> {
    let Ok(windows) = capacity_windows(from, to) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for w in windows {
        let req = CapacityRequest {
            starts_on_or_after: w.starts_on_or_after,
            ends_on_or_before: w.ends_on_or_before,
            business_unit_ids: vec![q.business_unit_id],
            job_type_id: Some(q.job_type_id),
            skill_based_availability: q.skill_based,
        };
        let resp = client.capacity(&req).await?;
        if let Some(c) = cache {
            c.learn_offset(&tenant_key(client), &resp.availabilities);
        }
        out.extend(resp.availabilities.iter().filter_map(to_domain));
    }
    Ok(out)
}

/// Open slots in `[from, to)` starting after `now`, from the cache when fresh enough.
/// Returns the slots and whether they came from the cache.
pub async fn open_in_range(
    cache: &Cache,
    client: &TenantClient,
    q: CapacityQuery,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Vec<Slot>, bool), Error> {
    let key = (tenant_key(client), q, from, to);
    let (rows, cached) = match cache.get(&key) {
        Some(rows) => (rows, true),
        None => {
            let rows = read_learning(Some(cache), client, q, from, to).await?;
            cache.put(key, rows.clone());
            (rows, false)
        }
    };
    Ok((future_open(&rows, now), cached))
}

/// The open slots that start after `now`.
pub fn future_open(rows: &[Availability], now: DateTime<Utc>) -> Vec<Slot> {
    open_slots(rows)
        .into_iter()
        .filter(|s| s.start > now)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn past_and_full_slots_are_dropped() {
        let t = |h| Utc.with_ymd_and_hms(2030, 1, 1, h, 0, 0).unwrap();
        let rows = [
            Availability {
                start: t(8),
                end: t(12),
                open_availability: 1.0,
                is_available: true,
            },
            Availability {
                start: t(12),
                end: t(16),
                open_availability: 0.0,
                is_available: false,
            },
            Availability {
                start: t(16),
                end: t(19),
                open_availability: 2.0,
                is_available: true,
            },
        ];
        let slots = future_open(&rows, t(9));
        assert_eq!(
            slots,
            vec![Slot {
                start: t(16),
                end: t(19)
            }]
        );
    }
}
