//! Inbound sync per integration and stream, through ServiceTitan's export feeds (API.md §2.2).
//!
//! Each stream reads its feed from the stored `continueFrom` token (the start of the feed on the
//! first pass: that pass is the backfill). A batch's effects, its `inbound_seen` rows (ID +
//! `modifiedOn`, so a repeated record is never applied twice) and the new token commit in one
//! transaction, so a crash resumes exactly after the last committed batch. Once a stream has
//! caught up (`hasMore: false`), later polls ask for `includeRecentChanges`, so changes arrive
//! without the feed's 15-minute delay; the repeats that brings are deduplicated. Exports carry
//! inactive and deleted records with `active: false`.
//!
//! [`Inbound::PageList`] keeps the older way (page lists by `modifiedOnOrAfter` with
//! `sort=+ModifiedOn` and an overlap) for feeds without an export; every stream titanbridge
//! reads has one, so it serves only as the benchmark's comparison.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::servicetitan::{Active, ExportFrom, ExportPage, Exported, ListQuery, TenantClient};
use crate::state::AppState;
use crate::store::cursors::{self, Cursor};
use crate::store::platform;

use super::error::{HandlerError, SyncError};
use super::handlers::Run;
use super::inbound::{self, Change, Record, Scope};
use super::{SyncContext, WorkerOptions, client_for};

/// The inbound streams (each is an export feed).
pub const STREAMS: [&str; 6] = [
    "jobs",
    "appointments",
    "invoices",
    "memberships",
    "locations",
    "bookings",
];

/// How inbound changes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Inbound {
    /// Export feeds with continuation tokens (the default).
    #[default]
    Export,
    /// Page lists by `modifiedOnOrAfter`, sorted by `modifiedOn`, with an overlap.
    PageList,
}

/// What a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOutcome {
    /// Records read.
    pub read: usize,
    /// Records whose effects were applied (not seen before).
    pub applied: usize,
    /// Whether more can be read right away.
    pub more: bool,
}

/// One export batch, decoded into changes.
struct Batch {
    changes: Vec<Change>,
    token: String,
    more: bool,
}

fn changes<T>(page: ExportPage<T>, wrap: fn(T) -> Record) -> Batch {
    Batch {
        changes: page
            .data
            .into_iter()
            .map(|Exported { record, active }| Change {
                record: wrap(record),
                active,
            })
            .collect(),
        token: page.continue_from,
        more: page.has_more,
    }
}

async fn fetch_export(
    client: &TenantClient,
    stream: &str,
    from: &ExportFrom,
    recent: bool,
) -> Result<Batch, HandlerError> {
    Ok(match stream {
        "jobs" => changes(client.export_jobs(from, recent).await?, Record::Job),
        "appointments" => changes(
            client.export_appointments(from, recent).await?,
            Record::Appointment,
        ),
        "invoices" => changes(client.export_invoices(from, recent).await?, Record::Invoice),
        "memberships" => changes(
            client.export_memberships(from, recent).await?,
            Record::Membership,
        ),
        "locations" => changes(
            client.export_locations(from, recent).await?,
            Record::Location,
        ),
        "bookings" => changes(client.export_bookings(from, recent).await?, Record::Booking),
        other => return Err(HandlerError::Permanent(format!("unknown stream '{other}'"))),
    })
}

fn from_of(cursor: &Cursor) -> ExportFrom {
    cursor
        .feed_token
        .clone()
        .map_or(ExportFrom::Start, ExportFrom::Token)
}

/// Commits one batch: effects, seen rows, token and counters in one transaction.
async fn commit_batch(
    state: &AppState,
    scope: &Scope,
    stream: &str,
    watermark: Option<DateTime<Utc>>,
    batch: &Batch,
) -> Result<PageOutcome, HandlerError> {
    let iid = scope.integration_id;
    let txn = state.store.begin_write().await?;
    let (out, effects) = inbound::apply_batch(&txn, scope, stream, &batch.changes).await?;
    record_inbound(state, &txn, iid, effects).await?;
    let caught_up = (!batch.more).then(Utc::now);
    let next = Cursor {
        watermark: watermark.or(caught_up),
        continue_from: None,
        feed_token: Some(batch.token.clone()),
    };
    cursors::save(&txn, iid, stream, &next).await?;
    if watermark.is_none() {
        let (read, applied) = (out.read as i64, out.applied as i64);
        cursors::add_progress(&txn, iid, stream, read, applied).await?;
        platform::add_backfill_progress(&txn, iid, 0, read).await?;
    }
    txn.commit().await?;
    Ok(PageOutcome {
        read: out.read,
        applied: out.applied,
        more: batch.more,
    })
}

