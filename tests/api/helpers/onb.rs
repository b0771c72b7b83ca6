//! Onboarding test fixtures: the app wired to an in-process ServiceTitan sandbox, seeded
//! partners and users, and a small HTTP client that keeps the session cookie and CSRF token.
#![allow(dead_code)]

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use titanbridge::config::Settings;
use titanbridge::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use titanbridge::store::users::{NewUser, Role};
use titanbridge::store::{partners, users};

use crate::helpers::app::{TestApp, TestDb, spawn_with, test_settings};

/// Password of every seeded user.
pub const PASSWORD: &str = "correct horse battery staple";
/// Partner A's admin.
pub const ADMIN_A: &str = "admin@acme.example";
/// Partner B's admin.
pub const ADMIN_B: &str = "owner@bolt.example";
/// The ops user.
pub const OPS: &str = "ops@titanbridge.local";

/// The app, the sandbox and the seeded ids.
pub struct World {
    pub app: TestApp,
    pub sandbox: SandboxHandle,
    pub partner_a: i64,
    pub partner_b: i64,
}

/// Starts a sandbox (demo tenant 1234567 / sandbox-client / sandbox-secret) and the app
/// pointed at it; `tweak` may change settings (mail transport …).
pub async fn world(tweak: impl FnOnce(&mut Settings)) -> World {
    let sandbox = sandbox::start(
        "127.0.0.1:0",
        SandboxConfig {
            tenants: vec![TenantSeed::demo()],
            ..SandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.servicetitan.environment = "sandbox".into();
    settings.servicetitan.auth_url = sandbox.base_url.clone();
    settings.servicetitan.api_url = sandbox.base_url.clone();
    settings.servicetitan.app_key = SecretString::from("sandbox-app-key".to_owned());
    tweak(&mut settings);
    let app = spawn_with(db, settings, true).await;
    let store = app.state.store.db();
    let pw = SecretString::from(PASSWORD.to_owned());
    let a = partners::create(store, "Acme Heating & Air", "acme")
        .await
        .unwrap();
    let b = partners::create(store, "Bolt Mechanical", "bolt")
        .await
        .unwrap();
    for (partner, email, name) in [(a.id, ADMIN_A, "Alice Admin"), (b.id, ADMIN_B, "Bob Owner")] {
        users::create(
            store,
            NewUser {
                partner_id: Some(partner),
                email,
                name,
                role: Role::PartnerAdmin,
                password: &pw,
            },
        )
        .await
        .unwrap();
    }
    users::create(
        store,
        NewUser {
            partner_id: None,
            email: OPS,
            name: "Olga Ops",
            role: Role::Ops,
            password: &pw,
        },
    )
    .await
    .unwrap();
    World {
        app,
        sandbox,
        partner_a: a.id,
        partner_b: b.id,
    }
}

/// An HTTP client with one session: keeps the session cookie and the CSRF token.
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    /// Every response body seen (for "no secret in any response").
    pub bodies: Vec<String>,
}

/// A response, read.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The `Location` header.
    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

impl Client {
    /// A signed-out client.
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            csrf: None,
            bodies: Vec::new(),
        }
    }

    /// Signs in over the JSON API.
    pub async fn signed_in(base: &str, email: &str) -> Client {
        let mut c = Client::new(base);
        let r = c
            .send(
                Method::POST,
                "/api/v1/session",
                Some(json!({"email": email, "password": PASSWORD})),
                false,
            )
            .await;
        assert_eq!(r.status, 200, "sign in {email}: {}", r.text);
        c.csrf = r.json()["csrf_token"].as_str().map(str::to_owned);
        c
    }

    /// Sends a request; `csrf` adds the `X-CSRF-Token` header.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.clone());
        }
        if csrf && let Some(t) = &self.csrf {
            req = req.header("X-CSRF-Token", t.clone());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        self.absorb(resp).await
    }

    /// Sends raw bytes with a content type and extra headers (with the session and CSRF header).
    pub async fn send_raw(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.clone());
        }
        if let Some(t) = &self.csrf {
            req = req.header("X-CSRF-Token", t.clone());
        }
        for (k, v) in headers {
            req = req.header(*k, v.clone());
        }
        let resp = req.send().await.expect("request");
        self.absorb(resp).await
    }

    /// Posts a form (fields as given; add `csrf_token` yourself).
    pub async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.clone());
        }
        let resp = req.send().await.expect("request");
        self.absorb(resp).await
    }

    /// Posts a form as a browser does from the page at `from` (it sends the `Referer`).
    pub async fn form_from(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Referer", format!("{}{from}", self.base))
            .form(fields);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.clone());
        }
        let resp = req.send().await.expect("request");
        self.absorb(resp).await
    }

    async fn absorb(&mut self, resp: reqwest::Response) -> Resp {
        for v in resp.headers().get_all(SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default().to_owned();
            if let Some(value) = pair.strip_prefix("titanbridge_session=") {
                self.cookie = if value.is_empty() {
                    None
                } else {
                    Some(pair.clone())
                };
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        self.bodies.push(text.clone());
        Resp {
            status,
            headers,
            text,
        }
    }

    /// GET.
    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Method::GET, path, None, false).await
    }

    /// POST JSON with the CSRF header.
    pub async fn post(&mut self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), true).await
    }

    /// The CSRF token embedded in a page's forms.
    pub fn page_csrf(html: &str) -> Option<String> {
        let i = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
        Some(html[i..].split('"').next()?.to_owned())
    }
}

