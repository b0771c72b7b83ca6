//! Backfill speed against the sandbox at a realistic 100 ms per ServiceTitan call.
//!
//! `cargo bench --bench backfill` (SQLite), then with
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test` (adds PostgreSQL). `BENCH_JOBS`
//! (default 20,000) jobs in one tenant; `BENCH_LATENCY_MS` (100).
//!
//! Per database, records/s of:
//! 1. the bare client reading `export/jobs` from the start to `hasMore: false` (the ceiling:
//!    one call after the other, each needing the previous token);
//! 2. `titanbridge backfill` through the export feeds (every stream, one batch read ahead,
//!    each batch's effects, seen rows and token in one transaction);
//! 3. the old page-list backfill (pages of 200 by `modifiedOnOrAfter`, one after the other).
//!
//! And, while tenant A backfills, the latency of tenant B's credit writes through the worker
//! (the backfill must not hold them up by more than a second).
#[allow(dead_code)]
#[path = "../tests/api/helpers/mod.rs"]
mod helpers;

use std::time::{Duration, Instant};

use helpers::app::TestDb;
use helpers::sync::{World, spawn_worker, test_worker_options, world_on};
use titanbridge::sandbox::{Faults, SandboxConfig};
use titanbridge::servicetitan::ExportFrom;
use titanbridge::store::cursors;
use titanbridge::sync::{Inbound, STREAMS, run_backfill_with};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn bare(w: &World) -> (usize, Duration, usize) {
    let c = w.st_client(0);
    let started = Instant::now();
    let (mut from, mut n, mut calls) = (ExportFrom::Start, 0, 0);
    loop {
        let page = c.export_jobs(&from, false).await.expect("export");
        calls += 1;
        n += page.data.len();
        if !page.has_more {
            return (n, started.elapsed(), calls);
        }
        from = ExportFrom::Token(page.continue_from);
    }
}

async fn backfill(w: &World, inbound: Inbound) -> (u64, Duration) {
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db();
    for s in STREAMS {
        cursors::reset_stream(db, iid, s).await.expect("reset");
    }
    let started = Instant::now();
    let mut read = 0;
    run_backfill_with(w.app.state.clone(), iid, inbound, |p| read = p.read)
        .await
        .expect("backfill");
    (read, started.elapsed())
}

/// Tenant B's credit writes while tenant A backfills: (p50, max) from the credit's commit to
/// the sandbox holding the new balance.
async fn credit_latency_during_backfill(w: &World) -> (Duration, Duration, usize) {
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db();
    for s in STREAMS {
        cursors::reset_stream(db, iid, s).await.expect("reset");
    }
    let r = w
        .put_member(1, "b-1", &helpers::sync::member_body(1, None))
        .await;
    assert_eq!(r.status(), 200);
    let stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let loc =
        titanbridge::store::members::location_by_external(db, w.partners[1].partner_id, "loc-1")
            .await
            .expect("db")
            .expect("location");
    let st_loc = helpers::sync::wait_for("B's location link", Duration::from_secs(60), || async {
        titanbridge::store::links::st_id(db, w.partners[1].integration_id, "location", loc.id)
            .await
            .expect("db")
    })
    .await;
    let state = w.app.state.clone();
    let mut balance = 0i64;
    // Baseline: the same writes with no backfill running.
    let mut base = Vec::new();
    for _ in 0..5 {
        balance += 5;
        let t0 = Instant::now();
        let r = w
            .post_credit(
                1,
                "loc-1",
                &serde_json::json!({"amount": 5, "reason": "bench", "idempotency_key": format!("b{balance}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let want = balance.to_string();
        helpers::sync::wait_for("B's balance", Duration::from_secs(30), || async {
            let snap = w.snapshot(1);
            snap.location_custom_field(st_loc, helpers::sync::CREDIT_FIELD)
                .filter(|v| *v == want)
                .map(|_| ())
        })
        .await;
        base.push(t0.elapsed());
    }
    base.sort();
    println!(
        "           tenant B credit writes, no backfill running: p50 {:.0} ms, max {:.0} ms",
        base[base.len() / 2].as_secs_f64() * 1e3,
        base[base.len() - 1].as_secs_f64() * 1e3
    );
    let a = tokio::spawn(run_backfill_with(state, iid, Inbound::Export, |_| {}));
    let mut lat = Vec::new();
    while !a.is_finished() {
        balance += 5;
        let t0 = Instant::now();
        let r = w
            .post_credit(
                1,
                "loc-1",
                &serde_json::json!({"amount": 5, "reason": "bench", "idempotency_key": format!("b{balance}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let want = balance.to_string();
        helpers::sync::wait_for("B's balance", Duration::from_secs(30), || async {
            let snap = w.snapshot(1);
            snap.location_custom_field(st_loc, helpers::sync::CREDIT_FIELD)
                .filter(|v| *v == want)
                .map(|_| ())
        })
        .await;
        lat.push(t0.elapsed());
    }
    a.await.expect("join").expect("backfill");
    let _ = stop.send(true);
    lat.sort();
    let p50 = lat.get(lat.len() / 2).copied().unwrap_or_default();
    (p50, lat.last().copied().unwrap_or_default(), lat.len())
}

async fn run(label: &str, db: TestDb, jobs: usize, latency: Duration) {
    let cfg = SandboxConfig {
        rate_limit_per_sec: 1_000,
        check_contract: false,
        export_delay: Duration::ZERO,
        faults: Faults {
            latency,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    };
    let w = world_on(db, 2, cfg, |_| {}).await;
    w.sandbox
        .state
        .seed_bulk_jobs(w.partners[0].tenant_id, jobs)
        .expect("tenant");
    let (n, t, calls) = bare(&w).await;
    let bare_rate = n as f64 / t.as_secs_f64();
    println!(
        "{label:<10} bare client, export/jobs     {n:>6} records in {:>6.2} s ({calls} calls) = {bare_rate:>7.0} records/s",
        t.as_secs_f64()
    );
    let (n, t) = backfill(&w, Inbound::Export).await;
    let rate = n as f64 / t.as_secs_f64();
    println!(
        "{label:<10} export backfill, all streams {n:>6} records in {:>6.2} s = {rate:>7.0} records/s = {:.2} of the bare client",
        t.as_secs_f64(),
        rate / bare_rate
    );
    let (n, t) = backfill(&w, Inbound::PageList).await;
    let rate = n as f64 / t.as_secs_f64();
    println!(
        "{label:<10} page-list backfill (200/page) {n:>6} records in {:>6.2} s = {rate:>7.0} records/s = {:.2} of the bare client",
        t.as_secs_f64(),
        rate / bare_rate
    );
    let (p50, max, k) = credit_latency_during_backfill(&w).await;
    println!(
        "{label:<10} tenant B credit writes during tenant A's backfill: {k} writes, p50 {:.0} ms, max {:.0} ms",
        p50.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let jobs = env("BENCH_JOBS", 20_000) as usize;
    let latency = Duration::from_millis(env("BENCH_LATENCY_MS", 100));
    println!(
        "backfill bench: {jobs} jobs, sandbox latency {} ms per call",
        latency.as_millis()
    );
    run("SQLite", TestDb::sqlite(), jobs, latency).await;
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        run("PostgreSQL", TestDb::postgres(&url).await, jobs, latency).await;
    }
}
