//! Adding a field with a default to 100,000 documents, a data step that upper-cases it, and
//! dropping it again, through the migrator, against a bare `updateMany` doing the same, in the
//! same run on the same server.
//!
//! ./scripts/services && cargo bench -p toasty-migrate-nosql --bench backfill
//!
//! MongoDB: 127.0.0.1:27017 (TOASTY_BENCH_MONGODB_URL); SecantusDB in the test setup.

use mongodb::bson::{Document, doc};
use std::time::{Duration, Instant};
use toasty_migrate::data::{all, col, upper};
use toasty_migrate::{
    diff::detect_changes,
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, DefaultValue, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_nosql::MongoBackend;

const DOCUMENTS: i64 = 100_000;
const RUNS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn items(extra: Option<ColumnDef>) -> SchemaSnapshot {
    let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
    columns.extend(extra);
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "items",
        columns,
        vec![],
    )])
}

fn plan(version: &str, old: &SchemaSnapshot, new: &SchemaSnapshot) -> MigrationPlan {
    let diff = detect_changes(old, new).unwrap();
    MigrationPlan::from_diff(version, &diff)
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = std::env::var("TOASTY_BENCH_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into());
    let motto = ColumnDef {
        default: Some(DefaultValue::Text("hello".into())),
        ..ColumnDef::new("motto", ColumnType::Text)
    };
    let (v1, v2) = (items(None), items(Some(motto)));
    let (mut add_ours, mut drop_ours, mut add_bare, mut drop_bare) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut shout_ours, mut shout_bare) = (Vec::new(), Vec::new());
    // The data step: every motto upper-cased, server-side.
    let shout = MigrationPlan::new(
        "20250103_000000_shout",
        vec![Operation::UpdateRows {
            table: "items".into(),
            set: vec![("motto".into(), upper(col("motto")))],
            filter: all(),
        }],
        vec![],
    );
    let one = RunOptions {
        count: Some(1),
        ..RunOptions::default()
    };
    for run in 0..RUNS {
        let url = format!("{base}/bench_backfill_{}_{run}", std::process::id());
        let mut backend = MongoBackend::connect(&url).await.unwrap();
        let migrator = Migrator::from_plans(vec![
            plan("20250101_000000_items", &SchemaSnapshot::default(), &v1),
            plan("20250102_000000_motto", &v1, &v2),
            shout.clone(),
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
        let client = mongodb::Client::with_uri_str(&url).await.unwrap();
        let db = client.default_database().unwrap();
        let collection = db.collection::<Document>("items");
        for chunk in (0..DOCUMENTS).collect::<Vec<_>>().chunks(10_000) {
            collection
                .insert_many(chunk.iter().map(|i| doc! { "id": i }))
                .await
                .unwrap();
        }

        let start = Instant::now();
        migrator.up(&mut backend, &one).await.unwrap();
        add_ours.push(start.elapsed());
        let start = Instant::now();
        migrator.up(&mut backend, &one).await.unwrap();
        shout_ours.push(start.elapsed());
        assert_eq!(
            collection
                .count_documents(doc! { "motto": "HELLO" })
                .await
                .unwrap(),
            DOCUMENTS as u64
        );
        migrator.down(&mut backend, &one).await.unwrap();
        let start = Instant::now();
        migrator.down(&mut backend, &one).await.unwrap();
        drop_ours.push(start.elapsed());
        assert_eq!(
            collection
                .count_documents(doc! { "motto": { "$exists": true } })
                .await
                .unwrap(),
            0
        );

        let start = Instant::now();
        collection
            .update_many(
                doc! { "motto": { "$exists": false } },
                doc! { "$set": { "motto": "hello" } },
            )
            .await
            .unwrap();
        add_bare.push(start.elapsed());
        let start = Instant::now();
        collection
            .update_many(
                doc! {},
                vec![doc! { "$set": { "motto": { "$toUpper": "$motto" } } }],
            )
            .await
            .unwrap();
        shout_bare.push(start.elapsed());
        let start = Instant::now();
        collection
            .update_many(doc! {}, doc! { "$unset": { "motto": "" } })
            .await
            .unwrap();
        drop_bare.push(start.elapsed());
        db.drop().await.unwrap();
    }
    for (what, ours, bare) in [
        ("add field with default", add_ours, add_bare),
        ("data step: upper-case it", shout_ours, shout_bare),
        ("drop field", drop_ours, drop_bare),
    ] {
        let (ours, bare) = (median(ours), median(bare));
        println!(
            "MongoDB {what:<25} on {DOCUMENTS} documents: migrator {:>8.0} ms, bare updateMany {:>8.0} ms, ratio {:.2}x",
            ours.as_secs_f64() * 1e3,
            bare.as_secs_f64() * 1e3,
            ours.as_secs_f64() / bare.as_secs_f64()
        );
    }
}
