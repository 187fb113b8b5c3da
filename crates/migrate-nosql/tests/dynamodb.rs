//! The DynamoDB backend against moto's server (`./scripts/test` installs and starts it on
//! 127.0.0.1:8000): tables, GSIs and unique-index tables laid out as Toasty's driver lays them
//! out, item rewrites with the items' attributes checked, down back to the old schema, runners at
//! once, the lease, resuming.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
mod common;

use common::*;
use toasty_migrate::backend::{Introspect as _, Journal as _};
use toasty_migrate::{
    run::{MigrationState, Migrator, RunOptions},
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexColumn, IndexDef, IndexScope, SchemaSnapshot,
        TableSnapshot, snapshot_to_json,
    },
};
use toasty_migrate_nosql::{DynamoBackend, dynamodb_stored_snapshot};

fn endpoint() -> String {
    std::env::var("TOASTY_TEST_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

/// A URL whose tables no other test shares.
fn url() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // moto takes any credentials; the AWS chain reads these.
    // SAFETY: set before any client exists, to the same values by every test.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    format!(
        "dynamodb://us-east-1?endpoint={}&prefix=tm{}x{}_",
        endpoint(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// moto answers one request at a time: with the other tests of this file writing beside it, a
/// lease renewal can wait longer than a short lease. So the lease test holds moto alone
/// (`MOTO.write()`), and the others share it (`MOTO.read()`).
static MOTO: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn connect(url: &str) -> DynamoBackend {
    DynamoBackend::connect(url).await.unwrap_or_else(|e| {
        panic!("DynamoDB test server unavailable ({e}); ./scripts/test starts moto")
    })
}

async fn client() -> aws_sdk_dynamodb::Client {
    url();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

fn prefix(url: &str) -> String {
    url.split("prefix=").nth(1).unwrap().to_string()
}

fn v1() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("mail", ColumnType::Text)
            },
            ColumnDef::new("score", ColumnType::Integer(8)),
        ],
        vec![IndexDef::new("index_users_by_name", &["name"], false)],
    )])
}

fn with(f: impl FnOnce(&mut TableSnapshot)) -> SchemaSnapshot {
    let mut s = v1();
    f(&mut s.tables[0]);
    s
}

async fn items(url: &str, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    physical_items(&format!("{}{table}", prefix(url))).await
}

