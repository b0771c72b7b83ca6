//! Two worker processes' worth of engines (separate AppStates, clients and rate limiters)
//! against one PostgreSQL: no task runs twice, each tenant stays under its rate limit (the
//! sandbox refuses anything faster with 429), and both workers share the load. Skipped unless
//! `DATABASE_URL` points at PostgreSQL (SQLite deployments run one worker).
use crate::helpers::sync as sync_support;

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use sync_support::*;
use titanbridge::state::AppState;
use titanbridge::store::entities::sync_task;
use titanbridge::sync::WorkerOptions;

fn finished(state: &AppState, outcome: &str) -> u64 {
    let m = &state.metrics.sync_tasks;
    titanbridge::store::task_kind::TaskKind::NAMES
        .iter()
        .map(|k| m.with_label_values(&[*k, outcome]).get())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_the_queue_without_running_a_task_twice_or_breaking_rate_limits() {
    if !std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("skipped: set DATABASE_URL=postgres://… to run");
        return;
    }
    let w = world(4).await;
    for p in 0..4 {
        for m in 0..40 {
            let n = p * 1000 + m;
            assert_eq!(
                w.put_member(p, &format!("m{n}"), &member_body(n, Some("basic")))
                    .await
                    .status(),
                200
            );
            let body = json!({"amount": 10, "reason": "x", "idempotency_key": format!("k{n}")});
            assert_eq!(
                w.post_credit(p, &format!("loc-{n}"), &body).await.status(),
                201
            );
        }
    }
    let a = AppState::build((*w.app.state.settings).clone(), false)
        .await
        .unwrap();
    let b = AppState::build((*w.app.state.settings).clone(), false)
        .await
        .unwrap();
    // Handovers every 150 ms: a busy tenant changes workers many times, and each change must
    // leave the tenant's bucket at ServiceTitan as the last worker's pacing left it.
    let opts = |s: &AppState| WorkerOptions {
        handover_after: Duration::from_millis(150),
        ..test_worker_options(&s.settings)
    };
    let _sa = spawn_worker(a.clone(), opts(&a));
    let _sb = spawn_worker(b.clone(), opts(&b));
    let db = w.app.state.store.db();
    wait_for(
        "all outbound tasks done",
        Duration::from_secs(90),
        || async {
            let open = sync_task::Entity::find()
                .filter(sync_task::Column::Kind.ne("poll"))
                .filter(sync_task::Column::State.is_in(["pending", "running"]))
                .all(db)
                .await
                .unwrap();
            let memberships = sync_task::Entity::find()
                .filter(sync_task::Column::Kind.eq("membership"))
                .filter(sync_task::Column::State.eq("done"))
                .all(db)
                .await
                .unwrap();
            eprintln!("open {} memberships done {}", open.len(), memberships.len());
            (open.is_empty() && memberships.len() >= 160).then_some(())
        },
    )
    .await;
    let done: Vec<_> = sync_task::Entity::find()
        .filter(sync_task::Column::Kind.ne("poll"))
        .all(db)
        .await
        .unwrap();
    assert!(
        done.iter().all(|t| t.state == "done"),
        "every task done: {:?}",
        done.iter()
            .filter(|t| t.state != "done")
            .collect::<Vec<_>>()
    );
    assert_eq!(finished(&a, "lease_lost") + finished(&b, "lease_lost"), 0);
    let (da, db_) = (finished(&a, "done"), finished(&b, "done"));
    assert!(da > 0 && db_ > 0, "both workers worked: {da} / {db_}");
    for p in 0..4 {
        let snap = w.snapshot(p);
        assert_eq!(snap.rate_limited, 0, "tenant {p} went over its rate limit");
        let ours = snap
            .customers
            .iter()
            .filter(|c| c.external("titanbridgeMemberId").is_some())
            .count();
        assert_eq!(ours, 40, "tenant {p}: one customer per member");
    }
}
