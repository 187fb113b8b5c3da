//! The behaviour every backend owes the migrator, written once and run against all five
//! databases: every change kind up and down, runners at once, the lock and its takeover, resuming
//! an interrupted migration, a failed first step, dry runs. Each test is a generic function over
//! [`Backend`]; `for_every_backend!` makes a `#[tokio::test]` of it per database. What only one
//! backend does (its data rewrites, its statements, its kill semantics) is tested beside it.

use std::future::Future;
use std::time::Duration;
use toasty_migrate::{
    Error,
    backend::{Atomicity, Backend, Executor as _, Journal as _, Lock as _},
    data::Value,
    diff::{DiffOptions, detect_changes_with},
    files::{Direction, MigrationGenerator, MigrationPlan},
    run::{Drift, MigrationState, Migrator, PlanHead, RunOptions, baseline, checksums},
    schema::{ColumnDef, ColumnType, IndexDef, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_nosql::{DynamoBackend, MongoBackend};
use toasty_migrate_sql::{Dialect, SqlBackend};
use toasty_migrate_tests::{Kind, TestDatabase};

/// A lease short enough for a takeover test, long enough for moto under load.
const LEASE: Duration = Duration::from_secs(3);

/// moto answers one request at a time: a lease renewal can wait behind other tests' writes. The
/// lock test holds it alone (`write`); the others share it (`read`).
static MOTO: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Connects to one kind of database, waiting at most `lock_timeout` for the lock.
trait Connect: Copy + Send + Sync + 'static {
    type Backend: Backend + Send + 'static;
    fn connect(
        self,
        url: String,
        lock_timeout: Duration,
    ) -> impl Future<Output = Self::Backend> + Send;
}

#[derive(Clone, Copy)]
struct Sql;
#[derive(Clone, Copy)]
struct Mongo;
#[derive(Clone, Copy)]
struct Dynamo;

fn unavailable(e: Error) -> ! {
    panic!("test database unavailable ({e}); ./scripts/test starts the servers")
}

impl Connect for Sql {
    type Backend = SqlBackend;
    async fn connect(self, url: String, lock_timeout: Duration) -> SqlBackend {
        let backend = SqlBackend::connect(&url)
            .await
            .unwrap_or_else(|e| unavailable(e));
        backend.with_lock_timeout(lock_timeout)
    }
}

impl Connect for Mongo {
    type Backend = MongoBackend;
    async fn connect(self, url: String, lock_timeout: Duration) -> MongoBackend {
        let backend = MongoBackend::connect(&url)
            .await
            .unwrap_or_else(|e| unavailable(e));
        backend.with_lock_timeout(lock_timeout).with_lease(LEASE)
    }
}

impl Connect for Dynamo {
    type Backend = DynamoBackend;
    async fn connect(self, url: String, lock_timeout: Duration) -> DynamoBackend {
        let backend = DynamoBackend::connect(&url)
            .await
            .unwrap_or_else(|e| unavailable(e));
        backend.with_lock_timeout(lock_timeout).with_lease(LEASE)
    }
}

/// One test function per database: `$test(kind, connect)`.
macro_rules! for_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Kind::Sql(super::Dialect::Sqlite), super::Sql).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Kind::Sql(super::Dialect::Postgres), super::Sql).await }
            )*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Kind::Sql(super::Dialect::Mysql), super::Sql).await }
            )*
        }
        mod mongodb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Kind::Mongo, super::Mongo).await }
            )*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                let _moto = super::MOTO.read().await;
                super::$test(super::Kind::Dynamo, super::Dynamo).await
            }
            )*
        }
    };
}

for_every_backend!(
    every_change_kind_up_and_down,
    runners_at_once_apply_each_migration_once,
    an_interrupted_migration_resumes_and_a_changed_one_is_refused,
    a_failed_first_step_records_nothing,
    a_dry_run_shows_every_step_and_changes_nothing,
    an_untracked_database_is_adopted_by_a_baseline,
    a_squashed_history_keeps_every_database_up_to_date,
    a_finding_quotes_the_size_of_its_table,
    a_migrator_reads_its_plans_only_to_run_or_check_drift,
    a_run_locks_and_reads_while_its_migrations_load,
);

