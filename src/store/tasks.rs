//! The durable sync task queue: enqueue with dedupe, claim with leases, finish, retry, dead.
//!
//! A task is `pending` (waiting for `run_after_ms`), `running` (leased to one worker until
//! `lease_until_ms`), `done` or `dead`. At most one *pending* task exists per dedupe key (a
//! partial unique index), so a burst of identical requests coalesces into one run, and no task
//! is claimed while another with its dedupe key is running (same resource, one writer).
//!
//! Claims are fair across integrations: candidates are ranked per integration and taken
//! round-robin, each integration is capped in flight, and an integration leased by another
//! worker process is skipped (one process per tenant at a time keeps the tenant's rate limit
//! whole). PostgreSQL claims in two statements: the first takes a transaction-scoped advisory
//! lock per integration it will serve (skipping those another claim holds), the second leases
//! their tasks with `FOR UPDATE SKIP LOCKED`; claims for different tenants run side by side.
//! SQLite claims in one `UPDATE … RETURNING` statement.
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, Statement,
    TransactionTrait, Value,
};
use serde::Serialize;

use super::entities::sync_task;
use super::{StoreResult, now_ms};

/// A task row.
pub type Task = sync_task::Model;

/// Task states as stored.
pub mod state {
    /// Waiting to run.
    pub const PENDING: &str = "pending";
    /// Leased to a worker.
    pub const RUNNING: &str = "running";
    /// Finished.
    pub const DONE: &str = "done";
    /// Gave up after the maximum attempts (or a permanent error).
    pub const DEAD: &str = "dead";
}

impl super::task_kind::TaskKind {
    /// Queues this task for `integration_id`, due now. A pending task with the same dedupe
    /// key absorbs it.
    pub async fn enqueue<C: ConnectionTrait>(
        self,
        db: &C,
        integration_id: i64,
    ) -> StoreResult<Enqueued> {
        enqueue(db, NewTask::of(integration_id, &self, now_ms())).await
    }

    /// Queues this task for `integration_id`, due at `run_after_ms`.
    pub async fn enqueue_at<C: ConnectionTrait>(
        self,
        db: &C,
        integration_id: i64,
        run_after_ms: i64,
    ) -> StoreResult<Enqueued> {
        enqueue(db, NewTask::of(integration_id, &self, run_after_ms)).await
    }
}

/// Queues the full outbound sync of every member of a partner (on activation, so members
/// enrolled before the integration went live reach ServiceTitan). Returns the tasks queued.
pub async fn enqueue_all_members<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    partner_id: i64,
) -> StoreResult<usize> {
    let members = super::members::of_partner(db, partner_id).await?;
    for m in &members {
        super::task_kind::TaskKind::LinkMember { member_id: m.id }
            .enqueue(db, integration_id)
            .await?;
    }
    Ok(members.len())
}

/// A task to add.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// Integration the task belongs to.
    pub integration_id: i64,
    /// Handler kind.
    pub kind: String,
    /// JSON payload.
    pub payload: serde_json::Value,
    /// Same key, same work: a pending task with this key absorbs the new one.
    pub dedupe_key: Option<String>,
    /// Earliest start (ms since epoch).
    pub run_after_ms: i64,
}

impl NewTask {
    /// A task of `kind`, due at `run_after_ms`, keyed by the resource it writes.
    pub fn of(
        integration_id: i64,
        kind: &super::task_kind::TaskKind,
        run_after_ms: i64,
    ) -> NewTask {
        NewTask {
            integration_id,
            kind: kind.name().to_owned(),
            payload: kind.payload(),
            dedupe_key: Some(kind.dedupe_key()),
            run_after_ms,
        }
    }

