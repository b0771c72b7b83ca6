//! The engine's per-process reuse: the worker keeps one tenant client per integration and
//! reads the claimed batch's integration rows fresh, so a credential change made anywhere
//! (another process included) reaches the very next task.
use crate::helpers::sync::*;

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use titanbridge::sandbox::SandboxConfig;
use titanbridge::store::entities::{integration, sync_task};
use titanbridge::store::{links, members};

const WAIT: Duration = Duration::from_secs(30);

async fn set_client_id(w: &World, client_id: &str) {
    sea_orm::ConnectionTrait::execute_unprepared(
        w.app.state.store.db(),
        &format!(
            "UPDATE integrations SET client_id = '{client_id}' WHERE id = {}",
            w.partners[0].integration_id
        ),
    )
    .await
    .unwrap();
}

async fn st_balance(w: &World, st_location: i64) -> Option<String> {
    w.snapshot(0)
        .location_custom_field(st_location, CREDIT_FIELD)
        .map(str::to_owned)
}

#[tokio::test]
async fn a_credential_change_reaches_the_next_task_not_a_cached_client() {
    // Polls refused while the credentials are wrong must not disconnect the integration here
    // (that has its own test in sync_activity): this one is about which client a task uses.
    let w = world_configured(1, SandboxConfig::default(), |s| {
        s.sync.auth_failures_to_disconnect = i32::MAX;
    })
    .await;
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, None)).await.status(),
        200
    );
    let credit =
        |n: usize| json!({"amount": 10, "reason": "bonus", "idempotency_key": format!("c{n}")});
    assert_eq!(w.post_credit(0, "loc-1", &credit(1)).await.status(), 201);
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let db = w.app.state.store.db();
    let location = members::location_by_external(db, w.partners[0].partner_id, "loc-1")
        .await
        .unwrap()
        .unwrap();
    let st_location = wait_for("the location link", WAIT, || async {
        links::st_id(
            db,
            w.partners[0].integration_id,
            links::kind::LOCATION,
            location.id,
        )
        .await
        .unwrap()
    })
    .await;
    wait_for("the first balance", WAIT, || async {
        (st_balance(&w, st_location).await.as_deref() == Some("10")).then_some(())
    })
    .await;

    // Credentials ServiceTitan refuses: the next task must use them (and fail), not the
    // client the worker built for the earlier ones.
    // The failure looked for is the refusal itself: a credit change may coalesce into a credit
    // task queued earlier (same location, still pending), so task IDs say nothing here.
    set_client_id(&w, "client-revoked").await;
    assert_eq!(w.post_credit(0, "loc-1", &credit(2)).await.status(), 201);
    let failed = wait_for(
        "the write with revoked credentials to fail",
        WAIT,
        || async {
            sync_task::Entity::find()
                .filter(sync_task::Column::Kind.eq("credit_balance"))
                .filter(sync_task::Column::LastError.contains("rejected the Client ID"))
                .one(db)
                .await
                .unwrap()
        },
    )
    .await;
    assert_ne!(failed.state, "done");
    assert_eq!(st_balance(&w, st_location).await.as_deref(), Some("10"));

    // Working credentials again: a new change is written with them.
    set_client_id(&w, &tenant_seed(0).client_id).await;
    let row = integration::Entity::find_by_id(w.partners[0].integration_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.client_id.as_deref(), Some("client-0"));
    assert_eq!(w.post_credit(0, "loc-1", &credit(3)).await.status(), 201);
    // A refused write waits for a retry (or died, with few attempts allowed): run it now.
    if failed.state == "dead" {
        titanbridge::store::tasks::retry_dead(db, failed.id)
            .await
            .unwrap();
    } else if let Some(key) = failed.dedupe_key.as_deref() {
        titanbridge::store::tasks::expedite_task(db, key)
            .await
            .unwrap();
    }
    wait_for(
        "the balance written with the restored credentials",
        WAIT,
        || async { (st_balance(&w, st_location).await.as_deref() == Some("30")).then_some(()) },
    )
    .await;
}

/// Rows `owner` holds a live lease on.
async fn leased_to(w: &World, owner: &str) -> usize {
    sync_task::Entity::find()
        .filter(sync_task::Column::State.eq("running"))
        .filter(sync_task::Column::LeaseOwner.eq(owner))
        .filter(sync_task::Column::LeaseUntilMs.gt(titanbridge::store::now_ms()))
        .all(w.app.state.store.db())
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_worker_claims_ahead_of_its_slots_and_frees_what_it_did_not_start_when_it_stops() {
    // Slow ServiceTitan calls keep two slots busy while a backlog waits.
    let cfg = SandboxConfig {
        faults: titanbridge::sandbox::Faults {
            latency: Duration::from_millis(150),
            ..Default::default()
        },
        ..SandboxConfig::default()
    };
    let w = world_with(1, cfg).await;
    for n in 0..12 {
        let id = format!("m-{n}");
        assert_eq!(
            w.put_member(0, &id, &member_body(n, None)).await.status(),
            200
        );
    }
    let mut opts = test_worker_options(&w.app.state.settings);
    opts.concurrency = 2;
    opts.per_integration = 8;
    let owner = opts.owner.clone();
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(titanbridge::sync::worker::run_worker_with(
        w.app.state.clone(),
        opts,
        async move {
            let _ = rx.wait_for(|v| *v).await;
        },
    ));
    // The next claim is made while two tasks run: more than the two slots are leased, never
    // more than twice as many.
    let ahead = wait_for("tasks claimed ahead of the slots", WAIT, || async {
        let n = leased_to(&w, &owner).await;
        (n > 2).then_some(n)
    })
    .await;
    assert!(ahead <= 4, "{ahead} leased with 2 slots");
    for _ in 0..10 {
        let n = leased_to(&w, &owner).await;
        assert!(n <= 4, "{n} leased with 2 slots");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Stopped mid-backlog, the worker finishes what it started and frees the rest at once
    // instead of leaving it leased (to nobody) for a whole lease.
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(leased_to(&w, &owner).await, 0);
    let pending = sync_task::Entity::find()
        .filter(sync_task::Column::State.is_in(["pending", "running"]))
        .all(w.app.state.store.db())
        .await
        .unwrap();
    assert!(
        !pending.is_empty(),
        "the backlog was not left for the next worker"
    );
}
