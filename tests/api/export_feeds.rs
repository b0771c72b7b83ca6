//! ServiceTitan's export feeds: the sandbox serves them as API.md §2.2 and §16 describe (every
//! answer checked against the official OpenAPI documents by the contract hook), and inbound sync
//! reads them: a restartable backfill that applies each change exactly once under concurrent
//! modifications, a visibility delay and a kill mid-way; cancellations and deletions flowing
//! back.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::sync::*;
use titanbridge::sandbox::SandboxConfig;
use titanbridge::servicetitan::{ExportFrom, Feed, Job, TenantClient};
use titanbridge::store::entities::inbound_seen;
use titanbridge::store::{cursors, links, members};

const WAIT: Duration = Duration::from_secs(60);

fn no_delay() -> SandboxConfig {
    SandboxConfig {
        export_delay: Duration::ZERO,
        rate_limit_per_sec: 1_000,
        ..SandboxConfig::default()
    }
}

/// Reads a feed to its end from `from`: (records, final token, calls).
async fn read_all(
    c: &TenantClient,
    from: ExportFrom,
    recent: bool,
) -> (Vec<(Job, bool)>, String, usize) {
    let mut from = from;
    let mut out = Vec::new();
    let mut calls = 0;
    loop {
        let page = c.export_jobs(&from, recent).await.expect("export");
        calls += 1;
        out.extend(page.data.into_iter().map(|e| (e.record, e.active)));
        from = ExportFrom::Token(page.continue_from.clone());
        if !page.has_more {
            return (out, page.continue_from, calls);
        }
    }
}

#[tokio::test]
async fn export_feeds_page_by_token_include_deleted_records_and_hold_back_recent_changes() {
    let w = world_with(1, no_delay()).await;
    let tenant = w.partners[0].tenant_id;
    let st = &w.sandbox.state;
    st.seed_bulk_jobs(tenant, 1_200).expect("tenant");
    let c = w.st_client(0);

    // From the start: batches of 500 in (modifiedOn, id) order, each job once.
    let (jobs, token, calls) = read_all(&c, ExportFrom::Start, false).await;
    assert_eq!(calls, 3, "1,200 jobs come in batches of 500");
    assert_eq!(jobs.len(), 1_200);
    let ids: HashSet<i64> = jobs.iter().map(|(j, _)| j.id).collect();
    assert_eq!(ids.len(), 1_200, "no job twice");
    let stamps: Vec<_> = jobs
        .iter()
        .map(|(j, _)| (j.modified_on.expect("modifiedOn"), j.id))
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "ordered by modification"
    );

    // Caught up: the stored token returns nothing until something changes, then only that.
    let (none, _, _) = read_all(&c, ExportFrom::Token(token.clone()), false).await;
    assert!(none.is_empty());
    let changed = jobs[10].0.id;
    assert!(st.set_job_status(tenant, changed, "Canceled"));
    let (after, token, _) = read_all(&c, ExportFrom::Token(token), false).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].0.id, changed);
    assert_eq!(after[0].0.job_status, "Canceled");

    // A date starts at UTC midnight: everything modified today.
    let today = chrono::Utc::now().date_naive();
    let (dated, _, _) = read_all(&c, ExportFrom::Date(today), false).await;
    assert_eq!(dated.len(), 1_200);

    // Deleted records: gone from lists and reads, exported with active: false.
    let deleted = jobs[20].0.id;
    assert!(st.delete_record(tenant, "jobs", deleted));
    let (gone, token, _) = read_all(&c, ExportFrom::Token(token), false).await;
    assert_eq!(gone.len(), 1);
    assert_eq!((gone[0].0.id, gone[0].1), (deleted, false));
    assert!(c.job(deleted).await.is_err(), "a deleted job is not found");

    // The visibility delay: a change is hidden for the delay, unless recent changes are
    // asked for; those come again on the next call (dedupe by id + modifiedOn).
    st.set_export_delay(Duration::from_secs(900));
    let fresh = jobs[30].0.id;
    assert!(st.set_job_status(tenant, fresh, "Completed"));
    let (hidden, _, _) = read_all(&c, ExportFrom::Token(token.clone()), false).await;
    assert!(hidden.is_empty(), "not visible for 15 minutes");
    let (seen, again_from, _) = read_all(&c, ExportFrom::Token(token.clone()), true).await;
    assert_eq!(seen.iter().map(|(j, _)| j.id).collect::<Vec<_>>(), [fresh]);
    let (again, _, _) = read_all(&c, ExportFrom::Token(again_from), true).await;
    assert_eq!(
        again.iter().map(|(j, _)| j.id).collect::<Vec<_>>(),
        [fresh],
        "recent changes are served again"
    );

    // A `from` that is neither a token nor a date is a 400 naming it.
    let bad = c
        .export_jobs(&ExportFrom::Token("not a token".into()), false)
        .await
        .expect_err("400");
    assert!(bad.to_string().contains("from"), "{bad}");

    // Every feed titanbridge knows answers in the documented shape (the contract hook checks).
    for feed in Feed::ALL {
        let page = c
            .export::<Value>(feed, &ExportFrom::Start, true)
            .await
            .unwrap_or_else(|e| panic!("{feed:?}: {e}"));
        assert!(!page.continue_from.is_empty(), "{feed:?}");
    }
}

