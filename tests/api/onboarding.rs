//! Onboarding over real HTTP against the in-process ServiceTitan sandbox: every transition,
//! illegal moves, tenant isolation, the role matrix, CSRF, setup tokens, sign-in limits and
//! secret hygiene.
use crate::helpers::{app as common, onb as common_onb};

use std::sync::{Arc, OnceLock};

use common_onb::{
    ADMIN_A, ADMIN_B, Client, OPS, PASSWORD, fill_mappings, my_integration, newest_email_to,
    token_in, world,
};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};

fn states(v: &Value) -> Vec<String> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_transition_through_the_api() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    let r = partner.get(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(r.json()["state"], "not_connected");
    assert_eq!(r.json()["allowed"], json!(["submit_tenant"]));

    // Step 1: a bad tenant ID is a clear 422; a good one goes to pending_approval.
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "12ab"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "tenant_id");
    assert!(r.text.contains("only digits"), "{}", r.text);
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "pending_approval");
    assert_eq!(states(&r.json()), ["submit_tenant", "queue_for_review"]);

    // Ops see it in the queue and reject with a reason; the partner sees the reason.
    let q = ops
        .get("/api/v1/ops/integrations?state=pending_approval")
        .await;
    assert_eq!(q.status, 200);
    assert_eq!(q.json()[0]["id"], id);
    assert_eq!(q.json()[0]["tenant_id"], 1234567);
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/reject"),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/reject"),
            json!({"reason": "Tenant belongs to another company"}),
        )
        .await;
    assert_eq!(r.json()["state"], "rejected");
    let mine = partner.get("/api/v1/integration").await.json();
    assert_eq!(mine["state_reason"], "Tenant belongs to another company");
    let ev = mine["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(ev["actor"], format!("ops:{OPS}"));
    assert_eq!(ev["reason"], "Tenant belongs to another company");

    // Resubmit, approve.
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.json()["state"], "pending_approval");
    assert_eq!(r.json()["state_reason"], Value::Null);
    // Withdrawn from the settings page (to correct it) and submitted again.
    let token = partner.csrf.clone().unwrap();
    let r = partner
        .form(
            "/settings/integrations/servicetitan/withdraw",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        partner.get("/api/v1/integration").await.json()["state"],
        "not_connected"
    );
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.json()["state"], "pending_approval");
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "approved");

    // Step 2: wrong secret, then the right credentials.
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "nope"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("not accepted by ServiceTitan"),
        "{}",
        r.text
    );
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "credentials_connected");
    assert_eq!(r.json()["has_client_secret"], true);

    // Submit before mappings: 422 listing what is missing; after: mappings_complete → active.
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("is not mapped yet"), "{}", r.text);
    fill_mappings(&w.app, id).await;
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "active");

    // Suspend (reason required) and resume.
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/suspend"),
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/suspend"),
            json!({"reason": "Unpaid invoice"}),
        )
        .await;
    assert_eq!(r.json()["state"], "suspended");
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/resume"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "active");

    // Stored secret stops working (revoked in ServiceTitan): the check moves to disconnected.
    let check = partner
        .post(&format!("/api/v1/integrations/{id}/check"), json!({}))
        .await;
    assert_eq!(check.json()["state"], "active", "{}", check.text);
    {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
        use titanbridge::store::entities::integration;
        let db = w.app.state.store.db();
        let row = integration::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let sealed = w
            .app
            .state
            .secrets
            .seal(&secrecy::SecretString::from("revoked".to_owned()))
            .unwrap();
        let mut am: integration::ActiveModel = row.into();
        am.client_secret_enc = Set(Some(sealed));
        am.update(db).await.unwrap();
    }
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/check"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "disconnected", "{}", r.text);
    assert!(
        r.json()["last_error"]
            .as_str()
            .unwrap()
            .contains("not accepted")
    );
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/reconnect"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "approved");
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"}),
        )
        .await;
    assert_eq!(r.json()["state"], "credentials_connected");
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "active");
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/disconnect"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "disconnected");
    assert_eq!(r.json()["has_client_secret"], false);
    assert_eq!(r.json()["client_id"], Value::Null);

    // Every event kind was used and audited.
    let events = states(&r.json());
    for kind in titanbridge::domain::onboarding::EventKind::ALL {
        assert!(
            events.iter().any(|e| e == kind.as_str()),
            "{kind} missing from {events:?}"
        );
    }
    // The ops view shows the same audit log.
    let o = ops
        .get(&format!("/api/v1/ops/integrations/{id}"))
        .await
        .json();
    assert_eq!(states(&o), events);
}

