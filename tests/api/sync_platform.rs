//! The platform API's edges (auth, 422 naming the field, idempotent replays) and the ops sync
//! endpoints (figures, dead tasks with their reason, retry), over real HTTP.
use crate::helpers::sync as sync_support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_support::*;
use titanbridge::store::tasks::{self, ClaimRequest, NewTask};
use titanbridge::store::users::Role;

fn fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn platform_calls_need_a_valid_bearer_token() {
    let w = world(1).await;
    let url = format!("{}/api/v1/platform/members/m-1", w.app.address);
    let none = w
        .app
        .http
        .put(&url)
        .json(&member_body(1, None))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = w
        .app
        .http
        .put(&url)
        .bearer_auth("not-a-token")
        .json(&member_body(1, None))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_member_input_gets_422_naming_each_field() {
    let w = world(1).await;
    let body = json!({
        "first_name": " ",
        "last_name": "Lee",
        "email": "not-an-email",
        "plan_code": "gold-ultra",
        "locations": [{"id": "l1", "street": "1 Main", "city": "Austin", "state": "TX"}]
    });
    let r = w.put_member(0, "m-1", &body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let f = fields(&r.json().await.unwrap());
    for want in ["first_name", "email", "plan_code", "locations[0].zip"] {
        assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
    }
    let r = w
        .put_member(
            0,
            "m-1",
            &json!({"first_name": "A", "last_name": "B", "locations": []}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.json().await.unwrap()), vec!["locations"]);
}

#[tokio::test]
async fn credit_entries_are_idempotent_and_validated() {
    let w = world(1).await;
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, None)).await.status(),
        200
    );
    let ok = json!({"amount": 25, "reason": "referral", "idempotency_key": "ref-1"});
    let first = w.post_credit(0, "loc-1", &ok).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["balance"], 25);
    let again = w.post_credit(0, "loc-1", &ok).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replay"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let reused = w
        .post_credit(
            0,
            "loc-1",
            &json!({"amount": 30, "reason": "referral", "idempotency_key": "ref-1"}),
        )
        .await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fields(&reused.json().await.unwrap()),
        vec!["idempotency_key"]
    );
    let bad = w
        .post_credit(0, "loc-1", &json!({"amount": 0, "reason": ""}))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let f = fields(&bad.json().await.unwrap());
    assert_eq!(f, vec!["amount", "reason", "idempotency_key"]);
    let not_int = w
        .post_credit(
            0,
            "loc-1",
            &json!({"amount": "ten", "reason": "x", "idempotency_key": "k"}),
        )
        .await;
    assert_eq!(fields(&not_int.json().await.unwrap()), vec!["amount"]);
    let unknown = w.post_credit(0, "nowhere", &ok).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The header works as the key too.
    let r = w
        .app
        .http
        .post(format!(
            "{}/api/v1/platform/locations/loc-1/credits",
            w.app.address
        ))
        .bearer_auth(&w.partners[0].token)
        .header("Idempotency-Key", "hdr-1")
        .json(&json!({"amount": -5, "reason": "redeemed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["balance"], 20);
}

#[tokio::test]
async fn device_events_open_and_resolve_alerts_and_refuse_unknown_events() {
    let w = world(1).await;
    assert_eq!(
        w.put_member(0, "m-1", &member_body(1, None)).await.status(),
        200
    );
    let r: Value = w
        .post_device(0, "loc-1", "battery_low")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["alert"].as_str(), r["open"].as_bool()),
        (Some("battery_low"), Some(true))
    );
    let r: Value = w
        .post_device(0, "loc-1", "battery_ok")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["open"].as_bool(), r["changed"].as_bool()),
        (Some(false), Some(true))
    );
    let bad = w.post_device(0, "loc-1", "smoke").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&bad.json().await.unwrap()), vec!["event"]);
}

async fn sign_in(w: &World, email: &str, role: Role, partner_id: Option<i64>) -> (String, String) {
    w.session(email, role, partner_id).await
}

#[tokio::test]
async fn ops_see_dead_tasks_with_their_reason_and_can_retry_them() {
    let w = world(1).await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
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
        limit: 1,
        lease_ms: 60_000,
        per_integration: 1,
    };
    tasks::claim(db, &req).await.unwrap();
    tasks::fail(
        db,
        id,
        "w",
        "ServiceTitan returned 400: Location is inactive",
        None,
    )
    .await
    .unwrap();

    let url = format!("{}/api/v1/ops/sync", w.app.address);
    assert_eq!(
        w.app.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let (partner_cookie, _) = sign_in(
        &w,
        "admin@partner.example",
        Role::PartnerAdmin,
        Some(w.partners[0].partner_id),
    )
    .await;
    let r = w
        .app
        .http
        .get(&url)
        .header("Cookie", partner_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (cookie, csrf) = sign_in(&w, "ops@titanbridge.example", Role::Ops, None).await;
    let body: Value = w
        .app
        .http
        .get(&url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["integration_id"] == iid)
        .cloned()
        .unwrap();
    assert_eq!(row["dead"], 1);
    assert_eq!(row["dead_tasks"][0]["id"], id);
    assert_eq!(
        row["dead_tasks"][0]["last_error"],
        "ServiceTitan returned 400: Location is inactive"
    );

    let retry = format!("{}/api/v1/ops/sync/tasks/{id}/retry", w.app.address);
    let no_csrf = w
        .app
        .http
        .post(&retry)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let r = w
        .app
        .http
        .post(&retry)
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(tasks::get(db, id).await.unwrap().unwrap().state, "pending");
    let again = w
        .app
        .http
        .post(&retry)
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let metrics = w.app.metrics().await;
    assert!(metrics.contains("sync_queue_depth"), "gauges exported");
}
