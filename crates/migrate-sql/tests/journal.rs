//! MySQL runs a migration statement by statement, journaled in its tracking row. A migration
//! whose first statement fails took no effect: nothing is recorded for it, so `down` reverts the
//! migration before it rather than "finishing" one never done (which would drop columns an
//! earlier migration created, with their data). Consecutive migrations on different tables the
//! run creates share their rows' writes: each is recorded "started" before the first runs and
//! finished after the last, a commit each instead of one per migration.

mod common;

use common::*;
use std::time::Duration;
use toasty_migrate::backend::Introspect as _;
use toasty_migrate::{
    files::MigrationPlan,
    run::{MigrationState, Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_sql::Dialect;

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_first_statement_records_nothing() {
    let db = TestDb::sql(Dialect::Mysql).await;
    let mut backend = db.connect().await;
    let v1 = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "t",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("a", ColumnType::Text)
            },
        ],
        vec![],
    )]);
    let create = migration(
        "20250101_000000_create",
        &SchemaSnapshot::default(),
        &v1,
        &[],
    );
    // Adds a column that exists: the server refuses the first statement.
    let duplicate = MigrationPlan::new(
        "20250102_000000_duplicate",
        vec![Operation::AddColumn {
            table: "t".into(),
            column: ColumnDef {
                nullable: true,
                ..ColumnDef::new("a", ColumnType::Text)
            },
            position: None,
        }],
        vec![Operation::DropColumn {
            table: "t".into(),
            column: "a".into(),
        }],
    );
    let migrator = Migrator::from_plans(vec![create, duplicate]);
    let err = migrator.up(&mut backend, &allow()).await.unwrap_err();
    assert!(err.to_string().contains("Duplicate column"), "{err}");
    backend
        .execute("INSERT INTO t (id, a) VALUES (1, 'kept')")
        .await
        .unwrap();

    let status = migrator.status(&mut backend).await.unwrap();
    assert!(
        matches!(status[0].state, MigrationState::Applied(_)),
        "{status:?}"
    );
    assert_eq!(status[1].state, MigrationState::Pending, "no partial row");

    // `down` reverts the migration that was applied, and never the one that was not.
    let report = migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.steps[0].version, "20250101_000000_create");
}

/// A tracking table someone altered by hand (a column of another type) is an error from the
/// driver, naming the database, on each dialect: not a panic in the runner.
#[tokio::test(flavor = "multi_thread")]
async fn a_tracking_row_of_another_type_is_an_error() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
        let db = TestDb::sql(dialect).await;
        let mut backend = db.connect().await;
        let v1 = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "t",
            vec![ColumnDef::new("id", ColumnType::Integer(8))],
            vec![],
        )]);
        let migrator = Migrator::from_plans(vec![migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &v1,
            &[],
        )]);
        migrator.up(&mut backend, &allow()).await.unwrap();
        let table = q(dialect, "_toasty_migrations");
        let alter = match dialect {
            Dialect::Postgres => format!(
                "ALTER TABLE {table} ALTER COLUMN execution_ms TYPE TEXT; \
                 UPDATE {table} SET execution_ms = 'slow'"
            ),
            Dialect::Mysql => format!(
                "ALTER TABLE {table} MODIFY execution_ms TEXT NOT NULL; \
                 UPDATE {table} SET execution_ms = 'slow'"
            ),
            Dialect::Sqlite => format!("UPDATE {table} SET execution_ms = 'slow'"),
        };
        backend.execute(&alter).await.unwrap();
        let err = migrator.status(&mut backend).await.unwrap_err().to_string();
        let target = toasty_migrate::backend::redact(&db.url);
        assert!(err.contains(&target), "{dialect:?}: {err}");
    }
}

fn table(name: &str) -> TableSnapshot {
    TableSnapshot::keyed_by_first_column(
        name,
        vec![ColumnDef::new("id", ColumnType::Integer(8))],
        vec![],
    )
}

/// `users`, applied; then three migrations that create `a`, `b` and `c`: one group.
async fn users_then_a_group(db: &TestDb) -> (Migrator, toasty_migrate_sql::SqlBackend) {
    let mut backend = db.connect().await;
    let users = SchemaSnapshot::new(vec![table("users")]);
    let first = migration(
        "20250101_000000_users",
        &SchemaSnapshot::default(),
        &users,
        &[],
    );
    Migrator::from_plans(vec![first.clone()])
        .up(&mut backend, &allow())
        .await
        .unwrap();
    let create = |version: &str, name: &str| {
        MigrationPlan::new(
            version,
            vec![Operation::CreateTable(table(name).def())],
            vec![Operation::DropTable { table: name.into() }],
        )
    };
    let migrator = Migrator::from_plans(vec![
        first,
        create("20250102_000000_a", "a"),
        create("20250103_000000_b", "b"),
        create("20250104_000000_c", "c"),
    ]);
    (migrator, backend)
}

