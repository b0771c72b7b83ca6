//! The per-integration activity log: one row per outbound write to ServiceTitan (what, for
//! which member and location, the ServiceTitan ID, the fields before → after where known, the
//! result and the attempt) and per inbound effect. Never a secret or a token: rows carry IDs,
//! our own field values and error texts made by our client (which never include credentials).
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;

use super::entities::sync_activity;
use super::{StoreResult, now_ms};

/// A log row.
pub type Activity = sync_activity::Model;

/// Directions.
pub mod direction {
    /// A write to ServiceTitan.
    pub const OUT: &str = "out";
    /// An effect of something read from ServiceTitan.
    pub const IN: &str = "in";
}

/// Results.
pub mod result {
    /// Written (or found already in place).
    pub const OK: &str = "ok";
    /// Failed; the task will try again.
    pub const RETRY: &str = "retry";
    /// Failed for good (the task is dead); replayable from the log.
    pub const FAILED: &str = "failed";
}

/// One field written: what it was and what we made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Before (when known).
    pub before: Option<String>,
    /// After.
    pub after: Option<String>,
}

/// A row to add.
#[derive(Debug, Clone, Default)]
pub struct NewActivity {
    /// `out` or `in`.
    pub direction: &'static str,
    /// What was written (`customer`, `credit_balance`, …) or what happened inbound.
    pub kind: &'static str,
    /// Our member.
    pub member_id: Option<i64>,
    /// Our service location.
    pub location_id: Option<i64>,
    /// The ServiceTitan record.
    pub st_id: Option<i64>,
    /// Fields written, before → after.
    pub fields: Vec<(&'static str, Change)>,
    /// `ok`, `retry` or `failed`.
    pub result: &'static str,
    /// The error, when not ok.
    pub error: Option<String>,
}

impl NewActivity {
    /// A successful outbound write.
    pub fn wrote(kind: &'static str, st_id: Option<i64>) -> NewActivity {
        NewActivity {
            direction: direction::OUT,
            kind,
            st_id,
            result: result::OK,
            ..NewActivity::default()
        }
    }

    /// An inbound effect.
    pub fn inbound(kind: &'static str, st_id: Option<i64>) -> NewActivity {
        NewActivity {
            direction: direction::IN,
            kind,
            st_id,
            result: result::OK,
            ..NewActivity::default()
        }
    }

    /// For this member.
    pub fn member(mut self, id: i64) -> Self {
        self.member_id = Some(id);
        self
    }

    /// At this location.
    pub fn location(mut self, id: Option<i64>) -> Self {
        self.location_id = id;
        self
    }

