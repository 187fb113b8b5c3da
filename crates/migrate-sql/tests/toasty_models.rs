//! Tables built from real Toasty models: our migrations build the database Toasty 0.11 builds
//! itself (compared by introspecting both), and Toasty's runtime works on ours.

mod common;

use common::*;
use toasty_migrate::backend::Introspect as _;
use toasty_migrate::{
    run::Migrator,
    schema::{SchemaSnapshot, snapshot_to_json},
};
use toasty_migrate_sql::Dialect;

#[derive(Debug, toasty::Model)]
struct User {
    #[key]
    #[auto]
    id: i64,
    #[unique]
    email: String,
    #[index]
    name: String,
    nickname: Option<String>,
    age: i32,
    active: bool,
}

#[derive(Debug, toasty::Model)]
#[key(partition = user_id, local = id)]
struct Todo {
    #[auto]
    id: toasty::stmt::Uuid,
    user_id: i64,
    title: String,
    done: bool,
}

/// A unit enum, as Toasty stores one (a PostgreSQL enum type, a MySQL `ENUM`, text on SQLite).
#[derive(Debug, PartialEq, toasty::Embed)]
enum Status {
    Draft,
    Published,
}

/// Every scalar type Toasty 0.11 puts in a column, with its `jiff` and `rust_decimal` features.
#[derive(Debug, toasty::Model)]
struct Kinds {
    #[key]
    #[auto]
    id: i64,
    tiny: i8,
    small: i16,
    ubyte: u8,
    ushort: u16,
    uint: u32,
    ulong: u64,
    real: f32,
    double: f64,
    bytes: Vec<u8>,
    uid: toasty::stmt::Uuid,
    price: rust_decimal::Decimal,
    at: jiff::Timestamp,
    day: jiff::civil::Date,
    time: jiff::civil::Time,
    when: jiff::civil::DateTime,
    status: Status,
    note: Option<String>,
}

async fn toasty_db(url: &str) -> toasty::Db {
    toasty::Db::builder()
        .models(toasty::models!(User, Todo, Kinds))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("toasty connect {url}: {e}"))
}

/// Toasty's URL for a test database: its SQLite driver wants `sqlite:` + path as well.
fn toasty_url(db: &TestDb) -> String {
    db.url.clone()
}

async fn same_as_toasty(dialect: Dialect) {
    // Toasty builds one database itself.
    let theirs = TestDb::sql(dialect).await;
    let toasty_theirs = toasty_db(&toasty_url(&theirs)).await;
    toasty_theirs.push_schema().await.unwrap();
    let snapshot = SchemaSnapshot::from_schema(&toasty_theirs.schema().db);

    // We build the other from the snapshot of the same models.
    let ours = TestDb::sql(dialect).await;
    let mut backend = ours.connect().await;
    let create = migration(
        "20250101_000000_create_models",
        &SchemaSnapshot::default(),
        &snapshot,
        &[],
    );
    Migrator::from_plans(vec![create])
        .up(&mut backend, &allow())
        .await
        .unwrap();

    let their_tables = theirs.connect().await.introspect().await.unwrap();
    let our_tables = backend.introspect().await.unwrap();
    assert_eq!(
        snapshot_to_json(&our_tables),
        snapshot_to_json(&their_tables),
        "{dialect:?}: our tables are Toasty's tables"
    );

    // Toasty's runtime on the database our migrations built.
    let mut db = toasty_db(&toasty_url(&ours)).await;
    let ann = toasty::create!(User {
        email: "ann@example.com",
        name: "Ann",
        nickname: None,
        age: 41,
        active: true
    })
    .exec(&mut db)
    .await
    .unwrap();
    toasty::create!(Todo {
        user_id: ann.id,
        title: "migrate",
        done: false
    })
    .exec(&mut db)
    .await
    .unwrap();
    let found = User::filter_by_email("ann@example.com")
        .exec(&mut db)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "Ann");
    assert_eq!(found[0].age, 41);
    let by_name = User::filter_by_name("Ann").exec(&mut db).await.unwrap();
    assert_eq!(by_name[0].id, ann.id);
    let todos = Todo::filter_by_user_id(ann.id).exec(&mut db).await.unwrap();
    assert_eq!(todos.len(), 1);
    assert_eq!(todos[0].title, "migrate");
    let at: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
    let kinds = toasty::create!(Kinds {
        tiny: -8,
        small: -16,
        ubyte: 255,
        ushort: 65_535,
        uint: 4_000_000_000,
        ulong: 1 << 40,
        real: 1.5,
        double: 2.25,
        bytes: vec![0, 1, 255],
        uid: toasty::stmt::Uuid::nil(),
        price: "12.34".parse::<rust_decimal::Decimal>().unwrap(),
        at,
        day: jiff::civil::date(2026, 12, 3),
        time: jiff::civil::time(10, 30, 0, 0),
        when: jiff::civil::date(2026, 12, 3).at(10, 30, 0, 0),
        status: Status::Published,
        note: None
    })
    .exec(&mut db)
    .await
    .unwrap();
    let read = Kinds::filter_by_id(kinds.id)
        .exec(&mut db)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (read.tiny, read.ubyte, read.uint, read.ulong, read.double),
        (-8, 255, 4_000_000_000, 1 << 40, 2.25),
        "{dialect:?}"
    );
    assert_eq!(read.bytes, [0, 1, 255], "{dialect:?}");
    assert_eq!(read.price.to_string(), "12.34", "{dialect:?}");
    assert_eq!(read.at, at, "{dialect:?}");
    assert_eq!(read.status, Status::Published, "{dialect:?}");
    // The unique index is there and enforced.
    let duplicate = toasty::create!(User {
        email: "ann@example.com",
        name: "Other",
        nickname: None,
        age: 1,
        active: false
    })
    .exec(&mut db)
    .await;
    assert!(
        duplicate.is_err(),
        "{dialect:?}: the unique index rejects a second ann@example.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_tables_are_toastys_tables() {
    same_as_toasty(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_tables_are_toastys_tables() {
    same_as_toasty(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_tables_are_toastys_tables() {
    same_as_toasty(Dialect::Mysql).await;
}