#[tokio::test]
async fn illegal_moves_are_409_naming_the_allowed_moves() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["error"]["allowed"], json!(["submit_tenant"]));
    assert!(
        r.text
            .contains("cannot approve an integration in state not_connected"),
        "{}",
        r.text
    );
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["error"]["allowed"],
        json!(["approve", "reject", "withdraw"])
    );
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "x", "client_secret": "y"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/resume"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/resend-setup-link"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409);
    ops.post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/disconnect"), json!({}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["error"]["allowed"],
        json!(["connect_credentials", "withdraw"])
    );
}

#[tokio::test]
async fn credential_failures_each_get_their_own_message() {
    let w = world(|_| {}).await;
    // A client that works but is not connected to the partner's tenant.
    w.sandbox
        .state
        .add_tenant(7654321, "other-client", "other-secret");
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    ops.post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    let creds = |c: &str, s: &str| json!({"client_id": c, "client_secret": s});
    let path = format!("/api/v1/integrations/{id}/credentials");
    let r = partner.post(&path, creds("", "")).await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("Client ID is required") && r.text.contains("Client Secret is required")
    );
    let r = partner.post(&path, creds("sandbox-client", "wrong")).await;
    assert!(
        r.text
            .contains("The Client ID or Client Secret was not accepted by ServiceTitan"),
        "{}",
        r.text
    );
    let r = partner
        .post(&path, creds("other-client", "other-secret"))
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text
            .contains("This app is not connected to tenant 1234567"),
        "{}",
        r.text
    );
    // ServiceTitan down.
    w.sandbox.stop().await;
    let r = partner
        .post(&path, creds("sandbox-client", "sandbox-secret"))
        .await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert!(
        r.text
            .contains("ServiceTitan could not be reached; try again"),
        "{}",
        r.text
    );
    assert_eq!(
        partner.get("/api/v1/integration").await.json()["state"],
        "approved"
    );
}

#[tokio::test]
async fn partner_a_cannot_see_or_change_partner_b() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut a = Client::signed_in(base, ADMIN_A).await;
    let mut b = Client::signed_in(base, ADMIN_B).await;
    let mine = my_integration(&mut a).await;
    let theirs = my_integration(&mut b).await;
    assert_ne!(mine, theirs);
    b.post(
        &format!("/api/v1/integrations/{theirs}/tenant"),
        json!({"tenant_id": "555555"}),
    )
    .await;
    let r = a.get(&format!("/api/v1/integrations/{theirs}")).await;
    assert_eq!(r.status, 404);
    for action in [
        "tenant",
        "credentials",
        "check",
        "submit",
        "disconnect",
        "reconnect",
    ] {
        let body = json!({"tenant_id": "1234567", "client_id": "sandbox-client", "client_secret": "sandbox-secret"});
        let r = a
            .post(&format!("/api/v1/integrations/{theirs}/{action}"), body)
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.text);
        assert!(!r.text.contains("555555"));
    }
    let r = a.get("/api/v1/integration").await;
    assert_eq!(r.json()["id"], mine);
    let theirs_now = b.get("/api/v1/integration").await.json();
    assert_eq!(theirs_now["state"], "pending_approval");
    assert_eq!(theirs_now["history"].as_array().unwrap().len(), 2);
}

