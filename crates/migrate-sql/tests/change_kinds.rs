//! Every change kind on every dialect, against real databases: `up`, then the database reads
//! back as the new snapshot; `down`, then as the old one. Rows survive what does not drop them,
//! including renames, type changes and SQLite's copy-table rebuild.

mod common;

use common::*;
use toasty_migrate::backend::Introspect as _;
use toasty_migrate::{
    run::{Drift, MigrationState, Migrator, RunOptions},
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexDef, SchemaSnapshot, TableSnapshot,
        snapshot_to_json,
    },
};
use toasty_migrate_sql::introspect::stored_snapshot;
use toasty_migrate_sql::{Dialect, SqlBackend};

fn v1() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef {
                auto_increment: true,
                ..ColumnDef::new("id", ColumnType::Integer(8))
            },
            ColumnDef::new("name", ColumnType::VarChar(100)),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("mail", ColumnType::VarChar(255))
            },
            ColumnDef {
                default: Some(DefaultValue::Integer(0)),
                ..ColumnDef::new("score", ColumnType::Integer(4))
            },
        ],
        vec![IndexDef::new("index_users_by_name", &["name"], false)],
    )])
}

fn with(f: impl FnOnce(&mut TableSnapshot)) -> SchemaSnapshot {
    let mut s = v1();
    f(&mut s.tables[0]);
    s
}

/// (label, new schema, rename hints, rows survive down as well as up)
fn cases() -> Vec<(&'static str, SchemaSnapshot, Vec<&'static str>)> {
    let mut with_posts = v1();
    with_posts.tables.push(TableSnapshot::keyed_by_first_column(
        "posts",
        vec![
            ColumnDef {
                auto_increment: true,
                ..ColumnDef::new("id", ColumnType::Integer(8))
            },
            ColumnDef::new("title", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("flag", ColumnType::Boolean)
            },
        ],
        vec![IndexDef::new(
            "index_posts_by_title_flag",
            &["title", "flag"],
            true,
        )],
    ));
    with_posts.canonicalize();
    vec![
        ("create_table", with_posts, vec![]),
        (
            "add_nullable_column",
            with(|t| {
                t.columns.push(ColumnDef {
                    nullable: true,
                    ..ColumnDef::new("bio", ColumnType::Text)
                })
            }),
            vec![],
        ),
        (
            "add_not_null_column_without_default",
            with(|t| {
                t.columns
                    .push(ColumnDef::new("age", ColumnType::Integer(4)))
            }),
            vec![],
        ),
        (
            "add_column_with_default",
            with(|t| {
                t.columns.push(ColumnDef {
                    // Quotes, a newline, a tab and backslashes: each server stores and reports
                    // them its own way (MariaDB escapes), and all must read back as written.
                    default: Some(DefaultValue::Text("it's \"x\"\n\ttab \\ \\\\".into())),
                    ..ColumnDef::new("motto", ColumnType::VarChar(50))
                })
            }),
            vec![],
        ),
        (
            "drop_column",
            with(|t| {
                t.columns.remove(3);
            }),
            vec![],
        ),
        (
            "rename_column",
            with(|t| t.columns[2].name = "email".into()),
            vec!["users.mail=email"],
        ),
        (
            "widen_column",
            with(|t| t.columns[3].ty = ColumnType::Integer(8)),
            vec![],
        ),
        (
            "make_column_not_null",
            with(|t| t.columns[2].nullable = false),
            vec![],
        ),
        (
            "change_default",
            with(|t| t.columns[3].default = Some(DefaultValue::Integer(-7))),
            vec![],
        ),
        (
            "create_index",
            with(|t| {
                t.indexes.push(IndexDef::new(
                    "index_users_by_mail_score",
                    &["mail", "score"],
                    true,
                ))
            }),
            vec![],
        ),
        (
            "drop_index",
            with(|t| {
                t.indexes.clear();
            }),
            vec![],
        ),
    ]
}

async fn count_users(db: &TestDb) -> String {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS {}) FROM {}",
        text_type(db.dialect()),
        q(db.dialect(), "users")
    );
    fetch_strings(db, &sql).await.remove(0)
}

async fn assert_schema(backend: &mut SqlBackend, expected: &SchemaSnapshot, what: &str) {
    let live = backend.introspect().await.unwrap();
    let stored = stored_snapshot(backend.dialect(), expected);
    assert!(
        live.is_equivalent(&stored),
        "{:?} {what}: the database reads back as\n{}\nbut should be\n{}",
        backend.dialect(),
        snapshot_to_json(&live),
        snapshot_to_json(&stored)
    );
    // Column order too, where the database can keep it (PostgreSQL adds at the end only).
    if backend.dialect() != Dialect::Postgres {
        for table in &stored.tables {
            let names =
                |t: &TableSnapshot| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(live.table(&table.name).unwrap()),
                names(table),
                "{:?} {what}: column order of {}",
                backend.dialect(),
                table.name
            );
        }
    }
}

