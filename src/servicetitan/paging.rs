//! List queries, the paged envelope, and a stream over every record of a list.
use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, FuturesOrdered, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::request::TenantClient;

/// ServiceTitan's list envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// 1-based page number.
    #[serde(default)]
    pub page: u32,
    /// Page size the server used (after clamping).
    #[serde(default)]
    pub page_size: u32,
    /// Whether another page follows.
    #[serde(default)]
    pub has_more: bool,
    /// Filled only when `includeTotal=true` was asked for.
    #[serde(default)]
    pub total_count: Option<i64>,
    /// The records.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// The largest page the API serves (API.md §2: assume 5000; larger sizes are clamped).
pub const MAX_PAGE_SIZE: u32 = 5000;
/// The most IDs one `ids` (or `customerIds`) filter may carry.
pub const MAX_IDS: usize = 50;
/// Page size used when none is set.
pub const DEFAULT_PAGE_SIZE: u32 = 200;

/// `active` filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Active {
    /// Only active records (the server default).
    True,
    /// Only inactive records.
    False,
    /// Both.
    Any,
}

/// Filters and page size of a list call. Parameters are sent exactly as named by ServiceTitan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    params: Vec<(String, String)>,
    page_size: u32,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            params: Vec::new(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ListQuery {
    /// No filters, default page size.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records per page (1..=5000).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, MAX_PAGE_SIZE);
        self
    }
    /// Any other query parameter.
    pub fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.params.push((key.to_owned(), value.to_string()));
        self
    }
    /// `ids` (comma list). ServiceTitan answers 400 to more than 50: chunk with
    /// [`MAX_IDS`].
    pub fn ids(self, ids: &[i64]) -> Self {
        debug_assert!(ids.len() <= MAX_IDS, "more than {MAX_IDS} ids in one call");
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        self.param("ids", list)
    }
    /// `modifiedOnOrAfter`, for incremental reads.
    pub fn modified_on_or_after(self, t: DateTime<Utc>) -> Self {
        self.param("modifiedOnOrAfter", iso(t))
    }
    /// `modifiedBefore`.
    pub fn modified_before(self, t: DateTime<Utc>) -> Self {
        self.param("modifiedBefore", iso(t))
    }
    /// `createdOnOrAfter`.
    pub fn created_on_or_after(self, t: DateTime<Utc>) -> Self {
        self.param("createdOnOrAfter", iso(t))
    }
    /// `active`.
    pub fn active(self, a: Active) -> Self {
        let v = match a {
            Active::True => "True",
            Active::False => "False",
            Active::Any => "Any",
        };
        self.param("active", v)
    }
    /// `customerId`.
    pub fn customer_id(self, id: i64) -> Self {
        self.param("customerId", id)
    }
    /// `customerIds` (memberships: a comma list; that endpoint has no `customerId`).
    pub fn customer_ids(self, ids: &[i64]) -> Self {
        debug_assert!(ids.len() <= MAX_IDS, "more than {MAX_IDS} ids in one call");
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        self.param("customerIds", list)
    }
    /// `externalId` (bookings of one booking provider).
    pub fn external_id(self, id: &str) -> Self {
        self.param("externalId", id)
    }
    /// `externalDataApplicationGuid` alone: responses then carry our `externalData` entries
    /// (without it they carry none).
    pub fn external_data_guid(self, application_guid: &str) -> Self {
        self.param("externalDataApplicationGuid", application_guid)
    }
    /// `locationId`.
    pub fn location_id(self, id: i64) -> Self {
        self.param("locationId", id)
    }
    /// `jobId`.
    pub fn job_id(self, id: i64) -> Self {
        self.param("jobId", id)
    }
    /// `jobStatus` (e.g. `Completed`).
    pub fn job_status(self, status: &str) -> Self {
        self.param("jobStatus", status)
    }
    /// `sort`, e.g. `+ModifiedOn`.
    pub fn sort(self, sort: &str) -> Self {
        self.param("sort", sort)
    }
    /// `includeTotal=true`.
    pub fn include_total(self) -> Self {
        if self.params.iter().any(|(k, _)| k == "includeTotal") {
            return self;
        }
        self.param("includeTotal", "true")
    }
    /// The external-data filters: our application GUID, a key, and any of the values.
    pub fn external_data(self, application_guid: &str, key: &str, values: &[&str]) -> Self {
        self.param("externalDataApplicationGuid", application_guid)
            .param("externalDataKey", key)
            .param("externalDataValues", values.join(","))
    }

    /// Whether a parameter is set.
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _)| k == key)
    }

    /// The query string for one page.
    pub(crate) fn for_page(&self, page: u32) -> Vec<(String, String)> {
        let mut q = self.params.clone();
        q.push(("page".into(), page.to_string()));
        q.push(("pageSize".into(), self.page_size.to_string()));
        q
    }
}

