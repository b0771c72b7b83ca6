//! Scenario tests over real HTTP: the platform API on one side, the sandbox on the other, an
//! in-process worker in between. Each asserts the sandbox's final state.
use crate::helpers::sync as sync_support;

use std::time::Duration;
use titanbridge::store::task_kind::TaskKind;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use sync_support::*;
use titanbridge::sandbox::InvoiceLine;
use titanbridge::servicetitan::{JobAppointmentInput, NewJob};
use titanbridge::state::AppState;
use titanbridge::store::entities::{credit_entry, inbound_seen, sync_task};
use titanbridge::store::{ledger, links, members};

const WAIT: Duration = Duration::from_secs(30);

/// Outbound tasks (not polls) still pending or running for an integration.
async fn busy(state: &AppState, integration_id: i64) -> u64 {
    sync_task::Entity::find()
        .filter(sync_task::Column::IntegrationId.eq(integration_id))
        .filter(sync_task::Column::Kind.ne("poll"))
        .filter(sync_task::Column::State.is_in(["pending", "running"]))
        .count(state.store.db())
        .await
        .expect("count")
}

async fn wait_idle(state: &AppState, integration_id: i64) {
    wait_for("the queue to drain", WAIT, || async {
        (busy(state, integration_id).await == 0).then_some(())
    })
    .await;
}

async fn member_location(w: &World, p: usize, ext: &str) -> (i64, i64) {
    let db = w.app.state.store.db();
    let loc = members::location_by_external(db, w.partners[p].partner_id, ext)
        .await
        .expect("db")
        .expect("location");
    (loc.member_id, loc.id)
}

async fn linked(w: &World, kind: &str, local: i64) -> Option<i64> {
    links::st_id(
        w.app.state.store.db(),
        w.partners[0].integration_id,
        kind,
        local,
    )
    .await
    .expect("db")
}

fn ours(c: &titanbridge::servicetitan::Customer, member_id: i64) -> bool {
    c.external("titanbridgeMemberId") == Some(member_id.to_string().as_str())
}

#[tokio::test]
async fn enrolled_member_gets_one_tagged_customer_with_membership_and_credit_balance() {
    let w = world(1).await;
    let r = w.put_member(0, "m-1", &member_body(1, Some("basic"))).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sync"], "queued");
    // A burst of 100 ledger changes before the worker starts, plus one repeated key.
    let mut first = None;
    for i in 0..100 {
        let r = w
            .post_credit(
                0,
                "loc-1",
                &json!({"amount": 5, "reason": "monthly", "idempotency_key": format!("k{i}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        if i == 0 {
            first = Some(r.json::<Value>().await.unwrap());
        }
    }
    let again = w
        .post_credit(
            0,
            "loc-1",
            &json!({"amount": 5, "reason": "monthly", "idempotency_key": "k0"}),
        )
        .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first.unwrap());
    let (member_id, location_id) = member_location(&w, 0, "loc-1").await;
    let credit_tasks = sync_task::Entity::find()
        .filter(sync_task::Column::Kind.eq("credit_balance"))
        .count(w.app.state.store.db())
        .await
        .unwrap();
    assert_eq!(
        credit_tasks, 1,
        "100 ledger changes coalesce into one pending write"
    );

    let opts = test_worker_options(&w.app.state.settings);
    let _stop = spawn_worker(w.app.state.clone(), opts);
    wait_for("membership link", WAIT, || async {
        linked(&w, links::kind::MEMBERSHIP, member_id).await
    })
    .await;
    wait_idle(&w.app.state, w.partners[0].integration_id).await;

    // Enrol again (same member): nothing new may appear.
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, Some("basic")))
            .await
            .status(),
        200
    );
    wait_idle(&w.app.state, w.partners[0].integration_id).await;

    let snap = w.snapshot(0);
    let customers: Vec<_> = snap
        .customers
        .iter()
        .filter(|c| ours(c, member_id))
        .collect();
    assert_eq!(customers.len(), 1, "exactly one customer for the member");
    let customer = customers[0];
    assert_eq!(customer.name, "Member1 Tester");
    assert_eq!(customer.tag_type_ids, vec![TAG_TYPE], "tagged once");
    let locations: Vec<_> = snap
        .locations
        .iter()
        .filter(|l| l.customer_id == customer.id)
        .collect();
    assert_eq!(locations.len(), 1, "exactly one location");
    assert_eq!(
        linked(&w, links::kind::LOCATION, location_id).await,
        Some(locations[0].id)
    );
    let memberships: Vec<_> = snap
        .memberships
        .iter()
        .filter(|m| m.customer_id == customer.id)
        .collect();
    assert_eq!(memberships.len(), 1, "membership sold once");
    assert_eq!(memberships[0].membership_type_id, MEMBERSHIP_TYPE);
    assert_eq!(memberships[0].status, "Active");
    let balance = ledger::balance(w.app.state.store.db(), location_id)
        .await
        .unwrap();
    assert_eq!(balance, 500);
    assert_eq!(
        snap.location_custom_field(locations[0].id, CREDIT_FIELD),
        Some("500"),
        "credit field equals the ledger"
    );
    let patches = snap
        .calls_by_endpoint
        .get("PATCH /crm/locations/{id}")
        .copied()
        .unwrap_or(0);
    assert!(
        patches <= 3,
        "burst coalesced: {patches} location writes for 100 changes"
    );
}

async fn create_job(w: &World, customer_id: i64, location_id: i64) -> i64 {
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    w.st_client(0)
        .create_job(&NewJob {
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
            summary: Some("Tune-up".into()),
            tag_type_ids: vec![],
            custom_fields: vec![],
            external_data: None,
        })
        .await
        .expect("create job")
        .id
}