    /// A task due now.
    pub fn now(
        integration_id: i64,
        kind: &str,
        payload: serde_json::Value,
        dedupe_key: Option<String>,
    ) -> NewTask {
        NewTask {
            integration_id,
            kind: kind.to_owned(),
            payload,
            dedupe_key,
            run_after_ms: now_ms(),
        }
    }
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Enqueued {
    /// A new task row.
    Created(i64),
    /// A pending task with the same dedupe key already existed; it will do the work.
    Coalesced(i64),
}

impl Enqueued {
    /// The task that will do the work.
    pub fn id(self) -> i64 {
        match self {
            Enqueued::Created(id) | Enqueued::Coalesced(id) => id,
        }
    }
}

/// Begins a transaction that will write. On SQLite it starts `IMMEDIATE` (taking the write
/// lock up front), so a read-then-write transaction waits for other writers instead of failing
/// with a stale snapshot.
pub async fn begin_write(db: &DatabaseConnection) -> StoreResult<sea_orm::DatabaseTransaction> {
    let opts = sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(opts).await?)
}

/// Builds a statement with `$1…` placeholders, rewritten to `?1…` for SQLite.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn ts_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// Adds a task, or points at the pending task with the same dedupe key.
pub async fn enqueue<C: ConnectionTrait>(db: &C, task: NewTask) -> StoreResult<Enqueued> {
    let b = db.get_database_backend();
    let now = ts_now();
    let sql = "INSERT INTO sync_tasks (integration_id, kind, payload, dedupe_key, state, attempts, \
               run_after_ms, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $6) \
               ON CONFLICT DO NOTHING RETURNING id";
    let row = db
        .query_one_raw(stmt(
            b,
            sql,
            vec![
                task.integration_id.into(),
                task.kind.clone().into(),
                task.payload.to_string().into(),
                task.dedupe_key.clone().into(),
                task.run_after_ms.into(),
                now.into(),
            ],
        ))
        .await?;
    if let Some(row) = row {
        return Ok(Enqueued::Created(row.try_get_by_index::<i64>(0)?));
    }
    // Only the pending-dedupe index can conflict: find the task that absorbed this one.
    let key = task.dedupe_key.unwrap_or_default();
    let existing = db
        .query_one_raw(stmt(
            b,
            "SELECT id FROM sync_tasks WHERE dedupe_key = $1 AND state = 'pending'",
            vec![key.clone().into()],
        ))
        .await?;
    match existing {
        Some(row) => Ok(Enqueued::Coalesced(row.try_get_by_index::<i64>(0)?)),
        // The pending task started running between the insert and the read: try once more.
        None => {
            Box::pin(enqueue(
                db,
                NewTask {
                    dedupe_key: Some(key),
                    ..task
                },
            ))
            .await
        }
    }
}

/// How a worker claims.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    /// The worker's lease name (unique per process).
    pub owner: &'a str,
    /// How many tasks at most.
    pub limit: usize,
    /// Lease length in milliseconds.
    pub lease_ms: i64,
    /// Tasks in flight at most per integration (this worker's running ones included).
    pub per_integration: usize,
    /// Integrations this claim leaves alone (the worker is handing them over, see
    /// `sync::worker`).
    pub skip: &'a [i64],
}

/// The claim's first part, shared by both databases. `open`: the integrations that may take
/// work now and how many tasks each (`room`). An integration is served when it is `active`, not
/// paused (`sync_paused_at IS NULL`: a paused integration's tasks stay pending, still enqueued
/// and coalesced, until it resumes), no other worker holds a lease on it, and this worker holds
/// fewer than `per_integration`. One more per-integration rule goes in this `WHERE`.
const CLAIM_OPEN: &str = "\
    WITH busy AS ( \
        SELECT integration_id, \
               SUM(CASE WHEN lease_owner = $1 THEN 1 ELSE 0 END) AS mine, \
               SUM(CASE WHEN lease_owner <> $1 THEN 1 ELSE 0 END) AS others \
        FROM sync_tasks WHERE state = 'running' AND lease_until_ms >= $2 GROUP BY integration_id), \
    keys AS (SELECT dedupe_key FROM sync_tasks WHERE state = 'running' AND dedupe_key IS NOT NULL), \
    open AS ( \
        SELECT i.id, $4 - COALESCE(b.mine, 0) AS room {UPTO} \
        FROM integrations i LEFT JOIN busy b ON b.integration_id = i.id \
        WHERE i.state = 'active' AND i.sync_paused_at IS NULL {LOCKED} \
          AND COALESCE(b.others, 0) = 0 AND COALESCE(b.mine, 0) < $4), ";

