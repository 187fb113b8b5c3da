//! The MongoDB backend against a real server (SecantusDB, which speaks MongoDB's wire protocol;
//! `./scripts/test` starts it): every change kind up and down, read back exactly and with the
//! documents' fields right; runners at once; the lease; resuming an interrupted migration.

use mongodb::bson::{Document, doc};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
mod common;

use common::*;
use toasty_migrate::backend::{Introspect as _, Journal as _};
use toasty_migrate::{
    run::{Migrator, RunOptions},
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexDef, Operation, SchemaSnapshot, TableSnapshot,
        snapshot_to_json,
    },
};
use toasty_migrate_nosql::MongoBackend;

fn url() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var("TOASTY_TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into());
    format!(
        "{base}/tm_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(url: &str) -> MongoBackend {
    MongoBackend::connect(url).await.unwrap_or_else(|e| {
        panic!("MongoDB test server unavailable ({e}); ./scripts/test starts it")
    })
}

async fn collection(url: &str, name: &str) -> mongodb::Collection<Document> {
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    client.default_database().unwrap().collection(name)
}

async fn documents(url: &str, name: &str) -> Vec<Document> {
    use futures_util::TryStreamExt;
    collection(url, name)
        .await
        .find(doc! {})
        .sort(doc! { "id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn v1() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("name", ColumnType::VarChar(100)),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("mail", ColumnType::Text)
            },
            ColumnDef::new("score", ColumnType::Integer(4)),
        ],
        vec![IndexDef::new("index_users_by_name", &["name"], false)],
    )])
}

fn with(f: impl FnOnce(&mut TableSnapshot)) -> SchemaSnapshot {
    let mut s = v1();
    f(&mut s.tables[0]);
    s
}

fn stored(snapshot: &SchemaSnapshot) -> SchemaSnapshot {
    toasty_migrate_nosql::stored_snapshot(snapshot)
}

