//! Real databases for tests: a fresh SQLite file, PostgreSQL schema or MariaDB database per test,
//! so tests run in parallel. A server that is down fails the test, with the reason: nothing is
//! skipped (`./scripts/test` starts the servers first).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use toasty_migrate::*;
use toasty_migrate_sql::{Dialect, SqlBackend};

pub fn postgres_url() -> String {
    std::env::var("TOASTY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn mysql_url() -> String {
    std::env::var("TOASTY_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// A database of one dialect that belongs to one test.
pub struct TestDb {
    pub dialect: Dialect,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000
    )
}

impl TestDb {
    pub async fn new(dialect: Dialect) -> TestDb {
        match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("test.db").display());
                TestDb {
                    dialect,
                    url,
                    _dir: Some(dir),
                }
            }
            Dialect::Postgres => {
                let name = unique_name("tm");
                let mut admin = connect(&postgres_url()).await;
                admin
                    .execute(&format!("CREATE SCHEMA \"{name}\""))
                    .await
                    .unwrap();
                let sep = if postgres_url().contains('?') {
                    '&'
                } else {
                    '?'
                };
                let url = format!("{}{sep}options=-c%20search_path%3D{name}", postgres_url());
                TestDb {
                    dialect,
                    url,
                    _dir: None,
                }
            }
            Dialect::Mysql => {
                let name = unique_name("tm");
                let mut admin = connect(&mysql_url()).await;
                admin
                    .execute(&format!("CREATE DATABASE `{name}`"))
                    .await
                    .unwrap();
                let base = mysql_url();
                let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
                TestDb {
                    dialect,
                    url,
                    _dir: None,
                }
            }
        }
    }

    /// Like `new`, but PostgreSQL gets a database of its own rather than a schema, for clients
    /// (Toasty's driver) that cannot be pointed at a schema.
    pub async fn new_database(dialect: Dialect) -> TestDb {
        if dialect != Dialect::Postgres {
            return TestDb::new(dialect).await;
        }
        let name = unique_name("tm");
        let mut admin = connect(&postgres_url()).await;
        admin
            .execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = postgres_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        TestDb {
            dialect,
            url,
            _dir: None,
        }
    }

    pub async fn connect(&self) -> SqlBackend {
        connect(&self.url).await
    }
}

pub async fn connect(url: &str) -> SqlBackend {
    match SqlBackend::connect(url).await {
        Ok(backend) => backend,
        Err(e) => panic!("test database unavailable ({e}); ./scripts/test starts the servers"),
    }
}

pub const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

/// The migration from `old` to `new`, versioned `version`.
pub fn migration(
    version: &str,
    old: &SchemaSnapshot,
    new: &SchemaSnapshot,
    renames: &[&str],
) -> MigrationPlan {
    let options = DiffOptions {
        renames: renames.iter().map(|r| r.parse().unwrap()).collect(),
    };
    let diff = detect_changes_with(old, new, &options).unwrap();
    MigrationPlan::from_diff(version, &diff)
}

pub fn allow() -> RunOptions {
    RunOptions {
        allow_destructive: true,
        ..RunOptions::default()
    }
}

/// Runs a query on a separate connection and returns the first column of each row as text
/// (write the query so that column is text on every dialect).
pub async fn fetch_strings(db: &TestDb, sql: &str) -> Vec<String> {
    use sqlx_core::connection::Connection;
    use sqlx_core::query_scalar::query_scalar;
    match db.dialect {
        Dialect::Sqlite => {
            let path = db.url.strip_prefix("sqlite:").unwrap();
            let c = rusqlite::Connection::open(path).unwrap();
            let mut stmt = c.prepare(sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
        Dialect::Postgres => {
            let mut c = sqlx_postgres::PgConnection::connect(&db.url).await.unwrap();
            query_scalar(sqlx_core::sql_str::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
        Dialect::Mysql => {
            let mut c = sqlx_mysql::MySqlConnection::connect(&db.url).await.unwrap();
            query_scalar(sqlx_core::sql_str::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
    }
}

/// `name` quoted for the dialect.
pub fn q(dialect: Dialect, name: &str) -> String {
    dialect.ident(name).unwrap()
}

/// The text type to CAST to in `fetch_strings` queries.
pub fn text_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Mysql => "CHAR",
        _ => "TEXT",
    }
}
