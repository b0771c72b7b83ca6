//! Sync engine figures against the built-in sandbox.
//!
//! `cargo bench --bench sync_engine` (PostgreSQL too when `DATABASE_URL=postgres://…`).
//! `BENCH_SCALE` (default 1.0) shrinks or grows every workload.
//!
//! 1. Engine throughput (tasks/s): credit-balance tasks (one ServiceTitan call each) across 20
//!    tenants, sandbox at zero latency and no rate limit, on SQLite and PostgreSQL.
//! 2. Rate-limit use: 200 tenants with backlogs, sandbox and client at 60 calls/s per tenant;
//!    calls made per tenant over a window as a fraction of the limit.
//! 3. Event-to-ServiceTitan latency p50/p99: 1,000 tenants × 1 credit event/s; from the event's
//!    commit to the task that wrote the balance finishing.
//! 4. The activity log's cost: writing credit tasks with `sync.activity_log` on and off
//!    (`BENCH_ONLY=activity_log` runs only this).
use std::time::{Duration, Instant};
use titanbridge::store::task_kind::TaskKind;

use futures::StreamExt;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use secrecy::SecretString;
use titanbridge::config::{Settings, random_key};
use titanbridge::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use titanbridge::state::AppState;
use titanbridge::store::entities::{integration, partner, sync_task};
use titanbridge::store::members::{LocationInput, MemberInput};
use titanbridge::store::tasks::{self, NewTask};
use titanbridge::store::{ledger, links, members};
use titanbridge::sync::WorkerOptions;
use tokio::sync::watch;

const APP_KEY: &str = "bench-app-key";

fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64) * s).round().max(1.0) as usize
}

struct Env {
    state: AppState,
    sandbox: SandboxHandle,
    /// Per tenant: integration ID, partner ID, our location IDs.
    tenants: Vec<(i64, i64, Vec<i64>)>,
    _dir: Option<tempfile::TempDir>,
}

async fn database(pg: Option<&str>) -> (String, Option<tempfile::TempDir>) {
    match pg {
        Some(url) => {
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
                None,
            )
        }
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            );
            (url, Some(dir))
        }
    }
}

/// A sandbox with `n` tenants (limit `rate`/s), the app state, and per tenant an active
/// integration with `locs` locations all linked to the tenant's first seeded location.
async fn env(pg: Option<&str>, n: usize, locs: usize, rate: u32) -> Env {
    let seeds: Vec<TenantSeed> = (0..n)
        .map(|i| TenantSeed {
            tenant_id: 9_000_000 + i as i64,
            client_id: format!("bench-{i}"),
            client_secret: format!("secret-{i}"),
        })
        .collect();
    let sandbox = sandbox::start(
        "127.0.0.1:0",
        SandboxConfig {
            app_key: APP_KEY.into(),
            rate_limit_per_sec: rate,
            tenants: seeds.clone(),
            workers: 2,
            check_contract: false,
            ..SandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    let (url, dir) = database(pg).await;
    let mut s = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: url,
        encryption_key: random_key(32).into(),
        session_key: random_key(64).into(),
        ..Settings::default()
    };
    s.worker.embedded = false;
    s.servicetitan.environment = "custom".into();
    s.servicetitan.auth_url = sandbox.base_url.clone();
    s.servicetitan.api_url = sandbox.base_url.clone();
    s.servicetitan.app_key = SecretString::from(APP_KEY.to_owned());
    s.servicetitan.rate_limit_per_sec = rate;
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
            locations: (0..locs)
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
        _dir: dir,
    }
}

fn options(state: &AppState, concurrency: usize, per: usize) -> WorkerOptions {
    let mut o = WorkerOptions::from_settings(&state.settings.worker);
    o.concurrency = concurrency;
    o.per_integration = per;
    o.idle_sleep = Duration::from_millis(10);
    // Pollers off: these figures are about the outbound queue.
    o.poll_interval = Duration::from_secs(3600);
    o
}

fn start_worker(state: AppState, opts: WorkerOptions) -> watch::Sender<bool> {
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let _ = titanbridge::sync::worker::run_worker_with(state, opts, stop).await;
    });
    tx
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

async fn throughput(pg: Option<&str>) {
    let (n_tenants, per_tenant) = (20, scale(100));
    let e = env(pg, n_tenants, per_tenant, 1_000_000).await;
    let db = e.state.store.db();
    for (iid, _, locs) in &e.tenants {
        for l in locs {
            TaskKind::CreditBalance { location_id: *l }
                .enqueue(db, *iid)
                .await
                .expect("enqueue");
        }
    }
    let total = (n_tenants * per_tenant) as i64;
    let started = Instant::now();
    let stop = start_worker(e.state.clone(), options(&e.state, 32, 16));
    let done_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state = 'done'";
    while count(&e.state, done_sql).await < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    println!(
        "throughput [{}]: {total} tasks in {secs:.2} s = {:.0} tasks/s (zero latency, no rate limit, 32 slots)",
        if pg.is_some() { "postgres" } else { "sqlite" },
        total as f64 / secs
    );
    e.sandbox.stop().await;
}

