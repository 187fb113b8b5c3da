//! `SqlBackend`: one connection to SQLite, PostgreSQL or MySQL/MariaDB, and the migrator's
//! [`Backend`] over it: tracking table, lock, transactions, MySQL's statement-by-statement
//! progress, and introspection queries.

use crate::TRACKING_TABLE;
use crate::ddl;
use crate::dialect::Dialect;
use crate::introspect::{self, is_internal_table, stored_key};
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteConn;
use crate::url::DatabaseUrl;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::connection::Connection;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::row::Row;
// Every dynamic statement here is built from identifiers quoted by `Dialect::ident` and literals
// escaped by `Dialect`; values are bound. That is the audit `AssertSqlSafe` asks for.
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::sql_str::AssertSqlSafe;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::{query::query, query_as::query_as, query_scalar::query_scalar, raw_sql::raw_sql};
#[cfg(feature = "mysql")]
use sqlx_mysql::MySqlConnection;
#[cfg(feature = "postgres")]
use sqlx_postgres::PgConnection;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use toasty_migrate::{
    Atomicity, Backend, Error, Executor, IndexDef, Introspect, Journal, JournalRow, Lock,
    MigrationPlan, Operation, Result, SchemaSnapshot, TableSnapshot, redact,
};

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
/// `$s` bound to the SQLite one; both give a `Result<_, String>`.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $sqlx:expr, $s:ident => $sqlite:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($s) => $sqlite.map_err(|e| e.to_string()),
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $sqlx.map_err(server_message),
            #[cfg(feature = "mysql")]
            Conn::Mysql($c) => $sqlx.map_err(server_message),
        }
    };
}

