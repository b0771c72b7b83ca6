//! The worker loop: claim fairly, run handlers with bounded concurrency, keep leases alive,
//! retry with backoff, schedule the pollers, refresh the queue metrics.
//!
//! Database outages: every loop (claim, heartbeat, scheduler, metrics) logs an outage once when
//! it starts and once when it ends, backs off while it lasts and resumes by itself. A task's
//! outcome (done, retry, dead) is written again and again until the database answers, for as
//! long as the task's lease lasts; after that the lease lapses and the next claim re-runs the
//! (idempotent) handler. The heartbeat renews only the leases of tasks this worker is running
//! or has claimed to run next, so a row it lost track of can never stay `running` for good.
//!
//! Claims are pipelined: one claim is in flight while the tasks of the previous one run, and
//! up to `concurrency` claimed tasks wait for a slot, so a freed slot starts the next task at
//! once instead of waiting out a claim's round trips (the sequential claim loop, not the
//! database, was what capped a worker's throughput). At the stop, claimed tasks that never
//! started are lapsed at once for the next worker.
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::servicetitan::TenantClient;
use crate::state::AppState;
use crate::store::platform::Integration;
use crate::store::tasks::{self, ClaimRequest, FailOutcome, Task};
use crate::store::{StoreError, StoreResult, integrations, now_ms, platform};

use super::error::{HandlerError, SyncError};
use super::handlers::Finished;
use super::{SyncContext, WorkerOptions, backoff, client_for, handlers, ops, poll};
use crate::store::task_kind::TaskKind;

/// Runs the worker with options from the settings until `shutdown` completes, then lets
/// running tasks finish (for at most one lease).
pub async fn run_worker<F>(state: AppState, shutdown: F) -> Result<(), SyncError>
where
    F: Future<Output = ()>,
{
    let opts = WorkerOptions::from_settings(&state.settings.worker);
    run_worker_with(state, opts, shutdown).await
}