/// PostgreSQL: the first `room` due tasks of each open integration, one LATERAL index walk
/// each over `ix_sync_tasks_ready`.
const CLAIM_DUE_PG: &str = "\
    due AS ( \
        SELECT c.id, o.id AS integration_id, c.run_after_ms FROM open o CROSS JOIN LATERAL ( \
            SELECT s.id, s.run_after_ms FROM sync_tasks s \
            WHERE s.integration_id = o.id AND s.state = 'pending' AND s.run_after_ms <= $2 \
              AND (s.dedupe_key IS NULL OR s.dedupe_key NOT IN (SELECT dedupe_key FROM keys)) \
            ORDER BY s.run_after_ms, s.id LIMIT o.room) c \
        UNION ALL \
        SELECT id, integration_id, run_after_ms FROM sync_tasks \
        WHERE state = 'running' AND lease_until_ms < $2), ";

/// SQLite has no LATERAL: `open.upto` is each integration's `per_integration`-th due task (a
/// short index walk), and the due tasks up to it are read by an index range.
const CLAIM_UPTO_SQLITE: &str = ", (SELECT s.id FROM sync_tasks s WHERE s.integration_id = i.id \
    AND s.state = 'pending' AND s.run_after_ms <= $2 ORDER BY s.run_after_ms, s.id \
    LIMIT 1 OFFSET $4 - 1) AS upto";

const CLAIM_DUE_SQLITE: &str = "\
    bound AS ( \
        SELECT o.id, COALESCE(u.run_after_ms, $2) AS upto_ms, u.id AS upto_id \
        FROM open o LEFT JOIN sync_tasks u ON u.id = o.upto), \
    due AS ( \
        SELECT s.id, s.integration_id, s.run_after_ms FROM bound o CROSS JOIN sync_tasks s \
        WHERE s.integration_id = o.id AND s.state = 'pending' AND s.run_after_ms <= o.upto_ms \
          AND (o.upto_id IS NULL OR s.run_after_ms < o.upto_ms OR s.id <= o.upto_id) \
          AND (s.dedupe_key IS NULL OR s.dedupe_key NOT IN (SELECT dedupe_key FROM keys)) \
        UNION ALL \
        SELECT id, integration_id, run_after_ms FROM sync_tasks \
        WHERE state = 'running' AND lease_until_ms < $2), ";

/// Leaves out the integrations of `ClaimRequest::skip` (`${N}`: their IDs, comma-separated).
const CLAIM_SKIP: &str = "AND ',' || ${N} || ',' NOT LIKE '%,' || CAST(i.id AS TEXT) || ',%'";

/// PostgreSQL serves only the integrations the claim's first statement locked ($7: their IDs,
/// comma-separated).
const CLAIM_LOCKED_PG: &str = "AND i.id = ANY(CAST(string_to_array($7, ',') AS BIGINT[]))";