/// What sqlx reports, for a person: a server's error is its message with PostgreSQL's detail and
/// hint, without the line of the server's C source that sqlx appends ("at line 948"), which
/// reads like a line of the migration.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_message(e: sqlx_core::Error) -> String {
    let sqlx_core::Error::Database(db) = &e else {
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
    lock_timeout: Duration,
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
        let fail = |e: String| Error::Backend {
            target: target.clone(),
            message: format!("cannot connect: {e}"),
        };
        let lock_timeout = Duration::from_secs(60);
        let connect = async {
            Ok::<_, String>(match parsed {
                #[cfg(feature = "sqlite")]
                DatabaseUrl::Sqlite => {
                    Conn::Sqlite(SqliteConn::open(url, lock_timeout, create).await?)
                }
                #[cfg(feature = "postgres")]
                DatabaseUrl::Postgres => {
                    Conn::Postgres(PgConnection::connect(url).await.map_err(server_message)?)
                }
                #[cfg(feature = "mysql")]
                DatabaseUrl::Mysql => Conn::Mysql(
                    MySqlConnection::connect(url)
                        .await
                        .map_err(server_message)?,
                ),
                #[allow(unreachable_patterns)]
                _ => unreachable!("checked by is_built above"),
            })
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(conn) => conn.map_err(fail)?,
            Err(_) => {
                return Err(Error::Backend {
                    target,
                    message: format!(
                        "cannot connect: no answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                });
            }
        };
        let dialect = match conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Conn::Mysql(_) => Dialect::Mysql,
        };
        let mut backend = SqlBackend {
            conn,
            dialect,
            target,
            lock_timeout,
        };
        match dialect {
            // Every UTC timestamp we write and read is UTC on the server too.
            Dialect::Mysql => backend.execute("SET time_zone = '+00:00'").await?,
            // A runner killed during a long statement: PostgreSQL 14+ then notices the closed
            // connection within a second and ends the session, releasing the lock, instead of
            // holding it until the statement finishes. Older servers lack the setting, and are
            // left as they are.
            Dialect::Postgres => {
                let _ = backend
                    .execute("SET client_connection_check_interval = '1s'")
                    .await;
            }
            Dialect::Sqlite => {}
        }
        Ok(backend)
    }

    /// How long `lock` waits for another runner before giving up (default 60 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Backend {
            target: self.target.clone(),
            message: e.to_string(),
        }
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
            let mut err = self.error(e);
            if let Error::Backend { message, .. } = &mut err {
                message.push_str(&format!("\n  in: {sql}"));
            }
            err
        })
    }

    /// The application's tables as they are in the database now.
    async fn read_schema(&mut self) -> Result<SchemaSnapshot> {
        let tables = match self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => self.sqlite_tables().await?,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => self.postgres_tables().await?,
            #[cfg(feature = "mysql")]
            Conn::Mysql(_) => self.mysql_tables().await?,
        };
        Ok(SchemaSnapshot::new(tables))
    }

    /// A digest of everything [`introspect`](Introspect::introspect) reads, taken in one cheap query:
    /// equal digests mean an unchanged schema, so a comparison made against one can be reused
    /// (`migrate:status` does). `None` where there is no such shortcut (MySQL).
    async fn read_fingerprint(&mut self) -> Result<Option<String>> {
        // SQLite keeps each table's and index's full definition as its CREATE statement.
        #[cfg(feature = "sqlite")]
        const SQLITE: &str = "SELECT type || char(31) || name || char(31) || COALESCE(sql, '') \
             FROM sqlite_master ORDER BY type, name";
        // The catalog rows introspection reads, by oid, so that a table dropped and created
        // again differs too; `adbin` is a default's stored form.
        #[cfg(feature = "postgres")]
        const POSTGRES: &str = "SELECT md5(concat_ws('|', current_schema(), \
             (SELECT string_agg(concat_ws(',', c.oid, c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod, \
               a.attnotnull, a.attidentity, d.adbin::text), ';' ORDER BY c.oid, a.attnum) \
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
              WHERE n.nspname = current_schema() AND c.relkind = 'r'), \
             (SELECT string_agg(concat_ws(',', ix.indexrelid, ic.relname, ix.indrelid, ix.indisunique, \
               ix.indisprimary, ix.indkey::text, ix.indoption::text), ';' ORDER BY ix.indexrelid) \
              FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid \
              JOIN pg_namespace n ON n.oid = ic.relnamespace WHERE n.nspname = current_schema()), \
             (SELECT string_agg(concat_ws(',', t.oid, t.typname, e.enumlabel), ';' ORDER BY t.oid, e.enumsortorder) \
              FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
              JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema())))";
        let result: std::result::Result<Option<String>, String> = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => s
                .call(|c| {
                    use sha2::{Digest, Sha256};
                    let mut stmt = c.prepare(SQLITE)?;
                    let mut rows = stmt.query([])?;
                    let mut hasher = Sha256::new();
                    while let Some(row) = rows.next()? {
                        hasher.update(row.get_ref(0)?.as_bytes().unwrap_or_default());
                        hasher.update([30]);
                    }
                    Ok(Some(format!("{:x}", hasher.finalize())))
                })
                .await
                .map_err(|e| e.to_string()),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => query_scalar::<_, String>(POSTGRES)
                .fetch_one(&mut *c)
                .await
                .map(Some)
                .map_err(|e| e.to_string()),
            #[cfg(feature = "mysql")]
            Conn::Mysql(_) => Ok(None),
        };
        result.map_err(|e| self.error(e))
    }

    /// A token for everything the server has committed: if it reads the same later, nothing at
    /// all was committed in between, so whatever was read after taking it still holds. Cheaper
    /// than the schema fingerprint but moved by every write, so it
    /// only saves work on a quiet database. PostgreSQL: the server's start, the database, the
    /// schema and the transaction snapshot, whose bounds and in-progress list move whenever any
    /// transaction ends (every change, DDL included, is made by one). `None` elsewhere.
    async fn read_watermark(&mut self) -> Result<Option<String>> {
        #[cfg(feature = "postgres")]
        const POSTGRES: &str = "SELECT concat_ws('|', pg_postmaster_start_time(), \
             (SELECT oid FROM pg_database WHERE datname = current_database()), current_schema(), \
             txid_current_snapshot())";
        let result: std::result::Result<Option<String>, String> = match &mut self.conn {
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => query_scalar::<_, String>(POSTGRES)
                .fetch_one(&mut *c)
                .await
                .map(Some)
                .map_err(|e| e.to_string()),
            #[allow(unreachable_patterns)]
            _ => Ok(None),
        };
        result.map_err(|e| self.error(e))
    }

    async fn tracking_exists(&mut self) -> Result<bool> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1"
            }
            Dialect::Mysql => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        let count: i64 = on_conn!(&mut self.conn,
            c => query_scalar(AssertSqlSafe(sql)).bind(TRACKING_TABLE).fetch_one(&mut *c).await,
            s => s.call(move |c| c.query_row(sql, [TRACKING_TABLE], |r| r.get(0))).await)
        .map_err(|e| self.error(e))?;
        Ok(count > 0)
    }

    fn tracking_ddl(&self) -> String {
        let (version, text, time) = match self.dialect {
            Dialect::Sqlite => ("TEXT", "TEXT", "TEXT"),
            Dialect::Postgres => ("VARCHAR(255)", "TEXT", "TIMESTAMPTZ"),
            Dialect::Mysql => ("VARCHAR(191)", "TEXT", "DATETIME(6)"),
        };
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n    version {version} NOT NULL PRIMARY KEY,\n    name {text} NOT NULL,\n    \
             checksum {text} NOT NULL,\n    applied_at {time} NOT NULL,\n    execution_ms BIGINT NOT NULL,\n    \
             statements_done INTEGER NOT NULL,\n    statements_total INTEGER NOT NULL,\n    statements_checksum {text} NOT NULL,\n    \
             reverting INTEGER NOT NULL DEFAULT 0\n)"
        )
    }

    /// The tracking rows, oldest version first; only `version`'s if given.
    async fn read_rows(&mut self, version: Option<&str>) -> Result<Vec<JournalRow>> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let filter = match (version, self.dialect) {
            (None, _) => "",
            (Some(_), Dialect::Postgres) => " WHERE version = $1",
            (Some(_), _) => " WHERE version = ?",
        };
        let sql = format!(
            "SELECT version, name, checksum, applied_at, execution_ms, statements_done, \
             statements_total, statements_checksum, reverting FROM {t}{filter} ORDER BY version"
        );
        type Fields = (String, String, String, i64, i32, i32, String, i32);
        let version = version.map(str::to_string);
        let rows: Vec<(Fields, OffsetDateTime)> = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => s
                .call(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let params: Vec<String> = version.into_iter().collect();
                    stmt.query_map(rusqlite::params_from_iter(params), |r| {
                        let at: String = r.get(3)?;
                        let at = OffsetDateTime::parse(
                            &at,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                3,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                        let fields = (
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                        );
                        Ok((fields, at))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await
                .map_err(|e| e.to_string()),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                let mut q = query(AssertSqlSafe(sql.as_str()));
                if let Some(v) = version {
                    q = q.bind(v);
                }
                q.fetch_all(&mut *c)
                    .await
                    .map(|rows| {
                        rows.iter()
                            .map(|r| {
                                let fields = (
                                    r.get(0),
                                    r.get(1),
                                    r.get(2),
                                    r.get(4),
                                    r.get(5),
                                    r.get(6),
                                    r.get(7),
                                    r.get(8),
                                );
                                (fields, r.get::<OffsetDateTime, _>(3))
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            }
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => {
                let mut q = query(AssertSqlSafe(sql.as_str()));
                if let Some(v) = version {
                    q = q.bind(v);
                }
                q.fetch_all(&mut *c)
                    .await
                    .map(|rows| {
                        rows.iter()
                            .map(|r| {
                                let at: time::PrimitiveDateTime = r.get(3);
                                let fields = (
                                    r.get(0),
                                    r.get(1),
                                    r.get(2),
                                    r.get(4),
                                    r.get(5),
                                    r.get(6),
                                    r.get(7),
                                    r.get(8),
                                );
                                (fields, at.assume_utc())
                            })
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            }
        }
        .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(
                |((version, name, checksum, ms, done, total, steps_checksum, reverting), at)| {
                    JournalRow {
                        version,
                        name,
                        checksum,
                        applied_at: at,
                        execution_time: Duration::from_millis(ms.max(0) as u64),
                        done: done.max(0) as usize,
                        total: total.max(0) as usize,
                        steps_checksum,
                        reverting: reverting != 0,
                    }
                },
            )
            .collect())
    }

    #[cfg(feature = "sqlite")]
    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    async fn sqlite_tables(&mut self) -> Result<Vec<TableSnapshot>> {
        let Conn::Sqlite(s) = &self.conn else {
            return Ok(Vec::new());
        };
        // One trip to the blocking pool, three queries, whatever the number of tables.
        let raw = s
            .call(|c| read_sqlite_tables(c, None))
            .await
            .map_err(|e| self.error(e))?;
        raw.into_iter()
            .map(|(name, raw)| self.sqlite_snapshot(&name, raw))
            .collect::<Result<Vec<_>>>()
    }

    #[cfg(feature = "sqlite")]
    fn sqlite_snapshot(&self, name: &str, raw: RawSqliteTable) -> Result<TableSnapshot> {
        let autoincrement = raw.sql.to_ascii_uppercase().contains("AUTOINCREMENT");
        let mut columns = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (column, declared, not_null, default, pk_position) in raw.columns {
            let quoted = Dialect::Sqlite
                .ident(&column)
                .map_err(|m| self.unsupported(m))?;
            let mut ty = introspect::sqlite_type(&declared);
            if let Some(variants) = introspect::sqlite_enum_variants(&raw.sql, &quoted) {
                ty = toasty_migrate::ColumnType::Enum(toasty_migrate::EnumType {
                    name: None,
                    variants,
                });
            }
            if pk_position > 0 {
                pk.push((pk_position, column.clone()));
            }
            let auto = autoincrement && pk_position > 0;
            columns.push(introspect::column(
                Dialect::Sqlite,
                column,
                ty,
                !not_null,
                default.as_deref(),
                auto,
            ));
        }
        pk.sort();
        let indexes = raw
            .indexes
            .into_iter()
            .map(|(index, unique, keys)| IndexDef {
                name: index,
                columns: keys.iter().map(|(c, desc)| stored_key(c, *desc)).collect(),
                unique,
            })
            .collect();
        Ok(TableSnapshot {
            name: name.to_string(),
            columns,
            primary_key: pk.into_iter().map(|(_, c)| stored_key(&c, false)).collect(),
            indexes,
        })
    }

    #[cfg(feature = "postgres")]
    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    async fn postgres_tables(&mut self) -> Result<Vec<TableSnapshot>> {
        let target = self.target.clone();
        let err = |e: sqlx_core::Error| Error::Backend {
            target: target.clone(),
            message: e.to_string(),
        };
        let Conn::Postgres(c) = &mut self.conn else {
            return Ok(Vec::new());
        };
        let enum_rows: Vec<(String, String)> = query_as(
            "SELECT t.typname::text, e.enumlabel::text FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
             JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let mut enums: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (ty, label) in enum_rows {
            enums.entry(ty).or_default().push(label);
        }
        let lookup = |name: &str| enums.get(name).cloned();
        let rows: Vec<(String, String, String, bool, Option<String>, bool)> = query_as(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
             pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY c.relname, a.attnum",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let mut tables: BTreeMap<String, TableSnapshot> = BTreeMap::new();
        for (table, column, ty, not_null, default, identity) in rows {
            if is_internal_table(&table) {
                continue;
            }
            let ty = introspect::postgres_type(&ty, &lookup);
            let t = tables
                .entry(table.clone())
                .or_insert_with(|| empty_table(table));
            t.columns.push(introspect::column(
                Dialect::Postgres,
                column,
                ty,
                !not_null,
                default.as_deref(),
                identity,
            ));
        }
        let index_rows: Vec<(String, String, bool, bool, String, bool)> = query_as(
            "SELECT tc.relname::text, ic.relname::text, ix.indisunique, ix.indisprimary, a.attname::text, \
             (ix.indoption[k.ord - 1] & 1) = 1 \
             FROM pg_index ix JOIN pg_class tc ON tc.oid = ix.indrelid JOIN pg_class ic ON ic.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = tc.relnamespace \
             CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() ORDER BY 1, 2, k.ord",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        add_index_rows(&mut tables, index_rows);
        Ok(tables.into_values().collect())
    }

    #[cfg(feature = "mysql")]
    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    async fn mysql_tables(&mut self) -> Result<Vec<TableSnapshot>> {
        let target = self.target.clone();
        let err = |e: sqlx_core::Error| Error::Backend {
            target: target.clone(),
            message: e.to_string(),
        };
        let Conn::Mysql(c) = &mut self.conn else {
            return Ok(Vec::new());
        };
        // information_schema's columns are of various binary/text types across versions: CAST
        // them so they decode as strings everywhere.
        let rows: Vec<(String, String, String, String, Option<String>, String)> = query_as(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
             CAST(COLUMN_DEFAULT AS CHAR), CAST(EXTRA AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let mut tables: BTreeMap<String, TableSnapshot> = BTreeMap::new();
        for (table, column, ty, nullable, default, extra) in rows {
            if is_internal_table(&table) {
                continue;
            }
            let ty = introspect::mysql_type(&ty);
            let auto = extra.to_ascii_lowercase().contains("auto_increment");
            let t = tables
                .entry(table.clone())
                .or_insert_with(|| empty_table(table));
            t.columns.push(introspect::column(
                Dialect::Mysql,
                column,
                ty,
                nullable == "YES",
                default.as_deref(),
                auto,
            ));
        }
        let index_rows: Vec<(String, String, i64, String, Option<String>)> = query_as(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR), \
             CAST(COLLATION AS CHAR) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let index_rows = index_rows
            .into_iter()
            .map(|(table, index, non_unique, column, collation)| {
                let primary = index == "PRIMARY";
                (
                    table,
                    index,
                    non_unique == 0,
                    primary,
                    column,
                    collation.as_deref() == Some("D"),
                )
            })
            .collect();
        add_index_rows(&mut tables, index_rows);
        Ok(tables.into_values().collect())
    }
}

/// (name, unique, [(column, descending)]) of a SQLite index.
#[cfg(feature = "sqlite")]
type RawSqliteIndex = (String, bool, Vec<(String, bool)>);

/// A SQLite table as its pragmas give it.
#[cfg(feature = "sqlite")]
struct RawSqliteTable {
    sql: String,
    /// (name, declared type, NOT NULL, default expression, position in the primary key or 0)
    columns: Vec<(String, String, bool, Option<String>, i64)>,
    /// The indexes `CREATE INDEX` made.
    indexes: Vec<RawSqliteIndex>,
}

#[cfg(feature = "sqlite")]
/// Every SQLite table (or only `only`) with its columns and `CREATE INDEX` indexes, in three
/// queries whatever the number of tables (the pragma table-valued functions joined to
/// `sqlite_master`), internal tables left out.
#[cfg(feature = "sqlite")]
fn read_sqlite_tables(
    c: &rusqlite::Connection,
    only: Option<&str>,
) -> rusqlite::Result<Vec<(String, RawSqliteTable)>> {
    let filter = "m.type = 'table' AND (?1 IS NULL OR m.name = ?1)";
    let mut tables: std::collections::BTreeMap<String, RawSqliteTable> =
        std::collections::BTreeMap::new();
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, m.sql FROM sqlite_master m WHERE {filter}"
    ))?;
    for row in stmt.query_map([only], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (name, sql) = row?;
        if !is_internal_table(&name) {
            tables.insert(
                name,
                RawSqliteTable {
                    sql,
                    columns: Vec::new(),
                    indexes: Vec::new(),
                },
            );
        }
    }
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE {filter} ORDER BY m.name, p.cid"
    ))?;
    let rows = stmt.query_map([only], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)? != 0,
                r.get(4)?,
                r.get(5)?,
            ),
        ))
    })?;
    for row in rows {
        let (table, column) = row?;
        if let Some(t) = tables.get_mut(&table) {
            t.columns.push(column);
        }
    }
    // Only indexes made by CREATE INDEX (origin 'c'): not the primary key's, not UNIQUE constraints'.
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, il.name, il.\"unique\", ii.name, ii.\"desc\" \
         FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) ii \
         WHERE {filter} AND il.origin = 'c' AND ii.key = 1 ORDER BY m.name, il.name, ii.seqno"
    ))?;
    let rows = stmt.query_map([only], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)? == 1,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)? == 1,
        ))
    })?;
    for row in rows {
        let (table, index, unique, column, desc) = row?;
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        match t.indexes.last_mut() {
            Some((name, _, keys)) if *name == index => keys.push((column, desc)),
            _ => t.indexes.push((index, unique, vec![(column, desc)])),
        }
    }
    Ok(tables.into_iter().collect())
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn empty_table(name: String) -> TableSnapshot {
    TableSnapshot {
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
    }
}

