//! The only module that touches the database. Other modules call its functions.
//!
//! One [`Store`] wraps a sea-orm connection pool for SQLite (the embedded default) or
//! PostgreSQL (any number of processes). Repository functions live in one file per concern.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

pub mod activity;
pub mod bookings;
pub mod cursors;
pub mod devices;
pub mod entities;
pub mod homeowner;
pub mod idempotency;
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
pub mod sync_control;
pub mod task_kind;
pub mod tasks;
pub mod users;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The database did not answer: no connection within the acquire timeout, connection
    /// refused or reset, the server shutting down or starting up. Worth retrying shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(sea_orm::DbErr),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value stored sealed could not be sealed or opened (a changed key, a corrupt row).
    #[error("stored secret: {0}")]
    Crypto(String),
}

impl From<sea_orm::DbErr> for StoreError {
    /// Tells an unreachable database apart from every other database error, once, so the web
    /// edge can answer 503 and the worker can wait instead of giving up.
    fn from(e: sea_orm::DbErr) -> Self {
        match unavailable_reason(&e) {
            Some(reason) => StoreError::Unavailable(reason),
            None => StoreError::Db(e),
        }
    }
}

/// Why `e` means "the database did not answer", or `None` for any other error.
fn unavailable_reason(e: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(a) => return Some(format!("no connection: {a}")),
        DbErr::Conn(RuntimeErr::SqlxError(s))
        | DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return None,
    };
    match sqlx.as_ref() {
        Sqlx::PoolTimedOut => Some("no connection within the acquire timeout".into()),
        Sqlx::PoolClosed => Some("connection pool closed".into()),
        Sqlx::WorkerCrashed => Some("database worker stopped".into()),
        Sqlx::Io(io) => Some(format!("connection lost: {io}")),
        Sqlx::Tls(t) => Some(format!("TLS: {t}")),
        // PostgreSQL: class 08 (connection exception), 57P01-03 (shutting down, crashed,
        // starting up).
        Sqlx::Database(d) => match d.code().as_deref() {
            Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                Some(first_line(d.message()))
            }
            _ => None,
        },
        _ => None,
    }
}

