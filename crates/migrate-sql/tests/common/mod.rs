//! Real databases for tests: a fresh SQLite file, PostgreSQL schema or MariaDB database per test,
//! so tests run in parallel. A server that is down fails the test, with the reason: nothing is
//! skipped (`./scripts/test` starts the servers first).
#![allow(dead_code)]

use toasty_migrate::{
    Result,
    diff::{DiffOptions, detect_changes_with},
    files::MigrationPlan,
    run::RunOptions,
    schema::SchemaSnapshot,
};
use toasty_migrate_sql::{Dialect, SqlBackend};

/// The one test-database factory, shared with every other test crate.
pub use toasty_migrate_tests::TestDatabase as TestDb;

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
    match db.dialect() {
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