/// Every item of the table named `name` in DynamoDB.
async fn physical_items(name: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = client()
        .await
        .scan()
        .table_name(name)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("id")));
    items
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_kind_up_and_down_with_the_items() {
    let _moto = MOTO.read().await;
    let mut with_posts = v1();
    with_posts.tables.push(TableSnapshot {
        primary_key: vec![
            IndexColumn::new("user_id"),
            IndexColumn {
                scope: IndexScope::Local,
                ..IndexColumn::new("id")
            },
        ],
        ..TableSnapshot::keyed_by_first_column(
            "posts",
            vec![
                ColumnDef::new("user_id", ColumnType::Text),
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("title", ColumnType::Text),
            ],
            vec![],
        )
    });
    with_posts.canonicalize();
    let cases: Vec<(&str, SchemaSnapshot, Vec<&str>)> = vec![
        ("create_table", with_posts, vec![]),
        (
            "add_column_with_default",
            with(|t| {
                t.columns.push(ColumnDef {
                    default: Some(DefaultValue::Text("hi".into())),
                    ..ColumnDef::new("motto", ColumnType::Text)
                })
            }),
            vec![],
        ),
        (
            "add_not_null_column",
            with(|t| {
                t.columns
                    .push(ColumnDef::new("age", ColumnType::Integer(8)))
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
            "make_not_null",
            with(|t| t.columns[2].nullable = false),
            vec![],
        ),
        (
            "convert_number_to_text",
            with(|t| t.columns[3].ty = ColumnType::Text),
            vec![],
        ),
        (
            "rename_and_convert",
            with(|t| {
                t.columns[3].name = "points".into();
                t.columns[3].ty = ColumnType::Float(8);
            }),
            vec!["users.score=points"],
        ),
        (
            "create_gsi",
            with(|t| {
                t.indexes
                    .push(IndexDef::new("index_users_by_score", &["score"], false))
            }),
            vec![],
        ),
        (
            "create_unique_index",
            with(|t| {
                t.indexes
                    .push(IndexDef::new("index_users_by_mail", &["mail"], true))
            }),
            vec![],
        ),
        (
            "drop_gsi",
            with(|t| {
                t.indexes.clear();
            }),
            vec![],
        ),
    ];
    for (label, new, renames) in cases {
        let url = url();
        let mut backend = connect(&url).await;
        let migrator = Migrator::from_plans(vec![
            migration(
                "20250101_000000_create",
                &SchemaSnapshot::default(),
                &v1(),
                &[],
            ),
            migration("20250102_000000_change", &v1(), &new, &renames),
        ]);
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
        let users = format!("{}users", prefix(&url));
        let c = client().await;
        c.put_item()
            .table_name(&users)
            .item("id", s("1"))
            .item("name", s("ann"))
            .item("mail", s("ann@example.com"))
            .item("score", AttributeValue::N("5".into()))
            .send()
            .await
            .unwrap();
        c.put_item()
            .table_name(&users)
            .item("id", s("2"))
            .item("name", s("bob"))
            .item("score", AttributeValue::N("7".into()))
            .send()
            .await
            .unwrap();
        // As Toasty writes a None: an explicit NULL.
        c.put_item()
            .table_name(&users)
            .item("id", s("3"))
            .item("name", s("cy"))
            .item("mail", AttributeValue::Null(true))
            .item("score", AttributeValue::N("9".into()))
            .send()
            .await
            .unwrap();

        migrator
            .up(&mut backend, &allow())
            .await
            .unwrap_or_else(|e| panic!("{label} up: {e}"));
        let live = backend.introspect().await.unwrap();
        assert!(
            live.is_equivalent(&dynamodb_stored_snapshot(&new)),
            "{label} up: {}\nwanted {}",
            snapshot_to_json(&live),
            snapshot_to_json(&new)
        );
        let got = items(&url, "users").await;
        match label {
            "add_column_with_default" => assert!(
                got.iter().all(|i| i.get("motto") == Some(&s("hi"))),
                "{got:?}"
            ),
            "add_not_null_column" => assert!(
                got.iter()
                    .all(|i| i.get("age") == Some(&AttributeValue::N("0".into()))),
                "{got:?}"
            ),
            "drop_column" => assert!(got.iter().all(|i| !i.contains_key("score")), "{got:?}"),
            "rename_column" => {
                assert_eq!(got[0].get("email"), Some(&s("ann@example.com")), "{got:?}")
            }
            "make_not_null" => {
                assert_eq!(got[1].get("mail"), Some(&s("")), "absent: {got:?}");
                assert_eq!(got[2].get("mail"), Some(&s("")), "NULL: {got:?}");
            }
            "convert_number_to_text" => {
                let scores: Vec<_> = got.iter().map(|i| i.get("score")).collect();
                assert_eq!(scores, [Some(&s("5")), Some(&s("7")), Some(&s("9"))]);
            }
            "rename_and_convert" => {
                let points: Vec<_> = got.iter().map(|i| i.get("points")).collect();
                let n = |v: &str| AttributeValue::N(v.into());
                assert_eq!(points, [Some(&n("5")), Some(&n("7")), Some(&n("9"))]);
                assert!(got.iter().all(|i| !i.contains_key("score")), "{got:?}");
            }
            "create_unique_index" => {
                // Named as Toasty names it for the prefixed table.
                let index = physical_items(&format!("index_{}users_by_mail", prefix(&url))).await;
                assert_eq!(index.len(), 1, "bob has no mail, so no entry: {index:?}");
                assert_eq!(index[0].get("id"), Some(&s("1")));
            }
            _ => {}
        }
        migrator
            .down(&mut backend, &RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{label} down: {e}"));
        let live = backend.introspect().await.unwrap();
        assert!(
            live.is_equivalent(&dynamodb_stored_snapshot(&v1())),
            "{label} down: {}",
            snapshot_to_json(&live)
        );
        let back = items(&url, "users").await;
        assert_eq!(back[0].get("mail"), Some(&s("ann@example.com")), "{label}");
        if label.contains("convert") {
            assert_eq!(
                back[2].get("score"),
                Some(&AttributeValue::N("9".into())),
                "{label}: down converts back"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_refuses_a_unique_index() {
    let _moto = MOTO.read().await;
    let url = url();
    let mut backend = connect(&url).await;
    let unique = with(|t| {
        t.indexes
            .push(IndexDef::new("index_users_by_name_unique", &["name"], true))
    });
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &v1(),
            &[],
        ),
        migration("20250102_000000_unique", &v1(), &unique, &[]),
    ]);
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
    let users = format!("{}users", prefix(&url));
    let c = client().await;
    for id in ["1", "2"] {
        c.put_item()
            .table_name(&users)
            .item("id", s(id))
            .item("name", s("same"))
            .item("score", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("two items have name"), "{err}");
    // Refused whole: no index table is left behind.
    let index_table = format!("index_{}users_by_name_unique", prefix(&url));
    let described = c.describe_table().table_name(&index_table).send().await;
    assert!(described.is_err(), "{index_table} is left: {described:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_paths_say_so() {
    let _moto = MOTO.read().await;
    let url = url();
    let mut backend = connect(&url).await;
    let create = migration(
        "20250101_000000_create",
        &SchemaSnapshot::default(),
        &v1(),
        &[],
    );
    Migrator::from_plans(vec![create.clone()])
        .up(&mut backend, &allow())
        .await
        .unwrap();
    for (id, mail) in [("1", "7"), ("2", "ann@example.com")] {
        client()
            .await
            .put_item()
            .table_name(format!("{}users", prefix(&url)))
            .item("id", s(id))
            .item("name", s("n"))
            .item("mail", s(mail))
            .item("score", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }
    let before = items(&url, "users").await;

    // A value with no form in the new type: refused, naming the item, before any is written.
    let retyped = with(|t| t.columns[2].ty = ColumnType::Integer(8));
    let retype = migration("20250102_000000_retype", &v1(), &retyped, &[]);
    let refused = Migrator::from_plans(vec![create.clone(), retype]);
    let err = refused
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    let states = refused.status(&mut backend).await.unwrap();
    assert_eq!(
        states[1].state,
        MigrationState::Pending,
        "refused before anything was written: not recorded"
    );
    assert!(
        err.contains(r#"the item with id = "2" holds S("ann@example.com"): "ann@example.com" is not an integer; this operation changed no item"#),
        "{err}"
    );
    assert_eq!(items(&url, "users").await, before, "no item was changed");

    // An index key's type is fixed by DynamoDB.
    let retyped = with(|t| t.columns[1].ty = ColumnType::Integer(8));
    let retype = migration("20250102_000000_retype_key", &v1(), &retyped, &[]);
    let err = Migrator::from_plans(vec![create, retype])
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the column is a key of index index_users_by_name"),
        "{err}"
    );
    assert_eq!(items(&url, "users").await, before);

    let err = DynamoBackend::connect("dynamodb://us-east-1?bogus=1")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown DynamoDB URL parameter"), "{err}");
}

/// A rewrite that outlasts the lease many times over keeps the lock: the run renews it while the
/// operation runs, so a second runner waits instead of taking over.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_rewrite_keeps_its_lease() {
    let _moto = MOTO.write().await;
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let url = url();
    // Four seconds: a shorter lease can expire when moto, busy with the rewrite's batches, takes
    // seconds to answer one renewal (a run of the whole suite saw it at three); then the runners
    // take it from each other.
    let lease = Duration::from_secs(4);
    let mut first = connect(&url).await.with_lease(lease);
    let with_motto = with(|t| {
        t.columns.push(ColumnDef {
            default: Some(DefaultValue::Text("hi".into())),
            ..ColumnDef::new("motto", ColumnType::Text)
        })
    });
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &v1(),
            &[],
        ),
        migration("20250102_000000_motto", &v1(), &with_motto, &[]),
    ]);
    migrator
        .up(
            &mut first,
            &RunOptions {
                count: Some(1),
                ..allow()
            },
        )
        .await
        .unwrap();
    let c = client().await;
    // Enough items that rewriting them outlasts three leases (moto: ~400 writes a second).
    for chunk in (0..6_000).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|i| {
                let put = PutRequest::builder()
                    .item("id", s(&i.to_string()))
                    .item("name", s("n"))
                    .item("score", AttributeValue::N("1".into()))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        c.batch_write_item()
            .request_items(format!("{}users", prefix(&url)), writes)
            .send()
            .await
            .unwrap();
    }

    let started = std::time::Instant::now();
    let long = tokio::spawn({
        let migrator = migrator.clone();
        async move { migrator.up(&mut first, &allow()).await }
    });
    tokio::time::sleep(lease * 2).await;
    let mut second = connect(&url)
        .await
        .with_lease(lease)
        .with_lock_timeout(Duration::from_secs(120));
    let waited = migrator.up(&mut second, &allow()).await.unwrap();
    let long = long.await.unwrap().unwrap();
    assert!(
        started.elapsed() > lease * 3,
        "the rewrite outlasted the lease several times ({:?})",
        started.elapsed()
    );
    assert_eq!(
        long.steps.len(),
        1,
        "the first runner finished its migration"
    );
    assert!(
        waited.steps.is_empty(),
        "the second waited for the lock, then had nothing to do"
    );
    assert!(
        items(&url, "users")
            .await
            .iter()
            .all(|i| i.get("motto") == Some(&s("hi")))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_api_calls_and_changes_nothing() {
    let _moto = MOTO.read().await;
    let url = url();
    let mut backend = connect(&url).await;
    let v2 = with(|t| {
        t.columns.push(ColumnDef {
            default: Some(DefaultValue::Integer(0)),
            ..ColumnDef::new("age", ColumnType::Integer(8))
        });
        t.columns.remove(3);
        t.columns[2] = ColumnDef::new("email", ColumnType::VarChar(200));
        t.indexes
            .push(IndexDef::new("index_users_by_email", &["email"], true));
    });
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &v1(),
            &[],
        ),
        migration("20250102_000000_reshape", &v1(), &v2, &["users.mail=email"]),
    ]);
    let report = migrator
        .up(
            &mut backend,
            &RunOptions {
                dry_run: true,
                ..allow()
            },
        )
        .await
        .unwrap();
    let listing: String = report
        .steps
        .iter()
        .map(|step| format!("{}\n{}\n", step.version, step.statements.join("\n")))
        .collect::<String>()
        .replace(&prefix(&url), "<prefix>");
    insta::assert_snapshot!(listing);
    assert!(
        client()
            .await
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .iter()
            .all(|t| !t.starts_with(&prefix(&url))),
        "a dry run creates nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn down_puts_a_dropped_column_back_in_place() {
    let _moto = MOTO.read().await;
    let url = url();
    let mut backend = connect(&url).await;
    let migrator = dropping_a_column(&v1(), "mail");
    migrator.up(&mut backend, &allow()).await.unwrap();
    migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    let live = backend.introspect().await.unwrap();
    assert_eq!(column_names(&live, "users"), column_names(&v1(), "users"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_name_dynamodb_refuses_is_refused_before_anything_runs() {
    let _moto = MOTO.read().await;
    let url = url();
    let mut backend = connect(&url).await;
    let mut v2 = v1();
    v2.tables.push(TableSnapshot::keyed_by_first_column(
        "bad name!",
        vec![ColumnDef::new("id", ColumnType::Text)],
        vec![],
    ));
    let migrator = create_then_change(&v1(), &v2);
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("table name"), "{err}");
    assert!(err.contains("bad name!"), "{err}");
    assert!(backend.applied().await.unwrap().is_empty(), "nothing ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_stays_held_between_operations() {
    let _moto = MOTO.read().await;
    let url = url();
    let lease = Duration::from_secs(1);
    let holder = connect(&url).await.with_lease(lease);
    let other = connect(&url).await.with_lease(lease);
    a_held_lock_stays_held(holder, other, lease).await;
}
