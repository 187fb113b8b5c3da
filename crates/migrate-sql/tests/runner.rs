//! The migrator over real databases: the destructive gate, edited and missing migrations, dry
//! runs, awkward names, a database that is down, the lock, atomicity and MySQL's resume.

mod common;

use common::*;
use std::time::{Duration, Instant};
use toasty_migrate::backend::{Backend as _, Introspect as _, Journal as _, Lock as _};
use toasty_migrate::{
    Error,
    files::{Direction, MigrationPlan},
    run::{Drift, MigrationState, Migrator, RunOptions},
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexDef, Operation, SchemaSnapshot, TableSnapshot,
        snapshot_to_json,
    },
};
use toasty_migrate_sql::{Dialect, SqlBackend};

fn users() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("email", ColumnType::VarChar(200)),
        ],
        vec![IndexDef::new("index_users_by_email", &["email"], true)],
    )])
}

fn two_migrations() -> Vec<MigrationPlan> {
    let mut dropped = users();
    dropped.tables[0].indexes.clear();
    dropped.tables[0].columns.pop();
    vec![
        migration(
            "20250101_000000_create_users",
            &SchemaSnapshot::default(),
            &users(),
            &[],
        ),
        migration("20250102_000000_drop_email", &users(), &dropped, &[]),
    ]
}

async fn applied_versions(backend: &mut SqlBackend) -> Vec<String> {
    backend
        .applied()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.version)
        .collect()
}

