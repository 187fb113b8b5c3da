//! A runner killed with SIGKILL in the middle of a migration, in a separate process (this test
//! binary run again as the child). PostgreSQL and SQLite show none of the migration and re-run
//! it cleanly; MySQL resumes at the first statement not done and completes. The database frees
//! the dead runner's lock in every case. A PostgreSQL `CREATE INDEX CONCURRENTLY` killed on the
//! server leaves an invalid index, which the re-run drops and builds again.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use toasty_migrate::backend::{Introspect as _, Journal as _};
use toasty_migrate::{
    files::MigrationPlan,
    run::{Drift, MigrationState, Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, IndexDef, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_sql::{Dialect, SqlBackend};

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

/// Runs the ignored test `child` of this binary in a process of its own with `env`, and returns
/// once it has said "STARTED", with the rest of what it prints.
fn start_child(
    child: &str,
    env: &[(&str, &str)],
) -> (Child, std::io::Lines<BufReader<ChildStdout>>) {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    while !lines
        .next()
        .expect("the child reports")
        .unwrap()
        .contains("STARTED")
    {}
    (process, lines)
}

async fn kill_mid_migration(dialect: Dialect, name: &str) {
    let db = TestDb::sql(dialect).await;
    let (mut child, _) = start_child(
        "child_applies_the_slow_migration",
        &[
            ("KILLED_RUNNER_URL", &db.url),
            ("KILLED_RUNNER_DIALECT", name),
        ],
    );
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
                Some((0, 3)),
                "CREATE TABLE first committed, not recorded: the server tells on resume"
            );
            // Resumes at the pause (statement 2): the server has the table.
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

/// Rows in the table the slow index builds read: 0.1-0.2 s per index on MariaDB here, so that
/// kills 100 ms apart land in different statements.
const BIG_ROWS: u32 = 500_000;

/// The migration that fills `big`, and one that builds three indexes on it, each followed by a
/// new table: six statements, most of the time spent in the index builds.
fn index_migrations() -> Vec<MigrationPlan> {
    let big = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "big",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("a", ColumnType::Integer(8)),
            ColumnDef::new("b", ColumnType::Integer(8)),
            ColumnDef::new("c", ColumnType::Integer(8)),
        ],
        vec![],
    )]);
    let mut fill = migration("20250101_000000_big", &SchemaSnapshot::default(), &big, &[]);
    fill.up.push(Operation::Raw {
        statement: format!(
            "INSERT INTO big SELECT seq, seq * 7 % 1000003, seq * 11 % 1000003, seq * 13 % 1000003 \
             FROM seq_1_to_{BIG_ROWS}"
        ),
    });
    let mut indexed = big.clone();
    for column in ["a", "b", "c"] {
        indexed.tables[0]
            .indexes
            .push(IndexDef::new(format!("big_{column}"), &[column], false));
        indexed.tables.push(TableSnapshot::keyed_by_first_column(
            format!("after_{column}"),
            vec![ColumnDef::new("id", ColumnType::Integer(8))],
            vec![],
        ));
    }
    indexed.canonicalize();
    let mut build = migration("20250102_000000_indexes", &big, &indexed, &[]);
    // Index, table, index, table, ...: a kill lands in either kind of statement.
    build.up.sort_by_key(|op| match op {
        Operation::CreateIndex { index, .. } => format!("{}0", &index.name[4..]),
        Operation::CreateTable(def) => format!("{}1", &def.name[6..]),
        _ => String::new(),
    });
    vec![fill, build]
}

/// `t00`, then 32 migrations that each create a table with three indexes: on tables the run
/// creates, they share their rows' writes (one group), so a kill leaves members done but
/// recorded only as started.
fn group_migrations() -> Vec<MigrationPlan> {
    let mut before = SchemaSnapshot::default();
    let mut migrations = Vec::new();
    for i in 0..33 {
        let mut after = before.clone();
        let name = format!("t{i:02}");
        let indexes = if i == 0 {
            vec![]
        } else {
            ["a", "b", "c"]
                .map(|c| IndexDef::new(format!("{name}_{c}"), &[c], false))
                .to_vec()
        };
        let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
        columns.extend(["a", "b", "c"].map(|c| ColumnDef::new(c, ColumnType::Integer(8))));
        after
            .tables
            .push(TableSnapshot::keyed_by_first_column(name, columns, indexes));
        after.canonicalize();
        migrations.push(migration(
            &format!("20250101_0000{i:02}_t"),
            &before,
            &after,
            &[],
        ));
        before = after;
    }
    migrations
}

