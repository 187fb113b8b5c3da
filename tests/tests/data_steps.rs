//! Data steps (insert, update, delete rows) up and down on every backend that runs them, through
//! the one migrator: rows written as the vocabulary says, inserts reverted by key, an
//! irreversible migration refused before anything runs, and the dry run showing each statement
//! with its values; seeds applied idempotently.

use std::time::Duration;
use toasty_migrate::backend::Backend;
use toasty_migrate::data::{
    Expr, Filter, Value, cast, coalesce, col, concat, eq, is_in, is_not_null, is_null, lit, lower,
    upper,
};
use toasty_migrate::files::MigrationPlan;
use toasty_migrate::run::{MigrationState, Migrator, RunOptions};
use toasty_migrate::schema::{
    ColumnDef, ColumnType, DefaultValue, IndexColumn, Operation, TableSnapshot,
};
use toasty_migrate::seed::{SeedCount, SeedSet};
use toasty_migrate::{Error, Result};
use toasty_migrate_nosql::{DynamoBackend, MongoBackend};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::{Kind, TestDatabase};

fn accounts() -> TableSnapshot {
    let nullable = |name: &str, ty| ColumnDef {
        nullable: true,
        ..ColumnDef::new(name, ty)
    };
    TableSnapshot::keyed_by_first_column(
        "accounts",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            nullable("email", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                default: Some(DefaultValue::Text("new".into())),
                ..ColumnDef::new("status", ColumnType::VarChar(40))
            },
            nullable("score", ColumnType::Integer(8)),
        ],
        vec![],
    )
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn row(id: i64, email: Option<&str>, name: &str) -> Vec<(String, Value)> {
    vec![
        ("id".into(), Value::Integer(id)),
        ("email".into(), email.map_or(Value::Null, text)),
        ("name".into(), text(name)),
        ("status".into(), text("new")),
    ]
}

fn set(pairs: Vec<(&str, Expr)>) -> Vec<(String, Expr)> {
    pairs.into_iter().map(|(c, e)| (c.to_string(), e)).collect()
}

/// 1: the table. 2: three rows, then backfills (its `down` restores the backfilled columns; its
/// inserts are reverted by key without a word). 3: a delete, irreversible.
fn migrations() -> Vec<MigrationPlan> {
    let table = accounts();
    vec![
        MigrationPlan::new(
            "20250101_000000_create_accounts",
            vec![Operation::CreateTable(table.def())],
            vec![Operation::DropTable {
                table: "accounts".into(),
            }],
        ),
        MigrationPlan::new(
            "20250102_000000_seed_and_backfill",
            vec![
                Operation::InsertRows {
                    table: "accounts".into(),
                    rows: vec![
                        row(1, Some("Ann@X.com"), "ann"),
                        row(2, None, "bob"),
                        row(3, Some("cy@x.com"), "cy"),
                    ],
                },
                Operation::UpdateRows {
                    table: "accounts".into(),
                    set: set(vec![("email", lower(col("email")))]),
                    filter: is_not_null("email"),
                },
                Operation::UpdateRows {
                    table: "accounts".into(),
                    set: set(vec![
                        (
                            "status",
                            upper(concat(vec![
                                coalesce(vec![col("email"), col("name")]),
                                lit(text("/ok")),
                            ])),
                        ),
                        ("score", cast(col("id"), ColumnType::Integer(8))),
                    ]),
                    filter: Filter::Or(vec![
                        is_in("id", vec![Value::Integer(1), Value::Integer(2)]),
                        eq("name", text("cy")),
                    ]),
                },
            ],
            vec![Operation::UpdateRows {
                table: "accounts".into(),
                set: set(vec![
                    ("status", lit(text("new"))),
                    ("score", lit(Value::Null)),
                ]),
                filter: Filter::All,
            }],
        ),
        MigrationPlan::new(
            "20250103_000000_drop_emailless",
            vec![Operation::DeleteRows {
                table: "accounts".into(),
                filter: is_null("email"),
            }],
            vec![Operation::Irreversible {
                reason: "the deleted accounts are gone".into(),
            }],
        ),
    ]
}