/// Dropping columns from the middle and reverting puts them back where they were: the same
/// column order, and on SQLite the same stored `CREATE TABLE`, as before `up`.
async fn down_puts_dropped_columns_back_in_place(dialect: Dialect) {
    let column = |name: &str| ColumnDef {
        nullable: true,
        ..ColumnDef::new(name, ColumnType::Text)
    };
    let before = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "t",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            column("a"),
            column("b"),
            ColumnDef::new("c", ColumnType::Integer(4)),
            column("d"),
        ],
        vec![],
    )]);
    let after = {
        let mut s = before.clone();
        let t = &mut s.tables[0];
        t.columns.retain(|c| c.name != "a" && c.name != "c");
        t.columns.push(column("e"));
        s
    };
    let db = TestDb::sql(dialect).await;
    let mut backend = db.connect().await;
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &before,
            &[],
        ),
        migration("20250102_000000_drop", &before, &after, &[]),
    ]);
    let one = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &one).await.unwrap();
    let stored_sql = "SELECT sql FROM sqlite_master WHERE name = 't'";
    let created = match dialect {
        Dialect::Sqlite => fetch_strings(&db, stored_sql).await,
        _ => Vec::new(),
    };
    migrator.up(&mut backend, &allow()).await.unwrap();
    assert_schema(&mut backend, &after, "after dropping columns").await;
    migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert_schema(&mut backend, &before, "after putting them back").await;
    if dialect == Dialect::Sqlite {
        assert_eq!(fetch_strings(&db, stored_sql).await, created);
    }
    // In sync, as an application checking at start-up sees it (on PostgreSQL too, where the
    // columns came back at the end and order is not compared).
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert_eq!(
        migrator.drift(&statuses, &mut backend).await.unwrap(),
        Drift::InSync
    );
    let t = q(dialect, "t");
    backend
        .execute(&format!("ALTER TABLE {t} ADD COLUMN extra INTEGER"))
        .await
        .unwrap();
    let Drift::Differs(changes) = migrator.drift(&statuses, &mut backend).await.unwrap() else {
        panic!("{dialect:?}: a column added by hand is drift");
    };
    assert!(changes[0].contains("add column t.extra"), "{changes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn down_puts_dropped_columns_back_in_place_on_every_dialect() {
    for dialect in DIALECTS {
        down_puts_dropped_columns_back_in_place(dialect).await;
    }
}

async fn run_case(dialect: Dialect, label: &str, new: SchemaSnapshot, renames: Vec<&str>) {
    let db = TestDb::sql(dialect).await;
    let mut backend = db.connect().await;
    let first = migration(
        "20250101_000000_create",
        &SchemaSnapshot::default(),
        &v1(),
        &[],
    );
    let second = migration("20250102_000000_change", &v1(), &new, &renames);
    let migrator = Migrator::from_plans(vec![first, second]);
    migrator
        .up(
            &mut backend,
            &RunOptions {
                count: Some(1),
                ..allow()
            },
        )
        .await
        .unwrap();
    let users = q(dialect, "users");
    let (name, mail) = (q(dialect, "name"), q(dialect, "mail"));
    backend
        .execute(&format!(
            "INSERT INTO {users} ({name}, {mail}) VALUES ('ann', 'ann@example.com'), ('bob', NULL)"
        ))
        .await
        .unwrap();

    migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_or_else(|e| panic!("{dialect:?} {label} up: {e}"));
    assert_schema(&mut backend, &new, &format!("{label} after up")).await;
    assert_eq!(
        count_users(&db).await,
        "2",
        "{dialect:?} {label}: rows survive up"
    );

    migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{dialect:?} {label} down: {e}"));
    assert_schema(&mut backend, &v1(), &format!("{label} after down")).await;
    assert_eq!(
        count_users(&db).await,
        "2",
        "{dialect:?} {label}: rows survive down"
    );

    // The renamed column kept its values both ways.
    let sql = format!("SELECT {mail} FROM {users} WHERE {name} = 'ann'");
    let mails = fetch_strings(&db, &sql).await;
    assert_eq!(
        mails,
        vec!["ann@example.com".to_string()],
        "{dialect:?} {label}"
    );
    let status = migrator.status(&mut backend).await.unwrap();
    assert!(matches!(status[0].state, MigrationState::Applied(_)));
    assert_eq!(status[1].state, MigrationState::Pending);
}

async fn all_cases(dialect: Dialect) {
    for (label, new, renames) in cases() {
        run_case(dialect, label, new, renames).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_every_change_kind() {
    all_cases(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_every_change_kind() {
    all_cases(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_every_change_kind() {
    all_cases(Dialect::Mysql).await;
}
