//! The only module that touches the database. Other modules call its functions.
//!
//! One [`Store`] wraps a sea-orm connection pool for SQLite (the embedded default) or
//! PostgreSQL (any number of processes). Repository functions live in one file per concern.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

pub mod bookings;
pub mod cursors;
pub mod devices;
pub mod entities;
pub mod integrations;
pub mod ledger;
pub mod links;
pub mod mappings;
pub mod members;
pub mod outbox;
pub mod partners;
pub mod platform;
pub mod reminders;
pub mod setup_tokens;
pub mod tasks;
pub mod users;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
}

/// Result alias for store functions.
pub type StoreResult<T> = Result<T, StoreError>;

/// Shared handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

/// Hides a password in a connection URL so it can be printed.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). `schema`, when given, sets the
    /// PostgreSQL search path (tests use one schema each).
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<Store> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10));
        if url.starts_with("sqlite:") {
            // One writer at a time; WAL lets readers proceed, busy_timeout waits instead of failing.
            opts.max_connections(8).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
        } else {
            opts.max_connections(16);
        }
        if let Some(schema) = schema {
            opts.set_schema_search_path(schema.to_owned());
        }
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Unreachable {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        Ok(Store { db })
    }

    /// The raw connection, for repository functions.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> StoreResult<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Rolls back every migration (used by tests and `titanbridge migrate --down`).
    pub async fn migrate_down_all(&self) -> StoreResult<()> {
        Migrator::down(&self.db, None).await?;
        Ok(())
    }

    /// Number of migrations not yet applied.
    pub async fn pending_migrations(&self) -> StoreResult<usize> {
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .len())
    }

    /// Readiness: the database answers and every migration is applied.
    pub async fn ready(&self) -> Result<(), String> {
        self.db
            .execute_unprepared("SELECT 1")
            .await
            .map_err(|e| format!("database unreachable: {}", first_line(&e.to_string())))?;
        match self.pending_migrations().await {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!("{n} migration(s) not applied")),
            Err(e) => Err(format!("cannot read migrations: {e}")),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

/// Current time in milliseconds since the epoch (queue columns use plain integers so ordering
/// is exact on both databases).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
