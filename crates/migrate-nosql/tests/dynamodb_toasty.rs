//! Tables built by our migrations from Toasty models, against moto: laid out as Toasty 0.11's
//! DynamoDB driver lays them out itself (both described and compared), and Toasty's runtime
//! reading and writing items in ours, through a GSI, a composite key and a unique index.

use aws_sdk_dynamodb::Client;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use toasty_core::driver::Capability;
use toasty_migrate::{
    Result,
    diff::detect_changes,
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::SchemaSnapshot,
};
use toasty_migrate_nosql::DynamoBackend;

#[derive(Debug, toasty::Model)]
struct User {
    #[key]
    #[auto]
    id: toasty::stmt::Uuid,
    #[unique]
    email: String,
    #[index]
    name: String,
    nickname: Option<String>,
    age: i32,
}

#[derive(Debug, toasty::Model)]
#[key(partition = user_id, local = id)]
struct Todo {
    #[auto]
    id: toasty::stmt::Uuid,
    user_id: toasty::stmt::Uuid,
    title: String,
}

/// A unit enum, as Toasty stores one.
#[derive(Debug, PartialEq, toasty::Embed)]
enum Status {
    Draft,
    Published,
}

/// Every scalar type Toasty 0.11 stores, with its `jiff` and `rust_decimal` features; typed
/// index keys (a number, a timestamp) become GSI key attributes of their DynamoDB type.
#[derive(Debug, toasty::Model)]
struct Kinds {
    #[key]
    #[auto]
    id: toasty::stmt::Uuid,
    tiny: i8,
    small: i16,
    ubyte: u8,
    ushort: u16,
    #[index]
    uint: u32,
    ulong: u64,
    real: f32,
    double: f64,
    bytes: Vec<u8>,
    price: rust_decimal::Decimal,
    #[index]
    at: jiff::Timestamp,
    day: jiff::civil::Date,
    time: jiff::civil::Time,
    when: jiff::civil::DateTime,
    status: Status,
    note: Option<String>,
}

fn endpoint() -> String {
    std::env::var("TOASTY_TEST_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

/// A table-name prefix no other test uses.
fn unique_prefix(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "tm{}{what}{}_",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn client() -> Client {
    // moto takes any credentials; the AWS chain reads these.
    // SAFETY: set before any client exists, to the same values by every test.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .load()
        .await;
    Client::new(&config)
}

/// Toasty's runtime over moto, with Toasty's own table-name prefix.
async fn toasty_db(prefix: &str) -> toasty::Db {
    let driver =
        toasty_driver_dynamodb::DynamoDb::new("dynamodb://localhost".into(), client().await);
    toasty::Db::builder()
        .models(toasty::models!(User, Todo, Kinds))
        .table_name_prefix(prefix)
        .build(driver)
        .await
        .unwrap_or_else(|e| panic!("toasty over moto: {e}"))
}

/// Every table whose name holds `prefix`, described with the prefix taken out: keys, attribute
/// definitions, GSIs with their keys and projection, billing mode.
async fn layout(prefix: &str) -> BTreeMap<String, String> {
    let client = client().await;
    let names = client
        .list_tables()
        .limit(100)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let mut layout = BTreeMap::new();
    for name in names.into_iter().filter(|n| n.contains(prefix)) {
        let table = client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let mut attributes: Vec<String> = table
            .attribute_definitions()
            .iter()
            .map(|a| format!("{}:{}", a.attribute_name(), a.attribute_type()))
            .collect();
        attributes.sort();
        let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
            schema
                .iter()
                .map(|k| format!("{}:{}", k.attribute_name(), k.key_type()))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut gsis: Vec<String> = table
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                format!(
                    "{} [{}] {:?}",
                    g.index_name().unwrap_or_default().replace(prefix, ""),
                    keys(g.key_schema()),
                    g.projection().and_then(|p| p.projection_type())
                )
            })
            .collect();
        gsis.sort();
        let billing = table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.to_string());
        layout.insert(
            name.replace(prefix, ""),
            format!(
                "keys [{}] attributes {attributes:?} gsis {gsis:?} billing {billing:?}",
                keys(table.key_schema())
            ),
        );
    }
    layout
}