const OPS_ROUTES: [(&str, &str); 9] = [
    ("GET", "/api/v1/ops/integrations"),
    ("GET", "/api/v1/ops/integrations/{id}"),
    ("POST", "/api/v1/ops/integrations/{id}/approve"),
    ("POST", "/api/v1/ops/integrations/{id}/reject"),
    ("POST", "/api/v1/ops/integrations/{id}/suspend"),
    ("POST", "/api/v1/ops/integrations/{id}/resume"),
    ("POST", "/api/v1/ops/integrations/{id}/resend-setup-link"),
    ("GET", "/api/v1/ops/emails"),
    ("POST", "/api/v1/ops/emails/1/retry"),
];

#[tokio::test]
async fn role_matrix() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let mut anon = Client::new(base);
    let id = my_integration(&mut partner).await;
    for (method, path) in OPS_ROUTES {
        let path = path.replace("{id}", &id.to_string());
        let m: Method = method.parse().unwrap();
        let body = Some(json!({"reason": "x"}));
        let r = partner.send(m.clone(), &path, body.clone(), true).await;
        assert_eq!(r.status, 403, "partner {method} {path}: {}", r.text);
        let r = anon.send(m, &path, body, false).await;
        assert_eq!(r.status, 401, "anonymous {method} {path}");
    }
    for path in ["/api/v1/integration", &format!("/api/v1/integrations/{id}")] {
        assert_eq!(ops.get(path).await.status, 403, "ops on {path}");
        assert_eq!(anon.get(path).await.status, 401);
    }
    let r = ops
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.status, 403);
    // Pages: partner on the console is 403; signed out goes to sign-in.
    for path in ["/ops", &format!("/ops/integrations/{id}")] {
        let r = partner.get(path).await;
        assert_eq!(r.status, 403, "{path}");
        let r = anon.get(path).await;
        assert_eq!(r.status, 303);
        assert!(
            r.location().starts_with("/signin?next="),
            "{}",
            r.location()
        );
    }
    assert_eq!(
        ops.get("/settings/integrations/servicetitan").await.status,
        403
    );
    assert_eq!(ops.get("/ops").await.status, 200);
    assert_eq!(
        partner
            .get("/settings/integrations/servicetitan")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn csrf_is_required_for_json_and_forms() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let id = my_integration(&mut partner).await;
    let path = format!("/api/v1/integrations/{id}/tenant");
    let r = partner
        .send(
            Method::POST,
            &path,
            Some(json!({"tenant_id": "1234567"})),
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("X-CSRF-Token"), "{}", r.text);
    let good = partner.csrf.take();
    partner.csrf = Some("forged".into());
    let r = partner.post(&path, json!({"tenant_id": "1234567"})).await;
    assert_eq!(r.status, 403);
    partner.csrf = good;
    // Forms: without or with a wrong token, refused; with the page's token, accepted.
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("Reload the page"), "{}", r.text);
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", "nope")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        partner.get("/api/v1/integration").await.json()["state"],
        "not_connected"
    );
    let page = partner.get("/settings/integrations/servicetitan").await;
    let token = Client::page_csrf(&page.text).expect("csrf field");
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        partner.get("/api/v1/integration").await.json()["state"],
        "pending_approval"
    );
    let page = partner.get("/settings/integrations/servicetitan").await;
    assert!(
        page.text.contains("sent to our team for review"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn setup_links_work_once_expire_and_reject_forgeries() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    ops.post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    let mail = newest_email_to(&w.app, ADMIN_A).await;
    let token = token_in(&mail.body_text);
    // Only the hash is stored.
    let row = titanbridge::store::setup_tokens::find(w.app.state.store.db(), &token)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.token_hash, token);

    // Signed out: opening the link (as a mail scanner also does) only shows a Continue
    // button; pressing it uses the token and leads to sign-in, then to the credentials step.
    let mut visitor = Client::new(base);
    let r = visitor.get(&format!("/setup/continue?token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"continue\""), "{}", r.text);
    let csrf = Client::page_csrf(&r.text).unwrap();
    let r = visitor
        .form(
            "/setup/continue",
            &[("token", &token), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location().starts_with("/signin"), "{}", r.location());
    let page = visitor.get(&r.location()).await;
    let csrf = Client::page_csrf(&page.text).unwrap();
    let r = visitor
        .form(
            "/signin",
            &[
                ("email", ADMIN_A),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        "/settings/integrations/servicetitan/credentials"
    );
    let r = visitor
        .get("/settings/integrations/servicetitan/credentials")
        .await;
    assert!(r.text.contains("Client Secret"), "{}", r.text);

    // Second use: friendly page with a "send a new link" button, and a signed-in admin of
    // the partner is offered to continue setup without a link.
    let r = visitor.get(&format!("/setup/continue?token={token}")).await;
    assert_eq!(r.status, 410);
    assert!(r.text.contains("already used") && r.text.contains("Send a new link"));
    assert!(r.text.contains("id=\"continue-setup\""), "{}", r.text);
    // Forged.
    let r = visitor
        .get("/setup/continue?token=forged-token-value")
        .await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("not valid") && !r.text.contains("Send a new link"));
    // Ops resend; make the new link expire; it is refused as expired and can be renewed.
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/resend-setup-link"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(states(&r.json()).last().unwrap(), "resend_setup_link");
    let fresh = token_in(&newest_email_to(&w.app, ADMIN_A).await.body_text);
    assert_ne!(fresh, token);
    titanbridge::store::setup_tokens::set_expiry(
        w.app.state.store.db(),
        &fresh,
        chrono::Utc::now() - chrono::Duration::minutes(1),
    )
    .await
    .unwrap();
    let mut other = Client::new(base);
    let r = other.get(&format!("/setup/continue?token={fresh}")).await;
    assert_eq!(r.status, 410);
    assert!(r.text.contains("expired"), "{}", r.text);
    let csrf = Client::page_csrf(&r.text).unwrap();
    let before = titanbridge::store::outbox::recent(w.app.state.store.db(), 100)
        .await
        .unwrap()
        .len();
    let r = other
        .form("/setup/resend", &[("token", &fresh), ("csrf_token", &csrf)])
        .await;
    // POST/redirect/GET: reloading the confirmation sends no further email.
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), "/setup/link-sent");
    for _ in 0..2 {
        let page = other.get("/setup/link-sent").await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("new link is on its way"));
    }
    let after = titanbridge::store::outbox::recent(w.app.state.store.db(), 100)
        .await
        .unwrap()
        .len();
    assert_eq!(after, before + 1);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_email() {
    let w = world(|_| {}).await;
    let mut c = Client::new(&w.app.address);
    for _ in 0..titanbridge::web::auth::PER_EMAIL_PER_MIN {
        let r = c
            .send(
                Method::POST,
                "/api/v1/session",
                Some(json!({"email": ADMIN_B, "password": "wrong"})),
                false,
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(r.text.contains("not recognised"));
    }
    let r = c
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": ADMIN_B, "password": PASSWORD})),
            false,
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(r.headers.get("retry-after").is_some());
    // Another email is unaffected.
    Client::signed_in(&w.app.address, ADMIN_A).await;
}

#[tokio::test]
async fn session_cookie_flags_and_sign_out() {
    let w = world(|_| {}).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/session", w.app.address))
        .json(&json!({"email": ADMIN_A, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains(PASSWORD));
    let mut c = Client::signed_in(&w.app.address, ADMIN_A).await;
    assert_eq!(
        c.send(Method::DELETE, "/api/v1/session", None, true)
            .await
            .status,
        204
    );
    assert_eq!(c.get("/api/v1/integration").await.status, 401);
}

/// A log sink shared by the tests of this binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let c = Captured::default();
        let writer = c.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .try_init();
        c
    })
    .clone()
}