/// Partner admin's integration id (creating it).
pub async fn my_integration(c: &mut Client) -> i64 {
    let r = c.get("/api/v1/integration").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["id"].as_i64().unwrap()
}

/// Fills every mapping the catalogue asks for directly in the database (the mapping pages
/// are another piece of work), so "Submit integration" can go live.
pub async fn fill_mappings(app: &TestApp, integration_id: i64) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use titanbridge::store::entities::{
        eligible_service, integration, job_type_mapping, plan_mapping,
    };
    let db = app.state.store.db();
    let catalog = titanbridge::domain::catalog::Catalog::embedded().unwrap();
    let now = chrono::Utc::now();
    for p in catalog.plans() {
        plan_mapping::ActiveModel {
            integration_id: Set(integration_id),
            plan_code: Set(p.code.clone()),
            membership_type_id: Set(1),
            membership_type_name: Set("Gold".into()),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    for (t, c) in catalog.trade_conditions() {
        job_type_mapping::ActiveModel {
            integration_id: Set(integration_id),
            trade: Set(t.code.clone()),
            condition: Set(c.code.clone()),
            business_unit_id: Set(1),
            business_unit_name: Set("HVAC".into()),
            job_type_id: Set(2),
            job_type_name: Set("Repair".into()),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    eligible_service::ActiveModel {
        integration_id: Set(integration_id),
        service_id: Set(7001),
        code: Set("HVAC-TUNE-AC".into()),
        name: Set("AC Tune-Up".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let row = integration::Entity::find_by_id(integration_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am: integration::ActiveModel = row.into();
    am.tag_type_id = Set(Some(10));
    am.credit_field_type_id = Set(Some(20));
    am.campaign_id = Set(Some(30));
    am.update(db).await.unwrap();
}

/// The plain-text body of the newest queued email to `to`.
pub async fn newest_email_to(
    app: &TestApp,
    to: &str,
) -> titanbridge::store::entities::outbound_email::Model {
    let mut m = titanbridge::store::outbox::recent(app.state.store.db(), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.to_address == to)
        .expect("an email to the address");
    // Stored sealed: the link is a credential.
    assert!(!m.body_text.contains("token="), "body stored in clear");
    m.body_text = titanbridge::store::outbox::open_body(&app.state.secrets, &m.body_text).unwrap();
    m.body_html = titanbridge::store::outbox::open_body(&app.state.secrets, &m.body_html).unwrap();
    m
}

/// The token inside a Continue Setup link in `text`.
pub fn token_in(text: &str) -> String {
    let i = text.find("token=").expect("link with token") + "token=".len();
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