async fn scope_of(
    state: &AppState,
    integration_id: i64,
    partner_id: i64,
) -> Result<Scope, HandlerError> {
    Ok(Scope {
        integration_id,
        partner_id,
        eligible: platform::eligible_service_ids(state.store.db(), integration_id).await?,
    })
}

/// Reads and applies the next batch of `stream` for the run's integration (one worker task).
pub(crate) async fn run_page(job: &Run<'_>, stream: &str) -> Result<PageOutcome, HandlerError> {
    let state = &job.ctx.state;
    let iid = job.integration.id;
    let scope = scope_of(state, iid, job.integration.partner_id).await?;
    if job.ctx.opts.inbound == Inbound::PageList {
        return list_page_once(state, &job.ctx.opts, &job.client, &scope, stream).await;
    }
    let cursor = cursors::get(state.store.db(), iid, stream).await?;
    let recent = cursor.watermark.is_some();
    let batch = fetch_export(&job.client, stream, &from_of(&cursor), recent).await?;
    commit_batch(state, &scope, stream, cursor.watermark, &batch).await
}

/// How far a backfill has come (all streams together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackfillProgress {
    /// Records read.
    pub read: u64,
    /// Records applied (new ID + `modifiedOn`).
    pub applied: u64,
    /// Estimated records in all streams (ServiceTitan's list totals at the start; 0 unknown).
    pub total: u64,
    /// Since the run started.
    pub elapsed: Duration,
}

impl BackfillProgress {
    /// Records read per second.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.read as f64 / s } else { 0.0 }
    }

    /// Estimated time to go, when the total and a rate are known.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (self.total > 0 && rate > 0.0)
            .then(|| Duration::from_secs_f64(self.total.saturating_sub(self.read) as f64 / rate))
    }
}

#[derive(Default)]
struct Counters {
    read: AtomicU64,
    applied: AtomicU64,
    total: AtomicU64,
}

/// ServiceTitan's count of a stream's records (one call, `pageSize=1&includeTotal=true`), for
/// progress and ETA only.
async fn estimate(client: &TenantClient, stream: &str) -> i64 {
    let q = ListQuery::new().page_size(1).include_total();
    let any = q.clone().active(Active::Any);
    let total = match stream {
        "jobs" => client.jobs_page(&q, 1).await.map(|p| p.total_count),
        "appointments" => client
            .appointments_page(&any, 1)
            .await
            .map(|p| p.total_count),
        "invoices" => client.invoices_page(&q, 1).await.map(|p| p.total_count),
        "memberships" => client
            .memberships_page(&any, 1)
            .await
            .map(|p| p.total_count),
        "locations" => client.locations_page(&any, 1).await.map(|p| p.total_count),
        "bookings" => client.bookings_page(&q, 1).await.map(|p| p.total_count),
        _ => Ok(None),
    };
    total.ok().flatten().unwrap_or(0)
}

