//! Sync engine figures against the built-in sandbox, one per line with the database in
//! brackets, so that two runs compare line by line.
//!
//! `cargo bench --bench sync_engine` (SQLite), with `DATABASE_URL=postgres://…` for the
//! PostgreSQL lines too (each PostgreSQL run works in a schema of its own and drops it).
//! `BENCH_SCALE` (default 1.0) shrinks or grows every workload; `BENCH_DB=postgres` (or
//! `sqlite`) runs the sections on that database alone.
//!
//! 1. Throughput (tasks/s) with 2,000 and with 20,000 due tasks (the first 2,000 of them
//!    timed), their ratio, and database round trips per task: one-call credit tasks across 20
//!    tenants, sandbox at zero latency, no rate limit.
//! 2. Scale-out (PostgreSQL): 1, 2 and 4 worker processes (this binary, re-run as a worker)
//!    draining one backlog with 20 ms ServiceTitan latency; leases lost, tasks claimed twice,
//!    429s.
//! 3. Rate-limit use: 200 tenants, each backlogged for the whole window, sandbox and client at
//!    60 calls/s per tenant.
//! 4. Event → ServiceTitan latency p50/p99: 1,000 tenants × 1 credit event/s for 10 s, the
//!    events spread evenly over each second; and the same with each second's 1,000 events
//!    released at once (`latency_burst`).
//! 5. Noisy neighbour: one tenant with 100,000 queued tasks; another tenant's 100 events.
//! 6. The activity log's cost: writing credit tasks with `sync.activity_log` on and off
//!    (`BENCH_ONLY=activity_log` runs only this; `BENCH_ONLY` takes a comma-separated list of
//!    `throughput`, `scale_out`, `latency`, `latency_burst`, `noisy_neighbour`, `rate_use`, `activity_log`).
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use secrecy::{ExposeSecret, SecretString};
use titanbridge::config::{Settings, random_key};
use titanbridge::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use titanbridge::state::AppState;
use titanbridge::store::entities::{integration, partner};
use titanbridge::store::members::{LocationInput, MemberInput};
use titanbridge::store::task_kind::TaskKind;
use titanbridge::store::{ledger, links, members, now_ms, round_trips};
use titanbridge::sync::WorkerOptions;
use tokio::sync::watch;

const APP_KEY: &str = "bench-app-key";
const CREDIT: &str = "credit_balance";

fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64) * s).round().max(1.0) as usize
}

/// Which database a run uses: SQLite in a temporary directory, or a fresh PostgreSQL schema.
#[derive(Clone, Copy)]
enum Db<'a> {
    Sqlite,
    Postgres(&'a str),
}

impl Db<'_> {
    fn label(&self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

/// Prints one figure: `name [db]: value`.
fn figure(name: &str, db: Db<'_>, value: impl std::fmt::Display) {
    println!("{name} [{}]: {value}", db.label());
    let _ = std::io::stdout().flush();
}

struct Env {
    state: AppState,
    sandbox: SandboxHandle,
    /// Per tenant: integration ID, partner ID, our location IDs.
    tenants: Vec<(i64, i64, Vec<i64>)>,
    /// PostgreSQL: the admin URL and the schema to drop at the end.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn database(db: Db<'_>) -> (String, Option<(String, String)>, Option<tempfile::TempDir>) {
    match db {
        Db::Postgres(url) => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let admin = titanbridge::store::Store::connect(url, None)
                .await
                .expect("pg");
            admin
                .db()
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            (
                format!("{url}{sep}options=-c%20search_path%3D{schema}"),
                Some((url.to_owned(), schema)),
                None,
            )
        }
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            );
            (url, None, Some(dir))
        }
    }
}

/// Sandbox knobs of one run.
#[derive(Clone, Copy)]
struct Shape {
    tenants: usize,
    /// Our locations per tenant (all linked to the tenant's first seeded location).
    locations: usize,
    /// Calls/s per tenant, enforced by the sandbox and paced by our client.
    rate: u32,
    /// Added to every ServiceTitan call.
    latency: Duration,
}

