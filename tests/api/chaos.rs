//! Chaos: the sandbox answers 20 % of calls with 500 and 10 % with 429 (plus latency), while a
//! `titanbridge worker` process is SIGKILLed at random points at least 20 times during a run of
//! several hundred platform events across several tenants. At the end: no duplicate customers,
//! tags, notes, memberships or jobs; every credit field equals its ledger; every task is done
//! or visibly dead with a reason.
use crate::helpers::sync as sync_support;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::json;
use sync_support::*;
use titanbridge::sandbox::{Faults, InvoiceLine, SandboxConfig};
use titanbridge::servicetitan::{JobAppointmentInput, NewJob};
use titanbridge::store::entities::sync_task;
use titanbridge::store::{ledger, links, members};
use tokio::process::{Child, Command};

const TENANTS: usize = 3;
const MEMBERS: usize = 25;
const CREDITS_PER_MEMBER: usize = 4;
const OFFLINE_PER_TENANT: usize = 8;
const MIN_KILLS: usize = 20;

fn spawn_worker_process(w: &World) -> Child {
    let s = &w.app.state.settings;
    Command::new(env!("CARGO_BIN_EXE_titanbridge"))
        .args(["worker", "--no-migrate"])
        .env("TITANBRIDGE_DATABASE_URL", &s.database_url)
        .env(
            "TITANBRIDGE_ENCRYPTION_KEY",
            s.encryption_key.expose_secret(),
        )
        .env("TITANBRIDGE_SESSION_KEY", s.session_key.expose_secret())
        .env("TITANBRIDGE_SERVICETITAN__ENVIRONMENT", "custom")
        .env("TITANBRIDGE_SERVICETITAN__AUTH_URL", &w.sandbox.base_url)
        .env("TITANBRIDGE_SERVICETITAN__API_URL", &w.sandbox.base_url)
        .env("TITANBRIDGE_SERVICETITAN__APP_KEY", APP_KEY)
        .env("TITANBRIDGE_SERVICETITAN__REQUEST_TIMEOUT_SECS", "5")
        .env("TITANBRIDGE_WORKER__CONCURRENCY", "16")
        .env("TITANBRIDGE_WORKER__LEASE_SECS", "1")
        .env("TITANBRIDGE_WORKER__POLL_INTERVAL_SECS", "1")
        .env("TITANBRIDGE_WORKER__MAX_ATTEMPTS", "40")
        // Creates that hit an injected 500 are retried by their task, not inside the client
        // (the request may have been processed); keep those retries quick so the run settles.
        .env("TITANBRIDGE_WORKER__BACKOFF_CAP_SECS", "3")
        .env(
            "RUST_LOG",
            std::env::var("CHAOS_WORKER_LOG").unwrap_or_else(|_| "error".into()),
        )
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("CHAOS_WORKER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("spawn titanbridge worker")
}

/// Outbound tasks (not polls) not yet finished.
async fn unfinished(w: &World) -> u64 {
    sync_task::Entity::find()
        .filter(sync_task::Column::Kind.ne("poll"))
        .filter(sync_task::Column::State.is_in(["pending", "running"]))
        .count(w.app.state.store.db())
        .await
        .expect("count")
}

async fn create_job(w: &World, p: usize, customer_id: i64, location_id: i64) -> i64 {
    let start = chrono::Utc::now() + chrono::Duration::days(3);
    let job = NewJob {
        customer_id,
        location_id,
        business_unit_id: 1001,
        job_type_id: 2001,
        priority: "Normal".into(),
        campaign_id: CAMPAIGN,
        appointments: vec![JobAppointmentInput {
            start,
            end: start + chrono::Duration::hours(2),
            arrival_window_start: None,
            arrival_window_end: None,
            technician_ids: vec![],
        }],
        summary: Some("Maintenance".into()),
        tag_type_ids: vec![],
        custom_fields: vec![],
        external_data: None,
    };
    // The contractor's own tools see the same faults; retry until it lands once.
    let snapshot_jobs = |w: &World| w.snapshot(p).jobs.len();
    let before = snapshot_jobs(w);
    loop {
        match w.st_client(p).create_job(&job).await {
            Ok(j) => return j.id,
            Err(_) if snapshot_jobs(w) > before => {
                return w.snapshot(p).jobs.last().expect("job").id;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkilled_workers_under_faults_never_duplicate_and_converge() {
    let started = Instant::now();
    let w = world_with(
        TENANTS,
        SandboxConfig {
            workers: 4,
            ..SandboxConfig::default()
        },
    )
    .await;
    w.sandbox.state.set_faults(Faults {
        latency: Duration::from_millis(5),
        error_rates: BTreeMap::from([(500, 0.2), (429, 0.1)]),
        outage_until: None,
        retry_after_secs: 1,
    });

    // The killer: restarts the worker at random points until told to stop.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let kills = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let killer = {
        let kills = kills.clone();
        let wref: &'static World = Box::leak(Box::new(w));
        let handle = tokio::spawn(async move {
            let mut child = spawn_worker_process(wref);
            loop {
                // A killed worker's leases (1 s) must lapse before the next one can take its
                // tenants over, so each worker lives a little longer than a lease.
                let pause = rand::thread_rng().gen_range(1200..3000);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(pause)) => {}
                    _ = stop_rx.changed() => break,
                }
                child.start_kill().expect("SIGKILL");
                let _ = child.wait().await;
                kills.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                child = spawn_worker_process(wref);
            }
            child
        });
        (handle, wref)
    };
    let (killer, w) = killer;

    // Phase 1: members with plans, then credit bursts (several hundred events).
    let mut events = 0;
    for p in 0..TENANTS {
        for m in 0..MEMBERS {
            let n = p * 1000 + m;
            let r = w
                .put_member(p, &format!("m{n}"), &member_body(n, Some("plus")))
                .await;
            assert_eq!(r.status(), 200);
            events += 1;
        }
    }
    let mut rng_amounts = Vec::new();
    for c in 0..CREDITS_PER_MEMBER {
        for p in 0..TENANTS {
            for m in 0..MEMBERS {
                let n = p * 1000 + m;
                let amount = ((n + c) % 7) as i64 * 10 + 5;
                rng_amounts.push(amount);
                let body = json!({"amount": amount, "reason": "usage", "idempotency_key": format!("c{n}-{c}")});
                let r = w.post_credit(p, &format!("loc-{n}"), &body).await;
                assert_eq!(r.status(), 201);
                events += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Phase 2: once locations are linked, the contractor books jobs; hubs go offline; some
    // jobs complete with invoices holding an eligible service.
    let db = w.app.state.store.db();
    let mut jobs: HashMap<(usize, usize), i64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for p in 0..TENANTS {
        for m in 0..OFFLINE_PER_TENANT {
            let n = p * 1000 + m;
            let loc =
                members::location_by_external(db, w.partners[p].partner_id, &format!("loc-{n}"))
                    .await
                    .unwrap()
                    .unwrap();
            let iid = w.partners[p].integration_id;
            let (st_loc, st_cust) = loop {
                let l = links::st_id(db, iid, links::kind::LOCATION, loc.id)
                    .await
                    .unwrap();
                let c = links::st_id(db, iid, links::kind::CUSTOMER, loc.member_id)
                    .await
                    .unwrap();
                if let (Some(l), Some(c)) = (l, c) {
                    break (l, c);
                }
                assert!(Instant::now() < deadline, "links did not appear in time");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            jobs.insert((p, m), create_job(w, p, st_cust, st_loc).await);
            let r = w.post_device(p, &format!("loc-{n}"), "offline").await;
            assert_eq!(r.status(), 200);
            events += 2;
        }
        for m in OFFLINE_PER_TENANT..OFFLINE_PER_TENANT + 3 {
            let n = p * 1000 + m;
            let loc =
                members::location_by_external(db, w.partners[p].partner_id, &format!("loc-{n}"))
                    .await
                    .unwrap()
                    .unwrap();
            let iid = w.partners[p].integration_id;
            let (st_loc, st_cust) = loop {
                let l = links::st_id(db, iid, links::kind::LOCATION, loc.id)
                    .await
                    .unwrap();
                let c = links::st_id(db, iid, links::kind::CUSTOMER, loc.member_id)
                    .await
                    .unwrap();
                if let (Some(l), Some(c)) = (l, c) {
                    break (l, c);
                }
                assert!(Instant::now() < deadline, "links did not appear in time");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let job = create_job(w, p, st_cust, st_loc).await;
            let t = w.partners[p].tenant_id;
            assert!(w.sandbox.state.set_job_status(t, job, "Completed"));
            w.sandbox.state.add_invoice(
                t,
                job,
                &[InvoiceLine {
                    sku_id: ELIGIBLE_SERVICE,
                    kind: "Service".into(),
                    quantity: 1.0,
                    price: 129.0,
                }],
            );
            events += 2;
        }
    }
    assert!(events >= 300, "several hundred events ({events})");

    // Keep killing until at least MIN_KILLS, then let the last worker finish the work.
    while kills.load(std::sync::atomic::Ordering::SeqCst) < MIN_KILLS {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_tx.send(true).unwrap();
    let mut last = killer.await.unwrap();
    let expected_invoice_entries = TENANTS * 3;
    let settle = Instant::now() + Duration::from_secs(120);
    loop {
        let invoice_entries = titanbridge::store::entities::credit_entry::Entity::find()
            .filter(
                titanbridge::store::entities::credit_entry::Column::SourceKey
                    .starts_with("st-invoice-item:"),
            )
            .count(db)
            .await
            .unwrap() as usize;
        let notes_ok = jobs.iter().all(|((p, _), job)| {
            w.snapshot(*p)
                .job_notes
                .get(job)
                .is_some_and(|n| !n.is_empty())
        });
        if unfinished(w).await == 0 && invoice_entries >= expected_invoice_entries && notes_ok {
            break;
        }
        assert!(
            Instant::now() < settle,
            "did not converge: {} unfinished",
            unfinished(w).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Let in-flight polls settle, then stop the worker for good.
    tokio::time::sleep(Duration::from_millis(500)).await;
    last.start_kill().ok();
    let _ = last.wait().await;

    // --- Assertions on the sandbox's final state ---
    for p in 0..TENANTS {
        let snap = w.snapshot(p);
        let iid = w.partners[p].integration_id;
        let ours: Vec<_> = snap
            .customers
            .iter()
            .filter(|c| c.external("titanbridgeMemberId").is_some())
            .collect();
        let mut per_member: HashMap<String, usize> = HashMap::new();
        for c in &ours {
            let id = c.external("titanbridgeMemberId").unwrap();
            *per_member.entry(id.to_owned()).or_default() += 1;
        }
        assert_eq!(
            per_member.len(),
            MEMBERS,
            "tenant {p}: every member has a customer"
        );
        assert!(
            per_member.values().all(|n| *n == 1),
            "tenant {p}: duplicate customers {per_member:?}"
        );
        for c in &ours {
            assert_eq!(
                c.tag_type_ids,
                vec![TAG_TYPE],
                "tenant {p}: customer {} tags",
                c.id
            );
            let locs = snap
                .locations
                .iter()
                .filter(|l| l.customer_id == c.id)
                .count();
            assert_eq!(
                locs, 1,
                "tenant {p}: customer {} has {locs} locations",
                c.id
            );
            let ms = snap
                .memberships
                .iter()
                .filter(|m| m.customer_id == c.id)
                .count();
            assert_eq!(ms, 1, "tenant {p}: customer {} has {ms} memberships", c.id);
        }
        let created_jobs = jobs.keys().filter(|(q, _)| *q == p).count() + 3;
        assert_eq!(
            snap.jobs.len(),
            created_jobs + seeded_jobs(w, p),
            "tenant {p}: no duplicate jobs"
        );
        for (job, notes) in &snap.job_notes {
            let mut markers: HashMap<&str, usize> = HashMap::new();
            for n in notes {
                if let Some(i) = n.text.find("[titanbridge:reminder:") {
                    *markers.entry(&n.text[i..]).or_default() += 1;
                }
            }
            assert!(
                markers.values().all(|c| *c == 1),
                "tenant {p}: duplicate notes on job {job}: {markers:?}"
            );
        }
        for m in 0..MEMBERS {
            let n = p * 1000 + m;
            let loc =
                members::location_by_external(db, w.partners[p].partner_id, &format!("loc-{n}"))
                    .await
                    .unwrap()
                    .unwrap();
            let st_loc = links::st_id(db, iid, links::kind::LOCATION, loc.id)
                .await
                .unwrap()
                .unwrap();
            let balance = ledger::balance(db, loc.id).await.unwrap();
            assert_eq!(
                snap.location_custom_field(st_loc, CREDIT_FIELD),
                Some(balance.to_string().as_str()),
                "tenant {p}: credit field of loc-{n} equals its ledger"
            );
        }
    }
    let tasks = sync_task::Entity::find().all(db).await.unwrap();
    let lost: Vec<_> = tasks
        .iter()
        .filter(|t| {
            t.kind != "poll"
                && !(t.state == "done" || (t.state == "dead" && t.last_error.is_some()))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "tasks neither done nor dead with a reason: {lost:?}"
    );
    let dead = tasks.iter().filter(|t| t.state == "dead").count();
    let kills = kills.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!(
        "chaos: {events} events, {kills} SIGKILLs, {} tasks ({dead} dead), {:.1} s",
        tasks.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= MIN_KILLS);
}

/// Jobs the sandbox seeds per tenant before the test touches it.
fn seeded_jobs(w: &World, p: usize) -> usize {
    let snap = w.snapshot(p);
    snap.jobs
        .iter()
        .filter(|j| j.summary.as_deref() != Some("Maintenance"))
        .count()
}
