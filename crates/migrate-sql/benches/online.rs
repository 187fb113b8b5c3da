//! What an application sees while a migration runs: a table of 1,000,000 rows under a steady
//! load from another connection (a point read and a one-row update by key, then a 2 ms pause,
//! over and over), while a migration adds an index, adds a NOT NULL column with a default and
//! makes an existing column NOT NULL. The client's query latencies while the
//! migration runs, online (the default) and `--offline`, beside the same load with no
//! migration, all in one process; and how many of the client's queries failed.
//!
//! cargo bench -p toasty-migrate-sql --bench online
//!
//! PostgreSQL 127.0.0.1:5432 (TOASTY_BENCH_POSTGRES_URL), MariaDB 127.0.0.1:3306
//! (TOASTY_BENCH_MYSQL_URL); TOASTY_BENCH_ROWS rows (1,000,000). Each run refills a fresh
//! database `tm_bench_online`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use toasty_migrate::{
    diff::detect_changes,
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, DefaultValue, IndexDef, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_sql::{Dialect, SqlBackend};

const DATABASE: &str = "tm_bench_online";

/// `accounts` before the migration, and after it.
fn load_table(migrated: bool) -> SchemaSnapshot {
    let mut columns = vec![
        ColumnDef::new("id", ColumnType::Integer(8)),
        ColumnDef::new("email", ColumnType::VarChar(100)),
        ColumnDef {
            nullable: true,
            ..ColumnDef::new("nick", ColumnType::VarChar(100))
        },
        ColumnDef::new("hits", ColumnType::Integer(8)),
    ];
    let mut indexes = vec![];
    if migrated {
        indexes.push(IndexDef::new("accounts_by_email", &["email"], false));
        columns.push(ColumnDef {
            default: Some(DefaultValue::Integer(0)),
            ..ColumnDef::new("score", ColumnType::Integer(8))
        });
        columns[2].nullable = false;
    }
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "accounts", columns, indexes,
    )])
}

fn migrations() -> Vec<MigrationPlan> {
    let empty = SchemaSnapshot::default();
    let (before, after) = (load_table(false), load_table(true));
    vec![
        MigrationPlan::from_diff(
            "20250101_000000_load",
            &detect_changes(&empty, &before).unwrap(),
        ),
        MigrationPlan::from_diff(
            "20250102_000000_index_and_columns",
            &detect_changes(&before, &after).unwrap(),
        ),
    ]
}

/// A fresh database holding `accounts` with `rows` rows, and its URL.
async fn filled(dialect: Dialect, server: &str, rows: u64) -> String {
    let mut admin = SqlBackend::connect(server).await.unwrap();
    let (drop, create) = match dialect {
        Dialect::Postgres => (
            format!("DROP DATABASE IF EXISTS \"{DATABASE}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{DATABASE}\""),
        ),
        _ => (
            format!("DROP DATABASE IF EXISTS `{DATABASE}`"),
            format!("CREATE DATABASE `{DATABASE}`"),
        ),
    };
    admin.execute(&drop).await.unwrap();
    admin.execute(&create).await.unwrap();
    let url = format!("{}/{DATABASE}", &server[..server.rfind('/').unwrap()]);
    let mut backend = SqlBackend::connect(&url).await.unwrap();
    let first = RunOptions {
        count: Some(1),
        ..RunOptions::default()
    };
    Migrator::from_plans(migrations())
        .up(&mut backend, &first)
        .await
        .unwrap();
    // Every tenth nick is NULL: making the column NOT NULL fills them.
    let fill = match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO accounts (id, email, nick, hits) SELECT g, 'user' || g || '@example.com', \
             CASE WHEN g % 10 = 0 THEN NULL ELSE 'nick' || g END, 0 FROM generate_series(1, {rows}) g"
        ),
        _ => format!(
            "INSERT INTO accounts (id, email, nick, hits) SELECT seq, CONCAT('user', seq, '@example.com'), \
             IF(seq % 10 = 0, NULL, CONCAT('nick', seq)), 0 FROM seq_1_to_{rows}"
        ),
    };
    backend.execute(&fill).await.unwrap();
    backend
        .execute(match dialect {
            Dialect::Postgres => "VACUUM ANALYZE accounts",
            _ => "ANALYZE TABLE accounts",
        })
        .await
        .unwrap();
    url
}