/// The lock test holds moto alone: a short lease must not wait behind other tests' requests.
mod lock {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite() {
        a_held_lock_blocks_and_a_dead_runner_frees_it(Kind::Sql(Dialect::Sqlite), Sql).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres() {
        a_held_lock_blocks_and_a_dead_runner_frees_it(Kind::Sql(Dialect::Postgres), Sql).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mariadb() {
        a_held_lock_blocks_and_a_dead_runner_frees_it(Kind::Sql(Dialect::Mysql), Sql).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mongodb() {
        a_held_lock_blocks_and_a_dead_runner_frees_it(Kind::Mongo, Mongo).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dynamodb() {
        let _moto = MOTO.write().await;
        a_held_lock_blocks_and_a_dead_runner_frees_it(Kind::Dynamo, Dynamo).await
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas and migrations

fn column(name: &str, ty: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        nullable,
        ..ColumnDef::new(name, ty)
    }
}

fn users() -> TableSnapshot {
    TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            column("id", ColumnType::VarChar(64), false),
            column("name", ColumnType::VarChar(64), false),
            column("age", ColumnType::Integer(4), true),
        ],
        vec![],
    )
}

fn posts() -> TableSnapshot {
    TableSnapshot::keyed_by_first_column(
        "posts",
        vec![
            column("id", ColumnType::VarChar(64), false),
            column("title", ColumnType::Text, true),
        ],
        vec![],
    )
}

/// The schemas a history of one migration per change kind goes through, with the renames each
/// step needs.
fn users_of(schema: &mut SchemaSnapshot) -> &mut TableSnapshot {
    schema
        .tables
        .iter_mut()
        .find(|t| t.name == "users")
        .unwrap()
}

fn history() -> Vec<(&'static str, SchemaSnapshot, Vec<&'static str>)> {
    let mut steps = vec![("create users", SchemaSnapshot::new(vec![users()]), vec![])];
    let mut next = |name, renames: Vec<&'static str>, change: &dyn Fn(&mut SchemaSnapshot)| {
        let mut schema = steps.last().unwrap().1.clone();
        change(&mut schema);
        schema.canonicalize();
        steps.push((name, schema, renames));
    };
    next("add column", vec![], &|s| {
        users_of(s)
            .columns
            .push(column("bio", ColumnType::Text, true))
    });
    next("add index", vec![], &|s| {
        users_of(s)
            .indexes
            .push(IndexDef::new("users_by_name", &["name"], false))
    });
    next("modify column", vec!["users.age=years"], &|s| {
        let age = users_of(s)
            .columns
            .iter_mut()
            .find(|c| c.name == "age")
            .unwrap();
        *age = column("years", ColumnType::Integer(8), true);
    });
    next("create table", vec![], &|s| s.tables.push(posts()));
    next("drop index", vec![], &|s| users_of(s).indexes.clear());
    next("drop column", vec![], &|s| {
        users_of(s).columns.retain(|c| c.name != "bio")
    });
    next("drop table", vec![], &|s| {
        s.tables.retain(|t| t.name != "posts")
    });
    steps
}

fn version(i: usize) -> String {
    format!("2025010{}_000000_step", i + 1)
}

fn migrations(history: &[(&str, SchemaSnapshot, Vec<&str>)]) -> Vec<MigrationPlan> {
    let mut previous = SchemaSnapshot::default();
    let mut plans = Vec::new();
    for (i, (_, schema, renames)) in history.iter().enumerate() {
        let options = DiffOptions {
            renames: renames.iter().map(|r| r.parse().unwrap()).collect(),
        };
        let diff = detect_changes_with(&previous, schema, &options).unwrap();
        plans.push(MigrationPlan::from_diff(version(i), &diff));
        previous = schema.clone();
    }
    plans
}

fn allow() -> RunOptions {
    RunOptions {
        allow_destructive: true,
        ..RunOptions::default()
    }
}

fn two() -> RunOptions {
    RunOptions {
        count: Some(2),
        ..allow()
    }
}

fn one() -> RunOptions {
    RunOptions {
        count: Some(1),
        ..allow()
    }
}

/// The database has `expected`, as it keeps it (and in its column order where it keeps one).
async fn assert_schema<B: Backend>(backend: &mut B, expected: &SchemaSnapshot, what: &str) {
    let expected = backend.stored(expected);
    let live = backend.introspect().await.unwrap();
    assert!(
        live.is_equivalent(&expected),
        "{what}:\nexpected {expected:#?}\nfound {live:#?}"
    );
    if backend.keeps_column_order() {
        for table in &expected.tables {
            let names =
                |t: &TableSnapshot| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(live.table(&table.name).unwrap()),
                names(table),
                "{what}: column order"
            );
        }
    }
}

/// A statement, command or call this backend refuses when it runs (not when it plans).
fn refused_raw(kind: Kind) -> Operation {
    Operation::Raw {
        statement: match kind {
            Kind::Sql(_) => "SELECT * FROM no_such_table".into(),
            Kind::Mongo => r#"{"noSuchCommand": 1}"#.into(),
            // DynamoDB has no statement language: every raw statement is refused.
            Kind::Dynamo => "no statement".into(),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

/// Seven migrations, one per change kind, applied one at a time and then reverted one at a
/// time: after each, the database has exactly the schema of that point.
async fn every_change_kind_up_and_down<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let history = history();
    let migrator = Migrator::from_plans(migrations(&history));
    for (name, schema, _) in &history {
        migrator.up(&mut backend, &one()).await.unwrap();
        assert_schema(&mut backend, schema, &format!("{kind:?} up {name}")).await;
    }
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert_eq!(
        migrator.drift(&statuses, &mut backend).await.unwrap(),
        Drift::InSync
    );
    for i in (0..history.len()).rev() {
        migrator.down(&mut backend, &one()).await.unwrap();
        let before = match i {
            0 => SchemaSnapshot::default(),
            i => history[i - 1].1.clone(),
        };
        assert_schema(
            &mut backend,
            &before,
            &format!("{kind:?} down {}", history[i].0),
        )
        .await;
    }
    assert!(backend.applied().await.unwrap().is_empty());
}

/// Four runners start `up` at once; the lock lets one apply each migration, the others find it
/// done. None fails (a migration applied twice would: its tables exist).
async fn runners_at_once_apply_each_migration_once<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let history = history();
    let mut runners = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        let plans = migrations(&history);
        runners.push(tokio::spawn(async move {
            let mut backend = connect.connect(url, Duration::from_secs(120)).await;
            Migrator::from_plans(plans).up(&mut backend, &allow()).await
        }));
    }
    let mut applied_by = Vec::new();
    for runner in runners {
        let report = runner
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        applied_by.push(report.steps.len());
    }
    assert_eq!(
        applied_by.iter().sum::<usize>(),
        history.len(),
        "{kind:?}: {applied_by:?}"
    );
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    assert_eq!(backend.applied().await.unwrap().len(), history.len());
    assert_schema(
        &mut backend,
        &history.last().unwrap().1,
        &format!("{kind:?}"),
    )
    .await;
}

/// A runner holding the lock keeps others out (they give up after their timeout, saying so);
/// once it dies without unlocking, the database frees its lock (its session ends, or its lease
/// runs out) and the next runner goes ahead.
async fn a_held_lock_blocks_and_a_dead_runner_frees_it<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let plans = migrations(&history()[..1]);
    let mut holder = connect
        .connect(db.url.clone(), Duration::from_secs(5))
        .await;
    holder.lock().await.unwrap();
    let mut waiter = connect
        .connect(db.url.clone(), Duration::from_secs(1))
        .await;
    let err = Migrator::from_plans(plans.clone())
        .up(&mut waiter, &allow())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{kind:?}: {err}");
    assert!(
        err.to_string()
            .contains("another runner holds the migration lock"),
        "{err}"
    );
    assert!(waiter.applied().await.unwrap().is_empty());
    drop(holder); // dies holding the lock
    let mut next = connect.connect(db.url.clone(), LEASE * 5).await;
    Migrator::from_plans(plans)
        .up(&mut next, &allow())
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: the dead runner's lock is freed: {e}"));
    assert_eq!(next.applied().await.unwrap().len(), 1);
}