static ROUND_TRIPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Database round trips made by this process so far, every pool together: each statement,
/// plus the transaction control the claim sends (benchmarks print the figure per task).
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn count_round_trips(n: u64) {
    ROUND_TRIPS.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Result alias for store functions.
pub type StoreResult<T> = Result<T, StoreError>;

/// A write transaction that holds the process's write turn until it commits or is dropped
/// ([`Store::begin_write`]). Use it wherever a connection is asked for.
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Commits, then gives the turn to the next writer.
    pub async fn commit(self) -> StoreResult<()> {
        Ok(self.txn.commit().await?)
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Shared handle on the database.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Kept to open sibling pools ([`Store::with_acquire_timeout`]); never printed unredacted.
    url: String,
    schema: Option<String>,
    /// The pool's size (sibling pools get the same).
    max_connections: u32,
    /// SQLite: one writer at a time. SQLite makes a second writer wait in its busy handler,
    /// which sleeps (1, 2, 5, 10 … 100 ms) instead of waking when the lock frees; the engine's
    /// claims and completion batches queue here instead and run the moment the other ends.
    /// Shared by every pool opened from this one.
    write_gate: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// How long the worker's (and the CLI's) pool waits for a connection before an error.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections per pool unless `database.max_connections` says otherwise. Eight, not more:
/// on a two-core PostgreSQL host, 16 per pool made the worker 10-15 % slower (more backends
/// competing for two cores, more connections to open and more per-connection plan caches to
/// fill), and the worker's 32 slots spend most of their time in ServiceTitan calls, not in
/// statements. Raise it for a database server with more cores.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// How long `/readyz` waits for the database before answering not-ready.
pub const READY_TIMEOUT: Duration = Duration::from_millis(900);

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

/// The file of a `sqlite://path?…` URL (`None` for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// Creates a new SQLite database file readable by its owner only (0600, like the keys file)
/// before SQLite opens it; SQLite gives its `-wal` and `-shm` files the same mode. An existing
/// file is left as it is.
fn create_private_sqlite_file(url: &str) -> StoreResult<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(&path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unreachable {
            url: redact_url(url),
            reason: format!("cannot create {}: {e}", path.display()),
        }),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). `schema`, when given, sets the
    /// PostgreSQL search path (tests use one schema each).
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<Store> {
        Store::connect_with(
            url,
            schema,
            DEFAULT_ACQUIRE_TIMEOUT,
            DEFAULT_MAX_CONNECTIONS,
        )
        .await
    }

    /// Waits for this process's turn to write (SQLite; PostgreSQL has row locks and needs no
    /// turn, so `None`). Hold the guard for the write or the write transaction.
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begins a write transaction in this process's write turn ([`Store::write_turn`]): on
    /// SQLite the process's writers (API requests, handlers, the worker's claims and
    /// completions) queue in order in the process instead of in SQLite's busy handler, whose
    /// sleeps (1 ms growing to 100 ms per try) stalled a contended write for up to a second.
    /// The turn ends with the transaction.
    pub async fn begin_write(&self) -> StoreResult<WriteTxn> {
        let turn = self.write_turn().await;
        let txn = tasks::begin_write(self.db()).await?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Like [`Store::connect`], waiting at most `acquire_timeout` for a pooled connection (the
    /// bound on how long a call waits when the database is down), with at most
    /// `max_connections` connections (`database.max_connections`).
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        acquire_timeout: Duration,
        max_connections: u32,
    ) -> StoreResult<Store> {
        let max_connections = max_connections.max(1);
        let mut opts = ConnectOptions::new(url.to_owned());
        // sea-orm applies `connect_timeout` as sqlx's acquire timeout too, so set only the one.
        opts.sqlx_logging(false)
            .acquire_timeout(acquire_timeout)
            .max_connections(max_connections);
        if url.starts_with("sqlite:") {
            // One writer at a time; WAL lets readers proceed, busy_timeout waits instead of failing.
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
            });
        }
        if let Some(schema) = schema {
            opts.set_schema_search_path(schema.to_owned());
        }
        if url.starts_with("sqlite:") {
            create_private_sqlite_file(url)?;
        }
        // A pooled connection is pinged only after a second idle: a ping before every
        // checkout cost one round trip per statement, and a connection the server dropped
        // during an outage has been idle for longer than that.
        opts.test_before_acquire_if_idle_for(Duration::from_secs(1));
        let mut db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Unreachable {
                url: redact_url(url),
                reason: first_line(&e.to_string()),
            })?;
        db.set_metric_callback(|_| count_round_trips(1));
        Ok(Store {
            db,
            url: url.to_owned(),
            schema: schema.map(str::to_owned),
            max_connections,
            write_gate: url
                .starts_with("sqlite:")
                .then(|| std::sync::Arc::new(tokio::sync::Mutex::new(()))),
        })
    }

    /// A second pool on the same database whose calls wait at most `acquire_timeout` for a
    /// connection. The web server uses one (short timeout: a request fails fast with 503 when
    /// the database is down) while the worker keeps the long one, and each side's load cannot
    /// starve the other of connections.
    pub async fn with_acquire_timeout(&self, acquire_timeout: Duration) -> StoreResult<Store> {
        let mut other = Store::connect_with(
            &self.url,
            self.schema.as_deref(),
            acquire_timeout,
            self.max_connections,
        )
        .await?;
        other.write_gate = self.write_gate.clone();
        Ok(other)
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

    /// Readiness: the database answers and every migration is applied, within
    /// [`READY_TIMEOUT`].
    pub async fn ready(&self) -> Result<(), String> {
        match tokio::time::timeout(READY_TIMEOUT, self.check_ready()).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "database unreachable: no answer within {} ms",
                READY_TIMEOUT.as_millis()
            )),
        }
    }

    async fn check_ready(&self) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    fn sqlx(e: sea_orm::sqlx::Error) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn an_unreachable_database_is_told_apart_from_other_errors() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for e in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            sqlx(sea_orm::sqlx::Error::PoolTimedOut),
            sqlx(sea_orm::sqlx::Error::Io(reset)),
        ] {
            assert!(
                matches!(StoreError::from(e), StoreError::Unavailable(_)),
                "unavailable"
            );
        }
        for e in [
            DbErr::Custom("bad".into()),
            sqlx(sea_orm::sqlx::Error::RowNotFound),
            DbErr::RecordNotFound("x".into()),
        ] {
            assert!(matches!(StoreError::from(e), StoreError::Db(_)), "other");
        }
    }

    #[tokio::test]
    async fn a_pool_and_its_sibling_have_the_size_asked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = Store::connect_with(&url, None, DEFAULT_ACQUIRE_TIMEOUT, 3)
            .await
            .expect("store");
        let size = |s: &Store| {
            s.db()
                .get_sqlite_connection_pool()
                .options()
                .get_max_connections()
        };
        assert_eq!(size(&store), 3);
        let web = store
            .with_acquire_timeout(Duration::from_millis(500))
            .await
            .expect("sibling");
        assert_eq!(size(&web), 3);
        let default = Store::connect(&url, None).await.expect("store");
        assert_eq!(size(&default), DEFAULT_MAX_CONNECTIONS);
    }
}