/// PostgreSQL, the claim's first statement: locks (for the transaction) up to `$5` integrations
/// this worker may serve now, those with the oldest due task first, skipping any another
/// claim holds. Two processes claim at once for different integrations, and never for the same
/// one: the second statement's snapshot is taken after these locks are held, so it sees every
/// claim committed by their previous holder. Advisory locks are database-wide, so the key
/// carries the schema: deployments (or tests) in other schemas of one database, whose
/// integration IDs overlap, never skip each other's integrations.
const CLAIM_LOCK_PG: &str = "\
    WITH ready AS MATERIALIZED ( \
        SELECT i.id, COALESCE( \
            (SELECT s.run_after_ms FROM sync_tasks s WHERE s.integration_id = i.id \
               AND s.state = 'pending' AND s.run_after_ms <= $2 ORDER BY s.run_after_ms LIMIT 1), \
            CASE WHEN EXISTS (SELECT 1 FROM sync_tasks r WHERE r.integration_id = i.id \
               AND r.state = 'running' AND r.lease_until_ms < $2) THEN 0 END) AS first_due \
        FROM integrations i \
        WHERE i.state = 'active' AND i.sync_paused_at IS NULL {SKIP} \
          AND NOT EXISTS (SELECT 1 FROM sync_tasks o WHERE o.integration_id = i.id \
               AND o.state = 'running' AND o.lease_until_ms >= $2 AND o.lease_owner <> $1) \
          AND (SELECT COUNT(*) FROM sync_tasks m WHERE m.integration_id = i.id \
               AND m.state = 'running' AND m.lease_until_ms >= $2 AND m.lease_owner = $1) < $4), \
    first AS MATERIALIZED ( \
        SELECT id, first_due FROM ready WHERE first_due IS NOT NULL ORDER BY first_due, id) \
    SELECT id FROM first \
    WHERE pg_try_advisory_xact_lock(hashtext('titanbridge.claim:' || current_schema()), \
                                    CAST(id % 2147483647 AS INTEGER)) LIMIT $5";

/// Round-robin: every integration's first task, then every second, up to `limit`.
const CLAIM_PICK: &str = "\
    ranked AS ( \
        SELECT c.id, c.run_after_ms, o.room, \
               ROW_NUMBER() OVER (PARTITION BY c.integration_id ORDER BY c.run_after_ms, c.id) AS rn \
        FROM due c JOIN open o ON o.id = c.integration_id) \
    SELECT id FROM ranked WHERE rn <= room ORDER BY rn, run_after_ms, id LIMIT $5";

/// The IDs of the tasks a claim takes. Its cost grows with the number of active integrations
/// and the batch, not with the due backlog (`ix_sync_tasks_ready`, `ix_sync_tasks_running`).
fn candidates(b: DbBackend) -> String {
    match b {
        DbBackend::Postgres => format!(
            "{}{CLAIM_DUE_PG}{CLAIM_PICK}",
            CLAIM_OPEN
                .replace("{UPTO}", "")
                .replace("{LOCKED}", CLAIM_LOCKED_PG)
        ),
        _ => format!(
            "{}{CLAIM_DUE_SQLITE}{CLAIM_PICK}",
            CLAIM_OPEN
                .replace("{UPTO}", CLAIM_UPTO_SQLITE)
                .replace("{LOCKED}", &CLAIM_SKIP.replace("{N}", "8"))
        ),
    }
}