/// A sandbox, the app state, and per tenant an active integration with its locations.
async fn env(db: Db<'_>, shape: Shape) -> Env {
    let seeds: Vec<TenantSeed> = (0..shape.tenants)
        .map(|i| TenantSeed {
            tenant_id: 9_000_000 + i as i64,
            client_id: format!("bench-{i}"),
            client_secret: format!("secret-{i}"),
        })
        .collect();
    let mut cfg = SandboxConfig {
        app_key: APP_KEY.into(),
        rate_limit_per_sec: shape.rate,
        tenants: seeds.clone(),
        workers: 2,
        check_contract: false,
        ..SandboxConfig::default()
    };
    cfg.faults.latency = shape.latency;
    let sandbox = sandbox::start("127.0.0.1:0", cfg).await.expect("sandbox");
    let (url, schema, dir) = database(db).await;
    let s = settings(&url, &sandbox.base_url, random_key(32).into(), shape.rate);
    let state = AppState::build(s, true).await.expect("state");
    let db = state.store.db();
    let now = chrono::Utc::now();
    let mut tenants = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let p = partner::ActiveModel {
            name: Set(format!("Bench {i}")),
            slug: Set(format!("bench-{i}")),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("partner");
        let sealed = state
            .secrets
            .seal(&SecretString::from(seed.client_secret.clone()))
            .expect("seal");
        let integ = integration::ActiveModel {
            partner_id: Set(p.id),
            tenant_id: Set(Some(seed.tenant_id)),
            environment: Set("custom".into()),
            state: Set("active".into()),
            client_id: Set(Some(seed.client_id.clone())),
            client_secret_enc: Set(Some(sealed)),
            credit_field_type_id: Set(Some(4501)),
            capacity_enabled: Set(false),
            backfill_total: Set(0),
            backfill_done: Set(0),
            version: Set(0),
            auth_failures: Set(0),
            scope_refusals: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("integration");
        let snap = sandbox.state.snapshot(seed.tenant_id).expect("tenant");
        let st_loc = snap.locations[0].id;
        let input = MemberInput {
            external_id: format!("m{i}"),
            first_name: "Bench".into(),
            last_name: format!("{i}"),
            email: None,
            phone: None,
            plan_code: None,
            locations: (0..shape.locations)
                .map(|l| LocationInput {
                    external_id: format!("t{i}-l{l}"),
                    name: "Home".into(),
                    street: format!("{l} Bench St"),
                    unit: None,
                    city: "Austin".into(),
                    state: "TX".into(),
                    zip: "78701".into(),
                    country: "USA".into(),
                })
                .collect(),
        };
        let up = members::upsert(db, p.id, &input).await.expect("member");
        let mut ids = Vec::new();
        for l in &up.locations {
            links::put(db, integ.id, links::kind::LOCATION, l.id, st_loc)
                .await
                .expect("link");
            ids.push(l.id);
        }
        tenants.push((integ.id, p.id, ids));
    }
    Env {
        state,
        sandbox,
        tenants,
        schema,
        _dir: dir,
    }
}

fn settings(db_url: &str, sandbox_url: &str, key: SecretString, rate: u32) -> Settings {
    let mut s = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: db_url.to_owned(),
        encryption_key: key,
        session_key: random_key(64).into(),
        ..Settings::default()
    };
    s.worker.embedded = false;
    s.servicetitan.environment = "custom".into();
    s.servicetitan.auth_url = sandbox_url.to_owned();
    s.servicetitan.api_url = sandbox_url.to_owned();
    s.servicetitan.app_key = SecretString::from(APP_KEY.to_owned());
    s.servicetitan.rate_limit_per_sec = rate;
    s
}

/// Stops the sandbox and, on PostgreSQL, drops the run's schema.
async fn finish(e: Env) {
    e.sandbox.stop().await;
    let Env { state, schema, .. } = e;
    drop(state);
    if let Some((url, schema)) = schema {
        let admin = titanbridge::store::Store::connect(&url, None)
            .await
            .expect("pg");
        admin
            .db()
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop schema");
    }
}

