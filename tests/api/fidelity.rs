//! What we write to a contractor's tenant stays right against ServiceTitan's own rules (as the
//! strict sandbox plays them): full-list PATCHes keep the contractor's values, creates whose
//! answer is lost are not repeated, and a membership sale carries the mapped business unit and
//! a real sale task. Real HTTP: platform API → worker → sandbox.
use crate::helpers::sync as sync_support;

use std::time::Duration;

use serde_json::json;
use sync_support::*;
use titanbridge::store::{ledger, links, members};

const WAIT: Duration = Duration::from_secs(30);
const GATE_CODE: i64 = 4502;
const SYSTEM_AGE: i64 = 4503;
const FILTER_SIZE: i64 = 4504;

async fn member_location(w: &World, ext: &str) -> (i64, i64) {
    let db = w.app.state.store.db();
    let loc = members::location_by_external(db, w.partners[0].partner_id, ext)
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

/// Enrols member 1 (plan `basic`) with a running worker and waits for its location link.
async fn enrolled(w: &World) -> (i64, i64, i64) {
    let r = w.put_member(0, "m-1", &member_body(1, Some("basic"))).await;
    assert_eq!(r.status(), 200);
    let (member_id, location_id) = member_location(w, "loc-1").await;
    let st_location = wait_for("location link", WAIT, || async {
        linked(w, links::kind::LOCATION, location_id).await
    })
    .await;
    (member_id, location_id, st_location)
}

fn field(w: &World, st_location: i64, type_id: i64) -> Option<String> {
    w.snapshot(0)
        .location_custom_field(st_location, type_id)
        .map(str::to_owned)
}

async fn field_equals_ledger(w: &World, location_id: i64, st_location: i64) {
    wait_for("credit field equals the ledger", WAIT, || async {
        let balance = ledger::balance(w.app.state.store.db(), location_id)
            .await
            .expect("ledger");
        (field(w, st_location, CREDIT_FIELD) == Some(balance.to_string())).then_some(())
    })
    .await;
}

#[tokio::test]
async fn other_location_fields_survive_a_hundred_credit_writes_and_a_mid_write_edit() {
    let w = world(1).await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let (_, location_id, st_location) = enrolled(&w).await;
    field_equals_ledger(&w, location_id, st_location).await;
    let tenant = w.partners[0].tenant_id;
    let state = &w.sandbox.state;
    // What the contractor keeps on the location, which we never wrote.
    assert!(state.set_location_field(tenant, st_location, GATE_CODE, "#4411"));
    assert!(state.set_location_field(tenant, st_location, SYSTEM_AGE, "12"));

    for i in 0..100 {
        if i == 50 {
            // The contractor edits the filter size while our write is in flight: the edit lands
            // right after our read of the location.
            assert!(state.edit_location_field_after_next_read(
                tenant,
                st_location,
                FILTER_SIZE,
                "16x25x1"
            ));
        }
        let r = w
            .post_credit(
                0,
                "loc-1",
                &json!({"amount": 1, "reason": "daily", "idempotency_key": format!("d{i}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        field_equals_ledger(&w, location_id, st_location).await;
    }

    assert_eq!(field(&w, st_location, GATE_CODE).as_deref(), Some("#4411"));
    assert_eq!(field(&w, st_location, SYSTEM_AGE).as_deref(), Some("12"));
    assert_eq!(
        field(&w, st_location, FILTER_SIZE).as_deref(),
        Some("16x25x1"),
        "the contractor's mid-write edit is kept"
    );
    let snap = w.snapshot(0);
    let patches = snap
        .calls_by_endpoint
        .get("PATCH /crm/locations/{id}")
        .copied()
        .unwrap_or(0);
    assert!(patches >= 100, "{patches} credit writes for 100 changes");
}

#[tokio::test]
async fn a_member_whose_customer_create_answer_is_lost_ends_with_one_customer() {
    let w = world(1).await;
    w.sandbox.state.lose_next_answer("POST", "/customers");
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let (member_id, _, st_location) = enrolled(&w).await;
    let customer = wait_for("customer link", WAIT, || async {
        linked(&w, links::kind::CUSTOMER, member_id).await
    })
    .await;
    let snap = w.snapshot(0);
    let creates = snap
        .calls_by_endpoint
        .get("POST /crm/customers")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        creates, 1,
        "the create whose answer was lost is not repeated"
    );
    let ours: Vec<_> = snap
        .customers
        .iter()
        .filter(|c| c.external("titanbridgeMemberId") == Some(member_id.to_string().as_str()))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one customer, found again through externalData"
    );
    assert_eq!(ours[0].id, customer);
    let locations: Vec<_> = snap
        .locations
        .iter()
        .filter(|l| l.customer_id == customer)
        .collect();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].id, st_location);
}

#[tokio::test]
async fn a_plan_is_sold_in_the_mapped_business_unit_with_its_sale_task() {
    let w = world(1).await;
    let _stop = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    let (member_id, _, _) = enrolled(&w).await;
    let membership = wait_for("membership link", WAIT, || async {
        linked(&w, links::kind::MEMBERSHIP, member_id).await
    })
    .await;
    let snap = w.snapshot(0);
    let sold = snap
        .memberships
        .iter()
        .find(|m| m.id == membership)
        .expect("membership in ServiceTitan");
    assert_eq!(sold.membership_type_id, MEMBERSHIP_TYPE);
    assert_eq!(sold.business_unit_id, Some(PLAN_BUSINESS_UNIT));
    assert_eq!(sold.status, "Active");
    let sale_items: Vec<_> = snap
        .invoices
        .iter()
        .flat_map(|i| i.items.iter())
        .filter(|item| item.sku_id == SALE_TASK)
        .collect();
    assert_eq!(sale_items.len(), 1, "one sale invoice with the sale task");
    assert_eq!(sale_items[0].kind, "Service");
    assert_eq!(sale_items[0].quantity, 1.0, "decimal strings decode");
}
