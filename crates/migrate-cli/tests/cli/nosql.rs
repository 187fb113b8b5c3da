//! MongoDB and DynamoDB through the CLI: status and down, and a runner killed in the middle of a
//! backfill or a data step, finished by the next.

use crate::common::{run, toasty};
use crate::on_terminal;
use std::path::Path;
use toasty_migrate::schema::{SchemaSnapshot, save_snapshot};

/// With two migrations applied: `status` shows both applied and in sync; after `down`, the
/// JSON status shows the second pending and the database still in sync.
fn status_then_down(cli: impl Fn(&[&str]) -> assert_cmd::Command, url: &str) {
    let status = run(&mut cli(&["migrate:status", "--url", url]));
    assert_eq!(
        status.lines().filter(|l| l.starts_with("applied")).count(),
        2,
        "{status}"
    );
    assert!(
        status.contains("the database matches the applied migrations"),
        "{status}"
    );
    run(&mut cli(&["migrate:down", "--url", url]));
    let json: serde_json::Value =
        serde_json::from_str(&run(&mut cli(&["migrate:status", "--url", url, "--json"]))).unwrap();
    let states: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "pending"]);
    assert_eq!(json["schema"]["state"], "in_sync");
}

#[cfg(feature = "mongodb")]
#[test]
fn mongodb_through_the_cli() {
    let url = format!("mongodb://127.0.0.1:27017/tm_cli_{}", std::process::id());
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrate-core/examples/schemas");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    let v1 = schemas.join("v1.json");
    let v2 = schemas.join("v2.json");
    run(cli(&["migrate:generate", "-m", "create"])
        .arg("--schema")
        .arg(&v1));
    run(cli(&[
        "migrate:generate",
        "-m",
        "reshape",
        "--rename",
        "users.mail=email",
    ])
    .arg("--schema")
    .arg(&v2));
    let dry = run(&mut cli(&["migrate:up", "--dry-run", "--url", &url]));
    assert!(dry.contains(r#"{"create":"users""#), "{dry}");
    run(&mut cli(&["migrate:up", "--url", &url]));
    status_then_down(cli, &url);
}

#[cfg(feature = "dynamodb")]
#[test]
fn dynamodb_through_the_cli() {
    use toasty_migrate::schema::{ColumnDef, ColumnType, DefaultValue, IndexDef, TableSnapshot};
    let url = format!(
        "dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix=tmcli{}_",
        std::process::id()
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let users = |columns: Vec<ColumnDef>, indexes: Vec<IndexDef>| {
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users", columns, indexes,
        )])
    };
    let v1 = users(
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef::new("mail", ColumnType::Text),
        ],
        vec![IndexDef::new("index_users_by_name", &["name"], false)],
    );
    let v2 = users(
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef::new("email", ColumnType::Text),
            ColumnDef {
                default: Some(DefaultValue::Integer(0)),
                ..ColumnDef::new("age", ColumnType::Integer(8))
            },
        ],
        vec![
            IndexDef::new("index_users_by_name", &["name"], false),
            IndexDef::new("index_users_by_email", &["email"], true),
        ],
    );
    save_snapshot(&v1, w.join("v1.json")).unwrap();
    save_snapshot(&v2, w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    run(&mut cli(&[
        "migrate:generate",
        "-m",
        "create",
        "--schema",
        "v1.json",
    ]));
    run(&mut cli(&[
        "migrate:generate",
        "-m",
        "reshape",
        "--rename",
        "users.mail=email",
        "--schema",
        "v2.json",
    ]));
    run(&mut cli(&["migrate:up", "--url", &url]));
    status_then_down(cli, &url);
}