/// A migration whose second step fails: where steps commit on their own the first stays and is
/// recorded as done, and the next run resumes after it, or refuses if it changed since; where
/// the migration is one transaction nothing stays and the next run starts afresh.
async fn an_interrupted_migration_resumes_and_a_changed_one_is_refused<C: Connect>(
    kind: Kind,
    connect: C,
) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let create = |t: TableSnapshot| Operation::CreateTable(t.def());
    let drop = |t: &str| Operation::DropTable { table: t.into() };
    let plan = |up: Vec<Operation>| {
        let down = vec![drop("posts"), drop("users")];
        MigrationPlan::new("20250101_000000_two_tables", up, down)
    };
    let failing = plan(vec![create(users()), refused_raw(kind), create(posts())]);
    let journaled = backend.atomicity(&failing, &[]).unwrap() == Atomicity::Journal;
    let err = Migrator::from_plans(vec![failing])
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    if let Kind::Sql(_) = kind {
        assert!(
            err.contains("no_such_table"),
            "the error names the statement: {err}"
        );
    }
    let applied = backend.applied().await.unwrap();
    if journaled {
        assert_eq!(applied[0].progress, Some((1, 3)), "{kind:?}");
        assert_schema(
            &mut backend,
            &SchemaSnapshot::new(vec![users()]),
            "first step stays",
        )
        .await;
        // The step done is not the step the file now has: refused.
        let mut wider = users();
        wider.columns.push(column("extra", ColumnType::Text, true));
        let edited = plan(vec![create(wider), create(posts())]);
        let err = Migrator::from_plans(vec![edited])
            .up(&mut backend, &allow())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("changed since"), "{kind:?}: {err}");
    } else {
        assert!(applied.is_empty(), "{kind:?}: {applied:?}");
        assert_schema(&mut backend, &SchemaSnapshot::default(), "nothing stays").await;
    }
    // The failing step taken out; the step done is unchanged, so the run resumes after it.
    let fixed = plan(vec![create(users()), create(posts())]);
    Migrator::from_plans(vec![fixed])
        .up(&mut backend, &allow())
        .await
        .unwrap();
    assert_eq!(backend.applied().await.unwrap()[0].progress, None);
    assert_schema(
        &mut backend,
        &SchemaSnapshot::new(vec![users(), posts()]),
        "resumed",
    )
    .await;
}