/// Index rows `(table, index, unique, primary, column, descending)` in key order.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn add_index_rows(
    tables: &mut BTreeMap<String, TableSnapshot>,
    rows: Vec<(String, String, bool, bool, String, bool)>,
) {
    for (table, index, unique, primary, column, descending) in rows {
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        let key = stored_key(&column, descending);
        if primary {
            t.primary_key.push(key);
        } else if let Some(existing) = t.indexes.iter_mut().find(|i| i.name == index) {
            existing.columns.push(key);
        } else {
            t.indexes.push(IndexDef {
                name: index,
                columns: vec![key],
                unique,
            });
        }
    }
}

/// The lock: SQLite's run-long write transaction (`BEGIN IMMEDIATE`), PostgreSQL's advisory lock,
/// MySQL's named lock; each tried without waiting, the core polling. The database frees a dead
/// runner's.
impl Lock for SqlBackend {
    async fn try_lock(&mut self) -> Result<bool> {
        let result = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => {
                let timeout = self.lock_timeout;
                s.call(move |c| {
                    c.busy_timeout(Duration::ZERO)?;
                    let begun = c.execute_batch("BEGIN IMMEDIATE");
                    c.busy_timeout(timeout)?;
                    match begun {
                        Ok(()) => Ok(true),
                        Err(rusqlite::Error::SqliteFailure(e, _))
                            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(e),
                    }
                })
                .await
                .map_err(|e| e.to_string())
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => query_scalar(
                "SELECT pg_try_advisory_lock(hashtextextended('toasty-migrate:' || current_database() || ':' || current_schema(), 0))",
            )
            .fetch_one(&mut *c)
            .await
            .map_err(server_message),
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => query_scalar::<_, Option<i64>>(
                "SELECT GET_LOCK(CONCAT('toasty-migrate:', SHA1(DATABASE())), 0)",
            )
            .fetch_one(&mut *c)
            .await
            .map(|locked| locked == Some(1))
            .map_err(server_message),
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
        match self.dialect {
            Dialect::Sqlite => self.execute("COMMIT").await,
            Dialect::Postgres => self
                .execute("SELECT pg_advisory_unlock(hashtextextended('toasty-migrate:' || current_database() || ':' || current_schema(), 0))")
                .await,
            Dialect::Mysql => self.execute("SELECT RELEASE_LOCK(CONCAT('toasty-migrate:', SHA1(DATABASE())))").await,
        }
    }
}

/// SQL runs statements: PostgreSQL's and MySQL's need nothing but the operation; SQLite's
/// copy-table rebuilds copy the table as `live` has it.
impl Executor for SqlBackend {
    type Step = String;

