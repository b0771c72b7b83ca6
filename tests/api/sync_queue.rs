//! The durable queue on a real database (SQLite, or PostgreSQL when `DATABASE_URL` says so):
//! dedupe, leases, fairness, backoff, dead tasks and retry.
use crate::helpers::{app as common, sync as sync_support};

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use titanbridge::store::now_ms;
use titanbridge::store::tasks::{self, ClaimRequest, Enqueued, FailOutcome, NewTask};

async fn setup(n: usize) -> (common::TestApp, Vec<sync_support::SeededPartner>) {
    let app = common::spawn_app().await;
    let mut ps = Vec::new();
    for i in 0..n {
        ps.push(sync_support::seed_partner(&app.state, i, &sync_support::tenant_seed(i)).await);
    }
    (app, ps)
}

fn task(integration: i64, key: Option<&str>) -> NewTask {
    NewTask::now(integration, "test", json!({}), key.map(str::to_owned))
}

/// Queues a test task and returns its ID.
async fn enqueued(db: &sea_orm::DatabaseConnection, integration: i64, key: Option<&str>) -> i64 {
    tasks::enqueue(db, task(integration, key))
        .await
        .unwrap()
        .id()
}

fn req(owner: &str, limit: usize, per: usize) -> ClaimRequest<'_> {
    ClaimRequest {
        skip: &[],
        owner,
        limit,
        lease_ms: 60_000,
        per_integration: per,
    }
}