async fn for_each_dialect<F, Fut>(f: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for dialect in DIALECTS {
        f(TestDb::sql(dialect).await).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn destructive_operations_need_an_explicit_allow() {
    for_each_dialect(|db| async move {
        let mut backend = db.connect().await;
        let migrator = Migrator::from_plans(two_migrations());
        let err = migrator
            .up(&mut backend, &RunOptions::default())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::DestructiveNotAllowed { .. }), "{text}");
        assert!(
            text.contains("20250102_000000_drop_email: drop column users.email"),
            "{text}"
        );
        // Refused before anything ran: not even the harmless first migration.
        assert!(
            applied_versions(&mut backend).await.is_empty(),
            "{:?}",
            db.dialect()
        );
        // A dry run is not refused: it shows what would run, the destructive step marked.
        let dry = migrator
            .up(
                &mut backend,
                &RunOptions {
                    dry_run: true,
                    ..RunOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(dry.steps.len(), 2);
        assert_eq!(dry.steps[1].destructive, ["drop column users.email"]);
        assert!(!dry.steps[1].statements.is_empty());

        migrator
            .up(
                &mut backend,
                &RunOptions {
                    count: Some(1),
                    ..RunOptions::default()
                },
            )
            .await
            .unwrap();
        migrator.up(&mut backend, &allow()).await.unwrap();
        assert_eq!(applied_versions(&mut backend).await.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_or_missing_migration_is_refused() {
    for_each_dialect(|db| async move {
        let mut backend = db.connect().await;
        let plans = two_migrations();
        Migrator::from_plans(plans[..1].to_vec())
            .up(&mut backend, &allow())
            .await
            .unwrap();

        let mut edited = plans.clone();
        if let Operation::CreateTable(def) = &mut edited[0].up[0] {
            def.columns[1].ty = ColumnType::VarChar(201);
        }
        let migrator = Migrator::from_plans(edited);
        let status = migrator.status(&mut backend).await.unwrap();
        assert!(
            matches!(status[0].state, MigrationState::Modified { .. }),
            "{status:?}"
        );
        let err = migrator
            .up(&mut backend, &allow())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("20250101_000000_create_users was edited after it was applied"),
            "{err}"
        );
        assert_eq!(
            applied_versions(&mut backend).await.len(),
            1,
            "nothing more ran"
        );

        let without_file = Migrator::from_plans(plans[1..].to_vec());
        let status = without_file.status(&mut backend).await.unwrap();
        assert!(
            matches!(status[0].state, MigrationState::Missing(_)),
            "{status:?}"
        );
        let err = without_file
            .up(&mut backend, &allow())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("its file is missing"), "{err}");
        // What the migrations build is not known without the file: drift says so, not "in sync"
        // or a difference.
        let drift = without_file.drift(&status, &mut backend).await.unwrap();
        assert_eq!(
            drift,
            Drift::Unknown("migration 20250101_000000_create_users is missing".into())
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_exact_statements_and_changes_nothing() {
    let mut listing = Vec::new();
    for dialect in DIALECTS {
        let db = TestDb::sql(dialect).await;
        let mut backend = db.connect().await;
        let migrator = Migrator::from_plans(two_migrations());
        let dry = RunOptions {
            dry_run: true,
            ..allow()
        };
        let report = migrator.up(&mut backend, &dry).await.unwrap();
        assert!(backend.introspect().await.unwrap().tables.is_empty());
        assert!(applied_versions(&mut backend).await.is_empty());
        listing.push(format!("-- {dialect:?}"));
        for step in &report.steps {
            listing.push(format!(
                "-- {} (destructive: {:?})",
                step.version, step.destructive
            ));
            listing.extend(step.statements.iter().map(|s| format!("{s};")));
        }
        // What dry run printed is what runs.
        migrator.up(&mut backend, &allow()).await.unwrap();
        assert_eq!(applied_versions(&mut backend).await.len(), 2);
        let down = migrator
            .down(
                &mut backend,
                &RunOptions {
                    dry_run: true,
                    count: Some(2),
                    ..RunOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(down.steps.len(), 2);
        assert_eq!(
            down.steps[0].version, "20250102_000000_drop_email",
            "newest first"
        );
        assert_eq!(
            applied_versions(&mut backend).await.len(),
            2,
            "a dry down changes nothing"
        );
    }
    insta::assert_snapshot!(listing.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn names_with_quotes_backticks_and_sql_are_just_names() {
    for_each_dialect(|db| async move {
        let mut backend = db.connect().await;
        let evil = "we\"ird`name'; DROP TABLE users; --";
        let schema = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            evil,
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef {
                    default: Some(DefaultValue::Text("'); DROP TABLE x; --\\".into())),
                    ..ColumnDef::new("it's \"col\"", ColumnType::VarChar(100))
                },
            ],
            vec![IndexDef::new("ix `\"'", &["it's \"col\""], true)],
        )]);
        let migrator = Migrator::from_plans(vec![migration(
            "20250101_000000_evil",
            &SchemaSnapshot::default(),
            &schema,
            &[],
        )]);
        migrator.up(&mut backend, &allow()).await.unwrap();
        let live = backend.introspect().await.unwrap();
        assert!(
            live.is_equivalent(&toasty_migrate_sql::introspect::stored_snapshot(
                db.dialect(),
                &schema
            )),
            "{:?}: {}",
            db.dialect(),
            snapshot_to_json(&live)
        );
        migrator
            .down(&mut backend, &RunOptions::default())
            .await
            .unwrap();
        assert!(backend.introspect().await.unwrap().tables.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_is_down_is_a_clear_error_not_a_hang() {
    for url in [
        "postgres://app:s3cret@127.0.0.1:1/test",
        "mysql://app:s3cret@127.0.0.1:1/test",
    ] {
        let start = Instant::now();
        let err = SqlBackend::connect(url)
            .await
            .err()
            .expect("nothing listens on port 1")
            .to_string();
        assert!(start.elapsed() < Duration::from_secs(15));
        assert!(err.contains("cannot connect"), "{err}");
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(!err.contains("s3cret"), "the password never prints: {err}");
    }
    let err = SqlBackend::connect("sqlite:/nonexistent-dir/x/y.db")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot connect"), "{err}");
}

/// Loading migrations that fails, as a file that does not parse does.
async fn broken() -> toasty_migrate::Result<Migrator> {
    Err(Error::Migration {
        version: "20250101_000000_create_users".into(),
        message: "does not parse".into(),
    })
}

/// Migrations that fail to load, while a run holds the lock and has read the tracking rows: the
/// database is left as it was, without even the tracking table. The load's error is the one
/// said, also when the lock could not be taken.
#[tokio::test(flavor = "multi_thread")]
async fn a_load_that_fails_leaves_no_tracking_table_and_is_the_error() {
    for_each_dialect(|db| async move {
        let mut backend = db.connect().await;
        let err = Migrator::run_while_loading(&mut backend, broken(), &allow(), Direction::Up)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
        let table = q(db.dialect(), "_toasty_migrations");
        let read = backend.execute(&format!("SELECT 1 FROM {table}")).await;
        assert!(read.is_err(), "{:?}: no tracking table", db.dialect());

        // With the lock held elsewhere until the wait gives up, the files' mistake is still
        // the error.
        let mut holder = db.connect().await;
        holder.lock().await.unwrap();
        let mut waiter = db
            .connect()
            .await
            .with_lock_timeout(Duration::from_millis(300));
        let err = Migrator::run_while_loading(&mut waiter, broken(), &allow(), Direction::Up)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
        holder.unlock().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_memory_works_for_a_run() {
    let mut backend = SqlBackend::connect("sqlite::memory:").await.unwrap();
    let migrator = Migrator::from_plans(two_migrations());
    migrator.up(&mut backend, &allow()).await.unwrap();
    assert_eq!(applied_versions(&mut backend).await.len(), 2);
    migrator
        .down(
            &mut backend,
            &RunOptions {
                count: Some(2),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(applied_versions(&mut backend).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_can_opt_out_of_the_transaction_for_concurrent_indexes() {
    let db = TestDb::sql(Dialect::Postgres).await;
    let mut backend = db.connect().await;
    let mut plan = two_migrations().remove(0);
    plan.up.push(Operation::Raw {
        statement: "CREATE INDEX CONCURRENTLY \"users_id_concurrently\" ON \"users\" (\"id\")"
            .into(),
    });
    // Inside a transaction PostgreSQL refuses it, and nothing stays.
    let err = Migrator::from_plans(vec![plan.clone()])
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot run inside a transaction block"),
        "{err}"
    );
    assert!(backend.introspect().await.unwrap().tables.is_empty());

    plan.transactional = false;
    Migrator::from_plans(vec![plan.clone()])
        .up(&mut backend, &allow())
        .await
        .unwrap();
    let live = backend.introspect().await.unwrap();
    assert!(live.tables[0].index("users_id_concurrently").is_some());
    assert_eq!(
        backend.applied().await.unwrap()[0].checksum,
        plan.checksum()
    );

    let sqlite = TestDb::sql(Dialect::Sqlite).await;
    let err = Migrator::from_plans(vec![plan])
        .up(&mut sqlite.connect().await, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot opt out"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_over_several_migrations_sees_what_the_earlier_ones_build() {
    // On SQLite the second migration rebuilds a table only the first one creates.
    let db = TestDb::sql(Dialect::Sqlite).await;
    let mut backend = db.connect().await;
    let mut widened = users();
    widened.tables[0].columns[1].ty = ColumnType::Text;
    let plans = vec![
        migration(
            "20250101_000000_create_users",
            &SchemaSnapshot::default(),
            &users(),
            &[],
        ),
        migration("20250102_000000_widen_email", &users(), &widened, &[]),
    ];
    let report = Migrator::from_plans(plans)
        .up(
            &mut backend,
            &RunOptions {
                dry_run: true,
                ..allow()
            },
        )
        .await
        .unwrap();
    let second = &report.steps[1].statements;
    assert!(
        second[0].starts_with("CREATE TABLE \"_toasty_migrate_rebuild\""),
        "{second:?}"
    );
    assert!(
        second
            .last()
            .unwrap()
            .contains("CREATE UNIQUE INDEX \"index_users_by_email\""),
        "{second:?}"
    );
    assert!(backend.introspect().await.unwrap().tables.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_can_be_spawned_onto_the_runtime() {
    // An application applying migrations from a spawned task needs the futures to be Send.
    let db = TestDb::sql(Dialect::Postgres).await;
    let url = db.url.clone();
    let applied = tokio::spawn(async move {
        let mut backend = connect(&url).await;
        Migrator::from_plans(two_migrations())
            .up(&mut backend, &allow())
            .await
            .map(|r| r.steps.len())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(applied, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_resumes_an_interrupted_down_and_up_waits_for_it() {
    let db = TestDb::sql(Dialect::Mysql).await;
    let mut backend = db.connect().await;
    let mut plan = two_migrations().remove(0);
    // down: DROP INDEX, then a failing statement, then DROP TABLE.
    plan.down.insert(
        1,
        Operation::Raw {
            statement: "THIS IS NOT SQL".into(),
        },
    );
    let migrator = Migrator::from_plans(vec![plan.clone()]);
    migrator.up(&mut backend, &allow()).await.unwrap();
    assert!(
        migrator
            .down(&mut backend, &RunOptions::default())
            .await
            .is_err()
    );
    let applied = backend.applied().await.unwrap();
    assert!(applied[0].reverting);
    assert_eq!(
        applied[0].progress,
        Some((1, 3)),
        "the index drop committed and was recorded"
    );

    // `up` does not mistake it for an unfinished `up`.
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("interrupted while being reverted"), "{err}");

    // Fixed after the point reached: down resumes at statement 2 and completes.
    let mut fixed = plan.clone();
    fixed.down[1] = Operation::Raw {
        statement: "SELECT 1".into(),
    };
    Migrator::from_plans(vec![fixed])
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert!(backend.applied().await.unwrap().is_empty());
    assert!(backend.introspect().await.unwrap().tables.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_statement_keeps_the_drivers_error_as_its_source() {
    for_each_dialect(|db| async move {
        let mut backend = db.connect().await;
        let err = backend
            .execute("SELECT * FROM no_such_table_here")
            .await
            .expect_err("the table does not exist");
        let Error::Backend {
            message, source, ..
        } = &err
        else {
            panic!("a database failure: {err:?}");
        };
        assert!(message.contains("no_such_table_here"), "{message}");
        let source = source.as_deref().expect("the driver's error is kept");
        let from_driver = match backend.dialect() {
            Dialect::Sqlite => source.downcast_ref::<rusqlite::Error>().is_some(),
            Dialect::Postgres | Dialect::Mysql => {
                source.downcast_ref::<sqlx_core::Error>().is_some()
            }
        };
        assert!(from_driver, "{source:?}");
    })
    .await;
}

/// On PostgreSQL an index on a table that existed before its migration is built CONCURRENTLY,
/// the migration journaled; a migration that opts out (`fn online` false), or a run with
/// `offline`, builds it plainly inside the migration's transaction. An index on a table the
/// migration creates is built plainly either way.
#[tokio::test(flavor = "multi_thread")]
async fn online_forms_apply_to_existing_tables_unless_opted_out() {
    use toasty_migrate::backend::Atomicity;
    let db = TestDb::sql(Dialect::Postgres).await;
    let mut backend = db.connect().await;
    let users = |indexed: bool| {
        let indexes = match indexed {
            true => vec![IndexDef::new("users_by_name", &["name"], false)],
            false => vec![],
        };
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("name", ColumnType::Text),
            ],
            indexes,
        )])
    };
    let empty = SchemaSnapshot::default();
    let created_indexed = migration("20250101_000000_both", &empty, &users(true), &[]);
    let created = migration("20250101_000000_users", &empty, &users(false), &[]);
    let indexed = migration("20250102_000000_index", &users(false), &users(true), &[]);
    let dry = |offline: bool| RunOptions {
        dry_run: true,
        offline,
        ..RunOptions::default()
    };
    let index_statement = |report: &toasty_migrate::run::RunReport| {
        let step = report.steps.last().unwrap();
        let sql = step
            .statements
            .iter()
            .find(|s| s.contains("INDEX"))
            .unwrap();
        (sql.clone(), step.atomicity)
    };

    let report = Migrator::from_plans(vec![created_indexed])
        .up(&mut backend, &dry(false))
        .await
        .unwrap();
    assert_eq!(
        index_statement(&report),
        (
            r#"CREATE INDEX "users_by_name" ON "users" ("name")"#.to_string(),
            Atomicity::Transaction
        ),
        "a new table is empty"
    );

    let two = Migrator::from_plans(vec![created.clone(), indexed.clone()]);
    let one = RunOptions {
        count: Some(1),
        ..RunOptions::default()
    };
    two.up(&mut backend, &one).await.unwrap();
    let concurrently = (
        r#"CREATE INDEX CONCURRENTLY "users_by_name" ON "users" ("name")"#.to_string(),
        Atomicity::Journal,
    );
    let plain = (
        r#"CREATE INDEX "users_by_name" ON "users" ("name")"#.to_string(),
        Atomicity::Transaction,
    );
    let report = two.up(&mut backend, &dry(false)).await.unwrap();
    assert_eq!(index_statement(&report), concurrently);
    let report = two.up(&mut backend, &dry(true)).await.unwrap();
    assert_eq!(index_statement(&report), plain);
    let opted_out = MigrationPlan {
        online: false,
        ..indexed
    };
    let report = Migrator::from_plans(vec![created, opted_out])
        .up(&mut backend, &dry(false))
        .await
        .unwrap();
    assert_eq!(index_statement(&report), plain);
}

/// SQLite's rebuild copies the rows in batches of the old table's `rowid` (for its progress):
/// over several batches, every row arrives, values intact, and the dry run shows the batches.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_rebuild_copies_every_row_in_batches() {
    let db = TestDb::sql(Dialect::Sqlite).await;
    // The copy's batches are ten data-step batches: 1,000 rows, three batches here.
    let mut backend = db.connect().await.with_batch_size(100);
    let users = |with_age: bool| {
        let mut columns = vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("name", ColumnType::Text),
        ];
        if with_age {
            columns.push(ColumnDef::new("age", ColumnType::Integer(4)));
        }
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users",
            columns,
            vec![],
        )])
    };
    let empty = SchemaSnapshot::default();
    let migrator = Migrator::from_plans(vec![
        migration("20250101_000000_users", &empty, &users(false), &[]),
        migration("20250102_000000_age", &users(false), &users(true), &[]),
    ]);
    let one = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &one).await.unwrap();
    backend
        .execute(
            "INSERT INTO users (id, name) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 \
             FROM n LIMIT 2500) SELECT i * 3, 'user ' || i FROM n",
        )
        .await
        .unwrap();
    let dry = RunOptions {
        dry_run: true,
        ..allow()
    };
    let report = migrator.up(&mut backend, &dry).await.unwrap();
    let shown = report.steps[0].statements.join("\n");
    assert!(
        shown.contains(r#"/* each batch: */ INSERT INTO "_toasty_migrate_rebuild""#),
        "{shown}"
    );
    migrator.up(&mut backend, &allow()).await.unwrap();
    let rows = fetch_strings(
        &db,
        "SELECT count(*) || ' ' || sum(id) || ' ' || sum(age) || ' ' || max(name) FROM users",
    )
    .await;
    // 3 * (1 + .. + 2500) = 9,378,750; every age the type's zero.
    assert_eq!(rows, ["2500 9378750 0 user 999"]);
}

/// Online, making a column of a table with rows NOT NULL fills its NULLs in batches (a data
/// step, each batch committed) before the DDL, on PostgreSQL and MariaDB alike: the dry run
/// shows the batched update first, and every NULL ends as the default, the rest untouched.
#[tokio::test(flavor = "multi_thread")]
async fn online_not_null_fills_nulls_in_batches_first() {
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let db = TestDb::sql(dialect).await;
        let mut backend = db.connect().await.with_batch_size(10);
        let users = |nullable: bool| {
            SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
                "users",
                vec![
                    ColumnDef::new("id", ColumnType::Integer(8)),
                    ColumnDef {
                        nullable,
                        default: (!nullable).then(|| DefaultValue::Text("anon".into())),
                        ..ColumnDef::new("nick", ColumnType::VarChar(40))
                    },
                ],
                vec![],
            )])
        };
        let empty = SchemaSnapshot::default();
        let migrator = Migrator::from_plans(vec![
            migration("20250101_000000_users", &empty, &users(true), &[]),
            migration("20250102_000000_nick", &users(true), &users(false), &[]),
        ]);
        let one = RunOptions {
            count: Some(1),
            ..allow()
        };
        migrator.up(&mut backend, &one).await.unwrap();
        // 25 rows over three batches; every third nick NULL.
        let values: Vec<String> = (1..=25)
            .map(|i| match i % 3 {
                0 => format!("({i}, NULL)"),
                _ => format!("({i}, 'user {i}')"),
            })
            .collect();
        backend
            .execute(&format!(
                "INSERT INTO {} VALUES {}",
                q(dialect, "users"),
                values.join(", ")
            ))
            .await
            .unwrap();

        let dry = RunOptions {
            dry_run: true,
            ..allow()
        };
        let statements = migrator.up(&mut backend, &dry).await.unwrap().steps[0]
            .statements
            .clone();
        let at = |prefix: &str| statements.iter().position(|s| s.starts_with(prefix));
        assert!(
            at("/* each batch: */ UPDATE").unwrap() < at("ALTER TABLE").unwrap(),
            "{dialect:?}: {statements:#?}"
        );
        assert!(
            statements.iter().all(|s| !s.starts_with("UPDATE")),
            "{dialect:?}: no one-statement fill: {statements:#?}"
        );

        migrator.up(&mut backend, &allow()).await.unwrap();
        let nick = q(dialect, "nick");
        let sql = format!(
            "SELECT {nick} FROM {} WHERE id IN (2, 3, 24) ORDER BY id",
            q(dialect, "users")
        );
        assert_eq!(
            fetch_strings(&db, &sql).await,
            ["user 2", "anon", "anon"],
            "{dialect:?}"
        );
        let sql = format!(
            "SELECT {nick} FROM {} WHERE {nick} = 'anon'",
            q(dialect, "users")
        );
        assert_eq!(fetch_strings(&db, &sql).await.len(), 8, "{dialect:?}");
    }
}