/// Leases up to `req.limit` due tasks (and tasks whose lease expired) to `req.owner`,
/// incrementing their attempts. Only integrations in state `active` and not paused are served.
pub async fn claim(db: &DatabaseConnection, req: &ClaimRequest<'_>) -> StoreResult<Vec<Task>> {
    let b = db.get_database_backend();
    let now = now_ms();
    let lease_until = now + req.lease_ms;
    let skip: String = req
        .skip
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let values = vec![
        req.owner.to_owned().into(),
        now.into(),
        lease_until.into(),
        (req.per_integration.max(1) as i64).into(),
        (req.limit as i64).into(),
        ts_now().into(),
    ];
    let update_head = "UPDATE sync_tasks SET state = 'running', lease_owner = $1, \
                       lease_until_ms = $3, attempts = attempts + 1, updated_at = $6 ";
    let candidates = candidates(b);
    match b {
        DbBackend::Postgres => {
            let txn = db.begin().await?;
            // The integrations this claim serves, each locked against every other claim until
            // the commit: "one process per tenant at a time" stays exact without serialising
            // the claims of different tenants.
            let mut lock_values = values[..5].to_vec();
            lock_values.push(skip.into());
            let lock_sql = CLAIM_LOCK_PG.replace("{SKIP}", &CLAIM_SKIP.replace("{N}", "6"));
            let locked: Vec<i64> = txn
                .query_all_raw(stmt(b, &lock_sql, lock_values))
                .await?
                .iter()
                .map(|r| r.try_get_by_index::<i64>(0))
                .collect::<Result<_, _>>()?;
            if locked.is_empty() {
                txn.commit().await?;
                super::count_round_trips(2);
                return Ok(Vec::new());
            }
            let mut values = values;
            values.push(
                locked
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
                    .into(),
            );
            let sql = format!(
                "{update_head} WHERE id IN (SELECT id FROM sync_tasks WHERE id IN ({candidates}) \
                 AND (state = 'pending' OR (state = 'running' AND lease_until_ms < $2)) \
                 FOR UPDATE SKIP LOCKED) RETURNING *"
            );
            let rows = Task::find_by_statement(stmt(b, &sql, values))
                .all(&txn)
                .await?;
            txn.commit().await?;
            // BEGIN and COMMIT are not metered by the connection.
            super::count_round_trips(2);
            Ok(rows)
        }
        _ => {
            let sql = format!("{update_head} WHERE id IN ({candidates}) RETURNING *");
            let mut values = values;
            // $7 is PostgreSQL's; SQLite numbers its parameters, so it takes a stand-in.
            values.push(Value::from(""));
            values.push(skip.into());
            Ok(Task::find_by_statement(stmt(b, &sql, values))
                .all(db)
                .await?)
        }
    }
}

/// Extends the leases of the tasks `ids` that `owner` still holds (the worker's heartbeat) and
/// returns the IDs renewed. Only the tasks a worker is actually running are passed in: a row
/// the worker lost track of (its done/failed write never reached the database) must be left to
/// lapse, so another claim re-runs it, instead of being kept alive forever.
pub async fn renew_leases<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    ids: &[i64],
    lease_ms: i64,
) -> StoreResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let b = db.get_database_backend();
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE sync_tasks SET lease_until_ms = $1 WHERE lease_owner = $2 AND state = 'running' \
         AND id IN ({list}) RETURNING id"
    );
    let mut values: Vec<Value> = vec![(now_ms() + lease_ms).into(), owner.to_owned().into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    let rows = db.query_all_raw(stmt(b, &sql, values)).await?;
    rows.iter()
        .map(|r| Ok(r.try_get_by_index::<i64>(0)?))
        .collect()
}

/// Ends at once the leases `owner` holds on tasks other than `held`, and returns how many.
/// A worker calls it after a failed claim: on PostgreSQL the claim's COMMIT can land with its
/// answer lost (the connection reset in between), leaving tasks leased to a worker that never
/// heard of them. Left alone they would wait out the whole lease (a minute in production);
/// lapsed, the next claim (this worker's included) takes them over at once. The lost claim
/// counts as one of the task's attempts.
pub async fn lapse_unheld<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    held: &[i64],
) -> StoreResult<u64> {
    let b = db.get_database_backend();
    let mut sql = "UPDATE sync_tasks SET lease_until_ms = 0 \
                   WHERE lease_owner = $1 AND state = 'running'"
        .to_owned();
    if !held.is_empty() {
        let list = (0..held.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(" AND id NOT IN ({list})"));
    }
    let mut values: Vec<Value> = vec![owner.to_owned().into()];
    values.extend(held.iter().map(|id| Value::from(*id)));
    Ok(db.execute_raw(stmt(b, &sql, values)).await?.rows_affected())
}

