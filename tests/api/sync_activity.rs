//! Sync you can see and steer (issue 16), over real HTTP against the sandbox: the activity log
//! (a row per write kind, before → after, paging, filters, partner isolation, no secrets), the
//! truthful last sync, the per-homeowner view, pause → nothing written → resume → all written
//! once, resync without duplicates, replay of a dead write, and credential revocation →
//! `disconnected` + one email + one ops alert; the ops digest and retention pruning.
use crate::helpers::sync as sync_support;

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use sync_support::*;
use titanbridge::store::entities::{credit_entry, integration_event, outbound_email, sync_task};
use titanbridge::store::users::Role;
use titanbridge::store::{activity, links, members};

const WAIT: Duration = Duration::from_secs(60);

/// A signed-in session: cookie header and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(w: &World, email: &str, role: Role, partner_id: Option<i64>) -> Session {
    let (cookie, csrf) = w.session(email, role, partner_id).await;
    Session { cookie, csrf }
}

async fn get(w: &World, s: &Session, path: &str) -> (StatusCode, Value) {
    let r = w
        .app
        .http
        .get(format!("{}{path}", w.app.address))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(w: &World, s: &Session, path: &str, body: Value) -> (StatusCode, Value) {
    let r = w
        .app
        .http
        .post(format!("{}{path}", w.app.address))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn sync_path(w: &World, p: usize) -> String {
    format!("/api/v1/integrations/{}/sync", w.partners[p].integration_id)
}

fn kinds(log: &Value) -> Vec<String> {
    log["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn location_of(w: &World, p: usize, ext: &str) -> (i64, i64) {
    let loc = members::location_by_external(w.app.state.store.db(), w.partners[p].partner_id, ext)
        .await
        .unwrap()
        .expect("location");
    (loc.member_id, loc.id)
}

async fn st_link(w: &World, p: usize, kind: &str, local: i64) -> Option<i64> {
    links::st_id(
        w.app.state.store.db(),
        w.partners[p].integration_id,
        kind,
        local,
    )
    .await
    .unwrap()
}

async fn credit(w: &World, loc: &str, amount: i64, key: &str) {
    let r = w
        .post_credit(
            0,
            loc,
            &json!({"amount": amount, "reason": "test", "idempotency_key": key}),
        )
        .await;
    assert_eq!(r.status(), 201);
}

async fn field_is(w: &World, st_location: i64, want: &str) {
    wait_for(&format!("credit field {want}"), WAIT, || async {
        (w.snapshot(0)
            .location_custom_field(st_location, CREDIT_FIELD)
            == Some(want))
        .then_some(())
    })
    .await;
}

async fn create_job(w: &World, customer: i64, location: i64) -> i64 {
    w.create_job(0, customer, location).await
}

#[tokio::test]
async fn every_write_is_logged_with_before_and_after_and_last_sync_tells_the_truth() {
    let w = world(1).await;
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let (_, before) = get(&w, &ops, &sync_path(&w, 0)).await;
    assert_eq!(before["last_write_at"], Value::Null, "never synced yet");
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("plus")))
            .await
            .status(),
        200
    );
    let (member_id, location_id) = location_of(&w, 0, "loc-1").await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let st_location = wait_for("location link", WAIT, || async {
        st_link(&w, 0, links::kind::LOCATION, location_id).await
    })
    .await;
    let customer = st_link(&w, 0, links::kind::CUSTOMER, member_id)
        .await
        .unwrap();
    // Credits move 50 → 30 → 35, each written before the next change.
    credit(&w, "loc-1", 50, "c1").await;
    field_is(&w, st_location, "50").await;
    credit(&w, "loc-1", -20, "c2").await;
    field_is(&w, st_location, "30").await;
    credit(&w, "loc-1", 5, "c3").await;
    field_is(&w, st_location, "35").await;
    // A hub goes offline and the contractor books a job: the poller sees the job, queues the
    // reminders, and the note is written.
    assert_eq!(w.post_device(0, "loc-1", "offline").await.status(), 200);
    let job = create_job(&w, customer, st_location).await;
    wait_for("a reminder note on the job", WAIT, || async {
        w.snapshot(0)
            .job_notes
            .get(&job)
            .is_some_and(|n| !n.is_empty())
            .then_some(())
    })
    .await;
    wait_for("the membership sold", WAIT, || async {
        st_link(&w, 0, links::kind::MEMBERSHIP, member_id).await
    })
    .await;

    let log = wait_for("every write kind in the log", WAIT, || async {
        let (s, log) = get(
            &w,
            &ops,
            &format!("{}/activity?per_page=200", sync_path(&w, 0)),
        )
        .await;
        assert_eq!(s, 200, "{log}");
        let k = kinds(&log);
        [
            "customer",
            "location",
            "membership",
            "credit_balance",
            "reminder_note",
            "reminders_queued",
        ]
        .iter()
        .all(|want| k.iter().any(|x| x == want))
        .then_some(log)
    })
    .await;
    let rows = log["activity"].as_array().unwrap();
    let customer_row = rows.iter().find(|r| r["kind"] == "customer").unwrap();
    assert_eq!(customer_row["st_id"], customer);
    assert_eq!(customer_row["member_id"], member_id);
    assert_eq!(customer_row["result"], "ok");
    assert_eq!(customer_row["direction"], "out");
    assert!(customer_row["attempt"].as_i64().unwrap() >= 1);
    // The credit writes carry before → after, and the member although the task knew only the
    // location.
    let credits: Vec<(Value, Value)> = rows
        .iter()
        .filter(|r| r["kind"] == "credit_balance")
        .map(|r| {
            assert_eq!(r["member_id"], member_id);
            assert_eq!(r["location_id"], location_id);
            assert_eq!(r["st_id"], st_location);
            let f = &r["fields"]["credit balance"];
            (f["before"].clone(), f["after"].clone())
        })
        .collect();
    assert!(credits.contains(&(json!("30"), json!("35"))), "{credits:?}");
    assert!(credits.contains(&(json!("50"), json!("30"))), "{credits:?}");
    let note = rows.iter().find(|r| r["kind"] == "reminder_note").unwrap();
    assert_eq!(note["st_id"], job);
    assert_eq!(note["member_id"], member_id);
    let queued = rows
        .iter()
        .find(|r| r["kind"] == "reminders_queued")
        .unwrap();
    assert_eq!(queued["direction"], "in");
    assert_eq!(queued["st_id"], job);
    // Never a secret or a token.
    let text = log.to_string();
    let seed = tenant_seed(0);
    assert!(
        !text.contains(&seed.client_secret),
        "client secret in the log"
    );
    for token in w.sandbox.state.tokens_for(&seed.client_id) {
        assert!(!text.contains(&token), "access token in the log");
    }
    // Last sync: the last write and the last inbound page, in the JSON API.
    let (_, status) = get(&w, &ops, &sync_path(&w, 0)).await;
    assert!(status["last_write_at"].is_string(), "{status}");
    assert!(status["last_inbound_at"].is_string(), "{status}");
    assert_eq!(status["paused_at"], Value::Null);
    // The per-homeowner view, found by name, email or member ID.
    for q in ["member1 tester", "MEMBER1@example.com", "m-1"] {
        let (s, hits) = get(
            &w,
            &ops,
            &format!("{}/members?q={}", sync_path(&w, 0), urlencode(q)),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(hits["members"][0]["id"], member_id, "search {q}: {hits}");
    }
    let (s, view) = get(
        &w,
        &ops,
        &format!("{}/members/{member_id}", sync_path(&w, 0)),
    )
    .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["st_customer_id"], customer);
    assert!(view["st_membership_id"].is_i64());
    assert_eq!(view["locations"][0]["st_location_id"], st_location);
    assert_eq!(view["locations"][0]["balance_here"], "35");
    assert_eq!(view["locations"][0]["balance_written"], "35");
    assert_eq!(
        view["locations"][0]["open_alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(view["notes"][0]["st_id"], job);
    assert!(view["last_sync_at"].is_string());
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20").replace('@', "%40")
}

#[tokio::test]
async fn the_log_pages_filters_and_shows_a_partner_only_its_own_integration() {
    let w = world(2).await;
    for p in 0..2 {
        for n in 0..3 {
            let id = format!("m-{p}-{n}");
            assert_eq!(
                w.put_member(p, &id, &member_body(p * 10 + n, None))
                    .await
                    .status(),
                200
            );
        }
    }
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let admin0 = sign_in(
        &w,
        "admin@p0.test",
        Role::PartnerAdmin,
        Some(w.partners[0].partner_id),
    )
    .await;
    for p in 0..2 {
        wait_for("3 customers and 3 locations logged", WAIT, || async {
            let (_, log) = get(
                &w,
                &ops,
                &format!("{}/activity?per_page=100", sync_path(&w, p)),
            )
            .await;
            let k = kinds(&log);
            (k.iter().filter(|x| *x == "customer").count() == 3
                && k.iter().filter(|x| *x == "location").count() == 3)
                .then_some(())
        })
        .await;
    }
    // Let the queue drain (each new location's first balance write comes after its link).
    let db = w.app.state.store.db();
    wait_for("the outbound queue to drain", WAIT, || async {
        let busy = sync_task::Entity::find()
            .filter(sync_task::Column::Kind.ne("poll"))
            .filter(sync_task::Column::State.is_in(["pending", "running"]))
            .count(db)
            .await
            .unwrap();
        (busy == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Paging: newest first, pages do not overlap, the total counts every row.
    let base = sync_path(&w, 0);
    let (_, all) = get(&w, &admin0, &format!("{base}/activity?per_page=100")).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 6, "{all}");
    let (_, p1) = get(&w, &admin0, &format!("{base}/activity?per_page=2&page=1")).await;
    let (_, p2) = get(&w, &admin0, &format!("{base}/activity?per_page=2&page=2")).await;
    assert_eq!(p1["activity"].as_array().unwrap().len(), 2);
    assert_eq!(p1["total"], total);
    let ids = |v: &Value| -> Vec<i64> {
        v["activity"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect()
    };
    let (a, b) = (ids(&p1), ids(&p2));
    assert!(
        a.iter().all(|x| !b.contains(x)),
        "pages overlap: {a:?} {b:?}"
    );
    assert!(a[0] > a[1] && a[1] > b[0], "newest first: {a:?} {b:?}");
    // Filters: kind, member, result, time range.
    let (_, customers) = get(&w, &admin0, &format!("{base}/activity?kind=customer")).await;
    assert_eq!(kinds(&customers), vec!["customer"; 3]);
    let member = customers["activity"][0]["member_id"].as_i64().unwrap();
    let (_, one) = get(&w, &admin0, &format!("{base}/activity?member_id={member}")).await;
    assert!(
        one["activity"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["member_id"] == member)
    );
    assert_eq!(kinds(&one).iter().filter(|k| *k == "customer").count(), 1);
    let (_, failed) = get(&w, &admin0, &format!("{base}/activity?result=failed")).await;
    assert_eq!(failed["total"], 0);
    let (_, ok) = get(
        &w,
        &admin0,
        &format!("{base}/activity?result=ok&per_page=100"),
    )
    .await;
    assert_eq!(ok["total"], total);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (_, later) = get(
        &w,
        &admin0,
        &format!("{base}/activity?from={}", urlencode_time(&future)),
    )
    .await;
    assert_eq!(later["total"], 0);
    let (_, window) = get(
        &w,
        &admin0,
        &format!(
            "{base}/activity?from={}&to={}",
            urlencode_time(&past),
            urlencode_time(&future)
        ),
    )
    .await;
    assert_eq!(window["total"], total);
    // Partner isolation: partner 0's admin cannot see, search or steer partner 1's.
    let other = sync_path(&w, 1);
    for path in [
        other.clone(),
        format!("{other}/activity"),
        format!("{other}/members?q=Tester"),
    ] {
        let (s, _) = get(&w, &admin0, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = post(&w, &admin0, &format!("{other}/pause"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A member of another partner is not reachable through one's own integration either.
    let (_, theirs) = get(&w, &ops, &format!("{other}/activity?kind=customer")).await;
    let their_member = theirs["activity"][0]["member_id"].as_i64().unwrap();
    let (s, _) = get(&w, &admin0, &format!("{base}/members/{their_member}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Ops see any.
    let (s, _) = get(&w, &ops, &format!("{other}/activity")).await;
    assert_eq!(s, 200);
}

fn urlencode_time(t: &str) -> String {
    t.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn paused_sync_writes_nothing_and_resume_writes_everything_once() {
    let w = world(1).await;
    let admin = sign_in(
        &w,
        "admin@p0.test",
        Role::PartnerAdmin,
        Some(w.partners[0].partner_id),
    )
    .await;
    let base = sync_path(&w, 0);
    let (s, body) = post(&w, &admin, &format!("{base}/pause"), json!({})).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = post(&w, &admin, &format!("{base}/pause"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "already paused");
    let seeded = w.snapshot(0);
    let credited = |snap: &titanbridge::sandbox::TenantSnapshot| {
        snap.locations
            .iter()
            .filter(|l| l.custom_fields.iter().any(|f| f.type_id == CREDIT_FIELD))
            .count()
    };
    let (customers0, memberships0, fields0) = (
        seeded.customers.len(),
        seeded.memberships.len(),
        credited(&seeded),
    );
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    for n in 0..3 {
        assert_eq!(
            w.put_member(0, &format!("m-{n}"), &member_body(n, Some("plus")))
                .await
                .status(),
            200
        );
        credit(&w, &format!("loc-{n}"), 40 + n as i64, &format!("k-{n}")).await;
    }
    // Platform events are accepted and queued; nothing reaches ServiceTitan.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let snap = w.snapshot(0);
    assert_eq!(
        snap.customers.len(),
        customers0,
        "customers written while paused"
    );
    assert_eq!(
        snap.memberships.len(),
        memberships0,
        "memberships written while paused"
    );
    assert_eq!(
        credited(&snap),
        fields0,
        "credit fields written while paused"
    );
    let db = w.app.state.store.db();
    let pending = sync_task::Entity::find()
        .filter(sync_task::Column::IntegrationId.eq(w.partners[0].integration_id))
        .filter(sync_task::Column::State.eq("pending"))
        .count(db)
        .await
        .unwrap();
    assert!(pending >= 3, "{pending} tasks queued");
    let (_, status) = get(&w, &admin, &base).await;
    assert!(status["paused_at"].is_string());
    assert_eq!(status["paused_by"], "partner_admin:admin@p0.test");
    let (s, _) = post(&w, &admin, &format!("{base}/resume"), json!({})).await;
    assert_eq!(s, 200);
    wait_for("every member written", WAIT, || async {
        let snap = w.snapshot(0);
        (snap.customers.len() == customers0 + 3
            && snap.memberships.len() == memberships0 + 3
            && credited(&snap) == fields0 + 3)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let snap = w.snapshot(0);
    assert_eq!(
        snap.customers.len(),
        customers0 + 3,
        "each member written once"
    );
    assert_eq!(snap.memberships.len(), memberships0 + 3);
    let audit: Vec<String> = integration_event::Entity::find()
        .filter(integration_event::Column::IntegrationId.eq(w.partners[0].integration_id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.event, e.actor))
        .collect();
    assert!(
        audit.contains(&"pause_sync partner_admin:admin@p0.test".to_owned()),
        "{audit:?}"
    );
    assert!(
        audit.contains(&"resume_sync partner_admin:admin@p0.test".to_owned()),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_resync_rereads_a_stream_from_the_start_without_duplicating_effects() {
    let w = world(1).await;
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, None)).await.status(),
        200
    );
    credit(&w, "loc-1", 200, "welcome").await;
    let (member_id, location_id) = location_of(&w, 0, "loc-1").await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let st_location = wait_for("location link", WAIT, || async {
        st_link(&w, 0, links::kind::LOCATION, location_id).await
    })
    .await;
    let customer = st_link(&w, 0, links::kind::CUSTOMER, member_id)
        .await
        .unwrap();
    let job = create_job(&w, customer, st_location).await;
    assert!(
        w.sandbox
            .state
            .set_job_status(w.partners[0].tenant_id, job, "Completed")
    );
    let line = titanbridge::sandbox::InvoiceLine {
        sku_id: ELIGIBLE_SERVICE,
        kind: "Service".into(),
        quantity: 1.0,
        price: 129.0,
    };
    w.sandbox
        .state
        .add_invoice(w.partners[0].tenant_id, job, &[line])
        .expect("invoice");
    field_is(&w, st_location, "71").await;
    let db = w.app.state.store.db();
    let entries = || async {
        credit_entry::Entity::find()
            .filter(credit_entry::Column::LocationId.eq(location_id))
            .count(db)
            .await
            .unwrap()
    };
    assert_eq!(entries().await, 2);
    let base = sync_path(&w, 0);
    let (s, body) = post(
        &w,
        &ops,
        &format!("{base}/resync"),
        json!({"stream": "invoices"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let (s, _) = post(
        &w,
        &ops,
        &format!("{base}/resync"),
        json!({"stream": "nope"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The re-read runs as a full pass (progress from the backfill counters) to its end.
    wait_for("the invoices re-read to the end", WAIT, || async {
        let c = titanbridge::store::cursors::get(db, w.partners[0].integration_id, "invoices")
            .await
            .unwrap();
        let (_, status) = get(&w, &ops, &base).await;
        (c.watermark.is_some() && c.continue_from.is_none() && status["backfill_percent"] == 100)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(entries().await, 2, "no redemption applied twice");
    assert_eq!(
        w.snapshot(0)
            .location_custom_field(st_location, CREDIT_FIELD),
        Some("71")
    );
    let (_, redemptions) = get(&w, &ops, &format!("{base}/activity?kind=credit_redemption")).await;
    assert_eq!(redemptions["total"], 1, "{redemptions}");
    let audited = integration_event::Entity::find()
        .filter(integration_event::Column::Event.eq("resync"))
        .filter(integration_event::Column::Reason.eq("stream invoices"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_dead_write_is_replayed_from_the_log_once() {
    use titanbridge::store::entities::plan_mapping;
    let w = world(1).await;
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let admin = sign_in(
        &w,
        "admin@p0.test",
        Role::PartnerAdmin,
        Some(w.partners[0].partner_id),
    )
    .await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
    // The premium plan's mapping is missing: selling the membership fails for good.
    let mapping = plan_mapping::Entity::find()
        .filter(plan_mapping::Column::IntegrationId.eq(iid))
        .filter(plan_mapping::Column::PlanCode.eq("premium"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    plan_mapping::Entity::delete_by_id(mapping.id)
        .exec(db)
        .await
        .unwrap();
    let memberships0 = w.snapshot(0).memberships.len();
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("premium")))
            .await
            .status(),
        200
    );
    let (member_id, _) = location_of(&w, 0, "loc-1").await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let base = sync_path(&w, 0);
    let failed = wait_for("the failed write in the log", WAIT, || async {
        let (_, log) = get(&w, &admin, &format!("{base}/activity?result=failed")).await;
        log["activity"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(failed["kind"], "membership");
    assert_eq!(failed["member_id"], member_id);
    assert!(
        failed["error"].as_str().unwrap().contains("not mapped"),
        "{failed}"
    );
    assert_eq!(w.snapshot(0).memberships.len(), memberships0);
    // The cause is fixed (the plan mapped again), then the write is replayed from the log.
    plan_mapping::Entity::insert(plan_mapping::ActiveModel {
        id: sea_orm::NotSet,
        ..mapping.into()
    })
    .exec(db)
    .await
    .unwrap();
    let aid = failed["id"].as_i64().unwrap();
    let (s, body) = post(
        &w,
        &admin,
        &format!("{base}/activity/{aid}/replay"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    wait_for("the membership sold", WAIT, || async {
        (w.snapshot(0).memberships.len() == memberships0 + 1).then_some(())
    })
    .await;
    // Replaying again is refused (the task is no longer dead) and writes nothing.
    let (s, _) = post(
        &w,
        &ops,
        &format!("{base}/activity/{aid}/replay"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let ok = wait_for("the replayed write logged", WAIT, || async {
        let (_, log) = get(
            &w,
            &ops,
            &format!("{base}/activity?kind=membership&result=ok"),
        )
        .await;
        log["activity"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(ok["task_id"], failed["task_id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        w.snapshot(0).memberships.len(),
        memberships0 + 1,
        "sold once"
    );
    let audited = integration_event::Entity::find()
        .filter(integration_event::Column::Event.eq("replay"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor, "partner_admin:admin@p0.test");
}

/// The partner's admin (who gets the disconnect email), member `m-1` linked in ServiceTitan by
/// a running worker; returns the worker's stop handle and the ServiceTitan location.
async fn admin_with_linked_member(w: &World) -> (tokio::sync::watch::Sender<bool>, i64) {
    sign_in(
        w,
        "admin@p0.test",
        Role::PartnerAdmin,
        Some(w.partners[0].partner_id),
    )
    .await;
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, None)).await.status(),
        200
    );
    let (_, location_id) = location_of(w, 0, "loc-1").await;
    let stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let st_location = wait_for("location link", WAIT, || async {
        st_link(w, 0, links::kind::LOCATION, location_id).await
    })
    .await;
    (stop, st_location)
}

#[tokio::test]
async fn revoked_credentials_disconnect_the_integration_once_with_one_email_and_one_alert() {
    let w = world(1).await;
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let (_stop, _) = admin_with_linked_member(&w).await;
    // The tenant admin revokes the app's access in ServiceTitan.
    let r = w
        .app
        .http
        .post(format!(
            "{}/_sandbox/clients/{}/revoke",
            w.sandbox.base_url,
            tenant_seed(0).client_id
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for n in 0..4 {
        credit(&w, "loc-1", 10 + n, &format!("after-revoke-{n}")).await;
    }
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db();
    let row = wait_for("disconnected", WAIT, || async {
        titanbridge::store::integrations::find(db, iid)
            .await
            .unwrap()
            .filter(|r| r.state == "disconnected")
    })
    .await;
    let reason = row.state_reason.unwrap_or_default();
    assert!(
        reason.contains("rejected the Client ID or Client Secret"),
        "{reason}"
    );
    // More refusals and health rounds later: still one email, one alert.
    for _ in 0..3 {
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mails = outbound_email::Entity::find()
        .filter(outbound_email::Column::IntegrationId.eq(iid))
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        mails.len(),
        1,
        "one email: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert_eq!(mails[0].to_address, "admin@p0.test");
    // Bodies are stored sealed; open them as the sender does.
    let body =
        titanbridge::store::outbox::open_body(&w.app.state.secrets, &mails[0].body_text).unwrap();
    assert!(
        body.contains("/settings/integrations/servicetitan"),
        "reconnect link"
    );
    assert!(!body.contains(&tenant_seed(0).client_secret));
    let (s, alerts) = get(&w, &ops, "/api/v1/ops/sync/alerts").await;
    assert_eq!(s, 200);
    let mine: Vec<&Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["integration_id"] == iid && a["kind"] == "disconnected")
        .collect();
    assert_eq!(mine.len(), 1, "{alerts}");
    assert_eq!(
        alerts["alerts"][0]["kind"], "disconnected",
        "disconnections first"
    );
    let events = integration_event::Entity::find()
        .filter(integration_event::Column::IntegrationId.eq(iid))
        .filter(integration_event::Column::Event.eq("credentials_failed"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "system");
    assert_eq!(events[0].to_state, "disconnected");
    // Nothing is lost: the credit tasks wait for the reconnect.
    let waiting = sync_task::Entity::find()
        .filter(sync_task::Column::IntegrationId.eq(iid))
        .filter(sync_task::Column::State.eq("pending"))
        .filter(sync_task::Column::Kind.eq("credit_balance"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(waiting, 1);
}

#[tokio::test]
async fn dead_tasks_raise_one_ops_digest_per_hour_and_a_gauge() {
    let w = world(1).await;
    let _ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
    let id = titanbridge::store::tasks::enqueue(
        db,
        titanbridge::store::tasks::NewTask::now(
            iid,
            "credit_balance",
            json!({"location_id": 1}),
            None,
        ),
    )
    .await
    .unwrap()
    .id();
    let claimed = titanbridge::store::tasks::claim(
        db,
        &titanbridge::store::tasks::ClaimRequest {
            skip: &[],
            owner: "t",
            limit: 1,
            lease_ms: 60_000,
            per_integration: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    titanbridge::store::tasks::fail(db, id, "t", "gave up", None)
        .await
        .unwrap();
    assert_eq!(
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap(),
        0,
        "once per hour"
    );
    let digests = outbound_email::Entity::find()
        .filter(outbound_email::Column::IntegrationId.eq(iid))
        .all(db)
        .await
        .unwrap();
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0].to_address, "ops@titanbridge.test");
    let body =
        titanbridge::store::outbox::open_body(&w.app.state.secrets, &digests[0].body_text).unwrap();
    assert!(body.contains("1 dead task"), "{body}");
    let metrics = w.app.metrics().await;
    let line = format!("sync_alert{{integration=\"{iid}\",kind=\"dead_tasks\"}} 1");
    assert!(metrics.contains(&line), "{line} missing");
}

#[tokio::test]
async fn activity_older_than_the_retention_is_pruned() {
    let w = world_configured(1, Default::default(), |s| {
        s.sync.activity_retention_days = 0
    })
    .await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
    activity::record(
        db,
        iid,
        None,
        1,
        vec![activity::NewActivity::wrote("tag", Some(1))],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        titanbridge::sync::health::prune(&w.app.state)
            .await
            .unwrap(),
        1
    );
    let page = activity::list(db, iid, &activity::Filter::default(), 1, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    // With the default 90 days, a fresh row stays.
    let kept = world(1).await;
    let kdb = kept.app.state.store.db();
    let kid = kept.partners[0].integration_id;
    activity::record(
        kdb,
        kid,
        None,
        1,
        vec![activity::NewActivity::wrote("tag", Some(1))],
    )
    .await
    .unwrap();
    assert_eq!(
        titanbridge::sync::health::prune(&kept.app.state)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_withdrawn_scope_disconnects_even_while_the_other_calls_succeed() {
    let w = world(1).await;
    let (_stop, st_location) = admin_with_linked_member(&w).await;
    // The tenant admin takes the Memberships scope away from the app; CRM calls still work.
    let r = w
        .app
        .http
        .put(format!(
            "{}/_sandbox/clients/{}/scopes",
            w.sandbox.base_url,
            tenant_seed(0).client_id
        ))
        .json(&json!({"denyModules": ["memberships"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("plus")))
            .await
            .status(),
        200
    );
    // Credit writes (CRM) go through between the refused membership calls.
    let iid = w.partners[0].integration_id;
    let db = w.app.state.store.db();
    let mut n = 0;
    let wr = &w;
    let row = wait_for("disconnected", WAIT, || {
        n += 1;
        let key = format!("between-{n}");
        async move {
            credit(wr, "loc-1", n, &key).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            titanbridge::store::integrations::find(db, iid)
                .await
                .unwrap()
                .filter(|r| r.state == "disconnected")
        }
    })
    .await;
    let reason = row.state_reason.unwrap_or_default();
    assert!(reason.contains("(403)"), "{reason}");
    assert!(
        reason.contains("/memberships/v2/tenant/"),
        "names the call: {reason}"
    );
    assert!(reason.contains("lacks a scope"), "{reason}");
    assert_eq!(row.scope_refusals, 0, "the reconnect starts clean");
    // Credits were written meanwhile: the credential count never moved.
    let field = w
        .snapshot(0)
        .locations
        .iter()
        .find(|l| l.id == st_location)
        .map(|l| l.custom_fields.len())
        .unwrap_or(0);
    assert!(field > 0, "credit field written before the disconnect");
    assert_eq!(row.auth_failures, 0);
    let mails = outbound_email::Entity::find()
        .filter(outbound_email::Column::IntegrationId.eq(iid))
        .all(db)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1, "one email");
    let events = integration_event::Entity::find()
        .filter(integration_event::Column::IntegrationId.eq(iid))
        .filter(integration_event::Column::Event.eq("credentials_failed"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn a_growing_lag_raises_one_ops_alert_digest_and_a_gauge() {
    let w = world_configured(1, Default::default(), |s| s.sync.lag_alert_secs = 60).await;
    let ops = sign_in(&w, "ops@titanbridge.test", Role::Ops, None).await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
    // No worker runs: a write due five minutes ago is still waiting.
    let mut task = titanbridge::store::tasks::NewTask::now(
        iid,
        "credit_balance",
        json!({"location_id": 1}),
        None,
    );
    task.run_after_ms = titanbridge::store::now_ms() - 300_000;
    titanbridge::store::tasks::enqueue(db, task).await.unwrap();
    let (s, alerts) = get(&w, &ops, "/api/v1/ops/sync/alerts").await;
    assert_eq!(s, 200);
    let lag: Vec<&Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["integration_id"] == iid && a["kind"] == "lag")
        .collect();
    assert_eq!(lag.len(), 1, "{alerts}");
    assert!(
        lag[0]["message"]
            .as_str()
            .unwrap()
            .contains("60 s threshold"),
        "{alerts}"
    );
    // One digest however many health rounds see the same lag.
    let sent: usize = [
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap(),
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap(),
        titanbridge::sync::health::check(&w.app.state)
            .await
            .unwrap(),
    ]
    .iter()
    .sum();
    assert_eq!(sent, 1);
    let digests = outbound_email::Entity::find()
        .filter(outbound_email::Column::IntegrationId.eq(iid))
        .all(db)
        .await
        .unwrap();
    assert_eq!(digests.len(), 1);
    let body =
        titanbridge::store::outbox::open_body(&w.app.state.secrets, &digests[0].body_text).unwrap();
    assert!(body.contains("lag"), "{body}");
    let metrics = w.app.metrics().await;
    let line = format!("sync_alert{{integration=\"{iid}\",kind=\"lag\"}} 1");
    assert!(metrics.contains(&line), "{line} missing");
}