fn options(state: &AppState, concurrency: usize, per: usize) -> WorkerOptions {
    let mut o = WorkerOptions::from_settings(&state.settings.worker);
    o.concurrency = concurrency;
    o.per_integration = per;
    o.idle_sleep = Duration::from_millis(10);
    // Pollers off after the first round: these figures are about the outbound queue.
    o.poll_interval = Duration::from_secs(3600);
    o
}

struct Worker {
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

fn start_worker(state: AppState, opts: WorkerOptions) -> Worker {
    let (stop, mut rx) = watch::channel(false);
    let done = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let _ = titanbridge::sync::worker::run_worker_with(state, opts, stop).await;
    });
    Worker { stop, done }
}

impl Worker {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }
}

async fn count(state: &AppState, sql: &str) -> i64 {
    let b = state.store.backend();
    let row = state
        .store
        .db()
        .query_one_raw(sea_orm::Statement::from_string(b, sql.to_owned()))
        .await
        .expect("count")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("i64")
}

/// Queues `n` credit tasks for one location of an integration in one statement, all due now,
/// each with a dedupe key of its own (as distinct writes have).
async fn bulk_enqueue(state: &AppState, integration_id: i64, location_id: i64, n: usize) {
    let db = state.store.db();
    let b = state.store.backend();
    let sql = "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < $1) \
        INSERT INTO sync_tasks (integration_id, kind, payload, dedupe_key, state, attempts, \
        run_after_ms, created_at, updated_at) \
        SELECT $2, $3, $4, $5 || CAST(x AS TEXT), 'pending', 0, $6 + x, $7, $7 FROM g";
    let sql = match b {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        b,
        sql,
        vec![
            (n as i64).into(),
            integration_id.into(),
            CREDIT.into(),
            serde_json::json!({ "location_id": location_id })
                .to_string()
                .into(),
            format!("bench:{integration_id}:{}:", uuid::Uuid::new_v4().simple()).into(),
            (now_ms() - n as i64 - 1).into(),
            chrono::Utc::now().into(),
        ],
    ))
    .await
    .expect("bulk enqueue");
}

/// Tasks this process's workers finished (any kind), from the worker's own counters.
fn finished(state: &AppState) -> u64 {
    ["credit_balance", "poll"]
        .iter()
        .map(|k| {
            state
                .metrics
                .sync_tasks
                .with_label_values(&[k, "done"])
                .get()
        })
        .sum()
}

/// Throughput of one worker (32 slots) over the first `timed` tasks of a `due`-task backlog.
struct Drain {
    tasks_per_sec: f64,
    round_trips_per_task: f64,
    calls_per_task: f64,
}

/// ServiceTitan calls the sandbox answered, all tenants of `e` together.
fn st_calls(e: &Env) -> u64 {
    (0..e.tenants.len())
        .map(|i| {
            e.sandbox
                .state
                .call_counts(9_000_000 + i as i64)
                .map(|c| c.0)
                .unwrap_or(0)
        })
        .sum()
}

async fn drain(db: Db<'_>, due: usize, timed: usize) -> Drain {
    let n_tenants = 20;
    let e = env(
        db,
        Shape {
            tenants: n_tenants,
            locations: 1,
            rate: 1_000_000,
            latency: Duration::ZERO,
        },
    )
    .await;
    for (iid, _, locs) in &e.tenants {
        bulk_enqueue(&e.state, *iid, locs[0], due / n_tenants).await;
    }
    if matches!(db, Db::Sqlite) {
        // The backlog went in a moment ago in twenty big statements; a backlog that grew over
        // time would long since be in the database file. Checkpoint it now, so that the
        // timed window does not pay for copying the bulk insert out of the write-ahead log.
        e.state
            .store
            .db()
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
    }
    let (f0, r0, c0) = (finished(&e.state), round_trips(), st_calls(&e));
    let started = Instant::now();
    let w = start_worker(e.state.clone(), options(&e.state, 32, 16));
    while finished(&e.state) - f0 < timed as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let (n, trips, calls) = (
        finished(&e.state) - f0,
        round_trips() - r0,
        st_calls(&e) - c0,
    );
    w.stop().await;
    finish(e).await;
    Drain {
        tasks_per_sec: n as f64 / secs,
        round_trips_per_task: trips as f64 / n as f64,
        calls_per_task: calls as f64 / n as f64,
    }
}