impl TenantClient {
    /// One page of a list endpoint.
    pub(crate) async fn page_of<T: DeserializeOwned>(
        &self,
        module: &'static str,
        path: &str,
        query: &ListQuery,
        page: u32,
    ) -> Result<Page<T>, Error> {
        let query = self.with_guid(path, query.clone());
        self.get_json(module, path, &query.for_page(page.max(1)))
            .await
    }

    /// Lists of records that carry `externalData` (customers, locations, jobs) always name our
    /// application GUID: without it ServiceTitan returns none of our entries.
    fn with_guid(&self, path: &str, query: ListQuery) -> ListQuery {
        use super::paths::{CUSTOMERS, JOBS, LOCATIONS};
        if [CUSTOMERS, LOCATIONS, JOBS].contains(&path) && !query.has("externalDataApplicationGuid")
        {
            query.external_data_guid(self.application_guid())
        } else {
            query
        }
    }

    /// Every record of a list endpoint, in order, until `hasMore` is false.
    ///
    /// Page 1 asks for `includeTotal`; when the total is known, up to [`PREFETCH`] later pages
    /// are requested concurrently (still paced by the tenant's limiter), so slow responses do
    /// not cap throughput. Past the announced last page it keeps going one page at a time while
    /// `hasMore` is true. Fails (never silently truncates) when a page cannot be read, or when
    /// the server claims more pages but sends an empty one.
    pub(crate) fn stream_of<T: DeserializeOwned + Send + 'static>(
        &self,
        module: &'static str,
        path: String,
        query: ListQuery,
    ) -> BoxStream<'static, Result<T, Error>> {
        let query = self.with_guid(&path, query);
        let state = Pager {
            client: self.clone(),
            module,
            path: Arc::from(path),
            query: Arc::new(query),
            next: 1,
            last_known: None,
            inflight: FuturesOrdered::new(),
            done: false,
        };
        stream::try_unfold(state, |mut st| async move {
            let Some(p) = st.next_page().await? else {
                return Ok(None);
            };
            Ok(Some((stream::iter(p.data.into_iter().map(Ok)), st)))
        })
        .try_flatten()
        .boxed()
    }
}

/// Pages requested at once when the total is known.
pub const PREFETCH: usize = 8;

type PageFuture<T> = BoxFuture<'static, Result<(u32, Page<T>), Error>>;

struct Pager<T> {
    client: TenantClient,
    module: &'static str,
    path: Arc<str>,
    query: Arc<ListQuery>,
    next: u32,
    last_known: Option<u32>,
    inflight: FuturesOrdered<PageFuture<T>>,
    done: bool,
}

impl<T: DeserializeOwned + Send + 'static> Pager<T> {
    fn launch(&mut self) {
        let (client, module, path, query) = (
            self.client.clone(),
            self.module,
            self.path.clone(),
            self.query.clone(),
        );
        let page = self.next;
        self.next += 1;
        self.inflight.push_back(
            async move {
                let q = if page == 1 {
                    query.as_ref().clone().include_total()
                } else {
                    query.as_ref().clone()
                };
                let p = client.page_of(module, &path, &q, page).await?;
                Ok((page, p))
            }
            .boxed(),
        );
    }

    async fn next_page(&mut self) -> Result<Option<Page<T>>, Error> {
        if self.done {
            return Ok(None);
        }
        while let Some(last) = self.last_known {
            if self.inflight.len() >= PREFETCH || self.next > last {
                break;
            }
            self.launch();
        }
        if self.inflight.is_empty() {
            self.launch();
        }
        let Some(result) = self.inflight.next().await else {
            return Ok(None);
        };
        let (page, p) = result?;
        if page == 1 {
            let size = i64::from(self.query.page_size.max(1));
            self.last_known = p.total_count.map(|t| {
                u32::try_from((t + size - 1) / size)
                    .unwrap_or(u32::MAX)
                    .max(1)
            });
        }
        if p.has_more && p.data.is_empty() {
            return Err(Error::Decode(format!(
                "{}{}: page {page} is empty but hasMore is true",
                self.module, self.path
            )));
        }
        if !p.has_more {
            self.done = true;
            self.inflight = FuturesOrdered::new();
        }
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_carries_filters_and_paging() {
        let t = Utc
            .with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let q = ListQuery::new()
            .page_size(100_000)
            .modified_on_or_after(t)
            .external_data("guid", "tbId", &["a", "b"]);
        let params = q.for_page(3);
        assert!(params.contains(&(
            "modifiedOnOrAfter".into(),
            "2025-03-01T12:00:00.000Z".into()
        )));
        assert!(params.contains(&("externalDataValues".into(), "a,b".into())));
        assert!(params.contains(&("page".into(), "3".into())));
        assert!(params.contains(&("pageSize".into(), "5000".into())));
    }

    #[test]
    fn envelope_tolerates_missing_fields() {
        let p: Page<i64> = serde_json::from_str(r#"{"hasMore":false,"data":[1,2],"extra":1}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.data, vec![1, 2]);
        assert_eq!(p.total_count, None);
    }
}
