//! `SqlBackend`: one connection to SQLite, PostgreSQL or MySQL/MariaDB, and the migrator's
//! [`Backend`] over it: the lock and introspection here; the steps an operation becomes and how
//! they run in `steps.rs`; the tracking table in `journal.rs`.

use crate::dialect::Dialect;
use crate::introspect;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteConn;
use crate::url::DatabaseUrl;
#[cfg(feature = "mysql")]
use sqlx_core::connection::ConnectOptions;
#[cfg(feature = "postgres")]
use sqlx_core::connection::Connection;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::raw_sql::raw_sql;
// Every dynamic statement here is built from identifiers quoted by `Dialect::ident` and literals
// escaped by `Dialect`; values are bound. That is the audit `AssertSqlSafe` asks for.
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::sql_str::AssertSqlSafe;
#[cfg(feature = "mysql")]
use sqlx_mysql::{MySqlConnectOptions, MySqlConnection};
#[cfg(feature = "postgres")]
use sqlx_postgres::PgConnection;
use std::time::Duration;
use toasty_migrate::{
    Error, Result,
    backend::{Backend, Introspect, Lock, redact},
    schema::SchemaSnapshot,
};

/// Rows per batch of a data step's update or delete, unless set.
const DEFAULT_BATCH_SIZE: usize = 1_000;

/// How long to wait for a database to answer a connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection, of whichever backends this build has (Cargo features `sqlite`, `postgres`,
/// `mysql`).
enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConn),
    #[cfg(feature = "postgres")]
    Postgres(PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(MySqlConnection),
}

/// Runs `$sqlx` with `$c` bound to the sqlx connection (PostgreSQL, MySQL), or `$sqlite` with
/// `$s` bound to the SQLite one; both give a `Result<_, DriverError>`.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $sqlx:expr, $s:ident => $sqlite:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($s) => $sqlite.map_err($crate::backend::DriverError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $sqlx.map_err($crate::backend::DriverError::from),
            #[cfg(feature = "mysql")]
            Conn::Mysql($c) => $sqlx.map_err($crate::backend::DriverError::from),
        }
    };
}

// After `on_conn!`, which they use.
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod catalog;
mod data;
mod effect;
mod journal;
mod lock_wait;
mod steps;
pub use steps::SqlStep;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