#[tokio::test]
async fn no_secret_in_any_response_or_log() {
    let logs = captured_logs();
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    ops.post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    let creds = json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"});
    let wrong = json!({"client_id": "sandbox-client", "client_secret": "wrong-secret-xyz"});
    partner
        .post(&format!("/api/v1/integrations/{id}/credentials"), wrong)
        .await;
    let r = partner
        .post(&format!("/api/v1/integrations/{id}/credentials"), creds)
        .await;
    assert_eq!(r.json()["state"], "credentials_connected");
    partner.get("/api/v1/integration").await;
    partner.get("/settings/integrations/servicetitan").await;
    ops.get(&format!("/api/v1/ops/integrations/{id}")).await;
    ops.get(&format!("/ops/integrations/{id}")).await;
    ops.get("/ops").await;
    partner
        .post(&format!("/api/v1/integrations/{id}/check"), json!({}))
        .await;
    let logs = String::from_utf8_lossy(&logs.0.lock()).into_owned();
    assert!(
        logs.contains("integration state changed"),
        "logs were captured"
    );
    for secret in ["sandbox-secret", "wrong-secret-xyz", PASSWORD] {
        for body in partner.bodies.iter().chain(ops.bodies.iter()) {
            assert!(!body.contains(secret), "{secret} in a response: {body}");
        }
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    let row = titanbridge::store::integrations::get(w.app.state.store.db(), id)
        .await
        .unwrap();
    let sealed = row.client_secret_enc.unwrap();
    assert!(!sealed.contains("sandbox-secret"));
    let opened = w.app.state.secrets.open(&sealed).unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&opened),
        "sandbox-secret"
    );
}