    fn check(&self, op: &Operation) -> std::result::Result<(), String> {
        ddl::check(self.dialect, op)
    }

    fn plan(&self, op: &Operation, live: &SchemaSnapshot) -> Result<Vec<String>> {
        let table = op.table().and_then(|t| live.table(t));
        ddl::statements(self.dialect, op, table).map_err(|m| self.unsupported(m))
    }

    async fn perform(&mut self, sql: &String) -> Result<()> {
        self.execute(sql).await
    }

    fn atomicity(&self, plan: &MigrationPlan) -> Result<Atomicity> {
        match (self.dialect, plan.transactional) {
            (Dialect::Sqlite | Dialect::Postgres, true) => Ok(Atomicity::Transaction),
            // Each statement commits on its own, so its progress is kept.
            (Dialect::Postgres, false) => Ok(Atomicity::Journal),
            (Dialect::Sqlite, false) => Err(self.unsupported(format!(
                "migration {}: SQLite runs every migration inside the run's transaction (its lock); \
                 it cannot opt out",
                plan.version
            ))),
            // MySQL's DDL commits statement by statement whatever the migration says.
            (Dialect::Mysql, _) => Ok(Atomicity::Journal),
        }
    }

    /// SQLite nests a savepoint per migration in the run-long `BEGIN IMMEDIATE` that is its lock.
    async fn begin(&mut self) -> Result<()> {
        self.execute(match self.dialect {
            Dialect::Sqlite => "SAVEPOINT toasty_migration",
            _ => "BEGIN",
        })
        .await
    }

