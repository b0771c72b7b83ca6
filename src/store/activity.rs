//! The per-integration activity log: one row per outbound write to ServiceTitan (what, for
//! which member and location, the ServiceTitan ID, the fields before → after where known, the
//! result and the attempt) and per inbound effect. Never a secret or a token: rows carry IDs,
//! our own field values and error texts made by our client (which never include credentials).
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
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

/// Columns of one row in `record_many`'s insert.
const ROW_PARAMS: usize = 11;

/// Rows per insert statement (well under both databases' parameter limits).
const ROWS_PER_INSERT: usize = 400;

/// Adds the rows of several task runs in one statement per 400 rows. A row that knows only its
/// location is given that location's member inside the insert (a scalar subquery by primary
/// key), so the log costs the engine one statement per completion batch, not two.
pub async fn record_many<C: ConnectionTrait>(db: &C, runs: Vec<TaskActivity>) -> StoreResult<()> {
    let at = now_ms();
    let rows: Vec<(i64, Option<i64>, i32, NewActivity)> = runs
        .into_iter()
        .flat_map(|run| {
            let (iid, task, attempt) = (run.integration_id, run.task_id, run.attempt);
            run.rows.into_iter().map(move |r| (iid, task, attempt, r))
        })
        .collect();
    let b = db.get_database_backend();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * ROW_PARAMS + 1);
        values.push(at.into());
        let mut tuples = Vec::with_capacity(chunk.len());
        for (iid, task_id, attempt, r) in chunk {
            let p = |k: usize| format!("${}", values.len() + k);
            tuples.push(format!(
                "({}, {}, {}, COALESCE({}, (SELECT l.member_id FROM service_locations l WHERE l.id = {})), \
                 {}, {}, {}, {}, {}, {}, {}, $1)",
                p(1), p(2), p(3), p(4), p(5), p(5), p(6), p(7), p(8), p(9), p(10), p(11)
            ));
            values.extend([
                (*iid).into(),
                r.direction.into(),
                r.kind.into(),
                r.member_id.into(),
                r.location_id.into(),
                r.st_id.into(),
                (*task_id).into(),
                r.result.into(),
                (*attempt).into(),
                fields_json(&r.fields).into(),
                r.error
                    .as_ref()
                    .map(|e| e.chars().take(2000).collect::<String>())
                    .into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO sync_activity (integration_id, direction, kind, member_id, location_id, \
             st_id, task_id, result, attempt, fields, error, at_ms) VALUES {}",
            tuples.join(", ")
        );
        db.execute_raw(super::tasks::stmt(b, &sql, values)).await?;
    }
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