/// Runs the worker with explicit options (tests and benchmarks tune them).
pub async fn run_worker_with<F>(
    state: AppState,
    opts: WorkerOptions,
    shutdown: F,
) -> Result<(), SyncError>
where
    F: Future<Output = ()>,
{
    let ctx = Arc::new(SyncContext::new(state, opts)?);
    tracing::info!(owner = %ctx.opts.owner, concurrency = ctx.opts.concurrency, "worker started");
    let leases = Arc::new(Leases::default());
    let hands = Arc::new(Hands::default());
    let clients = Arc::new(Clients::default());
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let completer = Completer { tx: done_tx };
    let mut background = JoinSet::new();
    background.spawn(heartbeat(ctx.clone(), leases.clone()));
    background.spawn(scheduler(ctx.clone()));
    background.spawn(metrics(ctx.clone()));
    background.spawn(purge(ctx.clone()));
    // Outlives the running tasks (their done writes go through it); aborted last.
    let completing = tokio::spawn(complete_batches(ctx.clone(), done_rx));
    background.spawn(super::health::watch(ctx.state.clone()));
    let slots = Arc::new(Semaphore::new(ctx.opts.concurrency));
    let mut running = JoinSet::new();
    let mut claims = OutageLog::new("claim");
    // Claimed tasks waiting for a slot, oldest claim first. A claim runs while the tasks of
    // the previous one run and wait here, so a slot that frees up starts the next task at
    // once instead of waiting out a claim's round trips.
    let mut queued: VecDeque<Claimed> = VecDeque::new();
    let mut claiming: Option<tokio::task::JoinHandle<ClaimAnswer>> = None;
    // No claim before this moment (nothing was due, or the database failed).
    let mut next_claim = Instant::now();
    // Set by a failed claim: its tasks may be leased to this worker in the database all the
    // same (a COMMIT whose answer was lost), so the next claim first lapses every lease this
    // worker holds there but not here.
    let mut claim_failed = false;
    // Claim in batches: a claim costs a few round trips whatever its size, so claiming one
    // slot at a time would spend the database on claims instead of work. Up to `concurrency`
    // tasks more than the slots are claimed ahead.
    let batch = (ctx.opts.concurrency / 4).max(1);
    let most = ctx.opts.concurrency * 2;
    tokio::pin!(shutdown);
    loop {
        while running.try_join_next().is_some() {}
        while !queued.is_empty() {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let Some(next) = queued.pop_front() else {
                break;
            };
            // A task that waited so long that its lease is close to lapsing is left to lapse
            // and be claimed again (it never started).
            if next.lease_until.saturating_duration_since(Instant::now()) < ctx.opts.lease / 2 {
                leases.release(next.task.id);
                // (No gap needed should this end a handover: the lease in the database
                // lasts until it lapses.)
                hands.let_go(next.task.integration_id, ctx.opts.idle_sleep * 2);
                continue;
            }
            let ctx = ctx.clone();
            let leases = leases.clone();
            let clients = clients.clone();
            let completer = completer.clone();
            let hands = hands.clone();
            running.spawn(async move {
                let id = next.task.id;
                let run = Run {
                    ctx: &ctx,
                    leases: &leases,
                    clients: &clients,
                    completer: &completer,
                    hands: &hands,
                };
                run.execute(next.task, next.row).await;
                leases.release(id);
                drop(permit);
            });
        }
        let outstanding = running.len() + queued.len();
        let room = most.saturating_sub(outstanding);
        if claiming.is_none()
            && Instant::now() >= next_claim
            && (room >= batch || (outstanding == 0 && room > 0))
        {
            claiming = Some(tokio::spawn(claim_batch(
                ctx.clone(),
                leases.clone(),
                hands.clone(),
                room,
                claim_failed,
            )));
        }
        let wait = if claiming.is_some() {
            ctx.opts.idle_sleep
        } else {
            next_claim
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
                .min(ctx.opts.idle_sleep)
        };
        tokio::select! {
            _ = &mut shutdown => break,
            answer = async { claiming.as_mut().expect("a claim in flight").await },
                if claiming.is_some() =>
            {
                claiming = None;
                let answer = answer.unwrap_or_else(|e| {
                    Err(StoreError::Unavailable(format!("the claim stopped: {e}")))
                });
                claim_failed = answer.is_err();
                match answer {
                    Ok(claimed) => {
                        claims.ok();
                        if claimed.is_empty() {
                            next_claim = Instant::now() + ctx.opts.idle_sleep;
                        }
                        queued.extend(claimed);
                    }
                    Err(e) => next_claim = Instant::now() + claims.failed(&e),
                }
            }
            Some(_) = running.join_next() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(owner = %ctx.opts.owner, in_flight = running.len(), queued = queued.len(), "worker stopping");
    let drain = async {
        if let Some(claim) = claiming
            && let Ok(Ok(claimed)) = claim.await
        {
            queued.extend(claimed);
        }
        while running.join_next().await.is_some() {}
    };
    if tokio::time::timeout(ctx.opts.lease, drain).await.is_err() {
        running.abort_all();
    }
    // Tasks claimed but never started go back to the queue for the next worker now, rather
    // than after their lease; so do (lapsed) any that an aborted task held.
    let db = ctx.state.store.db();
    let never_started: Vec<i64> = queued.iter().map(|c| c.task.id).collect();
    for id in &never_started {
        leases.release(*id);
    }
    match tasks::unclaim(db, &ctx.opts.owner, &never_started).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            n,
            "claimed tasks not started before the stop are back in the queue"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not give back the claimed tasks not started; their leases will lapse")
        }
    }
    if let Err(e) = tasks::lapse_unheld(db, &ctx.opts.owner, &[]).await {
        tracing::warn!(error = %e, "could not lapse the leases left at the stop");
    }
    background.abort_all();
    completing.abort();
    Ok(())
}

/// The integrations this worker has tasks of in hand (claimed, queued or running), how many,
/// and since when without a break. A claim made while tasks run keeps a busy integration in
/// hand for good, and another worker never gets a turn at it (one worker per integration at
/// a time): after `handover_after` without a break the worker hands it over, claiming none
/// of its tasks until those in hand are done, then a [`handover_gap`] (its last lease kept)
/// and two idle sleeps more (another worker claims every idle sleep).
#[derive(Debug, Default)]
struct Hands {
    by_id: Mutex<HashMap<i64, Hand>>,
}

