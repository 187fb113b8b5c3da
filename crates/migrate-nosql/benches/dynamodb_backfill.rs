//! Adding an attribute with a default to every item, and removing it again; and a data step
//! that upper-cases it on every item: the migrator's parallel scan segments against a sequential
//! scan-and-update loop doing the same, in the same run on the same server.
//!
//! ./scripts/services && cargo bench -p toasty-migrate-nosql --features dynamodb --bench dynamodb_backfill
//! (TOASTY_BENCH_ITEMS=100000 TOASTY_BENCH_RUNS=1 for the size: about 20 minutes against moto)
//!
//! DynamoDB: moto's server on 127.0.0.1:8000 (TOASTY_BENCH_DYNAMODB_ENDPOINT).

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use std::time::{Duration, Instant};
use toasty_migrate::data::{all, col, upper};
use toasty_migrate::{
    diff::detect_changes,
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, DefaultValue, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_nosql::DynamoBackend;

/// Items in the table: `TOASTY_BENCH_ITEMS`, default 10,000.
fn items_count() -> usize {
    std::env::var("TOASTY_BENCH_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}
/// Runs, each on a fresh table: `TOASTY_BENCH_RUNS`, default 3.
fn runs() -> usize {
    std::env::var("TOASTY_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // SAFETY: set before any client exists.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let endpoint = std::env::var("TOASTY_BENCH_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let items = |extra: Option<ColumnDef>| {
        let mut columns = vec![ColumnDef::new("id", ColumnType::Text)];
        columns.extend(extra);
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "items",
            columns,
            vec![],
        )])
    };
    let motto = ColumnDef {
        default: Some(DefaultValue::Text("hello".into())),
        ..ColumnDef::new("motto", ColumnType::Text)
    };
    let (v1, v2) = (items(None), items(Some(motto)));
    let (mut ours, mut sequential) = (Vec::new(), Vec::new());
    let (mut shout_ours, mut shout_sequential) = (Vec::new(), Vec::new());
    let one = RunOptions {
        count: Some(1),
        ..RunOptions::default()
    };
    for run in 0..runs() {
        let prefix = format!("bench{}r{run}_", std::process::id());
        let url = format!("dynamodb://us-east-1?endpoint={endpoint}&prefix={prefix}");
        let mut backend = DynamoBackend::connect(&url).await.unwrap();
        let migrator = Migrator::from_plans(vec![
            MigrationPlan::from_diff(
                "20250101_000000_items",
                &detect_changes(&SchemaSnapshot::default(), &v1).unwrap(),
            ),
            MigrationPlan::from_diff("20250102_000000_motto", &detect_changes(&v1, &v2).unwrap()),
            MigrationPlan::new(
                "20250103_000000_shout",
                vec![Operation::UpdateRows {
                    table: "items".into(),
                    set: vec![("motto".into(), upper(col("motto")))],
                    filter: all(),
                }],
                vec![],
            ),
        ]);
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
        let table = format!("{prefix}items");
        for chunk in (0..items_count()).collect::<Vec<_>>().chunks(25) {
            let writes = chunk
                .iter()
                .map(|i| {
                    let put = PutRequest::builder()
                        .item("id", AttributeValue::S(i.to_string()))
                        .build()
                        .unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            client
                .batch_write_item()
                .request_items(&table, writes)
                .send()
                .await
                .unwrap();
        }

        let start = Instant::now();
        migrator.up(&mut backend, &one).await.unwrap();
        let added = start.elapsed();
        let start = Instant::now();
        migrator.up(&mut backend, &one).await.unwrap();
        shout_ours.push(start.elapsed());
        migrator.down(&mut backend, &one).await.unwrap();
        let start = Instant::now();
        migrator.down(&mut backend, &one).await.unwrap();
        ours.push(added + start.elapsed());

        // The same by hand: one scan, one conditional update per item, in sequence.
        let mut timed = Duration::ZERO;
        for (expression, condition) in [
            ("SET motto = :v", "attribute_not_exists(motto)"),
            ("SET motto = :upper", "attribute_exists(motto)"),
            ("REMOVE motto", "attribute_exists(motto)"),
        ] {
            let start = Instant::now();
            let mut from = None;
            loop {
                let page = client
                    .scan()
                    .table_name(&table)
                    .set_exclusive_start_key(from)
                    .send()
                    .await
                    .unwrap();
                for item in page.items() {
                    let mut update = client
                        .update_item()
                        .table_name(&table)
                        .key("id", item["id"].clone())
                        .update_expression(expression)
                        .condition_expression(condition);
                    if expression.contains(":v") {
                        update = update
                            .expression_attribute_values(":v", AttributeValue::S("hello".into()));
                    }
                    if expression.contains(":upper") {
                        let motto = item["motto"].as_s().unwrap().to_uppercase();
                        update =
                            update.expression_attribute_values(":upper", AttributeValue::S(motto));
                    }
                    let _ = update.send().await;
                }
                from = page.last_evaluated_key;
                if from.is_none() {
                    break;
                }
            }
            match expression.contains(":upper") {
                true => shout_sequential.push(start.elapsed()),
                false => timed += start.elapsed(),
            }
        }
        sequential.push(timed);
    }
    let (shout_ours, shout_sequential) = (median(shout_ours), median(shout_sequential));
    println!(
        "DynamoDB data step (upper-case an attribute) on {} items: migrator {:>8.0} ms, sequential loop {:>8.0} ms, ratio {:.2}x",
        items_count(),
        shout_ours.as_secs_f64() * 1e3,
        shout_sequential.as_secs_f64() * 1e3,
        shout_ours.as_secs_f64() / shout_sequential.as_secs_f64()
    );
    let (ours, sequential) = (median(ours), median(sequential));
    println!(
        "DynamoDB add + drop an attribute on {} items: migrator (4 segments, 25 writes in flight each) {:>8.0} ms, sequential loop {:>8.0} ms, ratio {:.2}x",
        items_count(),
        ours.as_secs_f64() * 1e3,
        sequential.as_secs_f64() * 1e3,
        ours.as_secs_f64() / sequential.as_secs_f64()
    );
}
