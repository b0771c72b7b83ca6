//! ServiceTitan's export (change-feed) endpoints (API.md §2.2): `GET /{module}/v2/tenant/{t}/
//! export/{feed}?from=…&includeRecentChanges=…`, answered with `{hasMore, continueFrom, data}`.
//!
//! There is no page size: the server picks the batch. `continueFrom` is stored as the stream's
//! cursor once the batch's effects are committed; `hasMore: false` means caught up (call again
//! in a few minutes). With `includeRecentChanges` the same records may come again: dedupe by
//! `id` + `modifiedOn`.
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::paths::{self, ACCOUNTING, CRM, JPM, MEMBERSHIPS};
use super::request::TenantClient;
use super::{Appointment, Booking, CustomerMembership, Invoice, Job, Location};

/// Where an export call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFrom {
    /// The very beginning of the feed.
    Start,
    /// Records modified on or after this date.
    Date(NaiveDate),
    /// A `continueFrom` token from an earlier answer.
    Token(String),
}

/// One export answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportPage<T> {
    /// Whether more records can be read right away.
    pub has_more: bool,
    /// Where the next call starts.
    pub continue_from: String,
    /// The batch, usually in `modifiedOn` order.
    #[serde(default = "Vec::new")]
    pub data: Vec<Exported<T>>,
}

fn yes() -> bool {
    true
}

/// An exported record: the record plus `active` (`false` for inactive and deleted records).
/// Read `active` here: a record type with its own `active` field does not get it filled (the
/// flattened record sees only the keys this wrapper leaves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exported<T> {
    /// The record.
    #[serde(flatten)]
    pub record: T,
    /// Active (deleted and deactivated records are exported too, with `false`).
    #[serde(default = "yes")]
    pub active: bool,
}

/// The export feeds titanbridge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// `jpm/export/jobs`.
    Jobs,
    /// `jpm/export/appointments`.
    Appointments,
    /// `accounting/export/invoices` (with items).
    Invoices,
    /// `memberships/export/memberships`.
    Memberships,
    /// `crm/export/locations`.
    Locations,
    /// `crm/export/bookings`.
    Bookings,
    /// `crm/export/customers`.
    Customers,
    /// `jpm/export/job-notes` (the only place a note has an ID).
    JobNotes,
    /// `accounting/export/invoice-items`.
    InvoiceItems,
}

impl Feed {
    /// Every feed the client knows.
    pub const ALL: [Feed; 9] = [
        Feed::Jobs,
        Feed::Appointments,
        Feed::Invoices,
        Feed::Memberships,
        Feed::Locations,
        Feed::Bookings,
        Feed::Customers,
        Feed::JobNotes,
        Feed::InvoiceItems,
    ];

    /// (module, path below the tenant).
    pub fn path(self) -> (&'static str, &'static str) {
        match self {
            Feed::Jobs => (JPM, paths::EXPORT_JOBS),
            Feed::Appointments => (JPM, paths::EXPORT_APPOINTMENTS),
            Feed::Invoices => (ACCOUNTING, paths::EXPORT_INVOICES),
            Feed::Memberships => (MEMBERSHIPS, paths::EXPORT_MEMBERSHIPS),
            Feed::Locations => (CRM, paths::EXPORT_LOCATIONS),
            Feed::Bookings => (CRM, paths::EXPORT_BOOKINGS),
            Feed::Customers => (CRM, paths::EXPORT_CUSTOMERS),
            Feed::JobNotes => (JPM, paths::EXPORT_JOB_NOTES),
            Feed::InvoiceItems => (ACCOUNTING, paths::EXPORT_INVOICE_ITEMS),
        }
    }
}

fn query(from: &ExportFrom, include_recent: bool) -> Vec<(String, String)> {
    let mut q = Vec::new();
    match from {
        ExportFrom::Start => {}
        ExportFrom::Date(d) => q.push(("from".to_owned(), d.format("%Y-%m-%d").to_string())),
        ExportFrom::Token(t) => q.push(("from".to_owned(), t.clone())),
    }
    if include_recent {
        q.push(("includeRecentChanges".to_owned(), "true".to_owned()));
    }
    q
}

impl TenantClient {
    /// One export call on `feed`, decoded as `T`.
    pub async fn export<T: DeserializeOwned>(
        &self,
        feed: Feed,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<T>, Error> {
        let (module, path) = feed.path();
        self.get_json(module, path, &query(from, include_recent))
            .await
    }

    /// `export/jobs`.
    pub async fn export_jobs(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<Job>, Error> {
        self.export(Feed::Jobs, from, include_recent).await
    }

    /// `export/appointments`.
    pub async fn export_appointments(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<Appointment>, Error> {
        self.export(Feed::Appointments, from, include_recent).await
    }

    /// `export/invoices`.
    pub async fn export_invoices(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<Invoice>, Error> {
        self.export(Feed::Invoices, from, include_recent).await
    }

    /// `export/memberships`.
    pub async fn export_memberships(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<CustomerMembership>, Error> {
        self.export(Feed::Memberships, from, include_recent).await
    }

    /// `export/locations`.
    pub async fn export_locations(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<Location>, Error> {
        self.export(Feed::Locations, from, include_recent).await
    }

    /// `export/bookings`.
    pub async fn export_bookings(
        &self,
        from: &ExportFrom,
        include_recent: bool,
    ) -> Result<ExportPage<Booking>, Error> {
        self.export(Feed::Bookings, from, include_recent).await
    }
}