/// Gives back tasks `owner` claimed but never started (a worker stopping with claimed tasks
/// still waiting for a slot): they are pending again, the claim's attempt undone. One whose
/// dedupe key has a pending twin by now is done instead, superseded by the twin (which does
/// the same work). Returns how many were given back either way.
pub async fn unclaim<C: ConnectionTrait>(db: &C, owner: &str, ids: &[i64]) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let b = db.get_database_backend();
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values: Vec<Value> = vec![owner.to_owned().into(), ts_now().into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    let mine = format!("lease_owner = $1 AND state = 'running' AND id IN ({list})");
    // A twin that appears at the same moment trips the unique index: the second statement
    // then settles every row the first left.
    let pending = db
        .execute_raw(stmt(
            b,
            &format!(
                "UPDATE sync_tasks SET state = 'pending', lease_owner = NULL, lease_until_ms = NULL,                  attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $2                  WHERE {mine} AND NOT EXISTS (SELECT 1 FROM sync_tasks o WHERE o.state = 'pending'                    AND o.dedupe_key IS NOT NULL AND o.dedupe_key = sync_tasks.dedupe_key)"
            ),
            values.clone(),
        ))
        .await
        .map(|r| r.rows_affected())
        .unwrap_or(0);
    let superseded = db
        .execute_raw(stmt(
            b,
            &format!(
                "UPDATE sync_tasks SET state = 'done', lease_owner = NULL, lease_until_ms = NULL,                  last_error = 'superseded by a newer pending task (claimed, not started before                  the worker stopped)', updated_at = $2 WHERE {mine}"
            ),
            values,
        ))
        .await?
        .rows_affected();
    Ok(pending + superseded)
}

/// Marks a task done. `false` when the lease was lost (another worker took it over).
pub async fn complete<C: ConnectionTrait>(db: &C, id: i64, owner: &str) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE sync_tasks SET state = 'done', lease_owner = NULL, lease_until_ms = NULL, \
             last_error = NULL, updated_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
            vec![ts_now().into(), id.into(), owner.to_owned().into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks the tasks `ids` done in one statement; returns those whose lease `owner` still held
/// (the others were taken over and are left alone).
pub async fn complete_many<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    owner: &str,
) -> StoreResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let b = db.get_database_backend();
    let list = (0..ids.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE sync_tasks SET state = 'done', lease_owner = NULL, lease_until_ms = NULL, \
         last_error = NULL, updated_at = $1 WHERE lease_owner = $2 AND state = 'running' \
         AND id IN ({list}) RETURNING id"
    );
    let mut values: Vec<Value> = vec![ts_now().into(), owner.to_owned().into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    let rows = db.query_all_raw(stmt(b, &sql, values)).await?;
    rows.iter()
        .map(|r| Ok(r.try_get_by_index::<i64>(0)?))
        .collect()
}

/// Deletes up to `batch` tasks that finished (`done`) before `before`, oldest first; returns
/// how many. Keeps the table, and so every index and statistic over it, the size of the
/// retention window instead of the whole history. Dead tasks stay for the ops console.
pub async fn purge_done<C: ConnectionTrait>(
    db: &C,
    before: chrono::DateTime<chrono::Utc>,
    batch: u64,
) -> StoreResult<u64> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "DELETE FROM sync_tasks WHERE id IN (SELECT id FROM sync_tasks \
             WHERE state = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
            vec![before.into(), (batch as i64).into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// What became of a failed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Pending again, due at this time.
    Retry { run_after_ms: i64 },
    /// Another pending task with the same dedupe key will do the same work; this one is done.
    Superseded,
    /// Dead: shown in the ops console with its last error.
    Dead,
    /// The lease was lost; nothing changed.
    LeaseLost,
}