#[derive(Debug)]
struct Hand {
    count: usize,
    since: Instant,
    handing_over: bool,
    free_again: Option<Instant>,
}

impl Hands {
    fn took(&self, integration_id: i64) {
        let now = Instant::now();
        let mut by_id = self.by_id.lock();
        let hand = by_id.entry(integration_id).or_insert(Hand {
            count: 0,
            since: now,
            handing_over: false,
            free_again: None,
        });
        if hand.count == 0 {
            hand.since = now;
        }
        hand.count += 1;
    }

    /// One task of the integration is no longer in hand (its handler has returned; its
    /// outcome is still to be written). `true` when that ends a handover: the caller then
    /// waits [`handover_gap`] before writing the outcome, which releases the last lease.
    fn let_go(&self, integration_id: i64, pause: Duration) -> bool {
        let mut by_id = self.by_id.lock();
        let Some(hand) = by_id.get_mut(&integration_id) else {
            return false;
        };
        hand.count = hand.count.saturating_sub(1);
        if hand.count == 0 {
            if hand.handing_over {
                hand.handing_over = false;
                hand.free_again = Some(Instant::now() + pause);
                return true;
            } else if hand.free_again.is_none() {
                by_id.remove(&integration_id);
            }
        }
        false
    }

    /// The integrations the next claim leaves alone.
    fn handing_over(&self, after: Duration) -> Vec<i64> {
        let now = Instant::now();
        let mut by_id = self.by_id.lock();
        by_id.retain(|_, h| h.count > 0 || h.free_again.is_some_and(|t| t > now));
        let mut skip = Vec::new();
        for (id, hand) in by_id.iter_mut() {
            if hand.count > 0 && now.duration_since(hand.since) >= after {
                hand.handing_over = true;
            }
            if hand.handing_over || hand.free_again.is_some_and(|t| t > now) {
                skip.push(*id);
            }
        }
        skip.sort_unstable();
        skip
    }
}

/// How long the last lease of an integration being handed over is kept after its handler
/// returns: the client limiter's burst at the tenant's rate (10 calls at 60/s: 167 ms).
/// Each worker paces a tenant with its own limiter, and the next worker starts with a full
/// burst; were it to start the moment this one stopped, the tenant's bucket at ServiceTitan
/// would carry both bursts, and every handover of a saturated tenant one more, until a 429.
/// After the gap the bucket is as empty as this worker's pacing can have left it.
fn handover_gap(ctx: &SyncContext) -> Duration {
    let rate = ctx.state.settings.servicetitan.rate_limit_per_sec.max(1);
    Duration::from_secs_f64(f64::from(crate::servicetitan::client_burst(rate)) / f64::from(rate))
}

/// A claimed task with its integration as read after the claim (`None`: read it when it
/// runs) and when its lease, as written by the claim, runs out.
struct Claimed {
    task: Task,
    row: Option<Integration>,
    lease_until: Instant,
}

type ClaimAnswer = StoreResult<Vec<Claimed>>;

