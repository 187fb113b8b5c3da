//! Names a server would cut or refuse are refused when the run is planned, before any
//! migration of it runs, naming the name and the limit: PostgreSQL silently cuts names to 63
//! bytes (a 64-byte table would be created under another name), MySQL refuses over 64
//! characters, characters outside the Basic Multilingual Plane, and trailing spaces.

mod common;

use common::*;
use toasty_migrate::backend::Introspect as _;
use toasty_migrate::{
    run::{MigrationState, Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_sql::Dialect;

fn table(name: &str, column: &str) -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        name,
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new(column, ColumnType::Integer(4)),
        ],
        vec![],
    )])
}

/// Two migrations, the first fine and the second with `bad`: `up` refuses before running
/// either, and the database holds nothing.
async fn refused_before_anything_runs(dialect: Dialect, bad: SchemaSnapshot, expected: &str) {
    let db = TestDb::sql(dialect).await;
    let mut backend = db.connect().await;
    let fine = table("fine", "c");
    let mut both = fine.clone();
    both.tables.extend(bad.tables);
    both.canonicalize();
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_fine",
            &SchemaSnapshot::default(),
            &fine,
            &[],
        ),
        migration("20250102_000000_bad", &fine, &both, &[]),
    ]);
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("migration 20250102_000000_bad"), "{err}");
    assert!(err.contains(expected), "{dialect:?}: {err}");
    // Nothing ran: the first migration is still pending and no table exists.
    let status = migrator.status(&mut backend).await.unwrap();
    assert!(
        status.iter().all(|s| s.state == MigrationState::Pending),
        "{status:?}"
    );
    assert!(backend.introspect().await.unwrap().tables.is_empty());
    // The dry run says the same.
    let dry = RunOptions {
        dry_run: true,
        ..allow()
    };
    assert!(migrator.up(&mut backend, &dry).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_refuses_names_it_would_cut() {
    let long = "t".repeat(64);
    refused_before_anything_runs(
        Dialect::Postgres,
        table(&long, "c"),
        &format!("table name {long:?} is 64 bytes long; PostgreSQL allows at most 63"),
    )
    .await;
    // Bytes, not characters.
    let wide = "é".repeat(32);
    refused_before_anything_runs(
        Dialect::Postgres,
        table("t", &wide),
        &format!("column name {wide:?} is 64 bytes long"),
    )
    .await;
    // 63 bytes is the name as written.
    let db = TestDb::sql(Dialect::Postgres).await;
    let mut backend = db.connect().await;
    let name = "t".repeat(63);
    Migrator::from_plans(vec![migration(
        "20250101_000000_t",
        &SchemaSnapshot::default(),
        &table(&name, "c"),
        &[],
    )])
    .up(&mut backend, &allow())
    .await
    .unwrap();
    assert_eq!(backend.introspect().await.unwrap().tables[0].name, name);
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_refuses_names_it_cannot_hold() {
    refused_before_anything_runs(
        Dialect::Mysql,
        table(&"t".repeat(65), "c"),
        "is 65 characters long; MySQL allows at most 64",
    )
    .await;
    refused_before_anything_runs(Dialect::Mysql, table("t", "c "), "ends with a space").await;
    refused_before_anything_runs(
        Dialect::Mysql,
        table("t", "emoji😀"),
        "outside the Basic Multilingual Plane",
    )
    .await;
}