/// Reads one stream's feed to its end, fetching the next batch while the current one is
/// applied (the token for the next call comes with each answer, so one fetch runs ahead).
async fn backfill_stream(
    state: AppState,
    client: TenantClient,
    scope: Arc<Scope>,
    stream: &'static str,
    counters: Arc<Counters>,
) -> Result<(), SyncError> {
    let db = state.store.db();
    let iid = scope.integration_id;
    let cursor = cursors::get(db, iid, stream).await?;
    if cursor.watermark.is_some() {
        return Ok(());
    }
    let spawn_fetch = |from: ExportFrom| {
        let client = client.clone();
        tokio::spawn(async move {
            let r = fetch_export(&client, stream, &from, false).await;
            (from, r)
        })
    };
    // The first batch is on its way while the stream's size is estimated.
    let mut pending = spawn_fetch(from_of(&cursor));
    if cursor.feed_token.is_none() {
        let total = estimate(&client, stream).await;
        cursors::start_pass(db, iid, stream, total).await?;
        platform::add_backfill_progress(db, iid, total, 0).await?;
    }
    let done = cursors::progress(db, iid)
        .await?
        .into_iter()
        .find(|p| p.stream == stream)
        .unwrap_or_default();
    counters
        .total
        .fetch_add(done.total.max(0) as u64, Ordering::Relaxed);
    let mut failures = 0;
    loop {
        let (from, result) = pending
            .await
            .map_err(|e| SyncError::Backfill(format!("{stream}: {e}")))?;
        let batch = match result {
            Ok(b) => b,
            Err(HandlerError::Retry { reason, after }) if failures < 10 => {
                failures += 1;
                tracing::warn!(stream, %reason, "backfill fetch failed; retrying");
                tokio::time::sleep(after.unwrap_or(Duration::from_secs(1))).await;
                pending = spawn_fetch(from);
                continue;
            }
            Err(e) => return Err(SyncError::Backfill(format!("{stream}: {e}"))),
        };
        failures = 0;
        // Read ahead: the next batch is on its way while this one is applied.
        let next = batch
            .more
            .then(|| spawn_fetch(ExportFrom::Token(batch.token.clone())));
        let mut attempts = 0;
        let out = loop {
            match commit_batch(&state, &scope, stream, None, &batch).await {
                Ok(out) => break out,
                Err(HandlerError::Retry { reason, after }) if attempts < 10 => {
                    attempts += 1;
                    tracing::warn!(stream, %reason, "backfill commit failed; retrying");
                    tokio::time::sleep(after.unwrap_or(Duration::from_millis(200))).await;
                }
                Err(e) => return Err(SyncError::Backfill(format!("{stream}: {e}"))),
            }
        };
        counters.read.fetch_add(out.read as u64, Ordering::Relaxed);
        counters
            .applied
            .fetch_add(out.applied as u64, Ordering::Relaxed);
        match next {
            Some(n) => pending = n,
            None => return Ok(()),
        }
    }
}

/// Runs (or resumes) the backfill of one integration to the end: every stream that has not
/// caught up yet reads its export feed, all streams at once, each with one batch read ahead.
/// `progress` is called about four times a second and at the end. Restartable: the token
/// committed with each batch is where a rerun resumes.
pub async fn run_backfill<F>(
    state: AppState,
    integration_id: i64,
    progress: F,
) -> Result<(), SyncError>
where
    F: FnMut(&BackfillProgress),
{
    run_backfill_with(state, integration_id, Inbound::Export, progress).await
}

/// [`run_backfill`] through export feeds or, for comparison, through page lists (one page of
/// 200 after the other, stream after stream, as titanbridge did before the feeds).
pub async fn run_backfill_with<F>(
    state: AppState,
    integration_id: i64,
    inbound: Inbound,
    mut progress: F,
) -> Result<(), SyncError>
where
    F: FnMut(&BackfillProgress),
{
    let opts = WorkerOptions::from_settings(&state.settings.worker);
    let ctx = SyncContext::new(state.clone(), opts)?;
    let db = state.store.db();
    let integration = crate::store::integrations::find(db, integration_id)
        .await?
        .ok_or_else(|| SyncError::Integration {
            id: integration_id,
            reason: "not found".into(),
        })?;
    let client = client_for(&ctx, &integration).map_err(|e| SyncError::Integration {
        id: integration_id,
        reason: e.to_string(),
    })?;
    let scope = Arc::new(
        scope_of(&state, integration_id, integration.partner_id)
            .await
            .map_err(|e| SyncError::Backfill(e.to_string()))?,
    );
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    if inbound == Inbound::PageList {
        let opts = WorkerOptions::from_settings(&state.settings.worker);
        for stream in STREAMS {
            loop {
                let out = list_page_once(&state, &opts, &client, &scope, stream)
                    .await
                    .map_err(|e| SyncError::Backfill(format!("{stream}: {e}")))?;
                counters.read.fetch_add(out.read as u64, Ordering::Relaxed);
                counters
                    .applied
                    .fetch_add(out.applied as u64, Ordering::Relaxed);
                if !out.more {
                    break;
                }
            }
        }
        progress(&BackfillProgress {
            read: counters.read.load(Ordering::Relaxed),
            applied: counters.applied.load(Ordering::Relaxed),
            total: 0,
            elapsed: started.elapsed(),
        });
        return Ok(());
    }
    let work = futures::future::try_join_all(STREAMS.into_iter().map(|s| {
        backfill_stream(
            state.clone(),
            client.clone(),
            scope.clone(),
            s,
            counters.clone(),
        )
    }));
    tokio::pin!(work);
    let snapshot = |c: &Counters| BackfillProgress {
        read: c.read.load(Ordering::Relaxed),
        applied: c.applied.load(Ordering::Relaxed),
        total: c.total.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            r = &mut work => {
                progress(&snapshot(&counters));
                return r.map(|_| ());
            }
            _ = tick.tick() => progress(&snapshot(&counters)),
        }
    }
}