/// A migration none of whose steps took effect leaves no row: `down` then reverts the migration
/// before it, not steps that were never done.
async fn a_failed_first_step_records_nothing<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let mut plans = migrations(&history()[..1]);
    plans.push(MigrationPlan::new(
        "20250109_000000_failing",
        vec![refused_raw(kind)],
        vec![Operation::DropTable {
            table: "users".into(),
        }],
    ));
    let migrator = Migrator::from_plans(plans);
    assert!(migrator.up(&mut backend, &allow()).await.is_err());
    let applied = backend.applied().await.unwrap();
    assert_eq!(
        applied.len(),
        1,
        "{kind:?}: no row for the failed migration: {applied:?}"
    );
    let report = migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.steps[0].version, version(0));
    assert_schema(&mut backend, &SchemaSnapshot::default(), "reverted").await;
}

/// A dry run lists every step of every pending migration (each planned against what the
/// earlier ones build), marks the destructive ones, needs no `--allow-destructive`, and leaves
/// the database untouched.
async fn a_dry_run_shows_every_step_and_changes_nothing<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let history = history();
    let migrator = Migrator::from_plans(migrations(&history));
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let report = migrator.up(&mut backend, &dry).await.unwrap();
    assert_eq!(report.steps.len(), history.len());
    for (step, (name, _, _)) in report.steps.iter().zip(&history) {
        assert!(
            !step.statements.is_empty(),
            "{kind:?} {name}: no steps shown"
        );
        assert_eq!(step.execution_time, None);
        if *name == "drop column" || *name == "drop table" {
            assert!(
                !step.destructive.is_empty(),
                "{kind:?} {name}: marked destructive"
            );
        }
        if name.starts_with("add") || name.starts_with("create") {
            assert!(step.destructive.is_empty(), "{kind:?} {name}");
        }
    }
    assert!(backend.applied().await.unwrap().is_empty());
    assert_schema(&mut backend, &SchemaSnapshot::default(), "untouched").await;
    // What the dry run showed is what runs.
    let applied = migrator.up(&mut backend, &allow()).await.unwrap();
    let shown: Vec<_> = report.steps.iter().map(|s| &s.statements).collect();
    let ran: Vec<_> = applied.steps.iter().map(|s| &s.statements).collect();
    assert_eq!(shown, ran);
}