/// One claim of up to `limit` tasks, their integration rows read with it. The claimed tasks
/// are held in `leases` (so the heartbeat renews them) from the moment the claim answers.
async fn claim_batch(
    ctx: Arc<SyncContext>,
    leases: Arc<Leases>,
    hands: Arc<Hands>,
    limit: usize,
    previous_failed: bool,
) -> ClaimAnswer {
    let skip = hands.handing_over(ctx.opts.handover_after);
    let req = ClaimRequest {
        owner: &ctx.opts.owner,
        limit,
        lease_ms: ctx.opts.lease.as_millis() as i64,
        per_integration: ctx.opts.per_integration,
        skip: &skip,
    };
    // Taken before the claim: the lease written in the database ends no later than this.
    let lease_until = Instant::now() + ctx.opts.lease;
    let claimed = {
        let _turn = ctx.state.store.write_turn().await;
        claim_after(&ctx, &req, &leases, previous_failed).await?
    };
    for task in &claimed {
        leases.hold(task.id, lease_until);
        hands.took(task.integration_id);
    }
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    // The batch's integration rows in one read (fresh: a credential, mapping or state change
    // made by any process is seen by the next claim). A failed read leaves each task to read
    // its own.
    let mut ids: Vec<i64> = claimed.iter().map(|t| t.integration_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: HashMap<i64, Integration> = integrations::find_many(ctx.state.store.db(), &ids)
        .await
        .map(|rows| rows.into_iter().map(|r| (r.id, r)).collect())
        .unwrap_or_default();
    Ok(claimed
        .into_iter()
        .map(|task| Claimed {
            row: rows.get(&task.integration_id).cloned(),
            task,
            lease_until,
        })
        .collect())
}

/// Claims, first lapsing the leases this worker holds in the database on tasks it does not
/// run, when the previous claim failed (see [`tasks::lapse_unheld`]).
async fn claim_after(
    ctx: &SyncContext,
    req: &ClaimRequest<'_>,
    leases: &Leases,
    previous_failed: bool,
) -> StoreResult<Vec<Task>> {
    let db = ctx.state.store.db();
    if previous_failed {
        let lapsed = tasks::lapse_unheld(db, &ctx.opts.owner, &leases.ids()).await?;
        if lapsed > 0 {
            tracing::info!(
                lapsed,
                "tasks leased by a claim whose answer was lost are free to claim again"
            );
        }
    }
    tasks::claim(db, req).await
}

/// Tenant clients by integration, reused for as long as the integration's row names the
/// tenant, environment and credentials the client was built from. The rows are read fresh
/// after every claim, so a changed row builds a new client: no invalidation hook is needed,
/// and a change written by another process counts as soon as the next claim.
#[derive(Default)]
pub struct Clients {
    by_id: Mutex<HashMap<i64, (ClientKey, TenantClient)>>,
}

/// What a tenant client is built from.
type ClientKey = (Option<i64>, String, Option<String>, Option<String>);

fn client_key(row: &Integration) -> ClientKey {
    (
        row.tenant_id,
        row.environment.clone(),
        row.client_id.clone(),
        row.client_secret_enc.clone(),
    )
}

impl Clients {
    /// The client for `row`: the cached one while the row still matches, else a new one
    /// (decrypting the secret once).
    pub fn get(&self, ctx: &SyncContext, row: &Integration) -> Result<TenantClient, HandlerError> {
        let key = client_key(row);
        if let Some((k, c)) = self.by_id.lock().get(&row.id)
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = client_for(ctx, row)?;
        self.by_id.lock().insert(row.id, (key, client.clone()));
        Ok(client)
    }
}

/// Sends finished tasks to [`complete_batches`], which marks every task finished meanwhile
/// done in one statement.
#[derive(Clone)]
struct Completer {
    tx: mpsc::UnboundedSender<Completion>,
}

/// A finished task on its way to the completion batch, with the answer it waits for.
type Completion = (i64, Finished, oneshot::Sender<Result<bool, String>>);

impl Completer {
    /// Marks `id` done and records what it did; `false` when the lease was lost.
    async fn complete(&self, id: i64, finished: Finished) -> StoreResult<bool> {
        let (tx, rx) = oneshot::channel();
        let gone = || StoreError::Unavailable("the worker is stopping".into());
        self.tx.send((id, finished, tx)).map_err(|_| gone())?;
        rx.await
            .map_err(|_| gone())?
            .map_err(StoreError::Unavailable)
    }
}

/// Most tasks one completion statement marks done.
const COMPLETE_BATCH: usize = 256;

/// Marks finished tasks done, batching those that finish while the previous batch is in
/// flight: one transaction per batch instead of several statements per task, and no waiting
/// to fill a batch. The same transaction adds the batch's activity-log rows (of the tasks it
/// marked done: a task whose lease was lost runs again and logs then) and moves the last
/// sync of the integrations written to.
async fn complete_batches(ctx: Arc<SyncContext>, mut rx: mpsc::UnboundedReceiver<Completion>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < COMPLETE_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let ids: Vec<i64> = batch.iter().map(|(id, _, _)| *id).collect();
        let result = complete_with_activity(&ctx, &ids, &batch).await;
        match result {
            Ok(done) => {
                for (id, _, reply) in batch {
                    let _ = reply.send(Ok(done.contains(&id)));
                }
            }
            Err(e) => {
                // Each waiting task retries through `record_outcome`, for as long as its lease.
                let why = e.to_string();
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
    }
}

async fn complete_with_activity(
    ctx: &SyncContext,
    ids: &[i64],
    batch: &[Completion],
) -> StoreResult<Vec<i64>> {
    let db = ctx.state.store.db();
    let _turn = ctx.state.store.write_turn().await;
    let logs = batch
        .iter()
        .any(|(_, f, _)| f.wrote || !f.activity.rows.is_empty());
    if !logs {
        return tasks::complete_many(db, ids, &ctx.opts.owner).await;
    }
    let txn = tasks::begin_write(db).await?;
    let done = tasks::complete_many(&txn, ids, &ctx.opts.owner).await?;
    let mut written: Vec<i64> = Vec::new();
    let mut runs = Vec::new();
    for (id, f, _) in batch {
        if !done.contains(id) {
            continue;
        }
        if f.wrote {
            written.push(f.activity.integration_id);
        }
        if !f.activity.rows.is_empty() {
            runs.push(f.activity.clone());
        }
    }
    written.sort_unstable();
    written.dedup();
    // The last sync is shown to the second: an integration touched less than a second ago by
    // this worker is not touched again (one statement saved in most batches).
    let now = Instant::now();
    let touch: Vec<i64> = {
        let last = ctx.last_sync_touched.lock();
        written
            .into_iter()
            .filter(|iid| {
                last.get(iid)
                    .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(1))
            })
            .collect()
    };
    crate::store::activity::record_many(&txn, runs).await?;
    platform::touch_last_sync_many(&txn, &touch).await?;
    txn.commit().await?;
    let mut last = ctx.last_sync_touched.lock();
    for iid in touch {
        last.insert(iid, now);
    }
    Ok(done)
}

/// The tasks this worker is running, each with the moment its lease (as last written to the
/// database) runs out.
#[derive(Debug, Default)]
pub struct Leases {
    held: Mutex<HashMap<i64, Instant>>,
}

impl Leases {
    /// Starts tracking a claimed task.
    pub fn hold(&self, id: i64, until: Instant) {
        self.held.lock().insert(id, until);
    }

    /// Stops tracking a task (its outcome is written, or its lease has lapsed).
    pub fn release(&self, id: i64) {
        self.held.lock().remove(&id);
    }

    /// The tasks in flight.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.held.lock().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Records that the leases of `ids` were extended to `until`.
    pub fn renewed(&self, ids: &[i64], until: Instant) {
        let mut held = self.held.lock();
        for id in ids {
            if let Some(t) = held.get_mut(id) {
                *t = until;
            }
        }
    }

    /// When the lease of `id` runs out (`None` when not held).
    pub fn until(&self, id: i64) -> Option<Instant> {
        self.held.lock().get(&id).copied()
    }
}

/// Writes a task's outcome, again and again while the database does not answer, for as long
/// as the task's lease lasts. `None` when the lease ran out first: the row stays `running`
/// with a lapsed lease and the next claim re-runs the handler.
async fn record_outcome<T, F, Fut>(
    leases: &Leases,
    task_id: i64,
    what: &str,
    mut write: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut tries = 0;
    loop {
        let until = leases.until(task_id)?;
        let left = until.saturating_duration_since(Instant::now());
        let err = match tokio::time::timeout(left, write()).await {
            Ok(Ok(v)) => {
                if tries > 0 {
                    tracing::info!(task_id, tries, "{what} recorded once the database answered");
                }
                return Some(v);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer before the lease ran out".to_owned(),
        };
        tries += 1;
        let pause = backoff::delay(
            tries,
            Duration::from_millis(50),
            Duration::from_secs(1),
            None,
        )
        .max(Duration::from_millis(20));
        if Instant::now() + pause >= until {
            tracing::warn!(
                task_id, tries, error = %err,
                "could not record {what} before the lease ran out; the task will run again"
            );
            return None;
        }
        if tries == 1 {
            tracing::warn!(task_id, error = %err, "could not record {what}; retrying");
        }
        tokio::time::sleep(pause).await;
    }
}

/// What running a claimed task needs from the worker.
struct Run<'a> {
    ctx: &'a SyncContext,
    leases: &'a Leases,
    clients: &'a Clients,
    completer: &'a Completer,
    hands: &'a Hands,
}

impl Run<'_> {
    /// The task's handler is done: it is out of hand. The last task of an integration being
    /// handed over keeps its lease a little longer (see [`handover_gap`]).
    async fn out_of_hand(&self, integration_id: i64) {
        // Left alone for two idle sleeps after the gap, so that another worker's claim
        // (every idle sleep) finds the integration free.
        let gap = handover_gap(self.ctx);
        if self
            .hands
            .let_go(integration_id, gap + self.ctx.opts.idle_sleep * 2)
        {
            tokio::time::sleep(gap).await;
        }
    }

    /// Runs one claimed task and records the outcome. `leases` must hold the task. `row` is
    /// its integration as read after the claim (`None`: read it now).
    async fn execute(&self, task: Task, row: Option<Integration>) {
        let (ctx, leases) = (self.ctx, self.leases);
        let db = ctx.state.store.db();
        let owner = ctx.opts.owner.as_str();
        let kind = task.kind.clone();
        let record = |outcome: &str| {
            ctx.state
                .metrics
                .sync_tasks
                .with_label_values(&[kind.as_str(), outcome])
                .inc();
        };
        if task.attempts > ctx.opts.max_attempts {
            self.out_of_hand(task.integration_id).await;
            let why = format!(
                "gave up after {} attempts; the last one never finished (worker stopped?); last error: {}",
                task.attempts - 1,
                task.last_error.as_deref().unwrap_or("none")
            );
            let r = record_outcome(leases, task.id, "the dead task", || {
                tasks::fail(db, task.id, owner, &why, None)
            })
            .await;
            record(if r.is_some() { "dead" } else { "lease_lapsed" });
            return;
        }
        let result = match row {
            Some(row) => match self.clients.get(ctx, &row) {
                Ok(client) => handlers::run_with(ctx, &task, row, client).await,
                Err(e) => Err(e),
            },
            None => handlers::run(ctx, &task).await,
        };
        self.out_of_hand(task.integration_id).await;
        let outcome = match result {
            Ok(finished) => {
                let mut tried = false;
                let completer = self.completer;
                let done = record_outcome(leases, task.id, "done", || {
                    let first = !tried;
                    tried = true;
                    let finished = finished.clone();
                    async move { Ok((completer.complete(task.id, finished).await?, first)) }
                });
                match done.await {
                    Some((true, _)) => "done",
                    // A retry found the row no longer running: the earlier write may have landed
                    // with its answer lost; look before calling it a lost lease.
                    Some((false, false)) => match tasks::get(db, task.id).await {
                        Ok(Some(t)) if t.state == tasks::state::DONE => "done",
                        _ => "lease_lost",
                    },
                    Some((false, true)) => "lease_lost",
                    None => "lease_lapsed",
                }
            }
            Err(err) => {
                let (reason, retry_at) = match &err {
                    // A credential refusal is retried (the integration is disconnected by
                    // `handlers::run_with` once refusals repeat, and its tasks wait for the
                    // reconnect).
                    HandlerError::Refused { reason, .. }
                        if task.attempts < ctx.opts.max_attempts =>
                    {
                        let d = backoff::delay(
                            task.attempts,
                            ctx.opts.backoff_base,
                            ctx.opts.backoff_cap,
                            None,
                        );
                        (reason.clone(), Some(now_ms() + d.as_millis() as i64))
                    }
                    HandlerError::Retry { reason, after }
                        if task.attempts < ctx.opts.max_attempts =>
                    {
                        let d = backoff::delay(
                            task.attempts,
                            ctx.opts.backoff_base,
                            ctx.opts.backoff_cap,
                            *after,
                        );
                        (reason.clone(), Some(now_ms() + d.as_millis() as i64))
                    }
                    HandlerError::Retry { reason, .. } | HandlerError::Refused { reason, .. } => (
                        format!("gave up after {} attempts: {reason}", task.attempts),
                        None,
                    ),
                    HandlerError::Permanent(reason) => (reason.clone(), None),
                };
                tracing::info!(task_id = task.id, kind = %task.kind, attempts = task.attempts, %reason, "task failed");
                let failed = record_outcome(leases, task.id, "the failure", || {
                    tasks::fail(db, task.id, owner, &reason, retry_at)
                });
                match failed.await {
                    Some(FailOutcome::Retry { .. }) => "retry",
                    Some(FailOutcome::Superseded) => "superseded",
                    Some(FailOutcome::Dead) => "dead",
                    Some(FailOutcome::LeaseLost) => "lease_lost",
                    None => "lease_lapsed",
                }
            }
        };
        record(outcome);
    }
}