/// The rows of `accounts`, by id: `id|email|name|status|score`, null as `null`.
async fn rows(db: &TestDatabase) -> Vec<String> {
    let columns = ["id", "email", "name", "status", "score"];
    match db.kind {
        Kind::Sql(dialect) => sql_rows(db, dialect, "accounts", &columns).await,
        Kind::Mongo => mongo_rows(db, &columns).await,
        Kind::Dynamo => dynamo_rows(db, &columns).await,
    }
}

/// The rows of `table`, each its `columns` joined by `|`, ordered by them.
async fn sql_rows(
    db: &TestDatabase,
    dialect: Dialect,
    table: &str,
    columns: &[&str],
) -> Vec<String> {
    use sqlx_core::connection::Connection;
    use sqlx_core::query_scalar::query_scalar;
    use sqlx_core::sql_str::AssertSqlSafe;
    let text = match dialect {
        Dialect::Mysql => "CHAR",
        _ => "TEXT",
    };
    let parts: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS {text}), 'null')"))
        .collect();
    let joined = match dialect {
        Dialect::Mysql => format!("CONCAT_WS('|', {})", parts.join(", ")),
        _ => parts.join(" || '|' || "),
    };
    let sql = format!(
        "SELECT {joined} FROM {table} ORDER BY {}",
        columns.join(", ")
    );
    match dialect {
        Dialect::Sqlite => {
            let c = rusqlite::Connection::open(db.url.strip_prefix("sqlite:").unwrap()).unwrap();
            let mut stmt = c.prepare(&sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        }
        Dialect::Postgres => {
            let mut c = sqlx_postgres::PgConnection::connect(&db.url).await.unwrap();
            query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
        Dialect::Mysql => {
            let mut c = sqlx_mysql::MySqlConnection::connect(&db.url).await.unwrap();
            query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
    }
}

async fn dynamo_rows(db: &TestDatabase, columns: &[&str]) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = dynamo_scan(&db.url, |prefix| format!("{prefix}accounts")).await;
    let mut rows: Vec<(i64, String)> = items
        .iter()
        .map(|item| {
            let text = |c: &str| match item.get(c) {
                None | Some(AttributeValue::Null(_)) => "null".to_string(),
                Some(AttributeValue::S(s)) => s.clone(),
                Some(AttributeValue::N(n)) => n.clone(),
                Some(other) => format!("{other:?}"),
            };
            let id = text("id").parse().unwrap();
            (
                id,
                columns
                    .iter()
                    .map(|c| text(c))
                    .collect::<Vec<_>>()
                    .join("|"),
            )
        })
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, row)| row).collect()
}

