//! Live lists read from a partner's ServiceTitan tenant for the mapping steps: membership
//! types, business units, job types, location custom-field types, pricebook services, tag
//! types and campaigns.
//!
//! Dropdown and search reads go through a short per-tenant cache (60 s by default), so a
//! partner paging through 2,000 pricebook services costs ServiceTitan a handful of calls per
//! minute, not one per keystroke. Search, filter and paging happen here, server-side
//! ([`search`]). Saving a choice never trusts the cache: [`TenantLists::by_ids`] and
//! [`TenantLists::fresh`] read ServiceTitan again.
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Settings;
use crate::crypto::SecretBox;
use crate::domain::mapping::{CapacityMode, JobTypeTarget, Target};
use crate::servicetitan::{Active, CapacityRequest, Error, ListQuery, ServiceTitan, TenantClient};
use crate::store::entities::integration;

/// How long a list stays cached per tenant.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Records per ServiceTitan page when reading a whole list.
pub const FETCH_PAGE_SIZE: u32 = 500;
/// ServiceTitan accepts at most this many `ids` per call.
const IDS_PER_CALL: usize = 50;
/// Largest page our own list endpoints serve.
pub const MAX_PAGE_SIZE: usize = 200;
/// Page size of our list endpoints when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Which tenant list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ListKind {
    /// Membership types (plan targets).
    MembershipTypes,
    /// Business units.
    BusinessUnits,
    /// Job types with the business units allowed for them.
    JobTypes,
    /// Location custom-field types (the Comfort Credit field).
    CustomFields,
    /// Pricebook services.
    Services,
    /// Tag types.
    TagTypes,
    /// Marketing campaigns.
    Campaigns,
}

impl ListKind {
    /// Whether ServiceTitan's list endpoint for this kind takes an `ids` filter (tag types and
    /// custom-field types do not).
    pub fn filters_by_ids(self) -> bool {
        !matches!(self, Self::TagTypes | Self::CustomFields)
    }

    /// Every kind, in wizard order.
    pub const ALL: [ListKind; 7] = [
        Self::MembershipTypes,
        Self::BusinessUnits,
        Self::JobTypes,
        Self::CustomFields,
        Self::Services,
        Self::TagTypes,
        Self::Campaigns,
    ];