/// Each tracking row as "version done/total".
async fn rows(db: &TestDb) -> Vec<String> {
    fetch_strings(
        db,
        "SELECT CONCAT(version, ' ', statements_done, '/', statements_total) \
         FROM _toasty_migrations ORDER BY version",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_of_migrations_is_recorded_started_then_finished() {
    use sqlx_core::connection::Connection;
    use sqlx_core::executor::Executor;
    let db = TestDb::sql(Dialect::Mysql).await;
    let (migrator, mut backend) = users_then_a_group(&db).await;
    // A backup holds every DDL statement of the server back (not the rows' writes): the
    // group's first statement waits.
    let mut backup = sqlx_mysql::MySqlConnection::connect(&db.url).await.unwrap();
    backup.execute("BACKUP STAGE START").await.unwrap();
    backup.execute("BACKUP STAGE BLOCK_DDL").await.unwrap();
    backend.set_statement_lock_timeout(Some(Duration::from_secs(30)));
    let run = tokio::spawn(async move { migrator.up(&mut backend, &allow()).await });
    let started = [
        "20250101_000000_users 1/1",
        "20250102_000000_a 0/1",
        "20250103_000000_b 0/1",
        "20250104_000000_c 0/1",
    ];
    // Every member is recorded started, in one write, before the first runs.
    let mut seen = rows(&db).await;
    for _ in 0..250 {
        if seen.len() == started.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen = rows(&db).await;
    }
    assert_eq!(seen, started);
    backup.execute("BACKUP STAGE END").await.unwrap();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.steps.len(), 3);
    assert_eq!(
        rows(&db).await,
        [
            "20250101_000000_users 1/1",
            "20250102_000000_a 1/1",
            "20250103_000000_b 1/1",
            "20250104_000000_c 1/1"
        ]
    );
}

/// A member that fails: those before it are recorded applied, it and those after it are not
/// recorded at all (none of their statements ran), so `down` reverts only what ran.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_member_that_fails_leaves_the_ones_before_applied_and_the_rest_pending() {
    let db = TestDb::sql(Dialect::Mysql).await;
    let (migrator, mut backend) = users_then_a_group(&db).await;
    // Made by hand: creating `b` fails.
    backend
        .execute("CREATE TABLE b (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    let err = migrator.up(&mut backend, &allow()).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        rows(&db).await,
        ["20250101_000000_users 1/1", "20250102_000000_a 1/1"]
    );
    let status = migrator.status(&mut backend).await.unwrap();
    let states: Vec<_> = status.iter().map(|s| &s.state).collect();
    assert!(
        matches!(states[1], MigrationState::Applied(_)),
        "{status:?}"
    );
    assert_eq!(
        states[2..],
        [&MigrationState::Pending, &MigrationState::Pending]
    );
    let live = backend.introspect().await.unwrap();
    assert!(
        live.table("a").is_some() && live.table("c").is_none(),
        "{live:?}"
    );
}

/// A resumed run asks about each unrecorded statement on its table alone, the name written as a
/// literal: names with a quote and a backslash are found, not run again ("already exists").
/// MariaDB, and PostgreSQL with migrations that opt out of the transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_finds_what_ran_on_tables_with_quotes_in_their_names() {
    for dialect in [Dialect::Mysql, Dialect::Postgres] {
        let db = TestDb::sql(dialect).await;
        let mut backend = db.connect().await;
        let plans: Vec<MigrationPlan> = ["it's", "back\\slash"]
            .iter()
            .enumerate()
            .map(|(i, name)| MigrationPlan {
                transactional: false,
                ..MigrationPlan::new(
                    format!("2025010{i}_000000_create"),
                    vec![Operation::CreateTable(table(name).def())],
                    vec![Operation::DropTable {
                        table: name.to_string(),
                    }],
                )
            })
            .collect();
        let migrator = Migrator::from_plans(plans);
        migrator.up(&mut backend, &allow()).await.unwrap();
        // As a runner killed after the statements, before their rows said so, leaves them.
        let no_steps = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        backend
            .execute(&format!(
                "UPDATE {} SET statements_done = 0, statements_checksum = '{no_steps}'",
                q(dialect, "_toasty_migrations")
            ))
            .await
            .unwrap();
        let status = migrator.status(&mut backend).await.unwrap();
        assert!(
            status
                .iter()
                .all(|s| matches!(s.state, MigrationState::Partial(_))),
            "{dialect:?}: {status:?}"
        );
        migrator
            .up(&mut backend, &allow())
            .await
            .unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
        let status = migrator.status(&mut backend).await.unwrap();
        assert!(
            status
                .iter()
                .all(|s| matches!(s.state, MigrationState::Applied(_))),
            "{dialect:?}: {status:?}"
        );
    }
}