// --- page lists (no export feed) ---

/// Progress of a page-list pass, kept in the cursor's `continue_from`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pass {
    /// Next page to read (1-based).
    page: u32,
    /// Lower bound of `modifiedOn` for this pass (`None`: backfill).
    since: Option<DateTime<Utc>>,
    /// When the pass started (becomes the watermark).
    started: DateTime<Utc>,
}

async fn fetch_list(
    client: &TenantClient,
    stream: &str,
    query: &ListQuery,
    page: u32,
) -> Result<(Vec<Change>, bool), HandlerError> {
    macro_rules! get {
        ($method:ident, $variant:ident) => {{
            let p = client.$method(query, page).await?;
            let more = p.has_more;
            let changes = p
                .data
                .into_iter()
                .map(|r| Change {
                    record: Record::$variant(r),
                    active: true,
                })
                .collect();
            (changes, more)
        }};
    }
    Ok(match stream {
        "jobs" => get!(jobs_page, Job),
        "appointments" => get!(appointments_page, Appointment),
        "invoices" => get!(invoices_page, Invoice),
        "memberships" => get!(memberships_page, Membership),
        "locations" => get!(locations_page, Location),
        "bookings" => get!(bookings_page, Booking),
        other => return Err(HandlerError::Permanent(format!("unknown stream '{other}'"))),
    })
}

/// One page of a page-list pass: records modified on or after `watermark − overlap`, in
/// `modifiedOn` order (`sort=+ModifiedOn`), so the pass moves with the changes; the overlap and
/// the seen rows make a record that moved pages mid-pass arrive once.
async fn list_page_once(
    state: &AppState,
    opts: &WorkerOptions,
    client: &TenantClient,
    scope: &Scope,
    stream: &str,
) -> Result<PageOutcome, HandlerError> {
    let db = state.store.db();
    let iid = scope.integration_id;
    let cursor = cursors::get(db, iid, stream).await?;
    let mut pass = match cursor
        .continue_from
        .as_deref()
        .map(serde_json::from_str::<Pass>)
    {
        Some(Ok(p)) => p,
        _ => Pass {
            page: 1,
            since: cursor
                .watermark
                .map(|w| w - chrono::Duration::from_std(opts.poll_overlap).unwrap_or_default()),
            started: Utc::now(),
        },
    };
    let mut query = ListQuery::new()
        .page_size(opts.page_size)
        .sort("+ModifiedOn");
    if matches!(stream, "locations" | "memberships" | "appointments") {
        query = query.active(Active::Any);
    }
    if let Some(since) = pass.since {
        query = query.modified_on_or_after(since);
    }
    let (records, more) = fetch_list(client, stream, &query, pass.page).await?;
    let txn = state.store.begin_write().await?;
    let (out, effects) = inbound::apply_batch(&txn, scope, stream, &records).await?;
    record_inbound(state, &txn, scope.integration_id, effects).await?;
    let next = if more {
        pass.page += 1;
        Cursor {
            watermark: cursor.watermark,
            continue_from: Some(serde_json::to_string(&pass).unwrap_or_default()),
            feed_token: None,
        }
    } else {
        Cursor {
            watermark: Some(pass.started),
            continue_from: None,
            feed_token: None,
        }
    };
    cursors::save(&txn, iid, stream, &next).await?;
    if pass.since.is_none() {
        let read = records.len() as i64;
        platform::add_backfill_progress(&txn, iid, read, read).await?;
    }
    txn.commit().await?;
    Ok(PageOutcome {
        read: out.read,
        applied: out.applied,
        more,
    })
}

/// The batch's effects go to the activity log with the batch (same transaction), and the batch
/// counts as the integration's last inbound sync.
async fn record_inbound<C: sea_orm::ConnectionTrait>(
    state: &crate::state::AppState,
    txn: &C,
    integration_id: i64,
    effects: Vec<crate::store::activity::NewActivity>,
) -> crate::store::StoreResult<()> {
    if state.settings.sync.activity_log && !effects.is_empty() {
        crate::store::activity::record(txn, integration_id, None, 0, effects).await?;
    }
    crate::store::sync_control::touch_inbound(txn, integration_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_the_rate() {
        let p = BackfillProgress {
            read: 1_000,
            applied: 900,
            total: 5_000,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(p.rate(), 500.0);
        assert_eq!(p.eta(), Some(Duration::from_secs(8)));
        assert_eq!(BackfillProgress { total: 0, ..p }.eta(), None);
    }
}