/// A runner killed (SIGKILL) in the middle of a backfill over 10,000 documents, then run again:
/// every document ends right and the migration is recorded once.
#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread")]
async fn mongodb_a_runner_killed_mid_backfill_is_finished_by_the_next() {
    use mongodb::bson::doc;
    let url = format!("mongodb://127.0.0.1:27017/tm_kill_{}", std::process::id());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let table = |extra: Vec<toasty_migrate::schema::ColumnDef>| {
        let mut columns = vec![toasty_migrate::schema::ColumnDef::new(
            "id",
            toasty_migrate::schema::ColumnType::Integer(8),
        )];
        columns.extend(extra);
        SchemaSnapshot::new(vec![
            toasty_migrate::schema::TableSnapshot::keyed_by_first_column("items", columns, vec![]),
        ])
    };
    save_snapshot(&table(vec![]), w.join("v1.json")).unwrap();
    let motto = toasty_migrate::schema::ColumnDef {
        default: Some(toasty_migrate::schema::DefaultValue::Text("hello".into())),
        ..toasty_migrate::schema::ColumnDef::new("motto", toasty_migrate::schema::ColumnType::Text)
    };
    save_snapshot(&table(vec![motto]), w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(w).env("NO_COLOR", "1").args(args);
        cmd
    };
    assert!(
        cli(&["migrate:generate", "-m", "items", "--schema", "v1.json"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        cli(&["migrate:up", "--url", &url])
            .output()
            .unwrap()
            .status
            .success()
    );
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let items = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("items");
    let docs: Vec<_> = (0..10_000_i64).map(|i| doc! { "id": i }).collect();
    items.insert_many(docs).await.unwrap();
    assert!(
        cli(&["migrate:generate", "-m", "add motto", "--schema", "v2.json"])
            .output()
            .unwrap()
            .status
            .success()
    );

    let mut runner = cli(&["migrate:up", "--url", &url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the backfill has begun (the first documents have the field), then SIGKILL.
    let started = std::time::Instant::now();
    while items
        .count_documents(doc! { "motto": "hello" })
        .await
        .unwrap()
        == 0
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    runner.kill().unwrap();
    runner.wait().unwrap();

    // The dead runner's lease (10 s by default) blocks for a while, then the next run finishes.
    // (The server may have finished the killed runner's update by then: it runs server-side.)
    let out = cli(&["migrate:up", "--url", &url]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(items.count_documents(doc! {}).await.unwrap(), 10_000);
    assert_eq!(
        items
            .count_documents(doc! { "motto": "hello" })
            .await
            .unwrap(),
        10_000,
        "every item backfilled"
    );
    let tracked = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("_toasty_migrations");
    assert_eq!(
        tracked.count_documents(doc! {}).await.unwrap(),
        2,
        "each migration recorded once"
    );

    // Reverting unsets the field on every document, showing on a terminal how many are left.
    let out = on_terminal(w, &format!("migrate:down --url '{url}'"), "");
    assert!(out.contains("Reverted"), "{out}");
    assert!(out.contains("items: update ["), "a progress bar: {out}");
    assert_eq!(
        items
            .count_documents(doc! { "motto": { "$exists": true } })
            .await
            .unwrap(),
        0
    );
}

/// A `migrate:up` SIGKILLed while it backfills 10,000 DynamoDB items, then run again: every item
/// ends right and the migration is recorded once.
#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_a_runner_killed_mid_backfill_is_finished_by_the_next() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use toasty_migrate::schema::{ColumnDef, ColumnType, DefaultValue, TableSnapshot};
    let prefix = format!("tmkill{}_", std::process::id());
    let url = format!("dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix={prefix}");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let table = |extra: Vec<ColumnDef>| {
        let mut columns = vec![ColumnDef::new("id", ColumnType::Text)];
        columns.extend(extra);
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "items",
            columns,
            vec![],
        )])
    };
    save_snapshot(&table(vec![]), w.join("v1.json")).unwrap();
    let motto = ColumnDef {
        default: Some(DefaultValue::Text("hello".into())),
        ..ColumnDef::new("motto", ColumnType::Text)
    };
    save_snapshot(&table(vec![motto]), w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(w)
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    let succeeds = |args: &[&str]| {
        let out = cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    succeeds(&["migrate:generate", "-m", "items", "--schema", "v1.json"]);
    succeeds(&["migrate:up", "--url", &url]);

    let client = moto().await;
    let items = format!("{prefix}items");
    put_items(&client, &items, 10_000, |_| Vec::new()).await;
    let count_with_motto = || async {
        let mut count = 0;
        let mut from = None;
        loop {
            let page = client
                .scan()
                .table_name(&items)
                .filter_expression("motto = :v")
                .expression_attribute_values(":v", AttributeValue::S("hello".into()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(from)
                .send()
                .await
                .unwrap();
            count += page.count();
            from = page.last_evaluated_key;
            if from.is_none() {
                return count;
            }
        }
    };
    succeeds(&["migrate:generate", "-m", "add motto", "--schema", "v2.json"]);

    let mut runner = cli(&["migrate:up", "--url", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the backfill has begun (some items have the attribute), then SIGKILL.
    let started = std::time::Instant::now();
    let mut done_when_killed = 0;
    while done_when_killed == 0 && started.elapsed() < std::time::Duration::from_secs(30) {
        done_when_killed = count_with_motto().await;
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    assert!(
        (1..10_000).contains(&done_when_killed),
        "killed part-way: {done_when_killed} items done"
    );

    // The dead runner's lease (10 s) blocks for a while, then the next run finishes, showing
    // its progress on a terminal.
    let out = on_terminal(w, &format!("migrate:up --url '{url}'"), "");
    assert!(out.contains("Applied"), "{out}");
    assert!(out.contains("items: fill motto ["), "a progress bar: {out}");
    assert_eq!(count_with_motto().await, 10_000, "every item backfilled");
    let tracked = client
        .scan()
        .table_name(format!("{prefix}_toasty_migrations"))
        .send()
        .await
        .unwrap();
    assert_eq!(tracked.count(), 2, "each migration recorded once");
    let out = cli(&["migrate:status", "--url", &url]).output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("applied")).count(),
        2,
        "{out}"
    );
}

/// The schema and migrations of the killed-data-step tests: `items (id, name, label)`, then a
/// data migration that labels each item from its name. Returns the `toasty` command builder.
fn label_items_project(w: &Path, url: &str) -> impl Fn(&[&str]) -> std::process::Command {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let items = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "items",
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("label", ColumnType::Text)
            },
        ],
        vec![],
    )]);
    save_snapshot(&items, w.join("schema.json")).unwrap();
    let w = w.to_path_buf();
    let cli = move |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(&w)
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    for args in [
        &["migrate:generate", "-m", "items"][..],
        &["migrate:up", "--url", url],
    ] {
        let out = cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    cli
}

/// Kills `migrate:up` once `labelled` says the data step has begun, then runs it again: every
/// item ends labelled, the migration recorded once.
async fn kill_the_labelling_then_finish<F, Fut>(
    cli: &dyn Fn(&[&str]) -> std::process::Command,
    url: &str,
    labelled: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let out = cli(&[
        "migrate:generate",
        "-m",
        "label items",
        "--data",
        r#"db.update_rows("items", vec![("label", upper(col("name")))], is_null("label"))"#,
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut runner = cli(&["migrate:up", "--url", url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while labelled().await == 0 && started.elapsed() < std::time::Duration::from_secs(20) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    runner.kill().unwrap(); // SIGKILL
    runner.wait().unwrap();
    // The dead runner's lease blocks for up to 10 s; then the next run finishes the step.
    let out = cli(&["migrate:up", "--url", url]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["migrate:status", "--url", url]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    let applied = status.lines().filter(|l| l.starts_with("applied")).count();
    assert_eq!(applied, 2, "each migration applied, once: {status}");
}

#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread")]
async fn mongodb_a_data_step_killed_mid_run_is_finished_by_the_next() {
    use mongodb::bson::doc;
    let url = format!(
        "mongodb://127.0.0.1:27017/tm_killdata_{}",
        std::process::id()
    );
    let work = tempfile::tempdir().unwrap();
    let cli = label_items_project(work.path(), &url);
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let items = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("items");
    let docs: Vec<_> = (0..10_000_i64)
        .map(|i| doc! { "id": format!("{i:05}"), "name": format!("item{i}") })
        .collect();
    items.insert_many(docs).await.unwrap();
    let labelled = || items.count_documents(doc! { "label": { "$ne": null } });
    kill_the_labelling_then_finish(&cli, &url, || async { labelled().await.unwrap() }).await;
    assert_eq!(labelled().await.unwrap(), 10_000, "every item labelled");
    let wrong = items
        .count_documents(doc! { "$expr": { "$ne": [ "$label", { "$toUpper": "$name" } ] } })
        .await
        .unwrap();
    assert_eq!(wrong, 0);
}

#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_a_data_step_killed_mid_run_is_finished_by_the_next() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let prefix = format!("tmkilldata{}_", std::process::id());
    let url = format!("dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix={prefix}");
    let work = tempfile::tempdir().unwrap();
    let cli = label_items_project(work.path(), &url);
    let client = moto().await;
    let table = format!("{prefix}items");
    const ITEMS: usize = 2_000;
    put_items(&client, &table, ITEMS, |i| {
        vec![("name", AttributeValue::S(format!("item{i}")))]
    })
    .await;
    let labelled = || async {
        scan_all(&client, &table)
            .await
            .iter()
            .filter(|i| i.contains_key("label"))
            .count() as u64
    };
    kill_the_labelling_then_finish(&cli, &url, labelled).await;
    let items = scan_all(&client, &table).await;
    assert_eq!(items.len(), ITEMS);
    for item in items {
        let name = item["name"].as_s().unwrap();
        assert_eq!(
            item.get("label").and_then(|l| l.as_s().ok()),
            Some(&name.to_uppercase()),
            "{item:?}"
        );
    }
}

/// A client of the moto server the tests use.
#[cfg(feature = "dynamodb")]
async fn moto() -> aws_sdk_dynamodb::Client {
    // SAFETY: set before this test's client exists, to the values every test uses.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:8000")
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// Writes `count` items to `table`, ids `00000`, `00001`..., with the attributes `more` gives.
#[cfg(feature = "dynamodb")]
async fn put_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    count: usize,
    more: impl Fn(usize) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>,
) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|&i| {
                let mut put =
                    PutRequest::builder().item("id", AttributeValue::S(format!("{i:05}")));
                for (name, value) in more(i) {
                    put = put.item(name, value);
                }
                WriteRequest::builder()
                    .put_request(put.build().unwrap())
                    .build()
            })
            .collect();
        client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .unwrap();
    }
}

/// Every item of `table`.
#[cfg(feature = "dynamodb")]
async fn scan_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}
