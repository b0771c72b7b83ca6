//! Shared helpers for the sync tests: an in-process sandbox, the app pointed at it, partners
//! and active integrations seeded directly, and an in-process worker.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, Set};
use secrecy::SecretString;
use serde_json::{Value, json};
use titanbridge::config::Settings;
use titanbridge::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use titanbridge::state::AppState;
use titanbridge::store::entities::{eligible_service, integration, partner, plan_mapping};
use titanbridge::sync::WorkerOptions;
use tokio::sync::watch;

use crate::helpers::app::{TestApp, TestDb, spawn_with, test_settings};
use crate::helpers::onb::{Client, PASSWORD};
use titanbridge::store::users::{self, NewUser, Role};

/// The sandbox's seeded IDs the tests map to.
pub const TAG_TYPE: i64 = 3001;
pub const CREDIT_FIELD: i64 = 4501;
pub const MEMBERSHIP_TYPE: i64 = 6001;
pub const ELIGIBLE_SERVICE: i64 = 7001;
/// The business unit plans are sold in (set up in the Plans step).
pub const PLAN_BUSINESS_UNIT: i64 = 1003;
/// Silver's sale task: the sandbox's pricebook service 6101.
pub const SALE_TASK: i64 = 6101;
pub const CAMPAIGN: i64 = 8001;
pub const APP_KEY: &str = "sandbox-app-key";

/// The app, the sandbox and the seeded partners.
pub struct World {
    pub app: TestApp,
    pub sandbox: SandboxHandle,
    pub partners: Vec<SeededPartner>,
}

/// A partner with an active integration on its own sandbox tenant.
#[derive(Debug, Clone)]
pub struct SeededPartner {
    pub partner_id: i64,
    pub integration_id: i64,
    pub tenant_id: i64,
    pub token: String,
}

/// Settings pointing the app at the sandbox.
pub fn settings_for(db: &TestDb, sandbox_url: &str) -> Settings {
    let mut s = test_settings(db);
    s.servicetitan.environment = "custom".into();
    s.servicetitan.auth_url = sandbox_url.to_owned();
    s.servicetitan.api_url = sandbox_url.to_owned();
    s.servicetitan.app_key = SecretString::from(APP_KEY.to_owned());
    s.servicetitan.request_timeout_secs = 10;
    s
}

/// Starts a sandbox (60 calls/s per tenant) with `tenants` tenants, the app, and seeds one
/// active partner integration per tenant.
pub async fn world(tenants: usize) -> World {
    world_with(tenants, SandboxConfig::default()).await
}

/// Like [`world`] with explicit sandbox settings.
pub async fn world_with(tenants: usize, cfg: SandboxConfig) -> World {
    world_configured(tenants, cfg, |_| {}).await
}

/// Like [`world_with`], letting the test adjust the app's settings before it starts (e.g. point
/// `database_url` through a proxy; `app.db.url` stays the direct URL).
pub async fn world_configured(
    tenants: usize,
    cfg: SandboxConfig,
    configure: impl FnOnce(&mut Settings),
) -> World {
    world_on(TestDb::new().await, tenants, cfg, configure).await
}

/// Like [`world_configured`] on a given database (benches compare SQLite and PostgreSQL).
pub async fn world_on(
    db: TestDb,
    tenants: usize,
    mut cfg: SandboxConfig,
    configure: impl FnOnce(&mut Settings),
) -> World {
    cfg.app_key = APP_KEY.into();
    cfg.tenants = (0..tenants).map(tenant_seed).collect();
    let sandbox = sandbox::start("127.0.0.1:0", cfg).await.expect("sandbox");
    let mut settings = settings_for(&db, &sandbox.base_url);
    configure(&mut settings);
    let app = spawn_with(db, settings, true).await;
    let mut partners = Vec::new();
    for i in 0..tenants {
        partners.push(seed_partner(&app.state, i, &tenant_seed(i)).await);
    }
    World {
        app,
        sandbox,
        partners,
    }
}