    /// The path segment, e.g. `membership-types`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MembershipTypes => "membership-types",
            Self::BusinessUnits => "business-units",
            Self::JobTypes => "job-types",
            Self::CustomFields => "custom-fields",
            Self::Services => "services",
            Self::TagTypes => "tag-types",
            Self::Campaigns => "campaigns",
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list name that is not one of [`ListKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown list '{0}' (expected membership-types, business-units, job-types, custom-fields, services, tag-types or campaigns)"
)]
pub struct UnknownList(pub String);

impl FromStr for ListKind {
    type Err = UnknownList;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownList(s.to_owned()))
    }
}

/// One record of a tenant list, in a shape common to every kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TenantRecord {
    /// ServiceTitan ID.
    pub id: i64,
    /// Name (a service's display name).
    pub name: String,
    /// Whether it is active.
    pub active: bool,
    /// A service's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A job type's allowed business units.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub business_unit_ids: Vec<i64>,
}

impl TenantRecord {
    /// As a domain target.
    pub fn target(&self) -> Target {
        Target {
            id: self.id,
            name: self.name.clone(),
            active: self.active,
        }
    }

    /// As a domain job-type target.
    pub fn job_type(&self) -> JobTypeTarget {
        JobTypeTarget {
            id: self.id,
            name: self.name.clone(),
            active: self.active,
            business_unit_ids: self.business_unit_ids.clone(),
        }
    }

    fn plain(id: i64, name: String, active: bool) -> Self {
        Self {
            id,
            name,
            active,
            code: None,
            business_unit_ids: Vec::new(),
        }
    }
}

/// Why a tenant list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The integration has no tenant or stored credentials (yet, or any more).
    #[error("this integration has no connected ServiceTitan credentials")]
    NotConnected,
    /// The stored secret could not be opened or the environment is misconfigured.
    #[error("{0}")]
    Config(String),
    /// ServiceTitan failed.
    #[error(transparent)]
    ServiceTitan(#[from] Error),
}

/// Filters and paging for [`search`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Substring of the name (or a service's code); trimmed, case-insensitive.
    pub q: String,
    /// Include inactive records.
    pub include_inactive: bool,
    /// Job types allowed for this business unit only.
    pub business_unit_id: Option<i64>,
    /// 1-based page.
    pub page: usize,
    /// Records per page (clamped to 1..=[`MAX_PAGE_SIZE`]).
    pub page_size: usize,
}

/// One page of a searched list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordPage {
    /// 1-based page number.
    pub page: usize,
    /// Page size used.
    pub page_size: usize,
    /// Records matching the filter (all pages).
    pub total: usize,
    /// Whether another page follows.
    pub has_more: bool,
    /// This page's records, in ServiceTitan's order.
    pub items: Vec<TenantRecord>,
}

/// Filters `items` and cuts out one page.
pub fn search(items: &[TenantRecord], f: &Filter) -> RecordPage {
    let q = f.q.trim().to_lowercase();
    let size = if f.page_size == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        f.page_size.min(MAX_PAGE_SIZE)
    };
    let page = f.page.max(1);
    let matching: Vec<&TenantRecord> = items
        .iter()
        .filter(|r| f.include_inactive || r.active)
        .filter(|r| {
            f.business_unit_id
                .is_none_or(|bu| r.business_unit_ids.contains(&bu))
        })
        .filter(|r| {
            q.is_empty()
                || r.name.to_lowercase().contains(&q)
                || r.code
                    .as_ref()
                    .is_some_and(|c| c.to_lowercase().contains(&q))
        })
        .collect();
    let total = matching.len();
    let start = (page - 1).saturating_mul(size);
    let items: Vec<TenantRecord> = matching
        .into_iter()
        .skip(start)
        .take(size)
        .cloned()
        .collect();
    RecordPage {
        page,
        page_size: size,
        total,
        has_more: start.saturating_add(size) < total,
        items,
    }
}

type Key = (String, i64, String, ListKind);

struct Slot {
    fetched: Instant,
    items: Arc<Vec<TenantRecord>>,
}

type Cell = Arc<tokio::sync::Mutex<Option<Slot>>>;

/// The live-list reader shared by the mapping endpoints and pages (one per process; register
/// it as `web::Data<TenantLists>`).
pub struct TenantLists {
    st: ServiceTitan,
    settings: Arc<Settings>,
    secrets: SecretBox,
    ttl: Duration,
    cache: parking_lot::Mutex<HashMap<Key, Cell>>,
}

/// A tenant client for one integration plus its cache key.
#[derive(Clone)]
pub struct Tenant {
    /// The ServiceTitan client for the integration's tenant.
    pub client: TenantClient,
    key: (String, i64, String),
}

impl TenantLists {
    /// Builds the reader over the process-wide client (its tenant clients retry less: a
    /// person is waiting) and an empty cache.
    pub fn new(
        settings: Arc<Settings>,
        secrets: SecretBox,
        st: ServiceTitan,
        ttl: Duration,
    ) -> Self {
        Self {
            st,
            settings,
            secrets,
            ttl,
            cache: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// The client for `row`'s tenant with its stored credentials.
    pub fn tenant(&self, row: &integration::Model) -> Result<Tenant, ListError> {
        let (Some(tenant_id), Some(client_id), Some(_)) = (
            row.tenant_id,
            row.client_id.as_deref(),
            row.client_secret_enc.as_deref(),
        ) else {
            return Err(ListError::NotConnected);
        };
        let env = crate::tenant_client::environment(&self.settings, &row.environment)
            .map_err(|e| ListError::Config(e.to_string()))?;
        let client =
            crate::tenant_client::tenant_client(&self.settings, &self.secrets, &self.st, row)
                .map_err(|e| ListError::Config(e.to_string()))?;
        Ok(Tenant {
            client: client.with_max_retries(2),
            key: (env.cache_key(), tenant_id, client_id.to_owned()),
        })
    }

    /// The whole list, from the cache when it is younger than the TTL. Concurrent readers of
    /// one list wait for a single fetch.
    pub async fn list(
        &self,
        t: &Tenant,
        kind: ListKind,
    ) -> Result<Arc<Vec<TenantRecord>>, ListError> {
        let cell = self.cell(t, kind);
        let mut slot = cell.lock().await;
        if let Some(s) = slot.as_ref()
            && s.fetched.elapsed() < self.ttl
        {
            return Ok(s.items.clone());
        }
        let items = Arc::new(fetch(&t.client, kind, ListQuery::new()).await?);
        *slot = Some(Slot {
            fetched: Instant::now(),
            items: items.clone(),
        });
        Ok(items)
    }

    /// The whole list read from ServiceTitan now (the cache is refreshed with it).
    pub async fn fresh(
        &self,
        t: &Tenant,
        kind: ListKind,
    ) -> Result<Arc<Vec<TenantRecord>>, ListError> {
        let cell = self.cell(t, kind);
        let mut slot = cell.lock().await;
        let items = Arc::new(fetch(&t.client, kind, ListQuery::new()).await?);
        *slot = Some(Slot {
            fetched: Instant::now(),
            items: items.clone(),
        });
        Ok(items)
    }

    /// The records with these IDs, read from ServiceTitan now (active or not; unknown IDs are
    /// simply absent). At most 50 IDs per call.
    pub async fn by_ids(
        &self,
        t: &Tenant,
        kind: ListKind,
        ids: &[i64],
    ) -> Result<Vec<TenantRecord>, ListError> {
        if !kind.filters_by_ids() {
            // Tag types and custom-field types have no `ids` filter: read the (short) list.
            let all = fetch(&t.client, kind, ListQuery::new()).await?;
            return Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect());
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_CALL) {
            out.extend(fetch(&t.client, kind, ListQuery::new().ids(chunk)).await?);
        }
        Ok(out)
    }

    /// Forgets every cached list of `t`'s tenant.
    pub fn invalidate(&self, t: &Tenant) {
        self.cache.lock().retain(|(env, tenant, client, _), _| {
            (env, tenant, client) != (&t.key.0, &t.key.1, &t.key.2)
        });
    }

    /// Asks the capacity endpoint for the next three days in `mode`; the number of slots it
    /// returned. Any failure means real-time capacity cannot be used.
    pub async fn probe_capacity(
        &self,
        t: &Tenant,
        mode: CapacityMode,
        business_unit_ids: Vec<i64>,
    ) -> Result<usize, Error> {
        let start = chrono::Utc::now();
        let req = CapacityRequest {
            starts_on_or_after: start,
            ends_on_or_before: start + chrono::Duration::days(3),
            business_unit_ids,
            job_type_id: None,
            skill_based_availability: mode.skill_based(),
        };
        Ok(t.client.capacity(&req).await?.availabilities.len())
    }

    fn cell(&self, t: &Tenant, kind: ListKind) -> Cell {
        let key = (t.key.0.clone(), t.key.1, t.key.2.clone(), kind);
        let mut cache = self.cache.lock();
        if let Some(c) = cache.get(&key) {
            return c.clone();
        }
        // Drop expired, idle lists before adding a new one, so the cache cannot grow without
        // bound as tenants come and go.
        let ttl = self.ttl;
        cache.retain(|_, c| {
            c.try_lock()
                .map(|s| s.as_ref().is_some_and(|s| s.fetched.elapsed() < ttl))
                .unwrap_or(true)
        });
        cache.entry(key).or_default().clone()
    }
}

/// Reads every page of `kind` with `query` plus `active=Any`.
async fn fetch(
    tc: &TenantClient,
    kind: ListKind,
    query: ListQuery,
) -> Result<Vec<TenantRecord>, Error> {
    // Custom-field types have no `active` filter (and no active flag): they are all listed.
    let q = if kind == ListKind::CustomFields {
        query
    } else {
        query.active(Active::Any)
    }
    .page_size(FETCH_PAGE_SIZE);
    let started = Instant::now();
    let items: Vec<TenantRecord> = match kind {
        ListKind::MembershipTypes => {
            tc.membership_types(q)
                .map_ok(|m| TenantRecord::plain(m.id, m.name, m.active))
                .try_collect()
                .await?
        }
        ListKind::BusinessUnits => {
            tc.business_units(q)
                .map_ok(|b| TenantRecord::plain(b.id, b.name, b.active))
                .try_collect()
                .await?
        }
        ListKind::JobTypes => {
            tc.job_types(q)
                .map_ok(|j| TenantRecord {
                    business_unit_ids: j.business_unit_ids,
                    ..TenantRecord::plain(j.id, j.name, j.active)
                })
                .try_collect()
                .await?
        }
        ListKind::CustomFields => {
            tc.location_custom_field_types(q)
                .map_ok(|c| TenantRecord::plain(c.id, c.name, true))
                .try_collect()
                .await?
        }
        ListKind::Services => {
            tc.pricebook_services(q)
                .map_ok(|s| {
                    let name = if s.display_name.trim().is_empty() {
                        s.code.clone()
                    } else {
                        s.display_name
                    };
                    TenantRecord {
                        code: Some(s.code),
                        ..TenantRecord::plain(s.id, name, s.active)
                    }
                })
                .try_collect()
                .await?
        }
        ListKind::TagTypes => {
            tc.tag_types(q)
                .map_ok(|t| TenantRecord::plain(t.id, t.name, t.active))
                .try_collect()
                .await?
        }
        ListKind::Campaigns => {
            tc.campaigns(q)
                .map_ok(|c| TenantRecord::plain(c.id, c.name, c.active))
                .try_collect()
                .await?
        }
    };
    tracing::debug!(
        list = kind.as_str(),
        records = items.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tenant list read"
    );
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64, name: &str, active: bool, bus: &[i64]) -> TenantRecord {
        TenantRecord {
            id,
            name: name.into(),
            active,
            code: Some(format!("C-{id}")),
            business_unit_ids: bus.to_vec(),
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in ListKind::ALL {
            assert_eq!(k.as_str().parse::<ListKind>(), Ok(k));
        }
        assert!("things".parse::<ListKind>().is_err());
    }

    #[test]
    fn search_filters_and_pages() {
        let items: Vec<TenantRecord> = (0..25)
            .map(|i| rec(i, &format!("Item {i:02}"), i % 5 != 4, &[i % 2]))
            .collect();
        let f = Filter {
            page_size: 10,
            ..Filter::default()
        };
        let p1 = search(&items, &f);
        assert_eq!((p1.total, p1.items.len(), p1.has_more), (20, 10, true));
        let p2 = search(
            &items,
            &Filter {
                page: 2,
                ..f.clone()
            },
        );
        assert_eq!((p2.items.len(), p2.has_more), (10, false));
        let p3 = search(
            &items,
            &Filter {
                page: 3,
                ..f.clone()
            },
        );
        assert!(p3.items.is_empty());
        let all = search(
            &items,
            &Filter {
                include_inactive: true,
                page_size: 1000,
                ..Filter::default()
            },
        );
        assert_eq!((all.total, all.page_size), (25, MAX_PAGE_SIZE));
        let q = search(
            &items,
            &Filter {
                q: " item 1".into(),
                ..f.clone()
            },
        );
        // Item 10..19, less the inactive 14 and 19.
        assert_eq!(q.total, 8);
        let code = search(
            &items,
            &Filter {
                q: "c-7".into(),
                ..f.clone()
            },
        );
        assert_eq!(code.items[0].id, 7);
        let bu = search(
            &items,
            &Filter {
                business_unit_id: Some(1),
                page_size: 100,
                ..f
            },
        );
        assert!(bu.items.iter().all(|r| r.business_unit_ids == [1]));
        assert_eq!(bu.total, 10);
    }
}