#[tokio::test]
async fn openapi_document_lists_the_onboarding_api() {
    let w = world(|_| {}).await;
    let r = Client::new(&w.app.address)
        .get("/api/v1/openapi.json")
        .await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    for p in [
        "/api/v1/session",
        "/api/v1/integrations/{id}/tenant",
        "/api/v1/ops/integrations/{id}/approve",
        "/api/v1/ops/emails",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
}

#[tokio::test]
async fn demo_seeds_users_that_can_sign_in_and_reach_the_sandbox() {
    use titanbridge::demo;
    let db = common::TestDb::new().await;
    let mut settings = common::test_settings(&db);
    let mail = tempfile::tempdir().unwrap();
    settings.mail.file_dir = mail.path().display().to_string();
    let d = demo::prepare_demo(settings.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", d.app.port());
    assert_eq!(d.mail_dir.as_deref(), Some(settings.mail.file_dir.as_str()));
    tokio::spawn(d.app.run_until_stopped());
    for (email, pw) in [
        (demo::OPS_EMAIL, demo::OPS_PASSWORD),
        (demo::PARTNER_EMAIL, demo::PARTNER_PASSWORD),
    ] {
        let mut c = Client::new(&base);
        let r = c
            .send(
                Method::POST,
                "/api/v1/session",
                Some(json!({"email": email, "password": pw})),
                false,
            )
            .await;
        assert_eq!(r.status, 200, "{email}: {}", r.text);
    }
    // Seeding twice is harmless.
    let again = demo::prepare_demo(settings).await.unwrap();
    assert!(again.sandbox.base_url.starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn setup_link_tokens_stay_out_of_request_logs() {
    let logs = captured_logs();
    let w = world(|_| {}).await;
    let token = "forgedTokenValue1234567890abcdef";
    let mut anon = Client::new(&w.app.address);
    anon.get(&format!("/setup/continue?token={token}")).await;
    let text = String::from_utf8_lossy(&logs.0.lock()).into_owned();
    assert!(
        text.contains("/setup/continue") && text.contains("request finished"),
        "the request was logged: {text}"
    );
    assert!(!text.contains(token), "the setup token reached the logs");
}