/// Tenant `i` of the test sandbox.
pub fn tenant_seed(i: usize) -> TenantSeed {
    TenantSeed {
        tenant_id: 5_000_000 + i as i64,
        client_id: format!("client-{i}"),
        client_secret: format!("secret-{i}"),
    }
}

/// Inserts a partner (with an API token), its active integration and its mappings.
pub async fn seed_partner(state: &AppState, i: usize, t: &TenantSeed) -> SeededPartner {
    let db = state.store.db();
    let now = chrono::Utc::now();
    let token = format!("tok-{i}-{}", uuid::Uuid::new_v4().simple());
    let p = partner::ActiveModel {
        name: Set(format!("Partner {i}")),
        slug: Set(format!("partner-{i}-{}", uuid::Uuid::new_v4().simple())),
        api_token_hash: Set(Some(titanbridge::crypto::sha256_hex(&token))),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("partner");
    let sealed = state
        .secrets
        .seal(&SecretString::from(t.client_secret.clone()))
        .expect("seal");
    let integ = integration::ActiveModel {
        partner_id: Set(p.id),
        tenant_id: Set(Some(t.tenant_id)),
        environment: Set("custom".into()),
        state: Set("active".into()),
        client_id: Set(Some(t.client_id.clone())),
        client_secret_enc: Set(Some(sealed)),
        tag_type_id: Set(Some(TAG_TYPE)),
        tag_type_name: Set(Some("SmartAC.com".into())),
        credit_field_type_id: Set(Some(CREDIT_FIELD)),
        credit_field_name: Set(Some("Comfort Credits".into())),
        campaign_id: Set(Some(CAMPAIGN)),
        campaign_name: Set(Some("SmartAC.com".into())),
        capacity_enabled: Set(false),
        backfill_total: Set(0),
        backfill_done: Set(0),
        version: Set(0),
        auth_failures: Set(0),
        scope_refusals: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("integration");
    for plan in ["basic", "plus", "premium"] {
        plan_mapping::ActiveModel {
            integration_id: Set(integ.id),
            plan_code: Set(plan.into()),
            membership_type_id: Set(MEMBERSHIP_TYPE),
            membership_type_name: Set("Comfort Club Silver".into()),
            business_unit_id: Set(Some(PLAN_BUSINESS_UNIT)),
            sale_task_id: Set(Some(SALE_TASK)),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("plan mapping");
    }
    eligible_service::ActiveModel {
        integration_id: Set(integ.id),
        service_id: Set(ELIGIBLE_SERVICE),
        code: Set("HVAC-TUNE-AC".into()),
        name: Set("AC Tune-Up".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("eligible service");
    SeededPartner {
        partner_id: p.id,
        integration_id: integ.id,
        tenant_id: t.tenant_id,
        token,
    }
}

/// Fast-moving worker options for tests.
pub fn test_worker_options(settings: &Settings) -> WorkerOptions {
    let mut o = WorkerOptions::from_settings(&settings.worker);
    o.concurrency = 8;
    o.per_integration = 4;
    o.lease = Duration::from_secs(5);
    o.idle_sleep = Duration::from_millis(25);
    o.handover_after = Duration::from_millis(500);
    o.poll_interval = Duration::from_millis(500);
    o.backoff_base = Duration::from_millis(50);
    o.backoff_cap = Duration::from_secs(1);
    o
}

/// A worker running in-process until the returned sender is dropped or sent `true`.
pub fn spawn_worker(state: AppState, opts: WorkerOptions) -> watch::Sender<bool> {
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        titanbridge::sync::worker::run_worker_with(state, opts, stop)
            .await
            .expect("worker");
    });
    tx
}

/// Polls `check` until it returns `Some`, or panics after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A member body for the platform API with one location.
pub fn member_body(n: usize, plan: Option<&str>) -> Value {
    json!({
        "first_name": format!("Member{n}"),
        "last_name": "Tester",
        "email": format!("member{n}@example.com"),
        "phone": format!("512555{:04}", n % 10_000),
        "plan_code": plan,
        "locations": [{
            "id": format!("loc-{n}"),
            "name": "Home",
            "street": format!("{n} Elm Street"),
            "city": "Austin",
            "state": "TX",
            "zip": "78701"
        }]
    })
}

impl World {
    /// Creates a user with the test password and signs them in through the JSON API.
    pub async fn user(&self, email: &str, role: Role, partner_id: Option<i64>) -> Client {
        let pw = SecretString::from(PASSWORD.to_owned());
        users::create(
            self.app.state.store.db(),
            NewUser {
                partner_id,
                email,
                name: "Test User",
                role,
                password: &pw,
            },
        )
        .await
        .unwrap();
        Client::signed_in(&self.app.address, email).await
    }

    /// Like [`World::user`], as the session cookie header and the CSRF token.
    pub async fn session(
        &self,
        email: &str,
        role: Role,
        partner_id: Option<i64>,
    ) -> (String, String) {
        let c = self.user(email, role, partner_id).await;
        (
            c.cookie.expect("session cookie"),
            c.csrf.expect("CSRF token"),
        )
    }

    /// `PUT /api/v1/platform/members/{id}` as partner `p`.
    pub async fn put_member(&self, p: usize, id: &str, body: &Value) -> reqwest::Response {
        self.app
            .http
            .put(format!("{}/api/v1/platform/members/{id}", self.app.address))
            .bearer_auth(&self.partners[p].token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST …/locations/{loc}/credits` as partner `p`.
    pub async fn post_credit(&self, p: usize, loc: &str, body: &Value) -> reqwest::Response {
        self.app
            .http
            .post(format!(
                "{}/api/v1/platform/locations/{loc}/credits",
                self.app.address
            ))
            .bearer_auth(&self.partners[p].token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST …/locations/{loc}/device-events` as partner `p`.
    pub async fn post_device(&self, p: usize, loc: &str, event: &str) -> reqwest::Response {
        self.app
            .http
            .post(format!(
                "{}/api/v1/platform/locations/{loc}/device-events",
                self.app.address
            ))
            .bearer_auth(&self.partners[p].token)
            .json(&json!({"device_id": "hub-1", "event": event}))
            .send()
            .await
            .expect("request")
    }

    /// The sandbox snapshot of partner `p`'s tenant.
    pub fn snapshot(&self, p: usize) -> titanbridge::sandbox::TenantSnapshot {
        self.sandbox
            .state
            .snapshot(self.partners[p].tenant_id)
            .expect("tenant")
    }

    /// Books a job in partner `p`'s tenant (two days out) as the contractor's own tools would.
    pub async fn create_job(&self, p: usize, customer_id: i64, location_id: i64) -> i64 {
        let start = chrono::Utc::now() + chrono::Duration::days(2);
        let job = titanbridge::servicetitan::NewJob {
            customer_id,
            location_id,
            business_unit_id: 1001,
            job_type_id: 2001,
            priority: "Normal".into(),
            campaign_id: CAMPAIGN,
            appointments: vec![titanbridge::servicetitan::JobAppointmentInput {
                start,
                end: start + chrono::Duration::hours(2),
                arrival_window_start: None,
                arrival_window_end: None,
                technician_ids: vec![],
            }],
            summary: Some("Maintenance".into()),
            tag_type_ids: vec![],
            custom_fields: vec![],
            external_data: None,
        };
        self.st_client(p)
            .create_job(&job)
            .await
            .expect("create job")
            .id
    }

    /// A tenant client for partner `p`, as a contractor's own tools would act.
    pub fn st_client(&self, p: usize) -> titanbridge::servicetitan::TenantClient {
        let cfg = titanbridge::servicetitan::ClientConfig::new(
            SecretString::from(APP_KEY.to_owned()),
            "contractor-tools",
        );
        let seed = tenant_seed(p);
        titanbridge::servicetitan::ServiceTitan::new(cfg).tenant(
            self.sandbox.environment(),
            seed.tenant_id,
            seed.credentials(),
        )
    }
}