/// Records a failure: back to pending at `retry_at_ms`, or dead when `retry_at_ms` is `None`.
pub async fn fail<C: ConnectionTrait>(
    db: &C,
    id: i64,
    owner: &str,
    error: &str,
    retry_at_ms: Option<i64>,
) -> StoreResult<FailOutcome> {
    let b = db.get_database_backend();
    let error = truncate(error, 2000);
    let now = ts_now();
    if let Some(at) = retry_at_ms {
        let retried = db
            .execute_raw(stmt(
                b,
                "UPDATE sync_tasks SET state = 'pending', lease_owner = NULL, lease_until_ms = NULL, \
                 run_after_ms = $1, last_error = $2, updated_at = $3 \
                 WHERE id = $4 AND lease_owner = $5 AND state = 'running' AND NOT EXISTS ( \
                   SELECT 1 FROM sync_tasks o WHERE o.state = 'pending' AND o.dedupe_key IS NOT NULL \
                   AND o.dedupe_key = (SELECT dedupe_key FROM sync_tasks WHERE id = $4))",
                vec![
                    at.into(),
                    error.clone().into(),
                    now.into(),
                    id.into(),
                    owner.to_owned().into(),
                ],
            ))
            .await;
        match retried {
            Ok(r) if r.rows_affected() == 1 => return Ok(FailOutcome::Retry { run_after_ms: at }),
            Ok(_) | Err(_) => {
                // Either the lease is gone or a pending twin exists (or appeared concurrently
                // and tripped the unique index): the twin does the same work.
                let r = db
                    .execute_raw(stmt(
                        b,
                        "UPDATE sync_tasks SET state = 'done', lease_owner = NULL, lease_until_ms = NULL, \
                         last_error = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
                        vec![
                            format!("superseded by a newer pending task; last error: {error}")
                                .into(),
                            now.into(),
                            id.into(),
                            owner.to_owned().into(),
                        ],
                    ))
                    .await?;
                return Ok(if r.rows_affected() == 1 {
                    FailOutcome::Superseded
                } else {
                    FailOutcome::LeaseLost
                });
            }
        }
    }
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE sync_tasks SET state = 'dead', lease_owner = NULL, lease_until_ms = NULL, \
             last_error = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
            vec![
                error.into(),
                now.into(),
                id.into(),
                owner.to_owned().into(),
            ],
        ))
        .await?;
    Ok(if r.rows_affected() == 1 {
        FailOutcome::Dead
    } else {
        FailOutcome::LeaseLost
    })
}

/// Puts a dead task back in the queue with fresh attempts (the ops console's retry button).
/// `false` when the task is not dead (or a pending twin already covers it).
pub async fn retry_dead<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<bool> {
    let b = db.get_database_backend();
    let r = db
        .execute_raw(stmt(
            b,
            "UPDATE sync_tasks SET state = 'pending', attempts = 0, run_after_ms = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'dead' AND NOT EXISTS ( \
               SELECT 1 FROM sync_tasks o WHERE o.state = 'pending' AND o.dedupe_key IS NOT NULL \
               AND o.dedupe_key = (SELECT dedupe_key FROM sync_tasks WHERE id = $3))",
            vec![now_ms().into(), ts_now().into(), id.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One task by ID.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> StoreResult<Option<Task>> {
    Ok(sync_task::Entity::find_by_id(id).one(db).await?)
}

/// Queue figures of one integration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Integration.
    pub integration_id: i64,
    /// Pending tasks (due or not).
    pub pending: i64,
    /// Pending tasks already due.
    pub due: i64,
    /// Running tasks.
    pub running: i64,
    /// Finished tasks.
    pub done: i64,
    /// Dead tasks.
    pub dead: i64,
    /// Pending tasks that failed at least once (waiting for a retry).
    pub retrying: i64,
    /// Seconds since the oldest due pending task became due (0 when none).
    pub lag_seconds: i64,
}

#[derive(Debug, FromQueryResult)]
struct StatsRow {
    integration_id: i64,
    pending: i64,
    due: i64,
    running: i64,
    dead: i64,
    retrying: i64,
    oldest_due: Option<i64>,
}

/// Queue figures per integration that has unfinished (pending, running or dead) tasks; `done`
/// is left at 0. This is what `/metrics` refreshes every few seconds: finished tasks, however
/// many the retention keeps, are not read.
pub async fn open_stats<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<QueueStats>> {
    let b = db.get_database_backend();
    let now = now_ms();
    let sql = "SELECT integration_id, \
        CAST(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
        CAST(SUM(CASE WHEN state = 'pending' AND run_after_ms <= $1 THEN 1 ELSE 0 END) AS BIGINT) AS due, \
        CAST(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS BIGINT) AS running, \
        CAST(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS BIGINT) AS dead, \
        CAST(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END) AS BIGINT) AS retrying, \
        MIN(CASE WHEN state = 'pending' AND run_after_ms <= $1 THEN run_after_ms END) AS oldest_due \
        FROM sync_tasks WHERE state IN ('pending', 'running', 'dead') \
        GROUP BY integration_id ORDER BY integration_id";
    let rows = StatsRow::find_by_statement(stmt(b, sql, vec![now.into()]))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| QueueStats {
            integration_id: r.integration_id,
            pending: r.pending,
            due: r.due,
            running: r.running,
            done: 0,
            dead: r.dead,
            retrying: r.retrying,
            lag_seconds: r.oldest_due.map(|t| ((now - t) / 1000).max(0)).unwrap_or(0),
        })
        .collect())
}