fn notes_with_marker(w: &World, job_id: i64) -> usize {
    w.snapshot(0)
        .job_notes
        .get(&job_id)
        .map(|n| {
            n.iter()
                .filter(|n| n.text.contains("[titanbridge:reminder:"))
                .count()
        })
        .unwrap_or(0)
}

async fn seen(state: &AppState, stream: &str, st_id: i64) -> bool {
    inbound_seen::Entity::find()
        .filter(inbound_seen::Column::Stream.eq(stream))
        .filter(inbound_seen::Column::StId.eq(st_id))
        .count(state.store.db())
        .await
        .unwrap()
        > 0
}

#[tokio::test]
async fn hub_offline_adds_one_note_per_upcoming_job_and_none_after_it_is_back_online() {
    let w = world(1).await;
    assert_eq!(
        w.put_member(0, "m-2", &member_body(2, None)).await.status(),
        200
    );
    let (member_id, location_id) = member_location(&w, 0, "loc-2").await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let st_location = wait_for("location link", WAIT, || async {
        linked(&w, links::kind::LOCATION, location_id).await
    })
    .await;
    let customer = linked(&w, links::kind::CUSTOMER, member_id).await.unwrap();
    let job1 = create_job(&w, customer, st_location).await;

    let r = w.post_device(0, "loc-2", "offline").await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["open"], true);
    wait_for("note on job 1", WAIT, || async {
        (notes_with_marker(&w, job1) == 1).then_some(())
    })
    .await;

    // A job scheduled while the alert is open gets its note through the jobs poller.
    let job2 = create_job(&w, customer, st_location).await;
    wait_for("note on job 2", WAIT, || async {
        (notes_with_marker(&w, job2) == 1).then_some(())
    })
    .await;

    // Repeats are harmless: the same event again, and the reminder task forced again.
    let r = w.post_device(0, "loc-2", "offline").await;
    assert_eq!(r.json::<Value>().await.unwrap()["changed"], false);
    TaskKind::JobReminders { location_id }
        .enqueue(w.app.state.store.db(), w.partners[0].integration_id)
        .await
        .unwrap();
    wait_idle(&w.app.state, w.partners[0].integration_id).await;

    let r = w.post_device(0, "loc-2", "online").await;
    assert_eq!(r.json::<Value>().await.unwrap()["open"], false);
    let job3 = create_job(&w, customer, st_location).await;
    wait_for("job 3 polled", WAIT, || async {
        seen(&w.app.state, "jobs", job3).await.then_some(())
    })
    .await;
    wait_idle(&w.app.state, w.partners[0].integration_id).await;

    assert_eq!(notes_with_marker(&w, job1), 1, "exactly one note on job 1");
    assert_eq!(notes_with_marker(&w, job2), 1, "exactly one note on job 2");
    assert_eq!(
        notes_with_marker(&w, job3),
        0,
        "no note after the hub is back online"
    );
    let text = &w.snapshot(0).job_notes[&job1][0].text;
    assert!(
        text.contains("offline") && text.contains("2 Elm Street"),
        "{text}"
    );
}

#[tokio::test]
async fn invoice_with_eligible_service_records_ledger_entry_once_and_updates_the_field() {
    let w = world(1).await;
    assert_eq!(
        w.put_member(0, "m-3", &member_body(3, Some("plus")))
            .await
            .status(),
        200
    );
    let r = w
        .post_credit(
            0,
            "loc-3",
            &json!({"amount": 200, "reason": "welcome", "idempotency_key": "welcome-3"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (member_id, location_id) = member_location(&w, 0, "loc-3").await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let st_location = wait_for("location link", WAIT, || async {
        linked(&w, links::kind::LOCATION, location_id).await
    })
    .await;
    let customer = linked(&w, links::kind::CUSTOMER, member_id).await.unwrap();
    let job = create_job(&w, customer, st_location).await;
    assert!(
        w.sandbox
            .state
            .set_job_status(w.partners[0].tenant_id, job, "Completed")
    );
    let line = |sku: i64, kind: &str, price: f64| InvoiceLine {
        sku_id: sku,
        kind: kind.into(),
        quantity: 1.0,
        price,
    };
    let invoice = w
        .sandbox
        .state
        .add_invoice(
            w.partners[0].tenant_id,
            job,
            &[
                line(ELIGIBLE_SERVICE, "Service", 129.0),
                line(7003, "Service", 89.0),
            ],
        )
        .expect("invoice");
    wait_for("field updated to 71", WAIT, || async {
        (w.snapshot(0)
            .location_custom_field(st_location, CREDIT_FIELD)
            == Some("71"))
        .then_some(())
    })
    .await;

    // Re-read everything from scratch (forget cursors and seen records): still one entry.
    let db = w.app.state.store.db();
    inbound_seen::Entity::delete_many().exec(db).await.unwrap();
    titanbridge::store::cursors::save(
        db,
        w.partners[0].integration_id,
        "invoices",
        &titanbridge::store::cursors::Cursor::default(),
    )
    .await
    .unwrap();
    wait_for("invoice re-read", WAIT, || async {
        seen(&w.app.state, "invoices", invoice).await.then_some(())
    })
    .await;
    wait_idle(&w.app.state, w.partners[0].integration_id).await;

    let invoice_entries = credit_entry::Entity::find()
        .filter(credit_entry::Column::LocationId.eq(location_id))
        .filter(credit_entry::Column::SourceKey.starts_with("st-invoice-item:"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        invoice_entries.len(),
        1,
        "one entry for the one eligible item"
    );
    assert_eq!(invoice_entries[0].amount, -129);
    assert_eq!(ledger::balance(db, location_id).await.unwrap(), 71);
    assert_eq!(
        w.snapshot(0)
            .location_custom_field(st_location, CREDIT_FIELD),
        Some("71")
    );
}