/// One page of the table `table(prefix)` names, on the server and under the prefix the test
/// database's URL names (the tests' tables are small).
async fn dynamo_scan(
    url: &str,
    table: impl Fn(&str) -> String,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let param = |name: &str| {
        url.split(['?', '&'])
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(param("endpoint"))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
        .scan()
        .table_name(table(&param("prefix")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

async fn mongo_rows(db: &TestDatabase, columns: &[&str]) -> Vec<String> {
    use futures_util::TryStreamExt;
    use mongodb::bson::{Bson, Document, doc};
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let database = client.default_database().unwrap();
    let docs: Vec<Document> = database
        .collection::<Document>("accounts")
        .find(doc! {})
        .sort(doc! { "id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.iter()
        .map(|d| {
            columns
                .iter()
                .map(|c| match d.get(*c) {
                    None | Some(Bson::Null) => "null".to_string(),
                    Some(Bson::String(s)) => s.clone(),
                    Some(Bson::Int32(i)) => i.to_string(),
                    Some(Bson::Int64(i)) => i.to_string(),
                    Some(other) => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn count(n: usize) -> RunOptions {
    RunOptions {
        count: Some(n),
        allow_destructive: true,
        ..RunOptions::default()
    }
}

async fn run_scenario<B: Backend>(db: &TestDatabase, backend: &mut B) {
    let migrator = Migrator::from_plans(migrations());
    let what = format!("{:?}", db.kind);

    // The dry run shows the statements with their values, and runs nothing.
    let dry = RunOptions {
        dry_run: true,
        ..count(2)
    };
    let report = migrator.up(backend, &dry).await.unwrap();
    let listing = report
        .steps
        .iter()
        .flat_map(|s| s.statements.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(listing.contains("Ann@X.com"), "{what}: {listing}");

    migrator.up(backend, &count(2)).await.unwrap();
    assert_eq!(
        rows(db).await,
        [
            "1|ann@x.com|ann|ANN@X.COM/OK|1",
            "2|null|bob|BOB/OK|2",
            "3|cy@x.com|cy|CY@X.COM/OK|3",
        ],
        "{what}: after the inserts and backfills"
    );

    // Reverting deletes the inserted rows by key, then runs the `down` as written.
    migrator.down(backend, &count(1)).await.unwrap();
    assert!(rows(db).await.is_empty(), "{what}: inserts reverted");

    migrator.up(backend, &count(2)).await.unwrap();
    assert_eq!(
        rows(db).await,
        [
            "1|ann@x.com|ann|ANN@X.COM/OK|1",
            "3|cy@x.com|cy|CY@X.COM/OK|3"
        ],
        "{what}: the delete ran"
    );

    // Irreversible: refused before anything runs, and the migration stays applied.
    let err = migrator.down(backend, &count(1)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("irreversible (the deleted accounts are gone)"),
        "{what}: {err}"
    );
    let statuses = migrator.status(backend).await.unwrap();
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied(_))),
        "{what}: {statuses:?}"
    );
    assert_eq!(rows(db).await.len(), 2, "{what}: nothing reverted");

    // An insert of a key that exists fails (MongoDB reports it inside a successful reply) and
    // is not recorded.
    let mut plans = migrations();
    plans.push(MigrationPlan::new(
        "20250104_000000_insert_again",
        vec![Operation::InsertRows {
            table: "accounts".into(),
            rows: vec![row(1, None, "again")],
        }],
        vec![],
    ));
    let migrator = Migrator::from_plans(plans);
    let err = migrator.up(backend, &count(1)).await.unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{what}: {err}");
    let statuses = migrator.status(backend).await.unwrap();
    assert!(
        matches!(statuses[3].state, MigrationState::Pending),
        "{what}: {statuses:?}"
    );
    assert_eq!(rows(db).await.len(), 2, "{what}: nothing inserted");
}

async fn seed<B: Backend>(
    migrator: &Migrator,
    backend: &mut B,
    dir: &std::path::Path,
) -> Result<Vec<SeedCount>> {
    let set = SeedSet::load(dir, "default")?;
    migrator.seed(backend, &[set]).await
}

/// Seeds applied twice change nothing the second time; an edited row is updated, a new one
/// inserted; a row that does not fit is refused, naming the file and the row, before anything
/// is written.
async fn seed_scenario<B: Backend>(db: &TestDatabase, backend: &mut B) {
    let what = format!("{:?}", db.kind);
    let migrator = Migrator::from_plans(migrations()[..1].to_vec());
    migrator.up(backend, &count(1)).await.unwrap();
    let seeds = tempfile::tempdir().unwrap();
    let write = |json: &str| std::fs::write(seeds.path().join("default.json"), json).unwrap();
    let counts = |c: &[SeedCount]| (c[0].inserted, c[0].updated, c[0].unchanged);

    write(
        r#"[ { "table": "accounts", "rows": [
        { "id": 1, "email": "a@x", "name": "ann" },
        { "id": 2, "email": null, "name": "bob", "score": 5 } ] } ]"#,
    );
    assert_eq!(
        counts(&seed(&migrator, backend, seeds.path()).await.unwrap()),
        (2, 0, 0),
        "{what}"
    );
    assert_eq!(
        counts(&seed(&migrator, backend, seeds.path()).await.unwrap()),
        (0, 0, 2),
        "{what}: again"
    );

    write(
        r#"[ { "table": "accounts", "rows": [
        { "id": 1, "email": "a@x", "name": "anne" },
        { "id": 2, "email": null, "name": "bob", "score": 5 },
        { "id": 3, "name": "cy", "status": "vip" } ] } ]"#,
    );
    assert_eq!(
        counts(&seed(&migrator, backend, seeds.path()).await.unwrap()),
        (1, 1, 1),
        "{what}"
    );
    let seeded = [
        "1|a@x|anne|new|null",
        "2|null|bob|new|5",
        "3|null|cy|vip|null",
    ];
    assert_eq!(rows(db).await, seeded, "{what}");

    write(
        r#"[ { "table": "accounts", "rows": [
        { "id": 4, "name": "dee" },
        { "id": 5, "name": "eve", "score": "high" } ] } ]"#,
    );
    let err = seed(&migrator, backend, seeds.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("default.json: at `[0].rows[1]`"),
        "{what}: {err}"
    );
    assert!(err.contains("column \"score\""), "{what}: {err}");
    write(r#"[ { "table": "accounts", "rows": [ { "id": 4 } ] } ]"#);
    let err = seed(&migrator, backend, seeds.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at `[0].rows[0]`: column \"name\" is NOT NULL and has no default"),
        "{what}: {err}"
    );
    write(r#"[ { "table": "accounts", "rows": [ { "id": 4, "name": "dee", "nick": "d" } ] } ]"#);
    let err = seed(&migrator, backend, seeds.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"nick\" does not exist in table \"accounts\""),
        "{what}: {err}"
    );
    write(r#"[ { "table": "acounts", "rows": [ { "id": 4, "name": "dee" } ] } ]"#);
    let err = seed(&migrator, backend, seeds.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at `[0].table`: table \"acounts\" does not exist"),
        "{what}: {err}"
    );
    assert_eq!(rows(db).await, seeded, "{what}: nothing written");
}

