//! Shared test helpers: a fresh database per test (SQLite file, or a PostgreSQL schema when
//! `DATABASE_URL` points at PostgreSQL) and the app on a random port.
#![allow(dead_code)]

use sea_orm::ConnectionTrait;
use titanbridge::config::{Settings, random_key};
use titanbridge::startup::{AppState, Application};
use titanbridge::store::Store;

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// SQLite in a temp dir, or a new schema in the PostgreSQL named by `DATABASE_URL`.
    pub async fn new() -> TestDb {
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => TestDb::postgres(&url).await,
            _ => TestDb::sqlite(),
        }
    }

    /// A new schema in the PostgreSQL at `url`.
    pub async fn postgres(url: &str) -> TestDb {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(url, None).await.expect("postgres reachable");
        admin
            .db()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        // sqlx applies `options=-c search_path=…` to every pooled connection.
        let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        TestDb {
            url,
            schema: Some(schema),
            _dir: None,
        }
    }

    /// A SQLite file in a temp dir.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDb {
            url,
            schema: None,
            _dir: Some(dir),
        }
    }

    /// A connection to this test's database.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url, None)
            .await
            .expect("connect test db")
    }
}

/// Settings for a test: random port, fresh keys, this database.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        encryption_key: random_key(32).into(),
        session_key: random_key(64).into(),
        ..Settings::default()
    };
    s.worker.embedded = false;
    s
}

/// The running app under test.
pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub db: TestDb,
    pub http: reqwest::Client,
}

impl TestApp {
    /// The Prometheus text at `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

/// Starts the app on a random port over a fresh, migrated database.
pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    spawn_with(db, settings, true).await
}

/// Starts the app with explicit settings.
pub async fn spawn_with(db: TestDb, settings: Settings, migrate: bool) -> TestApp {
    let state = AppState::build(settings, migrate).await.expect("state");
    let app = Application::build(state.clone()).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        db,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    }
}