    async fn commit(&mut self) -> Result<()> {
        self.execute(match self.dialect {
            Dialect::Sqlite => "RELEASE toasty_migration",
            _ => "COMMIT",
        })
        .await
    }

    async fn rollback(&mut self) -> Result<()> {
        self.execute(match self.dialect {
            Dialect::Sqlite => "ROLLBACK TO toasty_migration; RELEASE toasty_migration",
            _ => "ROLLBACK",
        })
        .await
    }
}

/// `_toasty_migrations`, one row per migration.
impl Journal for SqlBackend {
    async fn ensure_journal(&mut self) -> Result<()> {
        let ddl = self.tracking_ddl();
        self.execute(&ddl).await
    }

    async fn rows(&mut self) -> Result<Vec<JournalRow>> {
        if !self.tracking_exists().await? {
            return Ok(Vec::new());
        }
        self.read_rows(None).await
    }

    async fn read_row(&mut self, version: &str) -> Result<Option<JournalRow>> {
        Ok(self.read_rows(Some(version)).await?.pop())
    }

    async fn write_row(&mut self, row: &JournalRow) -> Result<()> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let JournalRow {
            version,
            name,
            checksum,
            applied_at,
            execution_time,
            done,
            total,
            steps_checksum,
            reverting,
        } = row.clone();
        let ms = execution_time.as_millis() as i64;
        let (done, total, reverting) = (done as i32, total as i32, reverting as i32);
        let result = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => {
                let sql = format!("INSERT OR REPLACE INTO {t} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
                let at = applied_at.format(&time::format_description::well_known::Rfc3339).expect("a UTC time formats");
                s.call(move |c| c.execute(&sql, rusqlite::params![version, name, checksum, at, ms, done, total, steps_checksum, reverting]).map(|_| ()))
                    .await
                    .map_err(|e| e.to_string())
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                query(AssertSqlSafe(format!("INSERT INTO {t} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                    ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at, execution_ms = EXCLUDED.execution_ms, \
                    statements_done = EXCLUDED.statements_done, statements_total = EXCLUDED.statements_total, statements_checksum = EXCLUDED.statements_checksum, reverting = EXCLUDED.reverting")))
                    .bind(version).bind(name).bind(checksum).bind(applied_at).bind(ms).bind(done).bind(total).bind(steps_checksum).bind(reverting)
                    .execute(&mut *c).await.map(|_| ()).map_err(|e| e.to_string())
            }
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => {
                let at = time::PrimitiveDateTime::new(applied_at.date(), applied_at.time());
                query(AssertSqlSafe(format!("REPLACE INTO {t} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")))
                    .bind(version).bind(name).bind(checksum).bind(at).bind(ms).bind(done).bind(total).bind(steps_checksum).bind(reverting)
                    .execute(&mut *c).await.map(|_| ()).map_err(|e| e.to_string())
            }
        };
        result.map_err(|e| self.error(e))
    }

    async fn delete_row(&mut self, version: &str) -> Result<()> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let placeholder = if self.dialect == Dialect::Postgres {
            "$1"
        } else {
            "?"
        };
        let sql = format!("DELETE FROM {t} WHERE version = {placeholder}");
        on_conn!(&mut self.conn,
        c => query(AssertSqlSafe(sql.as_str())).bind(version).execute(&mut *c).await.map(|_| ()),
        s => {
            let owned = version.to_string();
            s.call(move |c| c.execute(&sql, [owned]).map(|_| ())).await
        })
        .map_err(|e| self.error(e))
    }
}

impl Introspect for SqlBackend {
    async fn introspect(&mut self) -> Result<SchemaSnapshot> {
        self.read_schema().await
    }

    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
        introspect::stored_snapshot(self.dialect, snapshot)
    }

    fn keeps_column_order(&self) -> bool {
        self.dialect != Dialect::Postgres
    }

    async fn schema_fingerprint(&mut self) -> Result<Option<String>> {
        self.read_fingerprint().await
    }

    async fn commit_watermark(&mut self) -> Result<Option<String>> {
        self.read_watermark().await
    }
}

impl Backend for SqlBackend {
    fn target(&self) -> String {
        self.target.clone()
    }
}
