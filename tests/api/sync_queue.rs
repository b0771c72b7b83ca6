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

fn req(owner: &str, limit: usize, per: usize) -> ClaimRequest<'_> {
    ClaimRequest {
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
    let id = tasks::enqueue(db, task(ps[0].integration_id, None))
        .await
        .unwrap()
        .id();
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
    let id = tasks::enqueue(db, task(ps[0].integration_id, Some("link:1")))
        .await
        .unwrap()
        .id();
    let short = ClaimRequest {
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
async fn a_failed_task_with_a_pending_twin_is_superseded() {
    let (app, ps) = setup(1).await;
    let db = app.state.store.db();
    let i = ps[0].integration_id;
    let id = tasks::enqueue(db, task(i, Some("credit:5")))
        .await
        .unwrap()
        .id();
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