    /// With a field written.
    pub fn field(
        mut self,
        name: &'static str,
        before: Option<impl Into<String>>,
        after: Option<impl Into<String>>,
    ) -> Self {
        self.fields.push((
            name,
            Change {
                before: before.map(Into::into),
                after: after.map(Into::into),
            },
        ));
        self
    }
}

fn fields_json(fields: &[(&'static str, Change)]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, c)| {
            (
                (*k).to_owned(),
                serde_json::json!({"before": c.before, "after": c.after}),
            )
        })
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

/// The log rows of one task run.
#[derive(Debug, Clone, Default)]
pub struct TaskActivity {
    /// Integration.
    pub integration_id: i64,
    /// The task (`None`: not from a task, e.g. an inbound batch).
    pub task_id: Option<i64>,
    /// Its attempt.
    pub attempt: i32,
    /// The rows.
    pub rows: Vec<NewActivity>,
}

/// Adds rows for `integration_id` (from task `task_id` at `attempt`), in one statement.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    task_id: Option<i64>,
    attempt: i32,
    rows: Vec<NewActivity>,
) -> StoreResult<()> {
    record_many(
        db,
        vec![TaskActivity {
            integration_id,
            task_id,
            attempt,
            rows,
        }],
    )
    .await
}

/// Adds the rows of several task runs in one statement; rows that know only their location
/// are given its member first (one query for all of them).
pub async fn record_many<C: ConnectionTrait>(
    db: &C,
    mut runs: Vec<TaskActivity>,
) -> StoreResult<()> {
    let mut unnamed: Vec<i64> = runs
        .iter()
        .flat_map(|r| &r.rows)
        .filter(|r| r.member_id.is_none())
        .filter_map(|r| r.location_id)
        .collect();
    if runs.iter().all(|r| r.rows.is_empty()) {
        return Ok(());
    }
    unnamed.sort_unstable();
    unnamed.dedup();
    let members: std::collections::HashMap<i64, i64> =
        super::members::members_of_locations(db, &unnamed)
            .await?
            .into_iter()
            .collect();
    let at = now_ms();
    let mut models = Vec::new();
    for run in &mut runs {
        for r in run.rows.drain(..) {
            let member_id = r
                .member_id
                .or_else(|| r.location_id.and_then(|l| members.get(&l).copied()));
            models.push(sync_activity::ActiveModel {
                integration_id: Set(run.integration_id),
                direction: Set(r.direction.to_owned()),
                kind: Set(r.kind.to_owned()),
                member_id: Set(member_id),
                location_id: Set(r.location_id),
                st_id: Set(r.st_id),
                task_id: Set(run.task_id),
                result: Set(r.result.to_owned()),
                attempt: Set(run.attempt),
                fields: Set(fields_json(&r.fields)),
                error: Set(r.error.map(|e| e.chars().take(2000).collect())),
                at_ms: Set(at),
                ..Default::default()
            });
        }
    }
    sync_activity::Entity::insert_many(models).exec(db).await?;
    Ok(())
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this member.
    pub member_id: Option<i64>,
    /// Only this result.
    pub result: Option<String>,
    /// At or after (ms since epoch).
    pub from_ms: Option<i64>,
    /// Before (ms since epoch).
    pub to_ms: Option<i64>,
}

/// One page of the log, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The rows.
    pub rows: Vec<Activity>,
    /// Rows matching the filter.
    pub total: u64,
    /// 1-based page.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
}

/// Lists `integration_id`'s log, newest first, `per_page` rows of page `page` (1-based).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    filter: &Filter,
    page: u64,
    per_page: u64,
) -> StoreResult<Page> {
    use sync_activity::Column as C;
    let mut q = sync_activity::Entity::find().filter(C::IntegrationId.eq(integration_id));
    if let Some(k) = &filter.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    if let Some(m) = filter.member_id {
        q = q.filter(C::MemberId.eq(m));
    }
    if let Some(r) = &filter.result {
        q = q.filter(C::Result.eq(r.clone()));
    }
    if let Some(f) = filter.from_ms {
        q = q.filter(C::AtMs.gte(f));
    }
    if let Some(t) = filter.to_ms {
        q = q.filter(C::AtMs.lt(t));
    }
    let total = q.clone().count(db).await?;
    let page = page.max(1);
    let per_page = per_page.clamp(1, 500);
    let rows = q
        // Insertion order: concurrent tasks take their timestamps before they insert.
        .order_by_desc(C::Id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .all(db)
        .await?;
    Ok(Page {
        rows,
        total,
        page,
        per_page,
    })
}

/// One row.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<Activity>> {
    Ok(sync_activity::Entity::find_by_id(id).one(db).await?)
}

/// Deletes rows older than `before_ms`; returns how many.
pub async fn prune<C: ConnectionTrait>(db: &C, before_ms: i64) -> StoreResult<u64> {
    Ok(sync_activity::Entity::delete_many()
        .filter(sync_activity::Column::AtMs.lt(before_ms))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_kept_as_before_and_after() {
        let a = NewActivity::wrote("credit_balance", Some(7)).field(
            "Comfort Credits",
            Some("50"),
            Some("30"),
        );
        let json: serde_json::Value =
            serde_json::from_str(&fields_json(&a.fields).expect("fields")).expect("json");
        assert_eq!(json["Comfort Credits"]["before"], "50");
        assert_eq!(json["Comfort Credits"]["after"], "30");
        assert_eq!(fields_json(&[]), None);
    }
}
