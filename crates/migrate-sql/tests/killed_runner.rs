//! A runner killed with SIGKILL in the middle of a migration, in a separate process (this test
//! binary run again as the child). PostgreSQL and SQLite show none of the migration and re-run
//! it cleanly; MySQL resumes at the first statement not done and completes. The database frees
//! the dead runner's lock in every case.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use toasty_migrate::*;
use toasty_migrate_sql::Dialect;

/// A migration: create `first`, a slow statement, create `second`.
fn slow_migration(dialect: Dialect, slow: bool) -> MigrationPlan {
    let first = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "first",
        vec![ColumnDef::new("id", ColumnType::Integer(8))],
        vec![],
    )]);
    let mut both = first.clone();
    both.tables.push(TableSnapshot::keyed_by_first_column(
        "second",
        vec![ColumnDef::new("id", ColumnType::Integer(8))],
        vec![],
    ));
    both.canonicalize();
    let mut plan = migration(
        "20250101_000000_slow",
        &SchemaSnapshot::default(),
        &both,
        &[],
    );
    let seconds = if slow { 30 } else { 0 };
    let pause = match dialect {
        Dialect::Postgres => format!("SELECT pg_sleep({seconds})"),
        Dialect::Mysql => format!("DO SLEEP({seconds})"),
        // SQLite has no sleep: count through a recursive CTE into the table just created.
        Dialect::Sqlite => format!(
            "INSERT INTO \"first\" (id) SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {}) SELECT x FROM c)",
            if slow { 500_000_000 } else { 1 }
        ),
    };
    plan.up.insert(1, Operation::Raw { statement: pause });
    plan
}

fn dialect_named(name: &str) -> Dialect {
    match name {
        "sqlite" => Dialect::Sqlite,
        "postgres" => Dialect::Postgres,
        _ => Dialect::Mysql,
    }
}

/// The child: applies the slow migration and is killed during it. Does nothing when run as a
/// plain test.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by killed_runner_* as a child process"]
async fn child_applies_the_slow_migration() {
    let (Ok(url), Ok(dialect)) = (
        std::env::var("KILLED_RUNNER_URL"),
        std::env::var("KILLED_RUNNER_DIALECT"),
    ) else {
        return;
    };
    let mut backend = connect(&url).await;
    println!("STARTED");
    let plan = slow_migration(dialect_named(&dialect), true);
    let _ = Migrator::from_plans(vec![plan])
        .up(&mut backend, &allow())
        .await;
    println!("FINISHED");
}

async fn kill_mid_migration(dialect: Dialect, name: &str) {
    let db = TestDb::new(dialect).await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_applies_the_slow_migration",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILLED_RUNNER_URL", &db.url)
        .env("KILLED_RUNNER_DIALECT", name)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child reports").unwrap();
        if line.contains("STARTED") {
            break;
        }
    }
    // Well into the slow statement.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut backend = db
        .connect()
        .await
        .with_lock_timeout(Duration::from_secs(10));
    let fixed = slow_migration(dialect, false);
    match dialect {
        Dialect::Postgres | Dialect::Sqlite => {
            assert!(
                backend.introspect().await.unwrap().tables.is_empty(),
                "{dialect:?}: none of it stayed"
            );
            assert!(backend.applied().await.unwrap().is_empty());
            // The same migration, minus the pause, runs cleanly: the lock died with the runner.
            Migrator::from_plans(vec![fixed])
                .up(&mut backend, &allow())
                .await
                .unwrap();
        }
        Dialect::Mysql => {
            let applied = backend.applied().await.unwrap();
            assert_eq!(
                applied[0].progress,
                Some((1, 3)),
                "CREATE TABLE first committed and was recorded"
            );
            // Resumes at the pause (statement 2): the statement done is unchanged.
            Migrator::from_plans(vec![slow_migration(dialect, true)])
                .up(
                    &mut backend,
                    &RunOptions {
                        dry_run: true,
                        ..allow()
                    },
                )
                .await
                .unwrap();
            let mut resume = slow_migration(dialect, true);
            resume.up[1] = Operation::Raw {
                statement: "DO SLEEP(0)".into(),
            };
            Migrator::from_plans(vec![resume])
                .up(&mut backend, &allow())
                .await
                .unwrap();
        }
    }
    let applied = backend.applied().await.unwrap();
    assert_eq!(applied.len(), 1, "{dialect:?}: recorded once");
    assert_eq!(applied[0].progress, None);
    let tables: Vec<String> = backend
        .introspect()
        .await
        .unwrap()
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tables, vec!["first", "second"], "{dialect:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runner_sqlite() {
    kill_mid_migration(Dialect::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runner_postgres() {
    kill_mid_migration(Dialect::Postgres, "postgres").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_runner_mysql() {
    kill_mid_migration(Dialect::Mysql, "mysql").await;
}