async fn throughput(db: Db<'_>) {
    let (small, large, huge) = (scale(2000), scale(20000), scale(60000));
    let at_small = drain(db, small, small).await;
    let at_large = drain(db, large, small).await;
    let at_huge = drain(db, huge, small).await;
    figure(
        &format!("throughput at {small} due"),
        db,
        format!("{:.0} tasks/s", at_small.tasks_per_sec),
    );
    figure(
        &format!("throughput at {large} due"),
        db,
        format!(
            "{:.0} tasks/s (first {small} timed)",
            at_large.tasks_per_sec
        ),
    );
    figure(
        &format!("backlog ratio ({large}/{small} due)"),
        db,
        format!("{:.2}", at_large.tasks_per_sec / at_small.tasks_per_sec),
    );
    figure(
        &format!("throughput at {huge} due"),
        db,
        format!("{:.0} tasks/s (first {small} timed)", at_huge.tasks_per_sec),
    );
    figure(
        &format!("backlog ratio ({huge}/{small} due)"),
        db,
        format!("{:.2}", at_huge.tasks_per_sec / at_small.tasks_per_sec),
    );
    figure(
        "round trips per task",
        db,
        format!("{:.2}", at_small.round_trips_per_task),
    );
    figure(
        "ServiceTitan calls per task",
        db,
        format!("{:.2}", at_small.calls_per_task),
    );
}