/// What the client saw.
struct Seen {
    /// When each query started, and how long it took.
    latencies: Vec<(Instant, Duration)>,
    failed: usize,
    /// The first failure's error.
    error: Option<String>,
}

impl Seen {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted: Vec<Duration> = self.latencies.iter().map(|(_, d)| *d).collect();
        sorted.sort();
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    fn row(&self, label: &str, took: Duration) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "{label:<34} {:>8.0} ms {:>7} {:>8.2} {:>8.2} {:>9.1} {:>6}",
            ms(took),
            self.latencies.len(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.percentile(1.0)),
            self.failed
        )
    }
}

/// The application: a point read and a one-row update by key, then a pause, until `stop`. It
/// waits for locks as long as the server lets it (no lock timeout of its own).
async fn client(url: String, rows: u64, stop: Arc<AtomicBool>) -> Seen {
    let mut app = SqlBackend::connect(&url).await.unwrap();
    app.set_statement_lock_timeout(None);
    let mut seen = Seen {
        latencies: Vec::new(),
        failed: 0,
        error: None,
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while !stop.load(Ordering::Relaxed) {
        // xorshift: spread over the table without a dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = x % rows + 1;
        for sql in [
            format!("SELECT email, nick FROM accounts WHERE id = {id}"),
            format!("UPDATE accounts SET hits = hits + 1 WHERE id = {id}"),
        ] {
            let start = Instant::now();
            match app.execute(&sql).await {
                Ok(()) => seen.latencies.push((start, start.elapsed())),
                Err(e) => {
                    seen.failed += 1;
                    seen.error.get_or_insert(e.to_string());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    seen
}

/// The client's latencies while `work` runs, and how long it took.
async fn under_load<F: Future<Output = ()>>(
    url: &str,
    rows: u64,
    work: impl FnOnce() -> F,
) -> (Seen, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(client(url.to_string(), rows, stop.clone()));
    // The client connected and is in its stride.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    work().await;
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut seen = load.await.unwrap();
    // The queries sent while the work ran.
    seen.latencies
        .retain(|(sent, _)| *sent >= start && *sent <= start + took);
    (seen, took)
}

async fn bench(dialect: Dialect, server: &str, rows: u64) {
    println!(
        "\n{} ({rows} rows)\n{:<34} {:>11} {:>7} {:>8} {:>8} {:>9} {:>6}",
        dialect.name(),
        "",
        "time",
        "queries",
        "p50 ms",
        "p99 ms",
        "worst ms",
        "failed"
    );
    let url = filled(dialect, server, rows).await;
    let (quiet, took) = under_load(&url, rows, || tokio::time::sleep(Duration::from_secs(5))).await;
    println!("{}", quiet.row("no migration (5 s)", took));
    for offline in [false, true] {
        let url = filled(dialect, server, rows).await;
        let mut backend = SqlBackend::connect(&url).await.unwrap();
        let options = RunOptions {
            offline,
            allow_destructive: true,
            ..RunOptions::default()
        };
        let migrator = Migrator::from_plans(migrations());
        let (seen, took) = under_load(&url, rows, || async {
            migrator.up(&mut backend, &options).await.unwrap();
        })
        .await;
        let label = match offline {
            false => "migration, online (default)",
            true => "migration, --offline",
        };
        println!("{}", seen.row(label, took));
        if let Some(error) = &seen.error {
            println!("  first failure: {error}");
        }
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs benches as tests with no flag: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows = std::env::var("TOASTY_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let postgres = std::env::var("TOASTY_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mysql = std::env::var("TOASTY_BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    bench(Dialect::Postgres, &postgres, rows).await;
    bench(Dialect::Mysql, &mysql, rows).await;
}