/// Logs a database outage once when a loop starts failing and once when it recovers (not on
/// every tick), and paces the retries: exponential from 50 ms up to 1 s, so the loop is back
/// within about a second of the database.
#[derive(Debug)]
struct OutageLog {
    what: &'static str,
    since: Option<Instant>,
    failures: i32,
}

impl OutageLog {
    fn new(what: &'static str) -> OutageLog {
        OutageLog {
            what,
            since: None,
            failures: 0,
        }
    }

    /// Notes a failure; returns how long to wait before trying again.
    fn failed(&mut self, e: &StoreError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(loop_name = self.what, error = %e, "worker database call failing; retrying until it answers");
        } else {
            tracing::debug!(loop_name = self.what, error = %e, "still failing");
        }
        backoff::delay(
            self.failures,
            Duration::from_millis(50),
            Duration::from_secs(1),
            None,
        )
        .max(Duration::from_millis(20))
    }

    /// Notes a success (logging the recovery after an outage).
    fn ok(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                loop_name = self.what,
                failures = self.failures,
                outage_ms = since.elapsed().as_millis() as u64,
                "worker database calls answering again"
            );
        }
        self.failures = 0;
    }
}

async fn heartbeat(ctx: Arc<SyncContext>, leases: Arc<Leases>) {
    let every = (ctx.opts.lease / 3).max(Duration::from_millis(100));
    let mut log = OutageLog::new("heartbeat");
    loop {
        tokio::time::sleep(every).await;
        let ids = leases.ids();
        if ids.is_empty() {
            continue;
        }
        let lease_ms = ctx.opts.lease.as_millis() as i64;
        let started = Instant::now();
        match tasks::renew_leases(ctx.state.store.db(), &ctx.opts.owner, &ids, lease_ms).await {
            Ok(renewed) => {
                log.ok();
                leases.renewed(&renewed, started + ctx.opts.lease);
            }
            Err(e) => {
                log.failed(&e);
            }
        }
    }
}

