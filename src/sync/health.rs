//! Sync health: credential refusals that repeat move the integration to `disconnected` (one
//! transition, one email to the partner's admins with a reconnect link); dead tasks and a
//! growing lag raise ops alerts (an email digest at most once per integration per
//! `sync.alert_every_secs`) and per-integration gauges; old activity rows are pruned.
//!
//! Alerts are derived from the integration and its queue each time, so one incident is one
//! alert however many tasks fail: the console shows the current ones at the top.
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::domain::onboarding::{Event, IntegrationState, transition};
use crate::mail::messages;
use crate::state::AppState;
use crate::store::integrations::{self, Actor, ApplyError, Patch};
use crate::store::platform::{self, Integration};
use crate::store::sync_control::Refusal;
use crate::store::tasks::{self, QueueStats};
use crate::store::{StoreResult, activity, now_ms, outbox, partners, sync_control, users};

use super::SyncContext;

/// Kinds of alert.
pub mod kind {
    /// ServiceTitan refused the credentials; the partner must reconnect.
    pub const DISCONNECTED: &str = "disconnected";
    /// Tasks gave up; replay or retry them.
    pub const DEAD_TASKS: &str = "dead_tasks";
    /// The oldest due task waited longer than `sync.lag_alert_secs`.
    pub const LAG: &str = "lag";
}

/// One current alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// Integration.
    pub integration_id: i64,
    /// Partner.
    pub partner_id: i64,
    /// `disconnected`, `dead_tasks` or `lag`.
    pub kind: String,
    /// What is wrong, for people.
    pub message: String,
}

/// Counts a refusal: the `sync.auth_failures_to_disconnect`-th credential refusal in a row, or
/// as many 403s for a scope (not reset by the calls other modules answer), moves the
/// integration to `disconnected` with the reason and emails the partner's admins. Failures
/// here are logged: the task is retried either way.
pub async fn refused(ctx: &SyncContext, integration: &Integration, reason: &str, refusal: Refusal) {
    if let Err(e) = count_refusal(&ctx.state, integration.id, reason, refusal).await {
        tracing::warn!(integration_id = integration.id, error = %e, "could not record a refusal");
    }
}