/// Batches of two rows, so that updates and deletes take more than one.
async fn on_sql(dialect: Dialect) {
    let db = TestDatabase::sql(dialect).await;
    let mut backend = db.connect().await.with_batch_size(2);
    run_scenario(&db, &mut backend).await;
    let db = TestDatabase::sql(dialect).await;
    seed_scenario(&db, &mut db.connect().await).await;
}

/// Updates and deletes walk any primary key in batches, here two columns, text and UUID
/// (PostgreSQL and MySQL compare row values, read back as text and bound through each column's
/// type; SQLite walks the `rowid`): six rows in batches of two, every one updated or deleted.
async fn batches_walk_a_composite_key(dialect: Dialect) {
    let db = TestDatabase::sql(dialect).await;
    let mut backend = db.connect().await.with_batch_size(2);
    let tags = TableSnapshot {
        name: "tags".into(),
        columns: vec![
            ColumnDef::new("region", ColumnType::VarChar(40)),
            ColumnDef::new("uid", ColumnType::Uuid),
            ColumnDef::new("label", ColumnType::Text),
        ],
        primary_key: vec![IndexColumn::new("region"), IndexColumn::new("uid")],
        indexes: vec![],
    };
    let tag = |region: &str, n: u8, label: &str| {
        vec![
            ("region".to_string(), text(region)),
            (
                "uid".to_string(),
                text(&format!("00000000-0000-4000-8000-00000000000{n}")),
            ),
            ("label".to_string(), text(label)),
        ]
    };
    let rows = vec![
        tag("eu", 1, "a"),
        tag("us", 2, "b"),
        tag("eu", 3, "c"),
        tag("eu", 4, "d"),
        tag("us", 5, "e"),
        tag("eu", 6, "f"),
    ];
    let plan = MigrationPlan::new(
        "20250101_000000_tags",
        vec![
            Operation::CreateTable(tags.def()),
            Operation::InsertRows {
                table: "tags".into(),
                rows,
            },
            Operation::UpdateRows {
                table: "tags".into(),
                set: set(vec![("label", upper(col("label")))]),
                filter: eq("region", text("eu")),
            },
            Operation::DeleteRows {
                table: "tags".into(),
                filter: eq("label", text("e")),
            },
        ],
        vec![Operation::DropTable {
            table: "tags".into(),
        }],
    );
    // An integer key whose text sorts otherwise ("10" before "9"): every row still updated.
    let counters = TableSnapshot::keyed_by_first_column(
        "counters",
        vec![
            ColumnDef::new("n", ColumnType::Integer(8)),
            ColumnDef::new("label", ColumnType::Text),
        ],
        vec![],
    );
    let counter = |n: i64| {
        vec![
            ("n".to_string(), Value::Integer(n)),
            ("label".to_string(), text("x")),
        ]
    };
    let mut plan = plan;
    plan.up.extend([
        Operation::CreateTable(counters.def()),
        Operation::InsertRows {
            table: "counters".into(),
            rows: [2, 9, 10, 11, 100, 1000].into_iter().map(counter).collect(),
        },
        Operation::UpdateRows {
            table: "counters".into(),
            set: set(vec![("label", upper(col("label")))]),
            filter: Filter::All,
        },
    ]);
    let migrator = Migrator::from_plans(vec![plan]);
    migrator.up(&mut backend, &count(1)).await.unwrap();
    assert_eq!(
        sql_rows(&db, dialect, "counters", &["n", "label"]).await,
        ["2|X", "9|X", "10|X", "11|X", "100|X", "1000|X"],
        "{dialect:?}"
    );
    let uuid = |n: u8| format!("00000000-0000-4000-8000-00000000000{n}");
    assert_eq!(
        sql_rows(&db, dialect, "tags", &["region", "uid", "label"]).await,
        [
            format!("eu|{}|A", uuid(1)),
            format!("eu|{}|C", uuid(3)),
            format!("eu|{}|D", uuid(4)),
            format!("eu|{}|F", uuid(6)),
            format!("us|{}|b", uuid(2)),
        ],
        "{dialect:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_walk_a_composite_key_on_sqlite() {
    batches_walk_a_composite_key(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_walk_a_composite_key_on_postgres() {
    batches_walk_a_composite_key(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_walk_a_composite_key_on_mariadb() {
    batches_walk_a_composite_key(Dialect::Mysql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite() {
    on_sql(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres() {
    on_sql(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb() {
    on_sql(Dialect::Mysql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mongodb() {
    let db = TestDatabase::new(Kind::Mongo).await;
    let mut backend = MongoBackend::connect(&db.url).await.unwrap();
    run_scenario(&db, &mut backend).await;
    let db = TestDatabase::new(Kind::Mongo).await;
    seed_scenario(&db, &mut MongoBackend::connect(&db.url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb() {
    let connect = |url: String| async move {
        DynamoBackend::connect(&url)
            .await
            .unwrap()
            .with_lock_timeout(Duration::from_secs(30))
    };
    let db = TestDatabase::new(Kind::Dynamo).await;
    run_scenario(&db, &mut connect(db.url.clone()).await).await;
    let db = TestDatabase::new(Kind::Dynamo).await;
    seed_scenario(&db, &mut connect(db.url.clone()).await).await;
}

/// A hand-written data step whose value does not fit its column is refused before anything of
/// the run executes, naming the migration, the row and the column.
#[tokio::test(flavor = "multi_thread")]
async fn a_data_step_that_does_not_fit_is_refused_before_anything_runs() {
    let db = TestDatabase::sql(Dialect::Sqlite).await;
    let mut backend = db.connect().await;
    let mut plans = migrations();
    if let Operation::InsertRows { rows, .. } = &mut plans[1].up[0] {
        rows[1][2].1 = Value::Integer(7);
    }
    let err = Migrator::from_plans(plans)
        .up(&mut backend, &count(2))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("migration 20250102_000000_seed_and_backfill"),
        "{err}"
    );
    assert!(
        err.contains("row 2: column \"name\" (text): expected text, found 7"),
        "{err}"
    );
    let live = toasty_migrate::backend::Introspect::introspect(&mut backend)
        .await
        .unwrap();
    assert!(live.tables.is_empty(), "not even the first migration ran");
}

/// DynamoDB keeps a unique index as a table of its own, written with the item as Toasty writes
/// it: an insert adds the entry, a duplicate value is refused with nothing written, a delete
/// removes the entry, and an update of the indexed column is refused before anything runs.
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_data_steps_keep_unique_indexes() {
    use toasty_migrate::schema::IndexDef;
    let db = TestDatabase::new(Kind::Dynamo).await;
    let mut backend = DynamoBackend::connect(&db.url)
        .await
        .unwrap()
        .with_lock_timeout(Duration::from_secs(30));
    let mut table = accounts();
    table
        .indexes
        .push(IndexDef::new("index_accounts_by_email", &["email"], true));
    let create = MigrationPlan::new(
        "20250101_000000_create_accounts",
        vec![
            Operation::CreateTable(table.def()),
            Operation::CreateIndex {
                table: "accounts".into(),
                index: table.indexes[0].clone(),
            },
        ],
        vec![],
    );
    let step = |version: &str, op: Operation| MigrationPlan::new(version, vec![op], vec![]);
    let insert = |version: &str, rows| {
        step(
            version,
            Operation::InsertRows {
                table: "accounts".into(),
                rows,
            },
        )
    };
    let plans = vec![
        create,
        insert(
            "20250102_000000_two",
            vec![row(1, Some("a@x"), "ann"), row(2, Some("b@x"), "bob")],
        ),
        insert("20250103_000000_dup", vec![row(3, Some("a@x"), "cy")]),
    ];
    let migrator = Migrator::from_plans(plans[..2].to_vec());
    migrator.up(&mut backend, &count(2)).await.unwrap();
    let entries = |db: &TestDatabase| {
        let url = db.url.clone();
        async move { index_entries(&url).await }
    };
    assert_eq!(entries(&db).await, ["a@x 1", "b@x 2"]);

    let err = Migrator::from_plans(plans.clone())
        .up(&mut backend, &count(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unique values exists"), "{err}");
    assert_eq!(rows(&db).await.len(), 2, "the duplicate wrote nothing");
    assert_eq!(entries(&db).await, ["a@x 1", "b@x 2"]);

    let mut plans = plans[..2].to_vec();
    plans.push(step(
        "20250104_000000_drop_bob",
        Operation::DeleteRows {
            table: "accounts".into(),
            filter: eq("name", text("bob")),
        },
    ));
    Migrator::from_plans(plans.clone())
        .up(&mut backend, &count(1))
        .await
        .unwrap();
    assert_eq!(entries(&db).await, ["a@x 1"]);

    // An update that changes a unique value moves its index entry with the item, refuses a
    // value another item has (writing nothing), and removes the entry of a value set to null.
    plans.push(insert(
        "20250105_000000_cy",
        vec![row(3, Some("c@x"), "cy")],
    ));
    plans.push(step(
        "20250106_000000_mail",
        Operation::UpdateRows {
            table: "accounts".into(),
            set: set(vec![("email", concat(vec![col("name"), lit(text("@x"))]))]),
            filter: Filter::All,
        },
    ));
    Migrator::from_plans(plans.clone())
        .up(&mut backend, &count(2))
        .await
        .unwrap();
    assert_eq!(entries(&db).await, ["ann@x 1", "cy@x 3"]);
    let mut clash = plans.clone();
    clash.push(step(
        "20250107_000000_clash",
        Operation::UpdateRows {
            table: "accounts".into(),
            set: set(vec![("email", lit(text("cy@x")))]),
            filter: eq("id", Value::Integer(1)),
        },
    ));
    let err = Migrator::from_plans(clash)
        .up(&mut backend, &count(1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another item has email"), "{err}");
    assert_eq!(entries(&db).await, ["ann@x 1", "cy@x 3"]);
    assert_eq!(
        rows(&db).await,
        ["1|ann@x|ann|new|null", "3|cy@x|cy|new|null"],
        "the refused update wrote nothing"
    );
    plans.push(step(
        "20250108_000000_unmail",
        Operation::UpdateRows {
            table: "accounts".into(),
            set: set(vec![("email", lit(Value::Null))]),
            filter: eq("name", text("cy")),
        },
    ));
    Migrator::from_plans(plans)
        .up(&mut backend, &count(1))
        .await
        .unwrap();
    assert_eq!(entries(&db).await, ["ann@x 1"]);
}

/// `email id` of each entry of the unique index's table (Toasty names it after the prefixed
/// table), sorted.
async fn index_entries(url: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = dynamo_scan(url, |prefix| format!("index_{prefix}accounts_by_email")).await;
    let mut out: Vec<String> = items
        .iter()
        .map(|i| match (i.get("email"), i.get("id")) {
            (Some(AttributeValue::S(e)), Some(AttributeValue::N(id))) => format!("{e} {id}"),
            other => format!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}
