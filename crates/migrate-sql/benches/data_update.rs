//! A data step's batched update against the same UPDATE written by hand as one statement, on
//! the same table in the same process: 1,000,000 rows (TOASTY_BENCH_ROWS), `label = UPPER(name)`,
//! the label cleared between runs; median of 3, the two alternating. Also the process's peak
//! memory after each size, which must not grow with the rows (the batches keep none).
//!
//! cargo bench -p toasty-migrate-sql --bench data_update
//!
//! PostgreSQL: 127.0.0.1:5432 (TOASTY_BENCH_POSTGRES_URL), in a schema of its own.
//!
//! And SQLite's rebuild (a NOT NULL column added without a default), whose copy runs in batches
//! of the rowid through the migrator, against the same rebuild as one `INSERT .. SELECT` (the
//! statements of `ddl::statements`) in one transaction on the same connection.

use std::time::{Duration, Instant};
use toasty_migrate::data::{all, col, upper};
use toasty_migrate::files::MigrationPlan;
use toasty_migrate::run::{Migrator, RunOptions};
use toasty_migrate::schema::{ColumnDef, ColumnType, Operation, TableSnapshot};
use toasty_migrate_sql::{Dialect, SqlBackend, ddl};

const RUNS: usize = 3;

fn table() -> TableSnapshot {
    TableSnapshot::keyed_by_first_column(
        "items",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("label", ColumnType::Text)
            },
        ],
        vec![],
    )
}

fn label(run: usize) -> MigrationPlan {
    MigrationPlan::new(
        format!("20250102_{run:06}_label"),
        vec![Operation::UpdateRows {
            table: "items".into(),
            set: vec![("label".into(), upper(col("name")))],
            filter: all(),
        }],
        vec![],
    )
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn bench(dialect: Dialect, url: &str, rows: i64) {
    let mut db = SqlBackend::connect(url).await.unwrap();
    let create = Migrator::from_plans(vec![MigrationPlan::new(
        "20250101_000000_items",
        vec![Operation::CreateTable(table().def())],
        vec![],
    )]);
    create.up(&mut db, &RunOptions::default()).await.unwrap();
    let numbers = match dialect {
        Dialect::Postgres => format!("SELECT n, 'item' || n FROM generate_series(1, {rows}) AS n"),
        _ => format!(
            "SELECT x, 'item' || x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {rows}) SELECT x FROM c)"
        ),
    };
    db.execute(&format!("INSERT INTO items (id, name) {numbers}"))
        .await
        .unwrap();
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        db.execute("UPDATE items SET label = NULL").await.unwrap();
        let mut plans = vec![create.migrations().unwrap()[0].clone()];
        plans.extend((0..=run).map(label));
        let start = Instant::now();
        Migrator::from_plans(plans)
            .up(&mut db, &RunOptions::default())
            .await
            .unwrap();
        ours.push(start.elapsed());

        db.execute("UPDATE items SET label = NULL").await.unwrap();
        let start = Instant::now();
        db.execute("UPDATE items SET label = UPPER(name)")
            .await
            .unwrap();
        bare.push(start.elapsed());
    }
    let (ours, bare) = (median(ours), median(bare));
    println!(
        "{:<10} update {rows} rows: data step (batches of 1,000) {:>9.1} ms, one UPDATE {:>9.1} ms, ratio {:.2}x; peak memory so far {:.0} MiB",
        dialect.name(),
        ours.as_secs_f64() * 1e3,
        bare.as_secs_f64() * 1e3,
        ours.as_secs_f64() / bare.as_secs_f64(),
        peak_mib()
    );
}

/// Migration `n`: the rebuild (`extra` added) when `n` is even, `extra` dropped when odd.
fn extra(n: usize) -> MigrationPlan {
    let op = match n % 2 {
        0 => add_extra(),
        _ => Operation::DropColumn {
            table: "items".into(),
            column: "extra".into(),
        },
    };
    MigrationPlan::new(format!("20250103_{n:06}_extra"), vec![op], vec![])
}

fn add_extra() -> Operation {
    Operation::AddColumn {
        table: "items".into(),
        column: ColumnDef::new("extra", ColumnType::Integer(4)),
        position: None,
    }
}

async fn sqlite_rebuild(url: &str, rows: i64) {
    let mut db = SqlBackend::connect(url).await.unwrap();
    let create = MigrationPlan {
        version: "20250101_000000_items".into(),
        up: vec![Operation::CreateTable(table().def())],
        ..extra(0)
    };
    let plans = |n: usize| {
        let mut plans = vec![create.clone()];
        plans.extend((0..n).map(extra));
        Migrator::from_plans(plans)
    };
    plans(0).up(&mut db, &RunOptions::default()).await.unwrap();
    db.execute(&format!(
        "INSERT INTO items (id, name) SELECT x, 'item' || x FROM (WITH RECURSIVE c(x) AS \
         (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {rows}) SELECT x FROM c)"
    ))
    .await
    .unwrap();
    let bare = ddl::statements(Dialect::Sqlite, &add_extra(), Some(&table()), false).unwrap();
    let (mut ours, mut one) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let start = Instant::now();
        plans(run * 2 + 1)
            .up(&mut db, &RunOptions::default())
            .await
            .unwrap();
        ours.push(start.elapsed());
        let drop = RunOptions {
            allow_destructive: true,
            ..RunOptions::default()
        };
        plans(run * 2 + 2).up(&mut db, &drop).await.unwrap();

        let start = Instant::now();
        db.execute("BEGIN").await.unwrap();
        for sql in &bare {
            db.execute(sql).await.unwrap();
        }
        db.execute("COMMIT").await.unwrap();
        one.push(start.elapsed());
        db.execute("ALTER TABLE items DROP COLUMN extra")
            .await
            .unwrap();
    }
    let (ours, one) = (median(ours), median(one));
    println!(
        "SQLite     rebuild of {rows} rows: copy in batches of 10,000 {:>9.1} ms, one INSERT .. SELECT {:>9.1} ms, ratio {:.2}x",
        ours.as_secs_f64() * 1e3,
        one.as_secs_f64() * 1e3,
        ours.as_secs_f64() / one.as_secs_f64(),
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs benches as tests with no flag: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: i64 = std::env::var("TOASTY_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let admin = std::env::var("TOASTY_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    for n in [rows / 10, rows] {
        let sqlite = format!(
            "sqlite:{}",
            dir.path().join(format!("items_{n}.db")).display()
        );
        bench(Dialect::Sqlite, &sqlite, n).await;
        let rebuild = format!(
            "sqlite:{}",
            dir.path().join(format!("rebuild_{n}.db")).display()
        );
        sqlite_rebuild(&rebuild, n).await;
        let schema = format!("bench_data_{}_{n}", std::process::id());
        let mut a = SqlBackend::connect(&admin).await.unwrap();
        a.execute(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .unwrap();
        let sep = if admin.contains('?') { '&' } else { '?' };
        let pg = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
        bench(Dialect::Postgres, &pg, n).await;
        a.execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }
}