#[tokio::test(flavor = "multi_thread")]
async fn our_tables_are_toastys_tables_and_toastys_runtime_works_on_them() {
    // Toasty lays its tables out itself, under one prefix.
    let theirs = unique_prefix("toasty");
    toasty_db(&theirs).await.push_schema().await.unwrap();

    // Our migrations build the same models' tables under another, from the snapshot an
    // application exports (without a prefix: the prefix belongs to the deployment).
    let ours = unique_prefix("ours");
    let snapshot =
        SchemaSnapshot::from_models(toasty::models!(User, Todo, Kinds), &Capability::DYNAMODB)
            .unwrap();
    let create = MigrationPlan::from_diff(
        "20250101_000000_create_models",
        &detect_changes(&SchemaSnapshot::default(), &snapshot).unwrap(),
    );
    let url = format!("dynamodb://us-east-1?endpoint={}&prefix={ours}", endpoint());
    let mut backend = DynamoBackend::connect(&url).await.unwrap();
    Migrator::from_plans(vec![create])
        .up(&mut backend, &RunOptions::default())
        .await
        .unwrap();

    let (mut their_layout, mut our_layout) = (layout(&theirs).await, layout(&ours).await);
    // Ours has the migrator's own tables besides.
    our_layout.retain(|name, _| !name.starts_with("_toasty_migrations"));
    their_layout.retain(|name, _| !name.starts_with("_toasty_migrations"));
    assert_eq!(
        our_layout.keys().collect::<Vec<_>>(),
        ["index_users_by_email", "kinds", "todos", "users"],
        "{our_layout:#?}"
    );
    assert_eq!(our_layout, their_layout, "our tables are Toasty's tables");

    // Toasty's runtime on the tables our migrations built.
    let mut db = toasty_db(&ours).await;
    let ann = toasty::create!(User {
        email: "ann@example.com",
        name: "Ann",
        nickname: None,
        age: 41
    })
    .exec(&mut db)
    .await
    .unwrap();
    toasty::create!(Todo {
        user_id: ann.id,
        title: "migrate"
    })
    .exec(&mut db)
    .await
    .unwrap();
    let found = User::filter_by_email("ann@example.com")
        .exec(&mut db)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "found through the unique index's table");
    assert_eq!((found[0].name.as_str(), found[0].age), ("Ann", 41));
    let by_name = User::filter_by_name("Ann").exec(&mut db).await.unwrap();
    assert_eq!(by_name[0].id, ann.id, "found through the GSI");
    let todos = Todo::filter_by_user_id(ann.id).exec(&mut db).await.unwrap();
    assert_eq!(todos.len(), 1, "found through the composite key");
    assert_eq!(todos[0].title, "migrate");
    let duplicate = toasty::create!(User {
        email: "ann@example.com",
        name: "Other",
        nickname: None,
        age: 1
    })
    .exec(&mut db)
    .await;
    assert!(
        duplicate.is_err(),
        "the unique index's table rejects a second ann@example.com"
    );

    // Every type written and read back, found through the typed GSIs.
    let at: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
    toasty::create!(Kinds {
        tiny: -8,
        small: -16,
        ubyte: 255,
        ushort: 65_535,
        uint: 4_000_000_000,
        ulong: 1 << 40,
        real: 1.5,
        double: 2.25,
        bytes: vec![0, 1, 255],
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
    let read = Kinds::filter_by_uint(4_000_000_000)
        .exec(&mut db)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (read.tiny, read.ubyte, read.ulong, read.double),
        (-8, 255, 1 << 40, 2.25)
    );
    assert_eq!(read.bytes, [0, 1, 255]);
    assert_eq!(read.price.to_string(), "12.34");
    assert_eq!(read.status, Status::Published);
    let by_time = Kinds::filter_by_at(at).exec(&mut db).await.unwrap();
    assert_eq!(by_time.len(), 1, "found through the timestamp GSI");
}
