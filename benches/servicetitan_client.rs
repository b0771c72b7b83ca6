//! ServiceTitan client throughput against the built-in sandbox.
//!
//! `cargo bench --bench servicetitan_client`. Shrink with `BENCH_JOBS` (default 50000),
//! `BENCH_PAGE_SIZE` (100), `BENCH_TENANTS` (200) and `BENCH_CALLS_PER_TENANT` (120).
//!
//! Part 1: one tenant pages through all jobs with the sandbox enforcing 60 calls/s and the
//! client pacing itself at 60 calls/s: wall time, calls, 429s and achieved rate / limit.
//! Part 2: many tenants at once, each making its calls as fast as its own limiter allows:
//! total calls/s against the limiter's own ceiling (each tenant's burst, then the rest at the
//! rate: the fastest any client could go under that limiter) and the p99 wait in the limiter.
//! A fraction near 1 says the client adds nothing to the limiter's pacing.
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use secrecy::SecretString;
use titanbridge::sandbox::{self, SandboxConfig};
use titanbridge::servicetitan::{ClientConfig, Credentials, ListQuery, ServiceTitan};

const RATE: u32 = 60;
const APP_KEY: &str = "bench-app-key";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client() -> ServiceTitan {
    ServiceTitan::new(ClientConfig {
        app_key: SecretString::from(APP_KEY),
        rate_limit_per_sec: RATE,
        request_timeout: Duration::from_secs(30),
        max_retries: 10,
        application_guid: "bench".into(),
    })
}

async fn one_tenant(jobs: usize, page_size: u32) -> Result<(), String> {
    let h = sandbox::start(
        "127.0.0.1:0",
        SandboxConfig {
            app_key: APP_KEY.into(),
            rate_limit_per_sec: RATE,
            check_contract: false,
            ..SandboxConfig::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    h.state.add_tenant(1, "bench", "bench-secret");
    h.state.seed_bulk_jobs(1, jobs);
    let st = client();
    let tc = st.tenant(
        h.environment(),
        1,
        Credentials::new("bench", "bench-secret"),
    );
    let started = Instant::now();
    let n = tc
        .jobs(ListQuery::new().page_size(page_size))
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed();
    let stats = st.stats();
    let (_, sandbox_429) = h.state.call_counts(1).unwrap_or_default();
    let rate = stats.calls as f64 / wall.as_secs_f64();
    println!("== one tenant pulling {jobs} jobs, pageSize={page_size}, limit {RATE} calls/s ==");
    println!("records read         {n}");
    println!("wall time            {:.2} s", wall.as_secs_f64());
    println!(
        "calls made           {} (+{} token)",
        stats.calls, stats.token_requests
    );
    println!(
        "429s received        {} (sandbox counted {sandbox_429})",
        stats.rate_limited
    );
    println!("achieved rate        {rate:.1} calls/s");
    println!("achieved / limit     {:.3}", rate / f64::from(RATE));
    h.stop().await;
    if n != jobs {
        return Err(format!("read {n} of {jobs} jobs"));
    }
    Ok(())
}

async fn many_tenants(tenants: usize, calls_per_tenant: usize) -> Result<(), String> {
    let h = sandbox::start(
        "127.0.0.1:0",
        SandboxConfig {
            app_key: APP_KEY.into(),
            rate_limit_per_sec: RATE,
            check_contract: false,
            ..SandboxConfig::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    for t in 0..tenants {
        h.state
            .add_tenant(t as i64 + 1, &format!("client-{t}"), "secret");
    }
    let st = client();
    let started = Instant::now();
    let tasks: Vec<_> = (0..tenants)
        .map(|t| {
            let tc = st.tenant(
                h.environment(),
                t as i64 + 1,
                Credentials::new(format!("client-{t}"), "secret"),
            );
            tokio::spawn(async move {
                let q = ListQuery::new().page_size(2);
                for i in 0..calls_per_tenant {
                    tc.job_types_page(&q, (i % 5) as u32 + 1).await?;
                }
                Ok::<_, titanbridge::servicetitan::Error>(())
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    let wall = started.elapsed();
    let stats = st.stats();
    println!(
        "== {tenants} tenants at once, {calls_per_tenant} calls each, limit {RATE} calls/s per tenant =="
    );
    println!("wall time            {:.2} s", wall.as_secs_f64());
    println!(
        "calls made           {} (+{} token)",
        stats.calls, stats.token_requests
    );
    println!("429s received        {}", stats.rate_limited);
    let rate = stats.calls as f64 / wall.as_secs_f64();
    // Each tenant: `burst` calls at once, the rest one per 1/RATE s after the first.
    let burst = titanbridge::servicetitan::client_burst(RATE) as usize;
    let paced = calls_per_tenant.saturating_sub(burst) as f64 / f64::from(RATE);
    let ceiling = (tenants * calls_per_tenant) as f64 / paced.max(1e-9);
    println!("total rate           {rate:.0} calls/s");
    println!(
        "limiter ceiling      {ceiling:.0} calls/s (burst of {burst} + {} calls at {RATE}/s per tenant)",
        calls_per_tenant.saturating_sub(burst)
    );
    println!("rate / ceiling       {:.3}", rate / ceiling);
    println!(
        "limiter wait         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        stats.limiter_wait_p50.as_secs_f64() * 1e3,
        stats.limiter_wait_p99.as_secs_f64() * 1e3,
        stats.limiter_wait_max.as_secs_f64() * 1e3
    );
    h.stop().await;
    Ok(())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let jobs = env("BENCH_JOBS", 50_000);
    let page_size = env("BENCH_PAGE_SIZE", 100) as u32;
    let tenants = env("BENCH_TENANTS", 200);
    let per_tenant = env("BENCH_CALLS_PER_TENANT", 120);
    runtime.block_on(async {
        if let Err(e) = one_tenant(jobs, page_size).await {
            eprintln!("one-tenant bench failed: {e}");
            std::process::exit(1);
        }
        if let Err(e) = many_tenants(tenants, per_tenant).await {
            eprintln!("many-tenant bench failed: {e}");
            std::process::exit(1);
        }
    });
}
