//! The sync status pages over real HTTP: the ops integration page's dead tasks with their last
//! error and the Retry form, the ops console's sync column, the partner's status panel
//! (backfill progress, updates needing attention, own integration only) and `/metrics`.
use crate::helpers::{onb as common_onb, sync as sync_support};

use common_onb::Client;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use sync_support::World;
use titanbridge::store::entities::integration;
use titanbridge::store::tasks::{self, ClaimRequest, NewTask};
use titanbridge::store::users::Role;

const OPS: &str = "ops@titanbridge.example";
const ST_ERROR: &str = "ServiceTitan returned 400: Location is inactive";

/// A task of integration `iid` that died with `error`.
async fn dead_task(w: &World, iid: i64, error: &str) -> i64 {
    let db = w.app.state.store.db();
    let id = tasks::enqueue(
        db,
        NewTask::now(iid, "credit_balance", json!({"location_id": 1}), None),
    )
    .await
    .unwrap()
    .id();
    let req = ClaimRequest {
        skip: &[],
        owner: "w",
        limit: 10,
        lease_ms: 60_000,
        per_integration: 10,
    };
    let claimed = tasks::claim(db, &req).await.unwrap();
    assert!(claimed.iter().any(|t| t.id == id), "task claimed");
    tasks::fail(db, id, "w", error, None).await.unwrap();
    id
}

#[tokio::test]
async fn ops_see_a_dead_task_and_retry_it_with_the_form() {
    let w = sync_support::world(1).await;
    let iid = w.partners[0].integration_id;
    let id = dead_task(&w, iid, ST_ERROR).await;
    let mut ops = w.user(OPS, Role::Ops, None).await;

    let console = ops.get("/ops").await;
    assert_eq!(console.status, 200);
    assert!(console.text.contains(&format!("id=\"sync-{iid}\"")));
    assert!(console.text.contains("1 dead"), "dead count in the console");

    let page = ops.get(&format!("/ops/integrations/{iid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"sync\""), "Sync card");
    assert!(page.text.contains(ST_ERROR), "last error shown");
    let action = format!("/ops/integrations/{iid}/tasks/{id}/retry");
    assert!(page.text.contains(&action), "Retry form");
    let csrf = Client::page_csrf(&page.text).expect("csrf in page");

    // No token: refused, task untouched.
    let r = ops.form(&action, &[]).await;
    assert_eq!(r.status, 403);
    let db = w.app.state.store.db();
    assert_eq!(tasks::get(db, id).await.unwrap().unwrap().state, "dead");

    // A task of another integration is not found under this one.
    let r = ops
        .form(
            &format!("/ops/integrations/{}/tasks/{id}/retry", iid + 1000),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 404);

    let r = ops.form(&action, &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), format!("/ops/integrations/{iid}"));
    let t = tasks::get(db, id).await.unwrap().unwrap();
    assert_eq!((t.state.as_str(), t.attempts), ("pending", 0));
    let after = ops.get(&r.location()).await;
    assert!(after.text.contains(&format!("Task {id} is queued again.")));
    assert!(after.text.contains("id=\"no-dead\""), "no dead tasks left");

    // Retrying again is refused with a message, not an error page.
    let r = ops.form(&action, &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, 303);
    let again = ops.get(&r.location()).await;
    assert!(again.text.contains("cannot be retried"), "{}", again.text);
}

#[tokio::test]
async fn a_partner_admin_cannot_use_the_retry_route() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let id = dead_task(&w, p.integration_id, ST_ERROR).await;
    let mut admin = w
        .user("admin@p0.example", Role::PartnerAdmin, Some(p.partner_id))
        .await;
    let page = admin.get("/settings/integrations/servicetitan").await;
    assert_eq!(page.status, 200);
    let csrf = Client::page_csrf(&page.text).expect("csrf in page");
    let r = admin
        .form(
            &format!("/ops/integrations/{}/tasks/{id}/retry", p.integration_id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 403);
    let db = w.app.state.store.db();
    assert_eq!(tasks::get(db, id).await.unwrap().unwrap().state, "dead");
}

#[tokio::test]
async fn the_partner_panel_shows_backfill_progress_and_its_own_dead_updates_only() {
    let w = sync_support::world(2).await;
    let db = w.app.state.store.db();
    let (a, b) = (&w.partners[0], &w.partners[1]);
    let row = integration::Entity::find_by_id(a.integration_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am: integration::ActiveModel = row.into();
    am.backfill_total = Set(200);
    am.backfill_done = Set(50);
    am.update(db).await.unwrap();
    dead_task(&w, a.integration_id, ST_ERROR).await;

    let mut admin_a = w
        .user("admin@a.example", Role::PartnerAdmin, Some(a.partner_id))
        .await;
    let page = admin_a.get("/settings/integrations/servicetitan").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"backfill\""), "backfill row");
    assert!(page.text.contains("value=\"25\""), "25% progress bar");
    assert!(page.text.contains("25%"));
    assert!(page.text.contains("1 update could not be written"));
    assert!(page.text.contains(ST_ERROR), "newest dead error");

    let mut admin_b = w
        .user("admin@b.example", Role::PartnerAdmin, Some(b.partner_id))
        .await;
    let page = admin_b.get("/settings/integrations/servicetitan").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.text.contains(ST_ERROR),
        "another partner's error leaked"
    );
    assert!(
        !page.text.contains("id=\"backfill\""),
        "no backfill planned"
    );
}

#[tokio::test]
async fn metrics_export_the_queue_depth_per_integration() {
    let w = sync_support::world(1).await;
    let iid = w.partners[0].integration_id;
    tasks::enqueue(
        w.app.state.store.db(),
        NewTask::now(iid, "credit_balance", json!({"location_id": 1}), None),
    )
    .await
    .unwrap();
    let text = w.app.metrics().await;
    let line = format!("sync_queue_depth{{integration=\"{iid}\",state=\"pending\"}} 1");
    assert!(text.contains(&line), "{line} missing from:\n{text}");
    assert!(text.contains("sync_tasks_pending 1"));
}