/// A lint finding on a table with rows says about how many, from the database's statistics
/// (on DynamoDB, the writes a rewrite makes): every backend but SQLite, which keeps none.
async fn a_finding_quotes_the_size_of_its_table<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let history = history();
    let mut plans = migrations(&history[..2]);
    let rows = (0..3)
        .map(|i| {
            vec![
                ("id".to_string(), Value::Text(format!("u{i}"))),
                ("name".to_string(), Value::Text(format!("user {i}"))),
            ]
        })
        .collect();
    plans[0].up.push(Operation::InsertRows {
        table: "users".into(),
        rows,
    });
    // The servers' statistics, brought up to date.
    let analyze = match kind {
        Kind::Sql(Dialect::Postgres) => Some("ANALYZE users"),
        Kind::Sql(Dialect::Mysql) => Some("ANALYZE TABLE users"),
        _ => None,
    };
    if let Some(statement) = analyze {
        plans[0].up.push(Operation::Raw {
            statement: statement.into(),
        });
    }
    // Dropping the column `bio` of the second migration: `destructive` on every database.
    let mut drop = MigrationPlan::from_diff(
        version(2),
        &detect_changes_with(&history[1].1, &history[0].1, &DiffOptions::default()).unwrap(),
    );
    drop.down.clear();
    plans.push(drop);
    let migrator = Migrator::from_plans(plans);
    migrator.up(&mut backend, &two()).await.unwrap();
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let report = migrator.up(&mut backend, &dry).await.unwrap();
    let finding = &report.steps[0].findings[0];
    assert_eq!(finding.code, "destructive", "{kind:?}");
    let expected = match kind {
        Kind::Sql(Dialect::Sqlite) => None,
        _ => Some(3),
    };
    assert_eq!(finding.rows, expected, "{kind:?}: {finding}");
}

/// A database with tables and no tracking rows (built before toasty-migrate): the baseline
/// writes a first migration that builds exactly its schema, records it applied without running
/// it, and status and drift then see the database as up to date. A second baseline is refused.
async fn an_untracked_database_is_adopted_by_a_baseline<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let existing = SchemaSnapshot::new(vec![posts(), users()]);
    let made = Migrator::from_plans(vec![MigrationPlan::from_diff(
        version(0),
        &detect_changes_with(
            &SchemaSnapshot::default(),
            &existing,
            &DiffOptions::default(),
        )
        .unwrap(),
    )]);
    made.up(&mut backend, &allow()).await.unwrap();
    backend.delete_row(&version(0)).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let generator = MigrationGenerator::new(dir.path());
    let plan = baseline(&mut backend, &generator, "adopt").await.unwrap();
    let migrator = Migrator::from_dir(dir.path()).unwrap();
    assert_eq!(migrator.migrations().unwrap(), std::slice::from_ref(&plan));
    let statuses = migrator.status(&mut backend).await.unwrap();
    assert!(
        matches!(statuses[..], [ref s] if matches!(s.state, MigrationState::Applied(_))),
        "{kind:?}: {statuses:?}"
    );
    assert_eq!(
        migrator.drift(&statuses, &mut backend).await.unwrap(),
        Drift::InSync,
        "{kind:?}"
    );
    let report = migrator.up(&mut backend, &allow()).await.unwrap();
    assert!(report.steps.is_empty(), "{kind:?}: nothing to run");

    let err = baseline(
        &mut backend,
        &MigrationGenerator::new(tempfile::tempdir().unwrap().path()),
        "again",
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("tracks migrations already"),
        "{kind:?}: {err}"
    );
}

