//! A migration whose statement needs a lock the application holds (an open transaction that
//! read the table): each attempt waits at most the statement lock timeout, so the
//! application's queries are not queued behind it for long; it is retried after a pause, and
//! when the retries run out the run fails saying which session holds the lock, with nothing of
//! the migration applied. Once the application lets go, the retry goes through. On PostgreSQL
//! and MariaDB (SQLite has one writer and no such wait).

mod common;

use common::*;
use std::time::Duration;
use toasty_migrate::backend::LockRetry;
use toasty_migrate::run::{MigrationState, Migrator, RunOptions};
use toasty_migrate::schema::{ColumnDef, ColumnType, SchemaSnapshot, TableSnapshot};
use toasty_migrate_sql::Dialect;

fn users(with_bio: bool) -> SchemaSnapshot {
    let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
    if with_bio {
        columns.push(ColumnDef {
            nullable: true,
            ..ColumnDef::new("bio", ColumnType::Text)
        });
    }
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        columns,
        vec![],
    )])
}

/// A session of the application, in a transaction that read `users` and holds it open.
async fn hold_users(db: &TestDb) -> Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send> {
    use sqlx_core::connection::Connection;
    use sqlx_core::executor::Executor;
    let read = "BEGIN; SELECT * FROM users";
    match db.dialect() {
        Dialect::Postgres => {
            let mut c = sqlx_postgres::PgConnection::connect(&db.url).await.unwrap();
            c.execute(read).await.unwrap();
            Box::new(move || {
                tokio::spawn(async move { c.execute("COMMIT").await.map(|_| ()).unwrap() })
            })
        }
        Dialect::Mysql => {
            let mut c = sqlx_mysql::MySqlConnection::connect(&db.url).await.unwrap();
            c.execute("BEGIN").await.unwrap();
            c.execute("SELECT * FROM users").await.unwrap();
            Box::new(move || {
                tokio::spawn(async move { c.execute("COMMIT").await.map(|_| ()).unwrap() })
            })
        }
        Dialect::Sqlite => unreachable!("no lock waits on SQLite"),
    }
}

async fn a_held_table_is_waited_for_briefly_and_retried(dialect: Dialect) {
    let db = TestDb::sql(dialect).await;
    let mut backend = connect(&db.url).await;
    backend.set_statement_lock_timeout(Some(Duration::from_millis(300)));
    let plans = vec![
        migration(
            "20250101_000000_users",
            &SchemaSnapshot::default(),
            &users(false),
            &[],
        ),
        migration("20250102_000000_bio", &users(false), &users(true), &[]),
    ];
    let migrator = Migrator::from_plans(plans);
    let one = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &one).await.unwrap();

    let release = hold_users(&db).await;
    let few = RunOptions {
        lock_retry: LockRetry {
            attempts: 2,
            pause: Duration::from_millis(50),
        },
        ..allow()
    };
    let err = migrator
        .up(&mut backend, &few)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gave up after 3 attempts"),
        "{dialect:?}: {err}"
    );
    assert!(
        err.contains("open transactions:"),
        "{dialect:?}: the holder named: {err}"
    );
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert_eq!(
        statuses[1].state,
        MigrationState::Pending,
        "{dialect:?}: nothing applied"
    );

    // The application lets go within a second: a retry goes through.
    let letting_go = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        release().await.unwrap();
    });
    let patient = RunOptions {
        lock_retry: LockRetry {
            attempts: 8,
            pause: Duration::from_millis(100),
        },
        ..allow()
    };
    migrator.up(&mut backend, &patient).await.unwrap();
    letting_go.await.unwrap();
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert!(
        matches!(statuses[1].state, MigrationState::Applied(_)),
        "{dialect:?}: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres() {
    a_held_table_is_waited_for_briefly_and_retried(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb() {
    a_held_table_is_waited_for_briefly_and_retried(Dialect::Mysql).await;
}