/// One worker process of the scale-out run: this binary, started with `BENCH_CHILD=1`.
struct Child {
    proc: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

fn spawn_child(
    db_url: &str,
    sandbox_url: &str,
    key: &SecretString,
    rate: u32,
    slots: usize,
) -> Child {
    let mut proc = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env("BENCH_CHILD", "1")
        .env("BENCH_CHILD_SLOTS", slots.to_string())
        .env("BENCH_CHILD_DB", db_url)
        .env("BENCH_CHILD_SANDBOX", sandbox_url)
        .env("BENCH_CHILD_KEY", key.expose_secret())
        .env("BENCH_CHILD_RATE", rate.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("worker process");
    let mut out = std::io::BufReader::new(proc.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready");
    assert_eq!(line.trim(), "ready", "worker process did not start");
    Child { proc, out }
}

impl Child {
    fn send(&mut self, line: &str) {
        let stdin = self.proc.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write");
        stdin.flush().expect("flush");
    }

    /// Stops the worker; returns its lost and lapsed leases.
    fn stop(mut self) -> u64 {
        self.send("stop");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("outcome");
        let _ = self.proc.wait();
        line.trim()
            .strip_prefix("lost ")
            .and_then(|n| n.parse().ok())
            .expect("lost count")
    }
}

/// The worker process: waits for `go`, runs the worker until `stop`, prints its lost leases.
fn child_main() {
    let var = |k: &str| std::env::var(k).expect(k);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let rate: u32 = var("BENCH_CHILD_RATE").parse().expect("rate");
        let s = settings(
            &var("BENCH_CHILD_DB"),
            &var("BENCH_CHILD_SANDBOX"),
            SecretString::from(var("BENCH_CHILD_KEY")),
            rate,
        );
        let state = AppState::build(s, false).await.expect("state");
        println!("ready");
        let _ = std::io::stdout().flush();
        let line = || {
            tokio::task::spawn_blocking(|| {
                let mut l = String::new();
                std::io::stdin().read_line(&mut l).expect("stdin");
            })
        };
        let _ = line().await; // go
        let slots: usize = var("BENCH_CHILD_SLOTS").parse().expect("slots");
        let w = start_worker(state.clone(), options(&state, slots, 4));
        let _ = line().await; // stop
        w.stop().await;
        let lost: u64 = [CREDIT, "poll"]
            .iter()
            .flat_map(|k| {
                ["lease_lost", "lease_lapsed"]
                    .map(|o| state.metrics.sync_tasks.with_label_values(&[k, o]).get())
            })
            .sum();
        println!("lost {lost}");
        let _ = std::io::stdout().flush();
    });
}

async fn scale_out(url: &str) {
    let db = Db::Postgres(url);
    let (n_tenants, rate) = (40, 100);
    let e = env(
        db,
        Shape {
            tenants: n_tenants,
            locations: 1,
            rate,
            latency: Duration::from_millis(20),
        },
    )
    .await;
    let db_url = e.state.settings.database_url.clone();
    let key = e.state.settings.encryption_key.clone();
    let total = scale(8000);
    // The 429s the sandbox has answered so far, all tenants together.
    let limited_calls = || -> u64 {
        (0..n_tenants)
            .map(|i| {
                e.sandbox
                    .state
                    .call_counts(9_000_000 + i as i64)
                    .map(|c| c.1)
                    .unwrap_or(0)
            })
            .sum()
    };
    // With 4 slots a process is bound by ServiceTitan's latency (at most 200 tasks/s), as a
    // real worker is at real latencies: the series shows what the claim protocol gives a
    // second process. With 16 slots one process already uses most of the two cores (sandbox,
    // PostgreSQL and workers share them), so that series shows the machine's ceiling.
    for slots in [4usize, 16] {
        let mut rates = Vec::new();
        for procs in [1usize, 2, 4] {
            let first = count(
                &e.state,
                "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM sync_tasks",
            )
            .await;
            for (iid, _, locs) in &e.tenants {
                bulk_enqueue(&e.state, *iid, locs[0], total / n_tenants).await;
            }
            let limited0 = limited_calls();
            let mut children: Vec<Child> = (0..procs)
                .map(|_| spawn_child(&db_url, &e.sandbox.base_url, &key, rate, slots))
                .collect();
            let open_sql = format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE id > {first} \
             AND kind = '{CREDIT}' AND state <> 'done'"
            );
            let started = Instant::now();
            for c in &mut children {
                c.send("go");
            }
            while count(&e.state, &open_sql).await > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let secs = started.elapsed().as_secs_f64();
            let lost: u64 = children.into_iter().map(Child::stop).sum();
            let twice = count(
            &e.state,
            &format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE id > {first} AND attempts > 1"
            ),
        )
        .await;
            let limited: u64 = limited_calls() - limited0;
            let tps = total as f64 / secs;
            rates.push(tps);
            let plural = if procs == 1 { "process" } else { "processes" };
            figure(
                &format!("scale-out {procs} {plural} x {slots} slots (20 ms latency)"),
                db,
                format!(
                    "{tps:.0} tasks/s; {lost} leases lost, {twice} tasks claimed more than once, {limited} x 429"
                ),
            );
        }
        figure(
            &format!("scale-out ratio (2/1 processes, {slots} slots)"),
            db,
            format!("{:.2}", rates[1] / rates[0]),
        );
        figure(
            &format!("scale-out ratio (4/1 processes, {slots} slots)"),
            db,
            format!("{:.2}", rates[2] / rates[0]),
        );
    }
    finish(e).await;
}

