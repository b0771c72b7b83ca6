//! Sync figures as the pages show them: the ops console's compact column, the ops
//! integration page's card and the partner's status panel.
use std::collections::HashMap;

use crate::state::AppState;
use crate::store::StoreResult;
use crate::store::entities::integration;
use crate::store::tasks;
use crate::sync::ops::{self, IntegrationSync};

/// One integration's figures in the ops console list.
#[derive(Debug, Clone, Default)]
pub struct SyncCell {
    /// Pending tasks.
    pub queue_depth: i64,
    /// Age of the oldest due task, as text.
    pub lag: String,
    /// Dead tasks.
    pub dead: i64,
    /// Backfill percentage while a backfill is under way.
    pub backfill: Option<u8>,
}

/// `12s`, `4m 05s`, `3h 12m`, `2d 4h`.
pub fn lag_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

/// The backfill's records read and applied, rate and ETA, from the streams' counters (`None`
/// before any stream has read anything).
pub async fn backfill_detail(state: &AppState, integration_id: i64) -> StoreResult<Option<String>> {
    let streams = crate::store::cursors::progress(state.store.db(), integration_id).await?;
    let read: i64 = streams.iter().map(|p| p.read).sum();
    if read == 0 {
        return Ok(None);
    }
    let applied: i64 = streams.iter().map(|p| p.applied).sum();
    let total: i64 = streams.iter().map(|p| p.total).sum();
    let started = streams.iter().filter_map(|p| p.started_at).min();
    let running = streams.iter().any(|p| p.caught_up_at.is_none());
    let ended = streams
        .iter()
        .filter_map(|p| p.caught_up_at)
        .max()
        .filter(|_| !running)
        .unwrap_or_else(chrono::Utc::now);
    let secs = started.map_or(0.0, |s| (ended - s).num_milliseconds().max(1) as f64 / 1e3);
    let rate = if secs > 0.0 { read as f64 / secs } else { 0.0 };
    let mut text = format!("{read} read · {applied} applied · {rate:.0} records/s");
    if running && rate > 0.0 && total > read {
        text.push_str(&format!(
            " · ETA {}",
            lag_text(((total - read) as f64 / rate).ceil() as i64)
        ));
    }
    Ok(Some(text))
}

/// Backfill percentage while one is under way (`None` when there is none or it finished).
pub fn backfill_running(row: &integration::Model) -> Option<u8> {
    let pct = ops::backfill_percent(row.backfill_total, row.backfill_done);
    (row.backfill_total > 0 && pct < 100).then_some(pct)
}

/// The console column for each integration in `rows`, from one grouped query.
pub async fn cells(
    state: &AppState,
    rows: &[integration::Model],
) -> StoreResult<HashMap<i64, SyncCell>> {
    let stats = tasks::queue_stats(state.store.db()).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let s = stats.iter().find(|s| s.integration_id == row.id);
            let cell = SyncCell {
                queue_depth: s.map_or(0, |s| s.pending),
                lag: lag_text(s.map_or(0, |s| s.lag_seconds)),
                dead: s.map_or(0, |s| s.dead),
                backfill: backfill_running(row),
            };
            (row.id, cell)
        })
        .collect())
}

/// What the partner's status panel shows about sync.
#[derive(Debug, Clone, Default)]
pub struct PartnerSync {
    /// Backfill percentage while a backfill is under way.
    pub backfill: Option<u8>,
    /// Whether a backfill ran to the end.
    pub backfill_complete: bool,
    /// Records read and applied, rate and ETA.
    pub backfill_detail: Option<String>,
    /// Dead tasks (updates that need attention).
    pub dead: i64,
    /// The newest dead task's error (a ServiceTitan message; never a secret).
    pub newest_error: Option<String>,
}

impl PartnerSync {
    /// The panel's figures for this (already authorised) integration.
    pub async fn load(state: &AppState, row: &integration::Model) -> StoreResult<PartnerSync> {
        let dead = tasks::list(state.store.db(), row.id, tasks::state::DEAD, 1).await?;
        let count = if dead.is_empty() {
            0
        } else {
            tasks::queue_stats(state.store.db())
                .await?
                .iter()
                .find(|s| s.integration_id == row.id)
                .map_or(0, |s| s.dead)
        };
        Ok(PartnerSync {
            backfill: backfill_running(row),
            backfill_complete: row.backfill_total > 0 && backfill_running(row).is_none(),
            backfill_detail: backfill_detail(state, row.id).await?,
            dead: count,
            newest_error: dead.into_iter().next().and_then(|t| t.last_error),
        })
    }
}

/// The ops integration page's Sync card.
pub struct SyncCard {
    /// Figures and dead tasks.
    pub sync: IntegrationSync,
    /// Lag as text.
    pub lag: String,
    /// Whether a backfill was ever planned (`backfill_total > 0`).
    pub has_backfill: bool,
    /// Records read and applied, rate and ETA.
    pub backfill_detail: Option<String>,
}

impl SyncCard {
    /// The card for one integration.
    pub async fn load(state: &AppState, row: &integration::Model) -> StoreResult<SyncCard> {
        let sync = ops::overview(state, Some(row.id))
            .await?
            .pop()
            .unwrap_or_else(|| empty(row));
        Ok(SyncCard {
            lag: lag_text(sync.lag_seconds),
            has_backfill: row.backfill_total > 0,
            backfill_detail: backfill_detail(state, row.id).await?,
            sync,
        })
    }
}

fn empty(row: &integration::Model) -> IntegrationSync {
    IntegrationSync {
        integration_id: row.id,
        partner_id: row.partner_id,
        state: row.state.clone(),
        lag_seconds: 0,
        queue_depth: 0,
        running: 0,
        failures: 0,
        dead: 0,
        done: 0,
        backfill_percent: ops::backfill_percent(row.backfill_total, row.backfill_done),
        dead_tasks: vec![],
        failing_tasks: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::lag_text;

    #[test]
    fn lag_reads_naturally() {
        assert_eq!(lag_text(-3), "0s");
        assert_eq!(lag_text(42), "42s");
        assert_eq!(lag_text(245), "4m 05s");
        assert_eq!(lag_text(3 * 3600 + 12 * 60 + 9), "3h 12m");
        assert_eq!(lag_text(2 * 86400 + 4 * 3600), "2d 4h");
    }
}