/// How many jobs the scenario backfills in the normal run (`EXPORT_SCENARIO_RECORDS`, default
/// 10,000: 50,000 takes about 90 s in a debug build on the 2-core machine, so the full size is
/// the ignored test below, which `scripts/test` runs on its own after the suite).
fn scenario_records() -> usize {
    std::env::var("EXPORT_SCENARIO_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[tokio::test]
async fn export_backfill_applies_each_change_once_across_a_kill_and_concurrent_edits() {
    backfill_scenario(scenario_records()).await;
}

/// The full-size scenario: `scripts/test` runs it after the suite (`cargo test --test api -- --ignored`).
#[tokio::test]
#[ignore = "50,000 records: 15 s in a debug build on an idle machine, 90 s on a busy one; scripts/test runs it after the suite"]
async fn export_backfill_of_50000_records_applies_each_change_once() {
    backfill_scenario(50_000).await;
}

async fn backfill_scenario(n: usize) {
    let cfg = SandboxConfig {
        export_delay: Duration::from_secs(1),
        rate_limit_per_sec: 1_000,
        check_contract: n <= 5_000,
        ..SandboxConfig::default()
    };
    let w = world_with(1, cfg).await;
    let tenant = w.partners[0].tenant_id;
    let iid = w.partners[0].integration_id;
    let state = w.app.state.clone();
    let db = state.store.db().clone();
    w.sandbox.state.seed_bulk_jobs(tenant, n).expect("tenant");
    let ids: Vec<i64> = w.snapshot(0).jobs.iter().map(|j| j.id).collect();
    // Let the seeded jobs age past the visibility delay.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // The contractor keeps editing jobs while the backfill runs.
    let editing = Arc::new(AtomicBool::new(true));
    let editor = {
        let st = w.sandbox.state.clone();
        let editing = editing.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut edits = 0usize;
            while editing.load(Ordering::Relaxed) {
                let id = ids[(edits * 7_919) % ids.len()];
                let status = ["Dispatched", "InProgress", "Scheduled"][edits % 3];
                st.set_job_status(tenant, id, status);
                edits += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            edits
        })
    };

    // Killed a third of the way through (the task is dropped mid-batch, as a crash would) ...
    let started = Instant::now();
    let first = tokio::spawn(titanbridge::sync::run_backfill(state.clone(), iid, |_| {}));
    wait_for("a third of the backfill", WAIT, || async {
        let p = cursors::progress(&db, iid).await.expect("db");
        let read: i64 = p.iter().map(|s| s.read).sum();
        (read >= (n / 3) as i64).then_some(())
    })
    .await;
    first.abort();
    let _ = first.await;
    let at_kill: i64 = cursors::progress(&db, iid)
        .await
        .expect("db")
        .iter()
        .map(|s| s.read)
        .sum();
    assert!(
        at_kill < n as i64,
        "killed before the end ({at_kill} of {n})"
    );

    // ... and restarted: it resumes at the last committed batch and runs to the end.
    titanbridge::sync::run_backfill(state.clone(), iid, |_| {})
        .await
        .expect("backfill");
    let took = started.elapsed();
    let progress = cursors::progress(&db, iid).await.expect("db");
    let jobs = progress.iter().find(|p| p.stream == "jobs").expect("jobs");
    assert!(jobs.caught_up_at.is_some(), "the jobs feed caught up");
    let seen_by_backfill = inbound_seen::Entity::find()
        .filter(inbound_seen::Column::IntegrationId.eq(iid))
        .filter(inbound_seen::Column::Stream.eq("jobs"))
        .count(&db)
        .await
        .expect("db");

    // Incremental polls (with recent changes) pick up what the edits did meanwhile.
    let stop = spawn_worker(state.clone(), test_worker_options(&state.settings));
    tokio::time::sleep(Duration::from_millis(500)).await;
    editing.store(false, Ordering::Relaxed);
    let edits = editor.await.expect("editor");
    let finals: HashMap<i64, String> = w
        .snapshot(0)
        .jobs
        .iter()
        .map(|j| (j.id, j.modified_on.expect("modifiedOn").to_rfc3339()))
        .collect();
    let seen = wait_for("every job's last version applied", WAIT, || async {
        let rows = inbound_seen::Entity::find()
            .filter(inbound_seen::Column::IntegrationId.eq(iid))
            .filter(inbound_seen::Column::Stream.eq("jobs"))
            .all(&db)
            .await
            .expect("db");
        let got: HashSet<(i64, String)> = rows
            .iter()
            .map(|r| (r.st_id, r.modified_on.clone()))
            .collect();
        finals
            .iter()
            .all(|(id, m)| got.contains(&(*id, m.clone())))
            .then_some(rows)
    })
    .await;
    let _ = stop.send(true);

    // Exactly once: each (id, modifiedOn) has one seen row (unique), and the backfill's
    // applied counter, committed with those rows, equals the rows it wrote: nothing from the
    // killed run's lost batch counted, nothing applied twice after the restart. (A job edited
    // within the visibility delay at the end is read by the incremental polls, not counted as
    // backfill.)
    let versions: HashSet<(i64, &str)> = seen
        .iter()
        .map(|r| (r.st_id, r.modified_on.as_str()))
        .collect();
    assert_eq!(versions.len(), seen.len());
    assert_eq!(jobs.applied, seen_by_backfill as i64);
    assert!(seen_by_backfill <= seen.len() as u64);
    assert_eq!(
        seen.iter().map(|r| r.st_id).collect::<HashSet<_>>().len(),
        n,
        "every job read"
    );
    assert!(jobs.read >= jobs.applied);
    println!(
        "export scenario: {n} jobs, {edits} concurrent edits, killed at {at_kill} read, \
         backfill {:.1} s, {} versions applied once",
        took.as_secs_f64(),
        seen.len()
    );
}

#[tokio::test]
async fn a_cancelled_membership_and_a_deleted_location_flow_back() {
    let w = world_with(1, no_delay()).await;
    let tenant = w.partners[0].tenant_id;
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db().clone();
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("plus")))
            .await
            .status(),
        200
    );
    let loc = members::location_by_external(&db, w.partners[0].partner_id, "loc-1")
        .await
        .expect("db")
        .expect("location");
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let membership = wait_for("the membership sold", WAIT, || async {
        links::st_id(&db, iid, links::kind::MEMBERSHIP, loc.member_id)
            .await
            .expect("db")
    })
    .await;
    let st_location = links::st_id(&db, iid, links::kind::LOCATION, loc.id)
        .await
        .expect("db")
        .expect("location link");

    // The contractor cancels the membership: the member follows.
    assert!(
        w.sandbox
            .state
            .set_membership_status(tenant, membership, "Canceled")
    );
    wait_for("the member's membership cancelled", WAIT, || async {
        let m = members::get(&db, loc.member_id).await.expect("db")?;
        (m.membership_status.as_deref() == Some("Canceled")).then_some(())
    })
    .await;

    // The contractor deletes the location: unlinked, and not created again when the member
    // is upserted or a credit arrives.
    assert!(
        w.sandbox
            .state
            .delete_record(tenant, "locations", st_location)
    );
    wait_for("the location unlinked", WAIT, || async {
        let gone = links::st_id(&db, iid, links::kind::LOCATION, loc.id)
            .await
            .expect("db")
            .is_none();
        let marked = links::st_id(&db, iid, links::kind::LOCATION_DELETED, loc.id)
            .await
            .expect("db")
            == Some(st_location);
        (gone && marked).then_some(())
    })
    .await;
    let before = w.snapshot(0).locations.len();
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("plus")))
            .await
            .status(),
        200
    );
    let r = w
        .post_credit(
            0,
            "loc-1",
            &serde_json::json!({"amount": 10, "reason": "after delete", "idempotency_key": "k-1"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    wait_for("the queue to settle", WAIT, || async {
        let rows = titanbridge::store::entities::sync_task::Entity::find()
            .filter(titanbridge::store::entities::sync_task::Column::IntegrationId.eq(iid))
            .filter(titanbridge::store::entities::sync_task::Column::Kind.ne("poll"))
            .filter(
                titanbridge::store::entities::sync_task::Column::State
                    .is_in(["pending", "running", "dead"]),
            )
            .all(&db)
            .await
            .expect("db");
        rows.is_empty().then_some(())
    })
    .await;
    assert_eq!(
        w.snapshot(0).locations.len(),
        before,
        "a location deleted in ServiceTitan is not recreated"
    );
}

#[tokio::test]
async fn a_plan_change_leaves_exactly_one_active_membership() {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    use titanbridge::store::entities::plan_mapping;
    let w = world_with(1, no_delay()).await;
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db().clone();
    // "premium" is Comfort Club Gold (6002, sale task 6102); "plus" stays Silver (6001).
    let premium = plan_mapping::Entity::find()
        .filter(plan_mapping::Column::IntegrationId.eq(iid))
        .filter(plan_mapping::Column::PlanCode.eq("premium"))
        .one(&db)
        .await
        .expect("db")
        .expect("mapping");
    let mut am = premium.into_active_model();
    am.membership_type_id = Set(6002);
    am.membership_type_name = Set("Comfort Club Gold".into());
    am.sale_task_id = Set(Some(6102));
    am.update(&db).await.expect("update mapping");

    assert_eq!(
        w.put_member(0, "m-7", &member_body(7, Some("plus")))
            .await
            .status(),
        200
    );
    let member = members::by_external(&db, w.partners[0].partner_id, "m-7")
        .await
        .expect("db")
        .expect("member");
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let silver = wait_for("the Silver membership", WAIT, || async {
        links::st_id(&db, iid, links::kind::MEMBERSHIP, member.id)
            .await
            .expect("db")
    })
    .await;
    assert_eq!(
        w.put_member(0, "m-7", &member_body(7, Some("premium")))
            .await
            .status(),
        200
    );
    let gold = wait_for("the Gold membership linked", WAIT, || async {
        links::st_id(&db, iid, links::kind::MEMBERSHIP, member.id)
            .await
            .expect("db")
            .filter(|id| *id != silver)
    })
    .await;
    let customer = links::st_id(&db, iid, links::kind::CUSTOMER, member.id)
        .await
        .expect("db")
        .expect("customer");
    let ms: Vec<_> = w
        .snapshot(0)
        .memberships
        .into_iter()
        .filter(|m| m.customer_id == customer)
        .collect();
    let active: Vec<_> = ms.iter().filter(|m| m.status == "Active").collect();
    assert_eq!(active.len(), 1, "{ms:?}");
    assert_eq!((active[0].id, active[0].membership_type_id), (gold, 6002));
    let old = ms.iter().find(|m| m.id == silver).expect("old membership");
    assert_eq!(old.status, "Canceled");
    assert!(old.to.is_some(), "the old membership ends");
}
