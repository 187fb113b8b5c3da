//! MySQL runs a migration statement by statement, journaled in its tracking row. A migration
//! whose first statement fails took no effect: nothing is recorded for it, so `down` reverts the
//! migration before it rather than "finishing" one never done (which would drop columns an
//! earlier migration created, with their data).

mod common;

use common::*;
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
