//! The setup wizard as a contractor's office admin meets it, over real HTTP: withdrawing a
//! wrong Tenant ID, the review before going live, trades marked not offered, and input kept
//! across refusals and an expired session.
use crate::helpers::onb as common_onb;

use common_onb::{ADMIN_A, Client, OPS, PASSWORD, World, fill_mappings, my_integration, world};
use serde_json::json;

const PAGE: &str = "/settings/integrations/servicetitan";

fn states(history: &serde_json::Value) -> Vec<String> {
    history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Partner A with credentials connected: (client, integration id).
async fn connected(w: &World) -> (Client, i64) {
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"}),
        )
        .await;
    assert_eq!(r.json()["state"], "credentials_connected", "{}", r.text);
    (partner, id)
}

#[tokio::test]
async fn a_wrong_tenant_id_is_withdrawn_and_goes_back_to_review() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    let page = partner.get(PAGE).await;
    let csrf = Client::page_csrf(&page.text).unwrap();
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "7654321"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    // Pending: the partner can still correct it.
    let page = partner.get(PAGE).await;
    assert!(page.text.contains("id=\"withdraw-form\""), "{}", page.text);
    let r = partner
        .form(
            "/settings/integrations/servicetitan/withdraw",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = partner.get("/api/v1/integration").await.json();
    assert_eq!(v["state"], "not_connected");
    // The form offers the old value to correct.
    let page = partner.get(PAGE).await;
    assert!(page.text.contains("value=\"7654321\""), "{}", page.text);
    assert!(page.text.contains("Tenant ID withdrawn"), "{}", page.text);
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = partner.get("/api/v1/integration").await.json();
    assert_eq!(v["state"], "pending_approval");
    assert_eq!(v["tenant_id"], 1234567);

    // Approved with a wrong Tenant ID: withdrawing revokes the Continue Setup link.
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = common_onb::token_in(&common_onb::newest_email_to(&w.app, ADMIN_A).await.body_text);
    let r = partner
        .form(
            "/settings/integrations/servicetitan/withdraw",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = Client::new(base)
        .get(&format!("/setup/continue?token={token}"))
        .await;
    assert_eq!(r.status, 410, "{}", r.text);
    // Audited, and the corrected ID goes to review again.
    let r = ops.get(&format!("/api/v1/ops/integrations/{id}")).await;
    let events = states(&r.json());
    assert_eq!(
        events.iter().filter(|e| *e == "withdraw").count(),
        2,
        "{events:?}"
    );
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = partner.get("/api/v1/integration").await.json();
    assert_eq!(v["state"], "pending_approval");
    // Withdrawing is not a way around connected credentials.
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200);
    partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"}),
        )
        .await;
    let page = partner.get(PAGE).await;
    assert!(!page.text.contains("id=\"withdraw-form\""));
}