/// What a driver reported: the text a person reads, and the driver's error itself, kept as the
/// source of the [`Error::Backend`] it becomes.
struct DriverError {
    message: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for DriverError {
    fn from(e: rusqlite::Error) -> Self {
        DriverError {
            message: e.to_string(),
            source: Box::new(e),
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl From<sqlx_core::Error> for DriverError {
    fn from(e: sqlx_core::Error) -> Self {
        DriverError {
            message: server_message(&e),
            source: Box::new(e),
        }
    }
}

/// The driver's failure as the core's error, for `target`.
fn driver_error(target: &str, e: impl Into<DriverError>) -> Error {
    let e = e.into();
    Error::driver(target, e.message, e.source)
}

/// What sqlx reports, for a person: a server's error is its message with PostgreSQL's detail and
/// hint, without the line of the server's C source that sqlx appends ("at line 948"), which
/// reads like a line of the migration.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_message(e: &sqlx_core::Error) -> String {
    let sqlx_core::Error::Database(db) = e else {
        return e.to_string();
    };
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx_postgres::PgDatabaseError>() {
        let mut message = format!("{} (SQLSTATE {})", pg.message(), pg.code());
        if let Some(detail) = pg.detail() {
            message.push_str(&format!("\n  detail: {detail}"));
        }
        if let Some(hint) = pg.hint() {
            message.push_str(&format!("\n  hint: {hint}"));
        }
        return message;
    }
    db.to_string()
}

/// A migration backend over one SQL connection.
pub struct SqlBackend {
    conn: Conn,
    dialect: Dialect,
    target: String,
    /// The URL as given, password included: for the second connection that watches an index
    /// build's progress. Never printed (`target` is what messages show).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    url: String,
    lock_timeout: Duration,
    /// How long a step's statement waits for the application's locks; `None`, the server's
    /// own settings.
    statement_lock_timeout: Option<Duration>,
    /// The statement lock timeout the session has: `None`, the server's own settings, until
    /// [`SqlBackend::prepare_session`] sends one.
    session_lock_timeout: Option<Duration>,
    /// [`SqlBackend::prepare_session`] ran on this session.
    session_prepared: bool,
    /// `_toasty_migrations` is known to exist (this session created or saw it): reading the
    /// rows needs no look at the catalog first.
    journal_exists: bool,
    batch_size: usize,
    /// Progress bars on stderr for long steps.
    progress: bool,
}

impl SqlBackend {
    /// Connects to `sqlite:<path>` (created if missing), `sqlite::memory:`, `postgres://...` or
    /// `mysql://...`. A server that does not answer within 10 s is an error, not a hang.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_to(url, true).await
    }

    /// [`connect`](Self::connect) for reading (status, dry runs): a SQLite file that does not
    /// exist reads as an empty database and is not created.
    pub async fn connect_without_creating(url: &str) -> Result<Self> {
        Self::connect_to(url, false).await
    }

    async fn connect_to(url: &str, create: bool) -> Result<Self> {
        // Only SQLite creates a database by connecting.
        #[cfg(not(feature = "sqlite"))]
        let _ = create;
        let parsed = DatabaseUrl::parse(url)?;
        if !parsed.is_built() {
            return Err(parsed.not_built(url));
        }
        let target = redact(url);
        #[cfg(feature = "sqlite")]
        if parsed == DatabaseUrl::Sqlite && crate::sqlite::path_of(url).is_empty() {
            return Err(Error::Unsupported {
                target,
                message: "the URL names no file: use sqlite:PATH, or sqlite::memory: for a \
                          database that is gone when the command ends"
                    .into(),
            });
        }
        let fail = |e: DriverError| {
            Error::driver(&target, format!("cannot connect: {}", e.message), e.source)
        };
        let lock_timeout = Duration::from_secs(60);
        let connect = async {
            Ok::<_, DriverError>(match parsed {
                #[cfg(feature = "sqlite")]
                DatabaseUrl::Sqlite => {
                    Conn::Sqlite(SqliteConn::open(url, lock_timeout, create).await?)
                }
                #[cfg(feature = "postgres")]
                DatabaseUrl::Postgres => Conn::Postgres(PgConnection::connect(url).await?),
                #[cfg(feature = "mysql")]
                // Every timestamp we write and read is UTC on the server too (sqlx's default,
                // kept whatever the URL says).
                DatabaseUrl::Mysql => Conn::Mysql(
                    url.parse::<MySqlConnectOptions>()?
                        .timezone(Some("+00:00".to_string()))
                        .connect()
                        .await?,
                ),
                #[allow(unreachable_patterns)]
                _ => unreachable!("checked by is_built above"),
            })
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(conn) => conn.map_err(fail)?,
            Err(_) => {
                return Err(Error::backend(
                    target,
                    format!(
                        "cannot connect: no answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        let dialect = parsed.dialect();
        let backend = SqlBackend {
            conn,
            dialect,
            target,
            url: url.to_string(),
            lock_timeout,
            statement_lock_timeout: Some(lock_wait::DEFAULT_STATEMENT_LOCK_TIMEOUT),
            session_lock_timeout: None,
            session_prepared: false,
            journal_exists: false,
            batch_size: DEFAULT_BATCH_SIZE,
            progress: false,
        };
        Ok(backend)
    }

    /// How long `lock` waits for another runner before giving up (default 60 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Shows progress bars on stderr (where it is a terminal) for long steps: batches of a
    /// data step done, and on PostgreSQL an index build's phase and blocks from
    /// `pg_stat_progress_create_index`.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// How many rows each batch of an update or delete touches (default 1,000).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn error(&self, e: impl Into<DriverError>) -> Error {
        driver_error(&self.target, e)
    }

    fn unsupported(&self, message: String) -> Error {
        Error::Unsupported {
            target: self.target.clone(),
            message,
        }
    }

    /// Executes one statement as written.
    pub async fn execute(&mut self, sql: &str) -> Result<()> {
        let result = on_conn!(&mut self.conn,
        c => raw_sql(AssertSqlSafe(sql)).execute(&mut *c).await.map(|_| ()),
        s => {
            let owned = sql.to_string();
            s.call(move |c| c.execute_batch(&owned)).await
        });
        result.map_err(|e| {
            Error::driver(
                &self.target,
                format!("{}\n  in: {sql}", e.message),
                e.source,
            )
        })
    }

    /// The application's tables as they are in the database now; only `only` if given (a
    /// resumed run asking about one statement's effect reads its table, not the schema).
    async fn read_schema(&mut self, only: Option<&str>) -> Result<SchemaSnapshot> {
        // A literal, not a bound value: the catalog statements go as one simple query.
        let only = only.map(|table| self.dialect.string_literal(table));
        let only = only.as_deref();
        let tables = match self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => self.sqlite_tables(only).await?,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => self.postgres_tables(only).await?,
            #[cfg(feature = "mysql")]
            Conn::Mysql(_) => self.mysql_tables(only).await?,
        };
        Ok(SchemaSnapshot::new(tables))
    }
}

/// The lock: SQLite's run-long write transaction (`BEGIN IMMEDIATE`), PostgreSQL's advisory lock,
/// MySQL's named lock; each tried without waiting, the core polling. The database frees a dead
/// runner's.
impl Lock for SqlBackend {
    async fn try_lock(&mut self) -> Result<bool> {
        let result = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => sqlite::try_lock(s, self.lock_timeout).await,
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => postgres::try_lock(c).await,
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => mysql::try_lock(c).await,
        };
        result.map_err(|e| self.error(e))
    }

    fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }

    async fn unlock(&mut self) -> Result<()> {
        let sql = match &self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => "COMMIT".to_string(),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => postgres::unlock_sql(),
            #[cfg(feature = "mysql")]
            Conn::Mysql(_) => mysql::unlock_sql(),
        };
        self.execute(&sql).await
    }
}

impl Introspect for SqlBackend {
    async fn introspect(&mut self) -> Result<SchemaSnapshot> {
        self.read_schema(None).await
    }

    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
        introspect::stored_snapshot(self.dialect, snapshot)
    }

    fn keeps_column_order(&self) -> bool {
        self.dialect != Dialect::Postgres
    }
}

impl Backend for SqlBackend {
    fn target(&self) -> String {
        self.target.clone()
    }
}