/// The first four of the eight migrations squashed into one: a database that applied the four
/// is up to date (status says so, drift agrees; its next `up` records the squash in their place
/// and runs the rest), a new database runs only the squash and the rest, both build the same
/// schema and revert through the squash to nothing, and a database that applied only two of the
/// four is refused, naming the two it lacks.
async fn a_squashed_history_keeps_every_database_up_to_date<C: Connect>(kind: Kind, connect: C) {
    let history = history();
    let plans = migrations(&history);
    let squash = toasty_migrate::files::squash(&plans, Some(&version(3)), "squashed").unwrap();
    let mut after_squash = vec![squash.clone()];
    after_squash.extend(plans[4..].iter().cloned());
    let squashed = Migrator::from_plans(after_squash);
    let last = &history.last().unwrap().1;
    let four = RunOptions {
        count: Some(4),
        ..allow()
    };
    let connect_to = |db: &TestDatabase| connect.connect(db.url.clone(), Duration::from_secs(30));

    let old_db = TestDatabase::new(kind).await;
    let mut old = connect_to(&old_db).await;
    Migrator::from_plans(plans.clone())
        .up(&mut old, &four)
        .await
        .unwrap();
    let statuses = squashed.status(&mut old).await.unwrap();
    assert!(
        matches!(&statuses[0].state, MigrationState::AppliedAsReplaced(r) if r.len() == 4),
        "{kind:?}: {statuses:?}"
    );
    assert!(
        statuses[1..]
            .iter()
            .all(|s| s.state == MigrationState::Pending),
        "{kind:?}: {statuses:?}"
    );
    assert_eq!(
        squashed.drift(&statuses, &mut old).await.unwrap(),
        Drift::InSync,
        "{kind:?}"
    );
    squashed.up(&mut old, &allow()).await.unwrap();
    let rows: Vec<String> = old
        .applied()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.version)
        .collect();
    let mut expected = vec![squash.version.clone()];
    expected.extend((4..8).map(version));
    expected.sort();
    assert_eq!(
        rows, expected,
        "{kind:?}: the squash's row in place of the four"
    );
    assert_schema(&mut old, last, &format!("{kind:?} old database")).await;

    let fresh_db = TestDatabase::new(kind).await;
    let mut fresh = connect_to(&fresh_db).await;
    squashed.up(&mut fresh, &allow()).await.unwrap();
    assert_schema(&mut fresh, last, &format!("{kind:?} new database")).await;

    for backend in [&mut old, &mut fresh] {
        let five = RunOptions {
            count: Some(5),
            ..allow()
        };
        squashed.down(backend, &five).await.unwrap();
        assert_schema(
            backend,
            &SchemaSnapshot::default(),
            &format!("{kind:?} reverted"),
        )
        .await;
        assert!(backend.applied().await.unwrap().is_empty(), "{kind:?}");
    }

    let part_db = TestDatabase::new(kind).await;
    let mut part = connect_to(&part_db).await;
    let two = RunOptions {
        count: Some(2),
        ..allow()
    };
    Migrator::from_plans(plans)
        .up(&mut part, &two)
        .await
        .unwrap();
    let err = squashed.up(&mut part, &allow()).await.unwrap_err();
    assert!(
        matches!(&err, Error::PartlySquashed { missing, .. } if *missing == [version(2), version(3)]),
        "{kind:?}: {err}"
    );
}