#[tokio::test]
async fn going_live_comes_after_a_review_of_everything_written() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    // Nothing mapped: the next step is the primary action, there is no go-live button yet.
    let page = c.get(PAGE).await;
    assert!(page.text.contains("Continue mappings"), "{}", page.text);
    assert!(!page.text.contains("id=\"submit-integration\""));
    let review = c.get("/settings/integrations/servicetitan/review").await;
    assert_eq!(review.status, 200);
    assert!(review.text.contains("Not ready yet"), "{}", review.text);
    assert!(!review.text.contains("id=\"submit-integration\""));

    fill_mappings(&w.app, id).await;
    let page = c.get(PAGE).await;
    assert!(page.text.contains("id=\"to-review\""), "{}", page.text);
    assert!(!page.text.contains("id=\"submit-integration\""));
    let csrf = Client::page_csrf(&page.text).unwrap();
    // A submit that skipped the review is sent to it.
    let r = c
        .form(
            "/settings/integrations/servicetitan/submit",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/settings/integrations/servicetitan/review");
    assert_eq!(
        c.get("/api/v1/integration").await.json()["state"],
        "credentials_connected"
    );
    let review = c.get("/settings/integrations/servicetitan/review").await;
    for needle in [
        "Gold",              // membership type of each plan
        "HVAC · Repair",     // business unit · job type of each condition
        "AC Tune-Up",        // eligible service by name
        "Smart hub offline", // the reminders that will be written
        "has been offline since 2026-12-01 09:00 UTC",
        "Capacity scheduling",
        "id=\"submit-integration\"",
    ] {
        assert!(review.text.contains(needle), "{needle}: {}", review.text);
    }
    assert!(
        review
            .text
            .contains("Off: bookings arrive as call-centre bookings")
    );
    let r = c
        .form(
            "/settings/integrations/servicetitan/submit",
            &[("csrf_token", &csrf), ("reviewed", "yes")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(c.get("/api/v1/integration").await.json()["state"], "active");
    // Live: Disconnect asks first; the history speaks words, not state names.
    let page = c.get(PAGE).await;
    assert!(
        page.text
            .contains("data-confirm=\"Disconnect ServiceTitan?")
    );
    assert!(page.text.contains("Went live"), "{}", page.text);
    assert!(!page.text.contains("credentials_connected →"));
}

#[tokio::test]
async fn a_trade_not_offered_needs_no_job_type_and_can_be_offered_again() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let jt = "/settings/integrations/servicetitan/mappings/job-types";
    let page = c.get(jt).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"job-types-intro\""));
    // The first row still to map is open for editing.
    assert!(page.text.contains("id=\"editor\""), "{}", page.text);
    let csrf = Client::page_csrf(&page.text).unwrap();
    let r = c
        .form(
            &format!("{jt}/offered"),
            &[
                ("csrf_token", &csrf),
                ("trade", "air_quality"),
                ("condition", "*"),
                ("offered", "no"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = c
        .get(&format!("/api/v1/integrations/{id}/mappings"))
        .await
        .json();
    let missing: Vec<String> = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !missing.iter().any(|m| m.contains("Air quality")),
        "{missing:?}"
    );
    assert!(missing.iter().any(|m| m.contains("Cooling")));
    assert_eq!(v["trades"][2]["conditions"][0]["not_offered"], true);
    let page = c.get(jt).await;
    assert!(
        page.text.contains("id=\"offer-air_quality\""),
        "{}",
        page.text
    );
    // Choosing a job type for a condition offers it again.
    let r = c
        .form(
            jt,
            &[
                ("csrf_token", &csrf),
                ("trade", "air_quality"),
                ("condition", "odor"),
                ("business_unit_id", "1001"),
                ("job_type_id", "2001"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = c
        .get(&format!("/api/v1/integrations/{id}/mappings"))
        .await
        .json();
    let odor = &v["trades"][2]["conditions"][2];
    assert_eq!(odor["code"], "odor");
    assert_eq!(odor["not_offered"], false);
    assert_eq!(odor["job_type"]["id"], 2001);
}

#[tokio::test]
async fn refused_input_is_kept_at_its_field() {
    let w = world(|_| {}).await;
    let mut partner = Client::signed_in(&w.app.address, ADMIN_A).await;
    my_integration(&mut partner).await;
    let page = partner.get(PAGE).await;
    let csrf = Client::page_csrf(&page.text).unwrap();
    let r = partner
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "12ab"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = partner.get(PAGE).await;
    assert!(page.text.contains("value=\"12ab\""), "{}", page.text);
    assert!(
        page.text.contains("aria-describedby=\"tenant_id-error\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("id=\"tenant_id-error\""));
    // Shown once: a reload shows the form fresh.
    let page = partner.get(PAGE).await;
    assert!(!page.text.contains("value=\"12ab\""));
}

#[tokio::test]
async fn an_expired_session_keeps_the_input_through_sign_in() {
    let w = world(|_| {}).await;
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    my_integration(&mut partner).await;
    let page = partner.get(PAGE).await;
    let stale_csrf = Client::page_csrf(&page.text).unwrap();
    // The session is gone (expired cookie): the browser sends the form without it.
    let mut browser = Client::new(base);
    let r = browser
        .form_from(
            PAGE,
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", &stale_csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.location(),
        "/signin?next=%2Fsettings%2Fintegrations%2Fservicetitan"
    );
    let signin = browser.get(&r.location()).await;
    assert!(signin.text.contains("session expired"), "{}", signin.text);
    assert!(!signin.text.contains("not sent from a page of this site"));
    let csrf = Client::page_csrf(&signin.text).unwrap();
    let r = browser
        .form(
            "/signin",
            &[
                ("email", ADMIN_A),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", PAGE),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), PAGE);
    let page = browser.get(PAGE).await;
    assert!(page.text.contains("value=\"1234567\""), "{}", page.text);
    assert!(page.text.contains("back in the form"), "{}", page.text);
    // Nothing was submitted behind the user's back.
    assert_eq!(
        browser.get("/api/v1/integration").await.json()["state"],
        "not_connected"
    );
    // A form from another site is still refused outright.
    let mut other = Client::new(base);
    let r = other
        .form(
            "/settings/integrations/servicetitan/tenant",
            &[("tenant_id", "1234567"), ("csrf_token", &stale_csrf)],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn a_servicetitan_outage_says_so_offers_a_retry_and_loses_nothing() {
    let w = world(|_| {}).await;
    let (mut c, _id) = connected(&w).await;
    let plans = "/settings/integrations/servicetitan/mappings/plans";
    let csrf = Client::page_csrf(&c.get(PAGE).await.text).unwrap();
    let mut faults = w.sandbox.state.faults();
    faults.outage_until = Some(chrono::Utc::now() + chrono::Duration::seconds(60));
    w.sandbox.state.set_faults(faults);
    // A page that reads live lists: unreachable, nothing lost, a retry; the signed-in user is
    // not offered "Sign in".
    let page = c.get(plans).await;
    assert_eq!(page.status, 503, "{}", page.text);
    assert!(
        page.text.contains("ServiceTitan is unreachable"),
        "{}",
        page.text
    );
    assert!(page.text.contains("id=\"retry\""));
    assert!(!page.text.contains(">Sign in<"), "{}", page.text);
    assert!(!page.text.contains("Injected fault"), "{}", page.text);
    // A form sent meanwhile: said plainly, and what was chosen comes back.
    let r = c
        .form(
            plans,
            &[
                ("csrf_token", &csrf),
                ("basic.membership_type_id", "6001"),
                ("plus.membership_type_id", "6002"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    w.sandbox
        .state
        .set_faults(titanbridge::sandbox::Faults::default());
    let page = c.get(plans).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("ServiceTitan is unreachable right now"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("value=\"6001\" selected"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("value=\"6002\" selected"),
        "{}",
        page.text
    );
}