/// The migrations `which` names for the killed-runner tests below.
fn migrations_named(which: &str) -> Vec<MigrationPlan> {
    match which {
        "indexes" => index_migrations(),
        _ => group_migrations(),
    }
}

/// The child of the tests below: runs `up` and says how it ended (unless killed first).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by mariadb_finishes_what_a_killed_runner_left_running* as a child process"]
async fn child_runs_up() {
    let (Ok(url), Ok(which)) = (
        std::env::var("KILLED_UP_URL"),
        std::env::var("KILLED_UP_MIGRATIONS"),
    ) else {
        return;
    };
    let mut backend = connect(&url).await;
    println!("STARTED");
    match Migrator::from_plans(migrations_named(&which))
        .up(&mut backend, &allow())
        .await
    {
        Ok(_) => println!("FINISHED"),
        Err(e) => println!("FAILED: {e}"),
    }
}

/// MariaDB runs a DDL statement to its end after its client died, so the statement a killed
/// runner was in is done though the journal does not say so: each resumed run finds it done
/// and goes on, kill after kill, instead of failing on "Duplicate key name" or "Table already
/// exists". The migrations `which` names: their first applied, then a child killed after each
/// of `delays`; the last run finishes, every migration applied. Returns its backend.
async fn finishes_what_a_killed_runner_left_running(
    db: &TestDb,
    which: &str,
    delays_ms: &[u64],
) -> SqlBackend {
    let mut backend = db.connect().await;
    let migrator = Migrator::from_plans(migrations_named(which));
    let one = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &one).await.unwrap();
    let mut outcomes = Vec::new();
    for &delay_ms in delays_ms {
        let (mut child, lines) = start_child(
            "child_runs_up",
            &[("KILLED_UP_URL", &db.url), ("KILLED_UP_MIGRATIONS", which)],
        );
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap(); // SIGKILL, or too late if it already ended
        child.wait().unwrap();
        let said: Vec<String> = lines.map_while(|l| l.ok()).collect();
        assert!(
            !said.iter().any(|l| l.starts_with("FAILED")),
            "a resumed run failed after a kill at {delay_ms} ms: {said:?}"
        );
        let progress: Vec<String> = backend.applied().await.unwrap()[1..]
            .iter()
            .map(|a| match a.progress {
                Some((done, total)) => format!("{done}/{total}"),
                None => "done".into(),
            })
            .collect();
        outcomes.push(format!("{delay_ms} ms: {}", progress.join(" ")));
    }
    let mut backend = db
        .connect()
        .await
        .with_lock_timeout(Duration::from_secs(30));
    migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_or_else(|e| panic!("the last run finishes ({outcomes:?}): {e}"));
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied(_))),
        "{outcomes:?}: {statuses:?}"
    );
    backend
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_finishes_what_a_killed_runner_left_running() {
    let db = TestDb::sql(Dialect::Mysql).await;
    let mut backend =
        finishes_what_a_killed_runner_left_running(&db, "indexes", &[150, 250, 350, 450, 550, 650])
            .await;
    let live = backend.introspect().await.unwrap();
    assert_eq!(live.table("big").unwrap().indexes.len(), 3);
    for t in ["after_a", "after_b", "after_c"] {
        assert!(live.table(t).is_some(), "{t}");
    }
}

/// The same across a group of migrations that share their rows' writes, killed 50 ms apart:
/// the schema is what the migrations build.
#[tokio::test(flavor = "multi_thread")]
async fn mariadb_finishes_what_a_killed_runner_left_running_in_a_group() {
    let db = TestDb::sql(Dialect::Mysql).await;
    let mut backend =
        finishes_what_a_killed_runner_left_running(&db, "group", &[60, 110, 160, 210, 260, 310])
            .await;
    let migrator = Migrator::from_plans(group_migrations());
    let statuses = migrator.status(&mut backend).await.unwrap();
    let drift = migrator.drift(&statuses, &mut backend).await.unwrap();
    assert_eq!(drift, Drift::InSync);
}

