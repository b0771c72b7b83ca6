//! Mail against a real SMTP server on loopback: the approval email's recipient, subject and
//! single-use link; the rejection email's reason; and an SMTP outage that loses nothing.
use crate::helpers::{onb as common_onb, smtp as common_smtp};

use std::time::Duration;

use common_onb::{ADMIN_A, Client, OPS, my_integration, world};
use common_smtp::SmtpSink;
use secrecy::SecretString;
use serde_json::json;
use titanbridge::mail::messages::{APPROVED_SUBJECT, REJECTED_SUBJECT};

async fn submitted(w: &common_onb::World) -> (Client, Client, i64) {
    let mut partner = Client::signed_in(&w.app.address, ADMIN_A).await;
    let ops = Client::signed_in(&w.app.address, OPS).await;
    let id = my_integration(&mut partner).await;
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": "1234567"}),
        )
        .await;
    assert_eq!(r.json()["state"], "pending_approval");
    (partner, ops, id)
}

#[tokio::test]
async fn approval_email_reaches_the_admin_and_its_link_works_once() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let w = world(move |s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = SecretString::from(url);
    })
    .await;
    let (_partner, mut ops, id) = submitted(&w).await;
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(mail.to, vec![ADMIN_A.to_owned()]);
    assert_eq!(mail.header("Subject").as_deref(), Some(APPROVED_SUBJECT));
    assert!(mail.decoded_body().contains("1234567"));
    let link = mail.continue_link().expect("continue link");
    let public = w.app.state.settings.public_url.clone();
    assert!(link.starts_with(&public), "{link}");
    let path = link[public.trim_end_matches('/').len()..].to_owned();
    let mut visitor = Client::new(&w.app.address);
    // A mail scanner opening the link does not use it; the Continue button does.
    let first = visitor.get(&path).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = visitor.get(&path).await;
    assert_eq!(again.status, 200, "opening the link twice does not burn it");
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let csrf = Client::page_csrf(&again.text).unwrap();
    let used = visitor
        .form(
            "/setup/continue",
            &[("token", &token), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(used.status, 303, "{}", used.text);
    let second = visitor.get(&path).await;
    assert_eq!(second.status, 410);
    assert!(second.text.contains("already used"));
    // Ops see it as sent.
    let emails = ops.get("/api/v1/ops/emails").await.json();
    assert_eq!(emails[0]["state"], "sent");
    assert_eq!(emails[0]["to"], ADMIN_A);
}

#[tokio::test]
async fn rejection_email_carries_the_reason() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let w = world(move |s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = SecretString::from(url);
    })
    .await;
    let (_partner, mut ops, id) = submitted(&w).await;
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{id}/reject"),
            json!({"reason": "Tenant ID belongs to someone else"}),
        )
        .await;
    assert_eq!(r.json()["state"], "rejected");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].to, vec![ADMIN_A.to_owned()]);
    assert_eq!(got[0].header("Subject").as_deref(), Some(REJECTED_SUBJECT));
    assert!(
        got[0]
            .decoded_body()
            .contains("Tenant ID belongs to someone else")
    );
}

#[tokio::test]
async fn smtp_outage_keeps_the_approval_and_retries_visibly() {
    // Reserve a port, then close it: connections are refused until the sink starts there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("smtp://{addr}");
    let w = world(move |s| {
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = SecretString::from(url);
    })
    .await;
    let (mut partner, mut ops, id) = submitted(&w).await;
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        partner.get("/api/v1/integration").await.json()["state"],
        "approved"
    );
    // The failed attempt is visible to ops, with its error, and still pending.
    let mut email = json!(null);
    for _ in 0..200 {
        email = ops.get("/api/v1/ops/emails").await.json()[0].clone();
        if email["attempts"].as_i64().unwrap_or(0) >= 1 && !email["last_error"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(email["state"], "pending", "{email}");
    assert!(
        email["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot send"),
        "{email}"
    );
    let page = ops.get("/ops").await;
    assert!(
        page.text.contains("cannot send"),
        "console shows the failure"
    );
    // The mail server comes back; ops retry now; the message goes out.
    let sink = SmtpSink::start_on(&addr).await;
    let email_id = email["id"].as_i64().unwrap();
    let r = ops
        .post(&format!("/api/v1/ops/emails/{email_id}/retry"), json!({}))
        .await;
    assert_eq!(r.status, 204);
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("Subject").as_deref(), Some(APPROVED_SUBJECT));
    let mut state = String::new();
    for _ in 0..100 {
        state = ops.get("/api/v1/ops/emails").await.json()[0]["state"]
            .as_str()
            .unwrap()
            .to_owned();
        if state == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "sent");
}