async fn rate_use(db: Db<'_>) {
    let n_tenants = scale(200);
    let (warm_up, window) = (Duration::from_secs(3), Duration::from_secs(10));
    // Enough for every tenant at its full limit through warm-up and window, with a margin:
    // whatever the engine manages, no tenant runs dry before the window ends.
    let backlog = (60.0 * (warm_up + window).as_secs_f64() * 1.3) as usize;
    let e = env(
        db,
        Shape {
            tenants: n_tenants,
            locations: 1,
            rate: 60,
            latency: Duration::ZERO,
        },
    )
    .await;
    for (iid, _, locs) in &e.tenants {
        bulk_enqueue(&e.state, *iid, locs[0], backlog).await;
    }
    let calls = |e: &Env| -> (u64, u64) {
        (0..n_tenants)
            .map(|i| {
                e.sandbox
                    .state
                    .call_counts(9_000_000 + i as i64)
                    .unwrap_or_default()
            })
            .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1))
    };
    let w = start_worker(e.state.clone(), options(&e.state, 256, 4));
    tokio::time::sleep(warm_up).await; // tokens, pools
    let ((c0, _), t0) = (calls(&e), Instant::now());
    tokio::time::sleep(window).await;
    let ((c1, limited), secs) = (calls(&e), t0.elapsed().as_secs_f64());
    let backlogged = count(
        &e.state,
        "SELECT CAST(COUNT(DISTINCT integration_id) AS BIGINT) FROM sync_tasks \
         WHERE state = 'pending'",
    )
    .await;
    w.stop().await;
    let rate = (c1 - c0) as f64 / secs;
    let limit = 60.0 * n_tenants as f64;
    figure(
        &format!("rate use ({n_tenants} tenants x 60 calls/s)"),
        db,
        format!(
            "{:.3} of the limit ({rate:.0} of {limit:.0} calls/s), {limited} x 429, {backlogged}/{n_tenants} tenants still backlogged at the end",
            rate / limit
        ),
    );
    finish(e).await;
}

/// Commits one ledger change and its credit task (as the platform API does).
async fn credit_event(state: &AppState, iid: i64, pid: i64, loc: i64, key: String) {
    let txn = state.store.begin_write().await.expect("txn");
    ledger::append(
        &txn,
        &ledger::NewEntry {
            partner_id: pid,
            location_id: loc,
            amount: 1,
            reason: "bench".into(),
            source_key: key,
        },
    )
    .await
    .expect("ledger");
    TaskKind::CreditBalance { location_id: loc }
        .enqueue(&txn, iid)
        .await
        .expect("enqueue");
    txn.commit().await.expect("commit");
}

/// One credit event for the first location of each of `tenants`, committed concurrently (as
/// API requests are), with idempotency keys made of `round` and the location.
async fn credit_events(state: &AppState, tenants: &[(i64, i64, Vec<i64>)], round: &str) {
    futures::stream::iter(tenants)
        .for_each_concurrent(32, |(iid, pid, locs)| async move {
            let key = format!("platform:{round}-{}", locs[0]);
            credit_event(state, *iid, *pid, locs[0], key).await;
        })
        .await;
}