#[tokio::test]
async fn same_dedupe_key_coalesces_while_pending() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let i = ps[0].integration_id;
    let first = tasks::enqueue(db, task(i, Some("credit:1"))).await.unwrap();
    assert!(matches!(first, Enqueued::Created(_)));
    for _ in 0..50 {
        assert_eq!(
            tasks::enqueue(db, task(i, Some("credit:1"))).await.unwrap(),
            Enqueued::Coalesced(first.id())
        );
    }
    let other = tasks::enqueue(db, task(i, Some("credit:2"))).await.unwrap();
    assert_ne!(other.id(), first.id());
    // Once the first runs, a new change queues a new task (it will write the newer balance).
    let claimed = tasks::claim(db, &req("w1", 10, 10)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let again = tasks::enqueue(db, task(i, Some("credit:1"))).await.unwrap();
    assert!(matches!(again, Enqueued::Created(id) if id != first.id()));
    // ...but it is not claimed while its twin runs.
    assert!(
        tasks::claim(db, &req("w1", 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tasks::complete(db, first.id(), "w1").await.unwrap());
    let next = tasks::claim(db, &req("w1", 10, 10)).await.unwrap();
    assert_eq!(
        next.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![again.id()]
    );
}

#[tokio::test]
async fn concurrent_claims_never_share_a_task_and_a_tenant_stays_with_one_worker() {
    let (app, ps) = setup(4).await;
    let db = app.state.store.db();
    for p in &ps {
        for _ in 0..25 {
            tasks::enqueue(db, task(p.integration_id, None))
                .await
                .unwrap();
        }
    }
    let owners = ["a", "b", "c", "d"];
    let results = futures::future::join_all(
        owners
            .iter()
            .map(|o| async move { tasks::claim(db, &req(o, 20, 20)).await.unwrap() }),
    )
    .await;
    let mut ids = HashSet::new();
    let mut tenant_owner = std::collections::HashMap::new();
    for (o, claimed) in owners.iter().zip(&results) {
        for t in claimed {
            assert!(ids.insert(t.id), "task {} claimed twice", t.id);
            let prev = tenant_owner.insert(t.integration_id, *o);
            assert!(
                prev.is_none() || prev == Some(*o),
                "integration {} split across workers",
                t.integration_id
            );
            assert_eq!(t.state, "running");
            assert_eq!(t.attempts, 1);
        }
    }
    assert!(!ids.is_empty());
}

#[tokio::test]
async fn claims_are_round_robin_across_integrations() {
    let (app, ps) = setup(2).await;
    let db = app.state.store.db();
    for _ in 0..500 {
        tasks::enqueue(db, task(ps[0].integration_id, None))
            .await
            .unwrap();
    }
    let late = tasks::enqueue(db, task(ps[1].integration_id, Some("credit:9")))
        .await
        .unwrap();
    let claimed = tasks::claim(db, &req("w", 4, 2)).await.unwrap();
    assert!(
        claimed.iter().any(|t| t.id == late.id()),
        "the small tenant's task goes first"
    );
    let big = claimed
        .iter()
        .filter(|t| t.integration_id == ps[0].integration_id)
        .count();
    assert_eq!(big, 2, "the busy tenant is capped in flight");
}

#[tokio::test]
async fn failures_back_off_then_die_and_ops_can_retry() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let id = enqueued(db, ps[0].integration_id, None).await;
    let t = tasks::claim(db, &req("w", 1, 1)).await.unwrap().remove(0);
    let later = now_ms() + 60_000;
    assert_eq!(
        tasks::fail(db, t.id, "w", "503 from ServiceTitan", Some(later))
            .await
            .unwrap(),
        FailOutcome::Retry {
            run_after_ms: later
        }
    );
    assert!(
        tasks::claim(db, &req("w", 1, 1)).await.unwrap().is_empty(),
        "not before its time"
    );
    let row = tasks::get(db, id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
    assert_eq!(row.last_error.as_deref(), Some("503 from ServiceTitan"));
    // Make it due, fail for good.
    tasks::fail(db, id, "nobody", "ignored", None)
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(db, "UPDATE sync_tasks SET run_after_ms = 0")
        .await
        .unwrap();
    let t = tasks::claim(db, &req("w", 1, 1)).await.unwrap().remove(0);
    assert_eq!(t.attempts, 2);
    assert_eq!(
        tasks::fail(db, id, "w", "plan not mapped", None)
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let dead = tasks::get(db, id).await.unwrap().unwrap();
    assert_eq!(
        (dead.state.as_str(), dead.last_error.as_deref()),
        ("dead", Some("plan not mapped"))
    );
    assert!(tasks::retry_dead(db, id).await.unwrap());
    assert!(!tasks::retry_dead(db, id).await.unwrap(), "only dead tasks");
    let t = tasks::claim(db, &req("w", 1, 1)).await.unwrap().remove(0);
    assert_eq!((t.id, t.attempts), (id, 1));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let id = enqueued(db, ps[0].integration_id, Some("link:1")).await;
    let short = ClaimRequest {
        skip: &[],
        lease_ms: 1,
        ..req("crashed", 1, 1)
    };
    assert_eq!(tasks::claim(db, &short).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = tasks::claim(db, &req("fresh", 1, 1))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((t.id, t.attempts), (id, 2));
    assert!(
        !tasks::complete(db, id, "crashed").await.unwrap(),
        "lease lost"
    );
    assert_eq!(
        tasks::fail(db, id, "crashed", "x", None).await.unwrap(),
        FailOutcome::LeaseLost
    );
    assert!(tasks::complete(db, id, "fresh").await.unwrap());
}

#[tokio::test]
async fn leases_of_a_lost_claim_answer_lapse_and_are_claimed_again_at_once() {
    let (app, ps) = setup(2).await;
    let db = app.state.store.db();
    let held = enqueued(db, ps[0].integration_id, Some("link:1")).await;
    let lost = enqueued(db, ps[1].integration_id, Some("link:2")).await;
    // One claim takes both; the worker "heard" only of `held` (the answer about the other
    // was lost with the connection).
    let claimed = tasks::claim(db, &req("w", 10, 1)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    // Another worker's running task is never touched.
    let other = enqueued(db, ps[1].integration_id, Some("link:3")).await;
    assert!(
        tasks::claim(db, &req("v", 10, 1)).await.unwrap().is_empty(),
        "w holds tenant 1"
    );
    assert_eq!(tasks::lapse_unheld(db, "w", &[held]).await.unwrap(), 1);
    let again = tasks::claim(db, &req("w", 10, 1)).await.unwrap();
    assert_eq!(
        again.iter().map(|t| (t.id, t.attempts)).collect::<Vec<_>>(),
        vec![(lost, 2)],
        "the lost task is claimed again at once, and only it"
    );
    assert_eq!(
        tasks::get(db, held).await.unwrap().unwrap().state,
        "running"
    );
    assert!(
        tasks::complete(db, held, "w").await.unwrap(),
        "the held lease survived"
    );
    assert!(tasks::complete(db, lost, "w").await.unwrap());
    // With nothing held, every lease of the owner lapses; `v` has no running task to lose.
    assert_eq!(tasks::lapse_unheld(db, "v", &[]).await.unwrap(), 0);
    assert_eq!(
        tasks::get(db, other).await.unwrap().unwrap().state,
        "pending"
    );
}

#[tokio::test]
async fn a_failed_task_with_a_pending_twin_is_superseded() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let i = ps[0].integration_id;
    let id = enqueued(db, i, Some("credit:5")).await;
    tasks::claim(db, &req("w", 1, 1)).await.unwrap();
    let twin = tasks::enqueue(db, task(i, Some("credit:5"))).await.unwrap();
    assert_ne!(twin.id(), id);
    assert_eq!(
        tasks::fail(db, id, "w", "503", Some(now_ms()))
            .await
            .unwrap(),
        FailOutcome::Superseded
    );
    assert_eq!(tasks::get(db, id).await.unwrap().unwrap().state, "done");
    assert_eq!(
        tasks::get(db, twin.id()).await.unwrap().unwrap().state,
        "pending"
    );
}

#[tokio::test]
async fn inactive_integrations_are_not_served() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    tasks::enqueue(db, task(ps[0].integration_id, None))
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(db, "UPDATE integrations SET state = 'suspended'")
        .await
        .unwrap();
    assert!(tasks::claim(db, &req("w", 5, 5)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_deep_backlog_is_claimed_oldest_first_per_integration_and_not_due_tasks_wait() {
    let (app, ps) = setup(3).await;
    let db = app.state.store.db();
    let (big, small, later) = (
        ps[0].integration_id,
        ps[1].integration_id,
        ps[2].integration_id,
    );
    let now = now_ms();
    // Enqueued newest first, so claim order cannot follow insertion order by accident.
    let mut big_ids = Vec::new();
    for i in (0..1500).rev() {
        let t = NewTask {
            run_after_ms: now - 10_000 + i,
            ..task(big, None)
        };
        big_ids.push((now - 10_000 + i, tasks::enqueue(db, t).await.unwrap().id()));
    }
    big_ids.sort();
    let small_id = tasks::enqueue(db, task(small, None)).await.unwrap().id();
    tasks::enqueue(
        db,
        NewTask {
            run_after_ms: now + 60_000,
            ..task(later, None)
        },
    )
    .await
    .unwrap();
    let claimed = tasks::claim(db, &req("w", 10, 3)).await.unwrap();
    let mut got: Vec<i64> = claimed
        .iter()
        .filter(|t| t.integration_id == big)
        .map(|t| t.id)
        .collect();
    got.sort();
    let mut oldest: Vec<i64> = big_ids.iter().take(3).map(|(_, id)| *id).collect();
    oldest.sort();
    assert_eq!(got, oldest, "the big tenant's three oldest due tasks");
    assert!(claimed.iter().any(|t| t.id == small_id));
    assert!(
        claimed.iter().all(|t| t.integration_id != later),
        "a task not yet due is not claimed"
    );
    assert_eq!(claimed.len(), 4);
    // The cap counts what this worker already runs: one finished, one more of the big tenant.
    assert!(tasks::complete(db, got[0], "w").await.unwrap());
    let next = tasks::claim(db, &req("w", 10, 3)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, big_ids[3].1);
}

#[tokio::test]
async fn batched_completion_skips_lost_leases_and_finished_tasks_are_purged_after_retention() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let i = ps[0].integration_id;
    for n in 0..4 {
        tasks::enqueue(db, task(i, Some(&format!("k{n}"))))
            .await
            .unwrap();
    }
    let claimed = tasks::claim(db, &req("w", 4, 4)).await.unwrap();
    let mut ids: Vec<i64> = claimed.iter().map(|t| t.id).collect();
    ids.sort();
    // One was taken over by another worker meanwhile.
    sea_orm::ConnectionTrait::execute_unprepared(
        db,
        &format!(
            "UPDATE sync_tasks SET lease_owner = 'other' WHERE id = {}",
            ids[0]
        ),
    )
    .await
    .unwrap();
    let mut done = tasks::complete_many(db, &ids, "w").await.unwrap();
    done.sort();
    assert_eq!(done, ids[1..].to_vec());
    assert_eq!(
        tasks::get(db, ids[0]).await.unwrap().unwrap().state,
        "running"
    );
    // Metrics read only unfinished tasks; the console counts finished ones too.
    let open = tasks::open_stats(db).await.unwrap();
    assert_eq!((open[0].running, open[0].done), (1, 0));
    let all = tasks::queue_stats(db).await.unwrap();
    assert_eq!((all[0].running, all[0].done), (1, 3));
    // Two finished tasks are older than the retention, one is not; dead tasks stay.
    let dead = tasks::enqueue(db, task(i, None)).await.unwrap().id();
    sea_orm::ConnectionTrait::execute_unprepared(
        db,
        &format!(
            "UPDATE sync_tasks SET state = 'dead', updated_at = '2000-01-01 00:00:00+00:00' \
             WHERE id = {dead}"
        ),
    )
    .await
    .unwrap();
    for id in &ids[1..3] {
        sea_orm::ConnectionTrait::execute_unprepared(
            db,
            &format!(
                "UPDATE sync_tasks SET updated_at = '2000-01-01 00:00:00+00:00' WHERE id = {id}"
            ),
        )
        .await
        .unwrap();
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(tasks::purge_done(db, cutoff, 1).await.unwrap(), 1);
    assert_eq!(tasks::purge_done(db, cutoff, 10).await.unwrap(), 1);
    assert_eq!(tasks::purge_done(db, cutoff, 10).await.unwrap(), 0);
    assert!(tasks::get(db, ids[1]).await.unwrap().is_none());
    assert!(tasks::get(db, ids[2]).await.unwrap().is_none());
    assert_eq!(tasks::get(db, ids[3]).await.unwrap().unwrap().state, "done");
    assert_eq!(tasks::get(db, dead).await.unwrap().unwrap().state, "dead");
}

#[tokio::test]
async fn a_claim_skips_the_integrations_handed_over_and_unclaimed_tasks_are_pending_again() {
    let (app, ps) = setup(2).await;
    let db = app.state.store.db();
    let (a, b) = (ps[0].integration_id, ps[1].integration_id);
    let ta = enqueued(db, a, Some("credit:a")).await;
    let tb = enqueued(db, b, Some("credit:b")).await;
    let skip_a = ClaimRequest {
        skip: &[a],
        ..req("w", 10, 4)
    };
    let claimed = tasks::claim(db, &skip_a).await.unwrap();
    assert_eq!(
        claimed.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![tb],
        "only the integration not handed over is served"
    );
    let claimed = tasks::claim(db, &req("w", 10, 4)).await.unwrap();
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ta]);

    // Given back unstarted: pending, the attempt undone. One with a pending twin by now is
    // superseded by it; another owner's lease is left alone.
    let twin = enqueued(db, b, Some("credit:b")).await;
    assert_ne!(twin, tb);
    assert_eq!(tasks::unclaim(db, "other", &[ta, tb]).await.unwrap(), 0);
    assert_eq!(tasks::unclaim(db, "w", &[ta, tb]).await.unwrap(), 2);
    let a_row = tasks::get(db, ta).await.unwrap().unwrap();
    assert_eq!(
        (a_row.state.as_str(), a_row.attempts, a_row.lease_owner),
        ("pending", 0, None)
    );
    let b_row = tasks::get(db, tb).await.unwrap().unwrap();
    assert_eq!(b_row.state, "done");
    assert!(b_row.last_error.unwrap().contains("superseded"));
    assert_eq!(
        tasks::get(db, twin).await.unwrap().unwrap().state,
        "pending"
    );
}