async fn rate_use(pg: Option<&str>) {
    let n_tenants = scale(200);
    let backlog = 150;
    let e = env(pg, n_tenants, 1, 60).await;
    let db = e.state.store.db();
    let txn = tasks::begin_write(db).await.expect("txn");
    for (iid, _, locs) in &e.tenants {
        for _ in 0..backlog {
            // No dedupe key: each is a separate write, so every tenant keeps a backlog.
            tasks::enqueue(
                &txn,
                NewTask::now(
                    *iid,
                    TaskKind::CreditBalance { location_id: 0 }.name(),
                    serde_json::json!({"location_id": locs[0]}),
                    None,
                ),
            )
            .await
            .expect("enqueue");
        }
    }
    txn.commit().await.expect("commit");
    let calls = |e: &Env| -> u64 {
        (0..n_tenants)
            .map(|i| {
                e.sandbox
                    .state
                    .call_counts(9_000_000 + i as i64)
                    .map(|c| c.0)
                    .unwrap_or(0)
            })
            .sum()
    };
    let stop = start_worker(e.state.clone(), options(&e.state, 256, 4));
    tokio::time::sleep(Duration::from_secs(3)).await; // warm-up: tokens, pools
    let (c0, t0) = (calls(&e), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (c1, secs) = (calls(&e), t0.elapsed().as_secs_f64());
    let _ = stop.send(true);
    let limited: u64 = (0..n_tenants)
        .map(|i| {
            e.sandbox
                .state
                .call_counts(9_000_000 + i as i64)
                .map(|c| c.1)
                .unwrap_or(0)
        })
        .sum();
    let rate = (c1 - c0) as f64 / secs;
    let limit = 60.0 * n_tenants as f64;
    println!(
        "rate use [{}]: {n_tenants} tenants with backlogs: {rate:.0} calls/s of {limit:.0} allowed = {:.3} of the limit; {limited} calls refused with 429",
        if pg.is_some() { "postgres" } else { "sqlite" },
        rate / limit
    );
    e.sandbox.stop().await;
}

async fn latency(pg: Option<&str>) {
    let n_tenants = scale(1000);
    let secs = 10;
    let e = env(pg, n_tenants, 1, 60).await;
    let stop = start_worker(e.state.clone(), options(&e.state, 64, 2));
    let db = e.state.store.db();
    let started = Instant::now();
    for s in 0..secs {
        let tick = Instant::now();
        // Each tenant's event of this second, committed concurrently (as API requests are).
        futures::stream::iter(e.tenants.iter())
            .for_each_concurrent(32, |(iid, pid, locs)| async move {
                let txn = tasks::begin_write(db).await.expect("txn");
                ledger::append(
                    &txn,
                    &ledger::NewEntry {
                        partner_id: *pid,
                        location_id: locs[0],
                        amount: 1,
                        reason: "bench".into(),
                        source_key: format!("platform:bench-{s}-{}", locs[0]),
                    },
                )
                .await
                .expect("ledger");
                TaskKind::CreditBalance {
                    location_id: locs[0],
                }
                .enqueue(&txn, *iid)
                .await
                .expect("enqueue");
                txn.commit().await.expect("commit");
            })
            .await;
        let spent = tick.elapsed();
        if spent < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_secs(1) - spent).await;
        }
    }
    let offered = started.elapsed().as_secs_f64();
    let open_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state <> 'done'";
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&e.state, open_sql).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let rows = sync_task::Entity::find().all(db).await.expect("tasks");
    let mut lat: Vec<f64> = rows
        .iter()
        .filter(|t| {
            t.state == "done" && t.kind == TaskKind::CreditBalance { location_id: 0 }.name()
        })
        .map(|t| (t.updated_at - t.created_at).num_milliseconds() as f64 / 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "latency [{}]: {n_tenants} tenants x 1 event/s for {secs} s ({:.0} events/s offered, {} writes): p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        if pg.is_some() { "postgres" } else { "sqlite" },
        (n_tenants * secs) as f64 / offered,
        lat.len(),
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    e.sandbox.stop().await;
}

/// Issue 16: the activity log's cost. Credit-balance tasks where every task writes (each
/// location's balance differs from the one written before it, so each task PATCHes and logs a
/// row), run with the log on and off alternately (on, off, on, off) on one database; prints
/// each run and the best of each.
async fn activity_log_cost(pg: Option<&str>) {
    let (n_tenants, per_tenant) = (20, scale(100));
    let e = env(pg, n_tenants, per_tenant, 1_000_000).await;
    let db = e.state.store.db();
    let mut off_settings = (*e.state.settings).clone();
    off_settings.sync.activity_log = false;
    let off_state = AppState::build(off_settings, false).await.expect("state");
    let total = (n_tenants * per_tenant) as i64;
    let label = if pg.is_some() { "postgres" } else { "sqlite" };
    let (mut best_on, mut best_off) = (0f64, 0f64);
    for round in 0..4 {
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
        let stop = start_worker(state, options(&e.state, 32, 16));
        let done_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM sync_tasks WHERE state = 'done'";
        while count(&e.state, done_sql).await < done_before + total {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        let _ = stop.send(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rate = total as f64 / secs;
        if log_on {
            best_on = best_on.max(rate);
        } else {
            best_off = best_off.max(rate);
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
    println!(
        "activity log cost [{label}]: best on {best_on:.0} tasks/s, best off {best_off:.0} tasks/s ({:+.1}%), {rows} log rows",
        (best_on / best_off - 1.0) * 100.0
    );
    e.sandbox.stop().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pg = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    rt.block_on(async {
        // Issue 16: `BENCH_ONLY=activity_log` runs just the log-cost comparison.
        if std::env::var("BENCH_ONLY").as_deref() == Ok("activity_log") {
            activity_log_cost(None).await;
            if let Some(url) = pg.as_deref() {
                activity_log_cost(Some(url)).await;
            }
            return;
        }
        throughput(None).await;
        if let Some(url) = pg.as_deref() {
            throughput(Some(url)).await;
        }
        rate_use(pg.as_deref()).await;
        latency(pg.as_deref()).await;
        activity_log_cost(None).await;
        if let Some(url) = pg.as_deref() {
            activity_log_cost(Some(url)).await;
        }
    });
}