async fn assert_schema(backend: &mut MongoBackend, expected: &SchemaSnapshot, what: &str) {
    let live = backend.introspect().await.unwrap();
    assert!(
        live.is_equivalent(&stored(expected)),
        "{what}: reads back as\n{}\nexpected\n{}",
        snapshot_to_json(&live),
        snapshot_to_json(&stored(expected))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_kind_up_and_down_with_the_documents() {
    let mut with_posts = v1();
    with_posts.tables.push(TableSnapshot::keyed_by_first_column(
        "posts",
        vec![
            ColumnDef::new("id", ColumnType::Uuid),
            ColumnDef::new("title", ColumnType::Text),
        ],
        vec![IndexDef::new("index_posts_by_title", &["title"], true)],
    ));
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
            "make_not_null",
            with(|t| t.columns[2].nullable = false),
            vec![],
        ),
        (
            "create_index",
            with(|t| {
                t.indexes
                    .push(IndexDef::new("index_users_by_score", &["score"], true))
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
        let users = collection(&url, "users").await;
        users
            .insert_many([
                doc! { "id": 1_i64, "name": "ann", "mail": "ann@example.com", "score": 5 },
                doc! { "id": 2_i64, "name": "bob", "mail": null, "score": 7 },
            ])
            .await
            .unwrap();

        migrator
            .up(&mut backend, &allow())
            .await
            .unwrap_or_else(|e| panic!("{label} up: {e}"));
        assert_schema(&mut backend, &new, &format!("{label} after up")).await;
        let docs = documents(&url, "users").await;
        assert_eq!(docs.len(), 2, "{label}");
        match label {
            "add_column_with_default" => assert!(
                docs.iter().all(|d| d.get_str("motto") == Ok("hi")),
                "{docs:?}"
            ),
            "add_not_null_column" => {
                assert!(docs.iter().all(|d| d.get_i64("age") == Ok(0)), "{docs:?}")
            }
            "add_nullable_column" => {
                assert!(docs.iter().all(|d| !d.contains_key("bio")), "{docs:?}")
            }
            "drop_column" => assert!(docs.iter().all(|d| !d.contains_key("score")), "{docs:?}"),
            "rename_column" => {
                assert_eq!(docs[0].get_str("email"), Ok("ann@example.com"), "{docs:?}")
            }
            "widen_column" => assert_eq!(
                docs[1].get_i64("score"),
                Ok(7),
                "converted to a long: {docs:?}"
            ),
            "make_not_null" => assert_eq!(docs[1].get_str("mail"), Ok(""), "{docs:?}"),
            _ => {}
        }
        // The validator holds: a document missing a NOT NULL field is refused.
        assert!(
            users.insert_one(doc! { "id": 3_i64 }).await.is_err(),
            "{label}: the validator is enforced"
        );

        migrator
            .down(&mut backend, &RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{label} down: {e}"));
        assert_schema(&mut backend, &v1(), &format!("{label} after down")).await;
        let docs = documents(&url, "users").await;
        assert_eq!(
            docs[0].get_str("mail"),
            Ok("ann@example.com"),
            "{label}: values survive down"
        );
        assert_eq!(docs.len(), 2);
        let applied = backend.applied().await.unwrap();
        assert_eq!(applied.len(), 1, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_commands_and_changes_nothing() {
    let url = url();
    let mut backend = connect(&url).await;
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &v1(),
            &[],
        ),
        migration(
            "20250102_000000_add",
            &v1(),
            &with(|t| {
                t.columns
                    .push(ColumnDef::new("age", ColumnType::Integer(8)))
            }),
            &[],
        ),
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
    let listing: Vec<String> = report
        .steps
        .iter()
        .flat_map(|s| std::iter::once(format!("// {}", s.version)).chain(s.statements.clone()))
        .collect();
    insta::assert_snapshot!(listing.join("\n"));
    assert!(backend.introspect().await.unwrap().tables.is_empty());
    assert!(backend.applied().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_a_clear_error() {
    let start = std::time::Instant::now();
    let err = MongoBackend::connect("mongodb://app:s3cret@127.0.0.1:1/x")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        err.contains("cannot connect") && !err.contains("s3cret"),
        "{err}"
    );
    let err = MongoBackend::connect("mongodb://127.0.0.1:27017")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("names no database"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_down_resumes_where_it_stopped() {
    let url = url();
    let mut backend = connect(&url).await;
    let mut plan = migration(
        "20250101_000000_create",
        &SchemaSnapshot::default(),
        &v1(),
        &[],
    );
    plan.down.insert(
        1,
        Operation::Raw {
            statement: r#"{"nonsenseCommand": 1}"#.into(),
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
    assert!(applied[0].reverting, "{applied:?}");
    assert_eq!(applied[0].progress, Some((1, 3)));
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("interrupted while being reverted"), "{err}");

    let mut fixed = plan.clone();
    fixed.down[1] = Operation::Raw {
        statement: r#"{"ping": 1}"#.into(),
    };
    Migrator::from_plans(vec![fixed])
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert!(backend.applied().await.unwrap().is_empty());
    assert!(backend.introspect().await.unwrap().tables.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn down_puts_a_dropped_column_back_in_place() {
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
async fn a_field_name_updates_would_misread_is_refused_before_anything_runs() {
    let url = url();
    let mut backend = connect(&url).await;
    let v2 = with(|t| {
        t.columns
            .push(ColumnDef::new("address.city", ColumnType::Text))
    });
    let migrator = create_then_change(&v1(), &v2);
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field name \"address.city\" has a `.`"),
        "{err}"
    );
    assert!(
        backend.introspect().await.unwrap().tables.is_empty(),
        "nothing ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_that_cannot_convert_refuses_the_type_change_before_any_write() {
    let url = url();
    let mut backend = connect(&url).await;
    let text_score = with(|t| t.columns[3].ty = ColumnType::Text);
    let int_score = with(|t| t.columns[3].ty = ColumnType::Integer(8));
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            &text_score,
            &[],
        ),
        migration("20250102_000000_to_int", &text_score, &int_score, &[]),
    ]);
    let one = RunOptions {
        count: Some(1),
        ..allow()
    };
    migrator.up(&mut backend, &one).await.unwrap();
    let users = collection(&url, "users").await;
    users
        .insert_many([
            doc! { "id": 1_i64, "name": "ann", "mail": null, "score": "5" },
            doc! { "id": 2_i64, "name": "bob", "mail": null, "score": "many" },
        ])
        .await
        .unwrap();
    let err = migrator
        .up(&mut backend, &allow())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"many\"") && err.contains("nothing was changed"),
        "{err}"
    );
    // Nothing written: "5" is still text, and the migration is not recorded.
    let docs = documents(&url, "users").await;
    assert_eq!(docs[0].get_str("score"), Ok("5"), "{docs:?}");
    assert_eq!(backend.applied().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_stays_held_between_operations() {
    let url = url();
    let lease = Duration::from_millis(600);
    let holder = connect(&url).await.with_lease(lease);
    let other = connect(&url).await.with_lease(lease);
    a_held_lock_stays_held(holder, other, lease).await;
}
