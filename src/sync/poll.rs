//! Inbound polling per integration and stream, one page per task run.
//!
//! A pass reads every record modified on or after `watermark − overlap` (no filter on the
//! first pass: that pass is the backfill), page by page in the server's default (ID) order,
//! which modifications do not reorder. Each page's effects, its `inbound_seen` rows (ID +
//! modifiedOn, so the overlap never applies a change twice) and the cursor's progress commit in
//! one transaction; a crash replays at most the uncommitted page. When the pass ends, the
//! watermark becomes the pass's start time.
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::servicetitan::{Active, ListQuery, TenantClient};
use crate::state::AppState;
use crate::store::cursors::{self, Cursor};
use crate::store::platform;

use super::error::{HandlerError, SyncError};
use super::handlers::Run;
use super::inbound::{self, Record, Scope};
use super::{SyncContext, WorkerOptions, client_for};

/// The inbound streams.
pub const STREAMS: [&str; 5] = [
    "jobs",
    "appointments",
    "invoices",
    "memberships",
    "locations",
];

/// Progress of a pass, kept in the cursor's `continue_from`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Pass {
    /// Next page to read (1-based).
    page: u32,
    /// Lower bound of `modifiedOn` for this pass (`None`: backfill).
    since: Option<DateTime<Utc>>,
    /// When the pass started (becomes the watermark).
    started: DateTime<Utc>,
    /// Records in the pass, when the server said (backfill progress).
    total: Option<i64>,
    /// Records read so far.
    done: i64,
}

/// What a page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOutcome {
    /// Records read.
    pub read: usize,
    /// Records whose effects were applied (not seen before).
    pub applied: usize,
    /// Whether the pass continues.
    pub more: bool,
}

async fn fetch(
    client: &TenantClient,
    stream: &str,
    query: &ListQuery,
    page: u32,
) -> Result<(Vec<Record>, bool, Option<i64>), HandlerError> {
    macro_rules! get {
        ($method:ident, $variant:ident) => {{
            let p = client.$method(query, page).await?;
            (
                p.data.into_iter().map(Record::$variant).collect(),
                p.has_more,
                p.total_count,
            )
        }};
    }
    Ok(match stream {
        "jobs" => get!(jobs_page, Job),
        "appointments" => get!(appointments_page, Appointment),
        "invoices" => get!(invoices_page, Invoice),
        "memberships" => get!(memberships_page, Membership),
        "locations" => get!(locations_page, Location),
        other => return Err(HandlerError::Permanent(format!("unknown stream '{other}'"))),
    })
}

/// Reads and applies the next page of `stream` for the run's integration.
pub(crate) async fn run_page(job: &Run<'_>, stream: &str) -> Result<PageOutcome, HandlerError> {
    page_once(
        &job.ctx.state,
        &job.ctx.opts,
        &job.client,
        job.integration.id,
        job.integration.partner_id,
        stream,
    )
    .await
}

async fn page_once(
    state: &AppState,
    opts: &WorkerOptions,
    client: &TenantClient,
    integration_id: i64,
    partner_id: i64,
    stream: &str,
) -> Result<PageOutcome, HandlerError> {
    let db = state.store.db();
    let cursor = cursors::get(db, integration_id, stream).await?;
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
            total: None,
            done: 0,
        },
    };
    let mut query = ListQuery::new().page_size(opts.page_size);
    if matches!(stream, "locations" | "memberships") {
        query = query.active(Active::Any);
    }
    if let Some(since) = pass.since {
        query = query.modified_on_or_after(since);
    } else if pass.page == 1 {
        query = query.include_total();
    }
    let (records, more, total) = fetch(client, stream, &query, pass.page).await?;
    let scope = Scope {
        integration_id,
        partner_id,
        eligible: platform::eligible_service_ids(db, integration_id).await?,
    };
    let txn = crate::store::tasks::begin_write(db).await?;
    let mut applied = 0;
    let mut effects = Vec::new();
    for r in &records {
        if cursors::mark_seen(&txn, integration_id, stream, r.id(), &r.modified_on()).await? {
            effects.extend(inbound::apply(&txn, &scope, r).await?);
            applied += 1;
        }
    }
    // Issue 16: the page's effects go to the activity log with the page, and the page counts
    // as the integration's last inbound sync.
    if state.settings.sync.activity_log {
        crate::store::activity::record(&txn, integration_id, None, 0, effects).await?;
    }
    crate::store::sync_control::touch_inbound(&txn, integration_id).await?;
    pass.done += records.len() as i64;
    if total.is_some() {
        pass.total = total;
    }
    let next = if more {
        pass.page += 1;
        Cursor {
            watermark: cursor.watermark,
            continue_from: Some(serde_json::to_string(&pass).unwrap_or_default()),
        }
    } else {
        Cursor {
            watermark: Some(pass.started),
            continue_from: None,
        }
    };
    cursors::save(&txn, integration_id, stream, &next).await?;
    if pass.since.is_none() {
        // Backfill progress: the server's total when it gave one (first page), else what
        // was read so far.
        let read = records.len() as i64;
        let add_total = match total {
            Some(t) => t,
            None if pass.total.is_none() => read,
            None => 0,
        };
        platform::add_backfill_progress(&txn, integration_id, add_total, read).await?;
    }
    txn.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(PageOutcome {
        read: records.len(),
        applied,
        more,
    })
}

/// Runs (or resumes) the backfill of one integration to the end: every stream without a
/// watermark is read page by page. `progress(done, total)` is called after each page.
/// Restartable: the cursor saved with each page is where a rerun resumes.
pub async fn run_backfill<F>(
    state: AppState,
    integration_id: i64,
    mut progress: F,
) -> Result<(), SyncError>
where
    F: FnMut(u64, u64),
{
    let opts = WorkerOptions::from_settings(&state.settings.worker);
    let ctx = SyncContext::new(state.clone(), opts.clone())?;
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
    let mut done_total = 0u64;
    for stream in STREAMS {
        let c = cursors::get(db, integration_id, stream).await?;
        if c.watermark.is_some() && c.continue_from.is_none() {
            continue;
        }
        let mut failures = 0;
        loop {
            match page_once(
                &state,
                &opts,
                &client,
                integration_id,
                integration.partner_id,
                stream,
            )
            .await
            {
                Ok(out) => {
                    failures = 0;
                    done_total += out.read as u64;
                    let total = crate::store::integrations::find(db, integration_id)
                        .await?
                        .map(|i| i.backfill_total.max(0) as u64)
                        .unwrap_or(0);
                    progress(done_total, total.max(done_total));
                    if !out.more {
                        break;
                    }
                }
                Err(HandlerError::Retry { reason, after }) if failures < 10 => {
                    failures += 1;
                    tracing::warn!(stream, %reason, "backfill page failed; retrying");
                    tokio::time::sleep(after.unwrap_or(Duration::from_secs(1))).await;
                }
                Err(e) => return Err(SyncError::Backfill(format!("{stream}: {e}"))),
            }
        }
    }
    Ok(())
}