/// A migrator built from heads (what the CLI's parse cache keeps) and a reader that counts its
/// calls: status and an `up` with nothing pending read no plan; a drift check and an `up` with
/// a migration to run read them once; a reader that gives other versions is an error naming
/// the migration it lacks.
async fn a_migrator_reads_its_plans_only_to_run_or_check_drift<C: Connect>(kind: Kind, connect: C) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let plans = migrations(&history()[..2]);
    let heads: Vec<PlanHead> = plans
        .iter()
        .zip(checksums(&plans))
        .map(|(plan, checksum)| PlanHead::of(plan, checksum))
        .collect();
    let reads = Arc::new(AtomicUsize::new(0));
    let deferred = |count: usize| {
        let (plans, reads) = (plans[..count].to_vec(), reads.clone());
        Migrator::from_heads(heads[..count].to_vec(), move || {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(plans.clone())
        })
    };

    let first = deferred(1);
    let statuses = first.status(&mut backend).await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        0,
        "{kind:?}: status reads heads only"
    );
    assert_eq!(statuses[0].state, MigrationState::Pending, "{kind:?}");
    assert_eq!(
        first.up(&mut backend, &allow()).await.unwrap().steps.len(),
        1
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "{kind:?}: a run reads the plans"
    );

    let both = deferred(2);
    let statuses = both.status(&mut backend).await.unwrap();
    assert!(both.forks().is_empty());
    assert_eq!(
        both.drift(&statuses, &mut backend).await.unwrap(),
        Drift::InSync,
        "{kind:?}"
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "{kind:?}: drift replays the plans"
    );
    both.up(&mut backend, &allow()).await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "{kind:?}: read once per migrator"
    );

    let up_to_date = deferred(2);
    let report = up_to_date.up(&mut backend, &allow()).await.unwrap();
    assert!(report.steps.is_empty(), "{kind:?}: nothing to run");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "{kind:?}: an up with nothing pending reads no plan"
    );

    let first_plan = plans[0].clone();
    let wrong = Migrator::from_heads(heads.clone(), move || Ok(vec![first_plan.clone()]));
    let err = wrong.migrations().unwrap_err().to_string();
    assert!(err.contains(&version(1)), "{kind:?}: {err}");
}

/// A run that takes the lock and reads the tracking rows while its migrations still load (the
/// CLI reads the files on another thread meanwhile): a load that fails is that error, with the
/// lock released and nothing recorded; a load that finishes later runs, up then down, and the
/// migrator is handed back.
async fn a_run_locks_and_reads_while_its_migrations_load<C: Connect>(kind: Kind, connect: C) {
    let db = TestDatabase::new(kind).await;
    let mut backend = connect
        .connect(db.url.clone(), Duration::from_secs(30))
        .await;
    let broken = async {
        Err::<Migrator, _>(Error::Migration {
            version: version(0),
            message: "does not parse".into(),
        })
    };
    let err = Migrator::run_while_loading(&mut backend, broken, &allow(), Direction::Up)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not parse"),
        "{kind:?}: {err}"
    );
    let mut other = connect
        .connect(db.url.clone(), Duration::from_secs(2))
        .await;
    other
        .lock()
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: a failed load releases the lock: {e}"));
    other.unlock().await.unwrap();
    assert!(backend.applied().await.unwrap().is_empty(), "{kind:?}");

    let plans = migrations(&history()[..2]);
    let loading = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Migrator::from_plans(plans))
    });
    let loading = async { loading.await.expect("the load does not panic") };
    let (migrator, report) =
        Migrator::run_while_loading(&mut backend, loading, &allow(), Direction::Up)
            .await
            .unwrap();
    assert_eq!(report.steps.len(), 2, "{kind:?}");
    let loaded = async { Ok(&migrator) };
    let (_, report) = Migrator::run_while_loading(&mut backend, loaded, &allow(), Direction::Down)
        .await
        .unwrap();
    assert_eq!(report.steps.len(), 1, "{kind:?}");
    assert_eq!(
        backend.applied().await.unwrap().len(),
        1,
        "{kind:?}: one reverted"
    );
}