/// Queue figures per integration that has tasks, finished ones (within the retention) counted
/// too (the ops console).
pub async fn queue_stats<C: ConnectionTrait>(db: &C) -> StoreResult<Vec<QueueStats>> {
    let b = db.get_database_backend();
    let mut stats = open_stats(db).await?;
    let done = db
        .query_all_raw(stmt(
            b,
            "SELECT integration_id, CAST(COUNT(*) AS BIGINT) FROM sync_tasks \
             WHERE state = 'done' GROUP BY integration_id",
            vec![],
        ))
        .await?;
    for row in done {
        let (id, n) = (
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<i64>(1)?,
        );
        match stats.iter_mut().find(|s| s.integration_id == id) {
            Some(s) => s.done = n,
            None => stats.push(QueueStats {
                integration_id: id,
                done: n,
                ..QueueStats::default()
            }),
        }
    }
    stats.sort_by_key(|s| s.integration_id);
    Ok(stats)
}

/// Tasks of an integration in `state`, most recently updated first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    state: &str,
    limit: u64,
) -> StoreResult<Vec<Task>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    Ok(sync_task::Entity::find()
        .filter(sync_task::Column::IntegrationId.eq(integration_id))
        .filter(sync_task::Column::State.eq(state))
        .order_by_desc(sync_task::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Pending tasks of an integration that failed at least once, most recent first.
pub async fn retrying<C: ConnectionTrait>(
    db: &C,
    integration_id: i64,
    limit: u64,
) -> StoreResult<Vec<Task>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    Ok(sync_task::Entity::find()
        .filter(sync_task::Column::IntegrationId.eq(integration_id))
        .filter(sync_task::Column::State.eq(state::PENDING))
        .filter(sync_task::Column::Attempts.gt(0))
        .order_by_desc(sync_task::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Makes the pending queue task with `dedupe_key` due now (the inline attempt gave up early).
pub async fn expedite_task<C: ConnectionTrait>(db: &C, dedupe_key: &str) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE sync_tasks SET run_after_ms = $1 WHERE dedupe_key = $2 AND state = 'pending'",
        vec![now_ms().into(), dedupe_key.to_owned().into()],
    ))
    .await?;
    Ok(())
}

/// Marks the pending queue task with `dedupe_key` done (the inline attempt finished the work).
pub async fn retire_task<C: ConnectionTrait>(db: &C, dedupe_key: &str) -> StoreResult<()> {
    let b = db.get_database_backend();
    db.execute_raw(stmt(
        b,
        "UPDATE sync_tasks SET state = 'done', last_error = 'finished by the API request', \
         updated_at = $1 WHERE dedupe_key = $2 AND state = 'pending'",
        vec![chrono::Utc::now().into(), dedupe_key.to_owned().into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let s = stmt(
            DbBackend::Sqlite,
            "SELECT $1, $2",
            vec![1i64.into(), 2i64.into()],
        );
        assert_eq!(s.sql, "SELECT ?1, ?2");
        let p = stmt(DbBackend::Postgres, "SELECT $1", vec![1i64.into()]);
        assert_eq!(p.sql, "SELECT $1");
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