/// Rows the batched update of `data_migrations` walks, 10 at a time in the child.
const DATA_ROWS: i64 = 100_000;

/// `items` filled with `DATA_ROWS` rows, then a data step that labels each from its name.
fn data_migrations(dialect: Dialect) -> Vec<MigrationPlan> {
    use toasty_migrate::data::{all, col, upper};
    let items = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "items",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("label", ColumnType::Text)
            },
        ],
        vec![],
    )]);
    let mut fill = migration(
        "20250101_000000_items",
        &SchemaSnapshot::default(),
        &items,
        &[],
    );
    let numbers = match dialect {
        Dialect::Postgres => {
            format!("SELECT n, 'item' || n FROM generate_series(1, {DATA_ROWS}) AS n")
        }
        Dialect::Mysql => format!("SELECT seq, CONCAT('item', seq) FROM seq_1_to_{DATA_ROWS}"),
        Dialect::Sqlite => format!(
            "SELECT x, 'item' || x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {DATA_ROWS}) SELECT x FROM c)"
        ),
    };
    fill.up.push(Operation::Raw {
        statement: format!("INSERT INTO items (id, name) {numbers}"),
    });
    let label = MigrationPlan::new(
        "20250102_000000_label_items",
        vec![Operation::UpdateRows {
            table: "items".into(),
            set: vec![("label".into(), upper(col("name")))],
            // Every row: a resumed run skips those done by itself, not by the filter.
            filter: all(),
        }],
        vec![],
    );
    vec![fill, label]
}

/// The child of `data_step_killed_mid_batch_*`: runs the batched update a row at a batch, so
/// that it is still running when killed (SQLite did 100,000 rows in 10-row batches in under
/// the 700 ms the parent waits).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by data_step_killed_mid_batch_* as a child process"]
async fn child_labels_the_items() {
    let (Ok(url), Ok(dialect)) = (
        std::env::var("KILLED_DATA_URL"),
        std::env::var("KILLED_DATA_DIALECT"),
    ) else {
        return;
    };
    let mut backend = connect(&url).await.with_batch_size(1);
    println!("STARTED");
    let _ = Migrator::from_plans(data_migrations(dialect_named(&dialect)))
        .up(&mut backend, &allow())
        .await;
    println!("FINISHED");
}