/// Seconds from enqueue to done of the finished credit tasks of `integrations` (all when
/// empty), sorted.
async fn latencies(
    state: &AppState,
    integrations: &[i64],
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<f64> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use titanbridge::store::entities::sync_task;
    let mut q = sync_task::Entity::find()
        .filter(sync_task::Column::State.eq("done"))
        .filter(sync_task::Column::Kind.eq(CREDIT));
    if let Some(t) = since {
        q = q.filter(sync_task::Column::CreatedAt.gte(t));
    }
    if !integrations.is_empty() {
        q = q.filter(sync_task::Column::IntegrationId.is_in(integrations.iter().copied()));
    }
    let mut lat: Vec<f64> = q
        .all(state.store.db())
        .await
        .expect("tasks")
        .iter()
        .map(|t| (t.updated_at - t.created_at).num_milliseconds() as f64 / 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    lat
}

fn pct(lat: &[f64], p: f64) -> f64 {
    if lat.is_empty() {
        return f64::NAN;
    }
    lat[((lat.len() as f64 - 1.0) * p).round() as usize]
}

/// How the second's events arrive in the latency run.
#[derive(Clone, Copy, PartialEq)]
enum Arrivals {
    /// Spread evenly over the second (every 10 ms a hundredth of the tenants), as the events
    /// of independent tenants are.
    Spread,
    /// All at the top of each second (a worst case: every tenant's event at once).
    Burst,
}

async fn latency(db: Db<'_>, arrivals: Arrivals) {
    let n_tenants = scale(1000);
    let secs = 10;
    let e = env(
        db,
        Shape {
            tenants: n_tenants,
            locations: 1,
            rate: 60,
            latency: Duration::ZERO,
        },
    )
    .await;
    let w = start_worker(e.state.clone(), options(&e.state, 64, 2));
    let state = &e.state;
    // Events per step, and steps per second.
    let (steps, per_step) = match arrivals {
        Arrivals::Spread => (100, n_tenants.div_ceil(100)),
        Arrivals::Burst => (1, n_tenants),
    };
    let step = Duration::from_secs(1) / steps as u32;
    let open_sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE kind = '{CREDIT}' AND state <> 'done'"
    );
    // Warm-up, not timed: every tenant's first write fetches its OAuth token and builds its
    // client (once per token lifetime in production, 15 minutes), and the worker's start queues
    // the first poll of every stream of every tenant (6,000 polls at once, then one per tenant
    // and stream per poll interval): one event per tenant, then wait for the round to drain.
    credit_events(state, &e.tenants, "warm").await;
    // The scheduler queues the polls one by one, so "nothing open" can be true before the
    // last is queued: wait for the whole round, done.
    let round = (n_tenants * titanbridge::sync::poll::STREAMS.len()) as i64;
    let polls_done =
        "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE kind = 'poll' AND state = 'done'";
    let all_open = "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state <> 'done'";
    let deadline = Instant::now() + Duration::from_secs(120);
    while (count(&e.state, polls_done).await < round || count(&e.state, all_open).await > 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let since = chrono::Utc::now();
    let started = Instant::now();
    let mut next = started;
    for s in 0..secs {
        for chunk in e.tenants.chunks(per_step) {
            credit_events(state, chunk, &format!("bench-{s}")).await;
            next += step;
            tokio::time::sleep_until(next.into()).await;
        }
    }
    let offered = (n_tenants * secs) as f64 / started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&e.state, &open_sql).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.stop().await;
    let lat = latencies(&e.state, &[], Some(since)).await;
    let what = match arrivals {
        Arrivals::Spread => format!("{n_tenants} tenants x 1 event/s"),
        Arrivals::Burst => format!("{n_tenants} tenants x 1 event/s, all at once"),
    };
    figure(
        &format!("event latency p50 ({what})"),
        db,
        format!(
            "{:.2} s ({offered:.0} events/s offered, {} writes)",
            pct(&lat, 0.5),
            lat.len()
        ),
    );
    figure(
        &format!("event latency p99 ({what})"),
        db,
        format!("{:.2} s", pct(&lat, 0.99)),
    );
    finish(e).await;
}

async fn noisy_neighbour(db: Db<'_>) {
    let (queued, events) = (scale(100_000), 100);
    let e = env(
        db,
        Shape {
            tenants: 2,
            locations: events,
            rate: 1_000_000,
            latency: Duration::ZERO,
        },
    )
    .await;
    let (noisy, quiet) = (e.tenants[0].clone(), e.tenants[1].clone());
    bulk_enqueue(&e.state, noisy.0, noisy.2[0], queued).await;
    let w = start_worker(e.state.clone(), options(&e.state, 32, 16));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // One event per location, 10 per second: each its own write.
    for (n, loc) in quiet.2.iter().enumerate() {
        credit_event(&e.state, quiet.0, quiet.1, *loc, format!("quiet-{n}")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE integration_id = {} AND state <> 'done'",
        quiet.0
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&e.state, &open_sql).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let still = count(
        &e.state,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE integration_id = {} AND state = 'pending'",
            noisy.0
        ),
    )
    .await;
    w.stop().await;
    let lat = latencies(&e.state, &[quiet.0], None).await;
    figure(
        &format!("noisy neighbour p99 ({events} events beside {queued} queued)"),
        db,
        format!(
            "{:.2} s (max {:.2} s, {} writes; {still} of the noisy tenant's tasks still queued)",
            pct(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN),
            lat.len()
        ),
    );
    finish(e).await;
}