async fn count_refusal(
    state: &AppState,
    integration_id: i64,
    reason: &str,
    refusal: Refusal,
) -> Result<(), ApplyError> {
    let db = state.store.db();
    let count = sync_control::refused(db, integration_id, refusal).await?;
    let needed = state.settings.sync.auth_failures_to_disconnect.max(1);
    if count < needed {
        tracing::info!(
            integration_id,
            count,
            needed,
            ?refusal,
            %reason,
            "ServiceTitan refused a call"
        );
        return Ok(());
    }
    let Some(row) = integrations::find(db, integration_id).await? else {
        return Ok(());
    };
    let why = match refusal {
        Refusal::Credentials => format!("{reason} ({count} times in a row)"),
        Refusal::Scope => format!(
            "{reason} ({count} times): the API application lacks a scope; add it in ServiceTitan, then reconnect"
        ),
    };
    let event = Event::credentials_failed(&why);
    let Ok(from) = integrations::state_of(&row) else {
        return Ok(());
    };
    if transition(from, &event).is_err() {
        // Already disconnected (another task got there first) or suspended: nothing to do.
        return Ok(());
    }
    let txn = state.store.begin_write().await?;
    let patch = Patch {
        last_error: Some(Some(why.clone())),
        ..Patch::default()
    };
    match integrations::apply(&txn, &row, &event, &Actor::system(), patch).await {
        Ok(_) => {}
        // Someone else moved it meanwhile: their move stands, and so does their email.
        Err(ApplyError::Stale | ApplyError::Illegal(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_control::refusals_cleared(&txn, integration_id).await?;
    let partner = partners::get(&txn, row.partner_id).await?;
    let link = format!(
        "{}/settings/integrations/servicetitan",
        state.settings.public_url.trim_end_matches('/')
    );
    for admin in users::partner_admins(&txn, row.partner_id).await? {
        let mail = messages::disconnected(
            row.id,
            &admin.email,
            &partner.name,
            row.tenant_id.unwrap_or_default(),
            &why,
            &link,
        );
        outbox::enqueue(&txn, &state.secrets, mail).await?;
    }
    txn.commit().await?;
    state.outbox.wake();
    tracing::warn!(integration_id, reason = %why, "integration disconnected: ServiceTitan refused its credentials");
    Ok(())
}

/// The alerts of one integration from its row and queue figures.
pub fn alerts_of(row: &Integration, stats: Option<&QueueStats>, lag_limit_secs: u64) -> Vec<Alert> {
    let mut out = Vec::new();
    let alert = |kind: &str, message: String| Alert {
        integration_id: row.id,
        partner_id: row.partner_id,
        kind: kind.to_owned(),
        message,
    };
    if row.state == IntegrationState::Disconnected.as_str() {
        let why = row
            .state_reason
            .clone()
            .or_else(|| row.last_error.clone())
            .unwrap_or_else(|| "the credentials were removed".to_owned());
        out.push(alert(kind::DISCONNECTED, format!("disconnected: {why}")));
    }
    if let Some(s) = stats {
        if s.dead > 0 {
            out.push(alert(kind::DEAD_TASKS, format!("{} dead task(s)", s.dead)));
        }
        if s.lag_seconds > lag_limit_secs as i64 {
            out.push(alert(
                kind::LAG,
                format!(
                    "lag {} s (the oldest due task), over the {} s threshold",
                    s.lag_seconds, lag_limit_secs
                ),
            ));
        }
    }
    out
}

/// Every current alert (disconnections first).
pub async fn alerts(state: &AppState) -> StoreResult<Vec<Alert>> {
    let db = state.store.db();
    let stats = tasks::queue_stats(db).await?;
    let mut out: Vec<Alert> = Vec::new();
    for row in platform::all_integrations(db).await? {
        let s = stats.iter().find(|s| s.integration_id == row.id);
        out.extend(alerts_of(&row, s, state.settings.sync.lag_alert_secs));
    }
    out.sort_by_key(|a| (a.kind != kind::DISCONNECTED, a.integration_id));
    Ok(out)
}

/// One round: gauges, the ops digest (dead tasks and lag; at most one per integration per
/// `sync.alert_every_secs`). Returns the digests sent.
pub async fn check(state: &AppState) -> StoreResult<usize> {
    let db = state.store.db();
    let current = alerts(state).await?;
    let gauge = &state.metrics.sync_alerts;
    gauge.reset();
    for a in &current {
        gauge
            .with_label_values(&[a.integration_id.to_string().as_str(), a.kind.as_str()])
            .set(1);
    }
    let every_ms = (state.settings.sync.alert_every_secs as i64).saturating_mul(1000);
    let mut sent = 0;
    let mut ids: Vec<i64> = current
        .iter()
        .filter(|a| a.kind != kind::DISCONNECTED)
        .map(|a| a.integration_id)
        .collect();
    ids.dedup();
    let ops = users::ops_users(db).await?;
    for id in ids {
        let lines: Vec<String> = current
            .iter()
            .filter(|a| a.integration_id == id && a.kind != kind::DISCONNECTED)
            .map(|a| a.message.clone())
            .collect();
        if !sync_control::claim_ops_alert(db, id, every_ms).await? {
            continue;
        }
        let Some(row) = integrations::find(db, id).await? else {
            continue;
        };
        let partner = partners::get(db, row.partner_id).await?;
        let link = format!(
            "{}/ops/integrations/{id}",
            state.settings.public_url.trim_end_matches('/')
        );
        for u in &ops {
            outbox::enqueue(
                db,
                &state.secrets,
                messages::sync_alert(id, &u.email, &partner.name, &lines, &link),
            )
            .await?;
        }
        sent += 1;
    }
    if sent > 0 {
        state.outbox.wake();
    }
    Ok(sent)
}

/// Deletes activity rows older than `sync.activity_retention_days`; returns how many.
pub async fn prune(state: &AppState) -> StoreResult<u64> {
    let days = i64::from(state.settings.sync.activity_retention_days);
    let before = now_ms() - days * 86_400_000;
    activity::prune(state.store.db(), before).await
}

/// The worker's health loop: a check every two seconds, pruning once an hour.
pub(crate) async fn watch(state: AppState) {
    let mut pruned: Option<Instant> = None;
    loop {
        if let Err(e) = check(&state).await {
            tracing::debug!(error = %e, "sync health check failed");
        }
        if pruned.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            match prune(&state).await {
                Ok(n) => {
                    pruned = Some(Instant::now());
                    if n > 0 {
                        tracing::info!(rows = n, "old sync activity pruned");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "activity pruning failed"),
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str) -> Integration {
        Integration {
            id: 7,
            partner_id: 3,
            tenant_id: Some(1),
            environment: "custom".into(),
            state: state.into(),
            client_id: None,
            client_secret_enc: None,
            tag_type_id: None,
            tag_type_name: None,
            credit_field_type_id: None,
            credit_field_name: None,
            campaign_id: None,
            campaign_name: None,
            booking_provider_id: None,
            booking_provider_name: None,
            capacity_enabled: false,
            capacity_mode: None,
            state_reason: Some("token refused (3 times in a row)".into()),
            submitted_at: None,
            last_sync_at: None,
            last_error: None,
            backfill_total: 0,
            backfill_done: 0,
            version: 0,
            sync_paused_at: None,
            sync_paused_by: None,
            last_inbound_at: None,
            auth_failures: 0,
            scope_refusals: 0,
            ops_alert_at: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn one_incident_is_one_alert() {
        let stats = QueueStats {
            integration_id: 7,
            dead: 12,
            lag_seconds: 30,
            ..QueueStats::default()
        };
        let a = alerts_of(&row("active"), Some(&stats), 60);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, kind::DEAD_TASKS);
        assert!(a[0].message.contains("12"));
        let lagging = QueueStats {
            lag_seconds: 61,
            ..stats.clone()
        };
        let kinds: Vec<String> = alerts_of(&row("active"), Some(&lagging), 60)
            .into_iter()
            .map(|a| a.kind)
            .collect();
        assert_eq!(kinds, vec![kind::DEAD_TASKS, kind::LAG]);
        let d = alerts_of(&row("disconnected"), None, 60);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("token refused"));
        assert!(alerts_of(&row("active"), None, 60).is_empty());
    }
}