/// Killed part-way through the batches; the next run finishes the job: every row labelled, the
/// migration recorded once.
async fn data_step_killed_mid_batch(dialect: Dialect, name: &str) {
    let db = TestDb::sql(dialect).await;
    let mut backend = db.connect().await;
    let plans = data_migrations(dialect);
    Migrator::from_plans(vec![plans[0].clone()])
        .up(&mut backend, &allow())
        .await
        .unwrap();
    drop(backend);
    let (mut child, mut said) = start_child(
        "child_labels_the_items",
        &[("KILLED_DATA_URL", &db.url), ("KILLED_DATA_DIALECT", name)],
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let finished = said.any(|line| line.is_ok_and(|l| l.contains("FINISHED")));
    assert!(
        !finished,
        "{dialect:?}: killed before the update finished (make it longer)"
    );

    let labelled = "SELECT CAST(COUNT(*) AS CHAR(20)) FROM items WHERE label IS NOT NULL";
    let labelled = match dialect {
        Dialect::Mysql => labelled.to_string(),
        _ => labelled.replace("CHAR(20)", "TEXT"),
    };
    let done: i64 = fetch_strings(&db, &labelled).await[0].parse().unwrap();
    match dialect {
        // One transaction: none of it stayed.
        Dialect::Sqlite | Dialect::Postgres => assert_eq!(done, 0, "{dialect:?}"),
        // Batches committed one by one: some, not all.
        Dialect::Mysql => assert!(done > 0 && done < DATA_ROWS, "{dialect:?}: {done}"),
    }

    let mut backend = db
        .connect()
        .await
        .with_lock_timeout(Duration::from_secs(10))
        .with_batch_size(10_000);
    Migrator::from_plans(plans)
        .up(&mut backend, &allow())
        .await
        .unwrap();
    let wrong = fetch_strings(
        &db,
        "SELECT name FROM items WHERE label IS NULL OR label <> UPPER(name)",
    )
    .await;
    assert!(wrong.is_empty(), "{dialect:?}: {} rows wrong", wrong.len());
    let applied = backend.applied().await.unwrap();
    assert_eq!(applied.len(), 2, "{dialect:?}");
    assert!(applied.iter().all(|a| a.progress.is_none()), "{dialect:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_step_killed_mid_batch_sqlite() {
    data_step_killed_mid_batch(Dialect::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_step_killed_mid_batch_postgres() {
    data_step_killed_mid_batch(Dialect::Postgres, "postgres").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_step_killed_mid_batch_mariadb() {
    data_step_killed_mid_batch(Dialect::Mysql, "mysql").await;
}

/// `users` with `rows` rows, then a migration adding `nick` and an index on `email`; on a table
/// that existed before it, the index is built CONCURRENTLY, outside a transaction.
fn concurrent_index_migrations() -> Vec<MigrationPlan> {
    let users = |indexed: bool| {
        let mut columns = vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("email", ColumnType::VarChar(100)),
        ];
        let mut indexes = vec![];
        if indexed {
            columns.push(ColumnDef {
                nullable: true,
                ..ColumnDef::new("nick", ColumnType::Text)
            });
            indexes.push(IndexDef::new("users_by_email_killed", &["email"], false));
        }
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users", columns, indexes,
        )])
    };
    vec![
        migration(
            "20250101_000000_users",
            &SchemaSnapshot::default(),
            &users(false),
            &[],
        ),
        migration("20250102_000000_index", &users(false), &users(true), &[]),
    ]
}

/// A CREATE INDEX CONCURRENTLY killed on the server leaves an invalid index; the re-run drops
/// it and builds a valid one, and the migration is recorded once.
#[tokio::test(flavor = "multi_thread")]
async fn killed_concurrent_index_build_is_rebuilt_postgres() {
    use sqlx_core::connection::Connection;
    use sqlx_core::executor::Executor;
    let db = TestDb::sql(Dialect::Postgres).await;
    let migrator = Migrator::from_plans(concurrent_index_migrations());
    let mut backend = db.connect().await;
    let first = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &first).await.unwrap();

    // An open snapshot elsewhere: the build waits for it once its index is in the catalog.
    let mut app = sqlx_postgres::PgConnection::connect(&db.url).await.unwrap();
    app.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .await
        .unwrap();
    backend.set_statement_lock_timeout(None);
    let build = tokio::spawn(async move { migrator.up(&mut backend, &allow()).await });
    let killed = loop {
        let killed = fetch_strings(
            &db,
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE query LIKE 'CREATE INDEX CONCURRENTLY \"users_by_email_killed\"%' \
             AND wait_event_type = 'Lock'",
        )
        .await;
        if !killed.is_empty() {
            break killed;
        }
        assert!(
            !build.is_finished(),
            "the build waits for the open snapshot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(killed, ["true"]);
    assert!(
        build.await.unwrap().is_err(),
        "the runner's session was killed"
    );
    app.execute("COMMIT").await.unwrap();
    let invalid = "SELECT (NOT indisvalid)::text FROM pg_index \
                   WHERE indexrelid = 'users_by_email_killed'::regclass";
    assert_eq!(fetch_strings(&db, invalid).await, ["true"], "left invalid");
    let mut backend = db.connect().await;
    let state = backend.read_row("20250102_000000_index").await.unwrap();
    let row = state.unwrap();
    assert_eq!(
        (row.done, row.total),
        (0, 2),
        "the column was added, not recorded: the server tells on resume"
    );

    // The re-run: the invalid index dropped, a valid one built, the migration recorded once.
    let migrator = Migrator::from_plans(concurrent_index_migrations());
    migrator.up(&mut backend, &allow()).await.unwrap();
    assert_eq!(fetch_strings(&db, invalid).await, ["false"]);
    let live = backend.introspect().await.unwrap();
    assert!(
        live.table("users")
            .unwrap()
            .index("users_by_email_killed")
            .is_some()
    );
    let rows = backend.rows().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.done == r.total), "{rows:?}");
}