/// Queues one poll per active integration and stream every poll interval (coalesced with a
/// poll already pending).
async fn scheduler(ctx: Arc<SyncContext>) {
    let mut log = OutageLog::new("poll scheduler");
    loop {
        let pause = match schedule_polls(&ctx.state).await {
            Ok(_) => {
                log.ok();
                ctx.opts.poll_interval
            }
            Err(e) => log.failed(&e).min(ctx.opts.poll_interval),
        };
        tokio::time::sleep(pause).await;
    }
}

/// Queues a poll of every stream of every active integration, due now.
pub async fn schedule_polls(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let db = state.store.db();
    let mut n = 0;
    for i in platform::active_integrations(db).await? {
        for s in poll::STREAMS {
            TaskKind::Poll {
                integration_id: i.id,
                stream: (*s).to_owned(),
            }
            .enqueue(db, i.id)
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn metrics(ctx: Arc<SyncContext>) {
    loop {
        // Failures are expected during an outage and already reported by the other loops.
        if let Err(e) = ops::refresh_metrics(&ctx.state).await {
            tracing::debug!(error = %e, "metrics refresh failed");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Deletes finished tasks older than `worker.done_retention_secs`, in batches, every minute.
async fn purge(ctx: Arc<SyncContext>) {
    const BATCH: u64 = 1000;
    let keep = Duration::from_secs(ctx.state.settings.worker.done_retention_secs);
    loop {
        let before =
            chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        loop {
            match tasks::purge_done(ctx.state.store.db(), before, BATCH).await {
                Ok(n) if n == BATCH => tokio::task::yield_now().await,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(deleted = n, "finished tasks purged");
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "purging finished tasks failed");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn an_integration_held_without_a_break_is_handed_over_then_claimed_again() {
        let hands = Hands::default();
        let pause = Duration::from_millis(40);
        hands.took(1);
        hands.took(1);
        hands.took(2);
        assert!(hands.handing_over(Duration::from_secs(60)).is_empty());
        // Held past the limit: both are left alone until their tasks are done, and a pause more.
        let skip = hands.handing_over(Duration::ZERO);
        assert_eq!(skip, vec![1, 2]);
        assert!(!hands.let_go(1, pause), "one of 1's tasks is still in hand");
        assert_eq!(hands.handing_over(Duration::from_secs(60)), vec![1, 2]);
        // The last task in hand of each ends its handover (its lease is kept a gap longer).
        assert!(hands.let_go(1, pause));
        assert!(hands.let_go(2, pause));
        assert_eq!(hands.handing_over(Duration::from_secs(60)), vec![1, 2]);
        std::thread::sleep(pause + Duration::from_millis(10));
        assert!(hands.handing_over(Duration::from_secs(60)).is_empty());
        // Taken again, the clock starts afresh.
        hands.took(1);
        assert!(hands.handing_over(Duration::from_secs(60)).is_empty());
        // An integration whose tasks all finish in time is never handed over.
        assert!(!hands.let_go(1, pause), "no handover, no gap");
        assert!(hands.handing_over(Duration::ZERO).is_empty());
        assert!(hands.by_id.lock().is_empty());
    }

    fn down() -> StoreError {
        StoreError::Unavailable("connection refused".into())
    }

    #[tokio::test]
    async fn an_outcome_is_written_once_the_database_answers() {
        let leases = Leases::default();
        leases.hold(7, Instant::now() + Duration::from_secs(5));
        let calls = AtomicU32::new(0);
        let written = record_outcome(&leases, 7, "done", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 4 {
                Err(down())
            } else {
                Ok(true)
            }
        })
        .await;
        assert_eq!(written, Some(true));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn retries_stop_when_the_lease_runs_out() {
        let leases = Leases::default();
        let started = Instant::now();
        leases.hold(7, started + Duration::from_millis(400));
        let written: Option<bool> =
            record_outcome(&leases, 7, "done", || async { Err(down()) }).await;
        assert_eq!(written, None);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "gave up after {took:?}");
        // A write that hangs is cut off at the lease too.
        leases.hold(8, Instant::now() + Duration::from_millis(200));
        let hung: Option<bool> = record_outcome(&leases, 8, "done", || async {
            std::future::pending::<StoreResult<bool>>().await
        })
        .await;
        assert_eq!(hung, None);
    }

    #[test]
    fn renewals_extend_only_held_tasks() {
        let leases = Leases::default();
        let t0 = Instant::now();
        leases.hold(1, t0);
        leases.hold(2, t0);
        leases.renewed(&[2, 3], t0 + Duration::from_secs(9));
        assert_eq!(leases.until(1), Some(t0));
        assert_eq!(leases.until(2), Some(t0 + Duration::from_secs(9)));
        assert_eq!(leases.until(3), None);
        leases.release(1);
        assert_eq!(leases.ids(), vec![2]);
    }
}