/// Issue 16: the activity log's cost. Credit-balance tasks where every task writes (each
/// location's balance differs from the one written before it, so each task PATCHes and logs a
/// row), run with the log on and off alternately (on, off, on, off) on one database; prints
/// each run and the best of each.
async fn activity_log_cost(dbk: Db<'_>) {
    let (n_tenants, per_tenant) = (20, scale(100));
    let e = env(
        dbk,
        Shape {
            tenants: n_tenants,
            locations: per_tenant,
            rate: 1_000_000,
            latency: Duration::ZERO,
        },
    )
    .await;
    let db = e.state.store.db();
    let mut off_settings = (*e.state.settings).clone();
    off_settings.sync.activity_log = false;
    let off_state = AppState::build(off_settings, false).await.expect("state");
    let total = (n_tenants * per_tenant) as i64;
    let label = dbk.label();
    // Alternating rounds, five of each: one round's rate moves by a third on this machine.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..10 {
        let log_on = round % 2 == 0;
        for (iid, partner_id, locs) in &e.tenants {
            for (k, l) in locs.iter().enumerate() {
                ledger::append(
                    db,
                    &ledger::NewEntry {
                        partner_id: *partner_id,
                        location_id: *l,
                        amount: 1 + k as i64,
                        reason: "bench".into(),
                        source_key: format!("bench-log-{round}-{l}"),
                    },
                )
                .await
                .expect("ledger");
                TaskKind::CreditBalance { location_id: *l }
                    .enqueue(db, *iid)
                    .await
                    .expect("enqueue");
            }
        }
        let state = if log_on {
            e.state.clone()
        } else {
            off_state.clone()
        };
        let done_before = count(
            &e.state,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state = 'done'",
        )
        .await;
        let started = Instant::now();
        let worker = start_worker(state, options(&e.state, 32, 16));
        let done_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state = 'done'";
        while count(&e.state, done_sql).await < done_before + total {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        worker.stop().await;
        let rate = total as f64 / secs;
        if log_on {
            on.push(rate);
        } else {
            off.push(rate);
        }
        println!(
            "activity log {} [{label}]: {total} writing credit tasks in {secs:.2} s = {rate:.0} tasks/s",
            if log_on { "on " } else { "off" }
        );
    }
    let rows = count(
        &e.state,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_activity",
    )
    .await;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m_on, m_off) = (median(&mut on), median(&mut off));
    let (best_on, best_off) = (on[on.len() - 1], off[off.len() - 1]);
    println!(
        "activity log cost [{label}]: median on {m_on:.0} tasks/s, median off {m_off:.0} tasks/s ({:+.1}%); best {best_on:.0} vs {best_off:.0} ({:+.1}%); {rows} log rows",
        (m_on / m_off - 1.0) * 100.0,
        (best_on / best_off - 1.0) * 100.0
    );
    drop(off_state);
    finish(e).await;
}

fn main() {
    if std::env::var_os("BENCH_CHILD").is_some() {
        return child_main();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pg = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let mut dbs = vec![Db::Sqlite];
    if let Some(url) = pg.as_deref() {
        dbs.push(Db::Postgres(url));
    }
    // `BENCH_DB=postgres` (or `sqlite`) runs the sections on that database alone.
    if let Ok(only_db) = std::env::var("BENCH_DB") {
        dbs.retain(|db| db.label() == only_db.trim());
    }
    rt.block_on(async {
        // `BENCH_ONLY=scale_out,latency` (a comma-separated list of sections) runs just those.
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let run = |section: &str| only.is_empty() || only.split(',').any(|s| s.trim() == section);
        if run("throughput") {
            for db in &dbs {
                throughput(*db).await;
            }
        }
        if let Some(url) = pg.as_deref()
            && run("scale_out")
        {
            scale_out(url).await;
        }
        for db in &dbs {
            if run("latency") {
                latency(*db, Arrivals::Spread).await;
            }
            if run("latency_burst") {
                latency(*db, Arrivals::Burst).await;
            }
            if run("noisy_neighbour") {
                noisy_neighbour(*db).await;
            }
            if run("rate_use") {
                rate_use(*db).await;
            }
        }
        if run("activity_log") {
            for db in &dbs {
                activity_log_cost(*db).await;
            }
        }
    });
}
