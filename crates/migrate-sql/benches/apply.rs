//! Applying 500 generated migrations (1-3 operations each) through the migrator, against the same
//! DDL executed bare over one connection with no tracking, and against Toasty 0.11's own runner
//! (`toasty::migration::MigrationSet::apply`, the same DDL as one SQL migration each), in the
//! same process; and `status` over 1,000 applied migrations against a bare read of the tracking
//! table.
//!
//! cargo bench -p toasty-migrate-sql --bench apply
//!
//! PostgreSQL: 127.0.0.1:5432 (TOASTY_BENCH_POSTGRES_URL); MariaDB/MySQL: 127.0.0.1:3306
//! (TOASTY_BENCH_MYSQL_URL). Each run uses a fresh schema (PostgreSQL) or database (MySQL).

use std::time::{Duration, Instant};
use toasty_migrate::backend::Journal as _;
use toasty_migrate::{
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::{
        ColumnDef, ColumnType, IndexColumn, IndexDef, IndexOp, IndexScope, Operation, TableDef,
    },
};
use toasty_migrate_sql::{Dialect, SqlBackend, ddl};

const RUNS: usize = 5;

fn column(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
        nullable: true,
        default: None,
        auto_increment: false,
    }
}

/// `n` migrations: each creates a table, and every second and third one also adds a column and
/// an index to it.
fn migrations(n: usize) -> Vec<MigrationPlan> {
    (0..n)
        .map(|i| {
            let table = format!("bench_{i:04}");
            let mut up = vec![Operation::CreateTable(TableDef {
                name: table.clone(),
                columns: vec![
                    ColumnDef {
                        nullable: false,
                        ..column("id", ColumnType::Integer(8))
                    },
                    column("name", ColumnType::Text),
                ],
                primary_key: vec![IndexColumn {
                    column: "id".into(),
                    op: IndexOp::Eq,
                    scope: IndexScope::Partition,
                }],
            })];
            if i % 3 > 0 {
                up.push(Operation::AddColumn {
                    table: table.clone(),
                    column: column("score", ColumnType::Integer(4)),
                    position: None,
                });
            }
            if i % 3 > 1 {
                up.push(Operation::CreateIndex {
                    table: table.clone(),
                    index: IndexDef {
                        name: format!("index_{table}_by_name"),
                        columns: vec![IndexColumn {
                            column: "name".into(),
                            op: IndexOp::Eq,
                            scope: IndexScope::Partition,
                        }],
                        unique: false,
                    },
                });
            }
            MigrationPlan::new(
                format!("20250101_{i:06}_m{i}"),
                up,
                vec![Operation::DropTable { table }],
            )
        })
        .collect()
}

struct Target {
    dialect: Dialect,
    admin_url: String,
}

impl Target {
    /// A fresh, empty database (SQLite file or PostgreSQL schema) and its URL.
    async fn fresh(&self, run: usize, dir: &std::path::Path) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "sqlite:{}",
                dir.join(format!("bench_{run}_{}.db", rand_suffix()))
                    .display()
            ),
            Dialect::Mysql => {
                let database = format!("bench_{}_{run}_{}", std::process::id(), rand_suffix());
                let mut admin = SqlBackend::connect(&self.admin_url).await.unwrap();
                admin
                    .execute(&format!("CREATE DATABASE `{database}`"))
                    .await
                    .unwrap();
                let (server, _) = self.admin_url.rsplit_once('/').unwrap();
                format!("{server}/{database}")
            }
            Dialect::Postgres => {
                let schema = format!("bench_{}_{run}_{}", std::process::id(), rand_suffix());
                let mut admin = SqlBackend::connect(&self.admin_url).await.unwrap();
                admin
                    .execute(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .unwrap();
                let sep = if self.admin_url.contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!("{}{sep}options=-c%20search_path%3D{schema}", self.admin_url)
            }
        }
    }
}

fn rand_suffix() -> u128 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u128 % 1_000_000_000
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn apply(target: &Target, dir: &std::path::Path) {
    let plans = migrations(500);
    let statements: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.up.iter()
                .flat_map(|op| ddl::statements(target.dialect, op, None, false).unwrap())
        })
        .collect();
    // Toasty 0.11's runner takes its migrations as static SQL, one file each.
    let toasty_set = toasty::migration::MigrationSet::new(Box::leak(
        plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // Toasty's migration files separate statements with its breakpoint marker.
                let sql: Vec<String> =
                    p.up.iter()
                        .flat_map(|op| ddl::statements(target.dialect, op, None, false).unwrap())
                        .collect();
                toasty::migration::MigrationFile::new(
                    i as u64 + 1,
                    Box::leak(p.version.clone().into_boxed_str()),
                    Box::leak(sql.join("\n-- #[toasty::breakpoint]\n").into_boxed_str()),
                )
            })
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    ));
    let (mut ours, mut bare, mut toasty_runner) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let url = target.fresh(run * 3 + 2, dir).await;
        let db = toasty::Db::builder().connect(&url).await.unwrap();
        let start = Instant::now();
        toasty_set.apply(&db).await.unwrap();
        toasty_runner.push(start.elapsed());

        // The same DDL, bare: one statement after another on one connection, no tracking.
        let url = target.fresh(run * 3, dir).await;
        let mut backend = SqlBackend::connect(&url).await.unwrap();
        let start = Instant::now();
        for sql in &statements {
            backend.execute(sql).await.unwrap();
        }
        bare.push(start.elapsed());

        let url = target.fresh(run * 3 + 1, dir).await;
        let mut backend = SqlBackend::connect(&url).await.unwrap();
        let migrator = Migrator::from_plans(plans.clone());
        let start = Instant::now();
        migrator
            .up(&mut backend, &RunOptions::default())
            .await
            .unwrap();
        ours.push(start.elapsed());
    }
    let (ours, bare, toasty_runner) = (median(ours), median(bare), median(toasty_runner));
    println!(
        "{:<10} apply 500 migrations ({} statements): migrator {:>8.1} ms, bare DDL {:>8.1} ms ({:.2}x), Toasty 0.11's runner {:>8.1} ms ({:.2}x)",
        target.dialect.name(),
        statements.len(),
        ours.as_secs_f64() * 1e3,
        bare.as_secs_f64() * 1e3,
        ours.as_secs_f64() / bare.as_secs_f64(),
        toasty_runner.as_secs_f64() * 1e3,
        ours.as_secs_f64() / toasty_runner.as_secs_f64()
    );
}

async fn status(target: &Target, dir: &std::path::Path) {
    let plans = migrations(1000);
    let url = target.fresh(99, dir).await;
    let mut backend = SqlBackend::connect(&url).await.unwrap();
    let migrator = Migrator::from_plans(plans);
    migrator
        .up(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..RUNS * 4 {
        let start = Instant::now();
        let rows = backend.applied().await.unwrap();
        bare.push(start.elapsed());
        assert_eq!(rows.len(), 1000);
        let start = Instant::now();
        let status = migrator.status(&mut backend).await.unwrap();
        ours.push(start.elapsed());
        assert_eq!(status.len(), 1000);
    }
    let (ours, bare) = (median(ours), median(bare));
    println!(
        "{:<10} status over 1,000 applied: status {:>8.2} ms, reading the tracking rows alone {:>8.2} ms, ratio {:.2}x",
        target.dialect.name(),
        ours.as_secs_f64() * 1e3,
        bare.as_secs_f64() * 1e3,
        ours.as_secs_f64() / bare.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs benches as tests with no flag: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let postgres = std::env::var("TOASTY_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mysql = std::env::var("TOASTY_BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    for target in [
        Target {
            dialect: Dialect::Sqlite,
            admin_url: String::new(),
        },
        Target {
            dialect: Dialect::Postgres,
            admin_url: postgres,
        },
        Target {
            dialect: Dialect::Mysql,
            admin_url: mysql,
        },
    ] {
        apply(&target, dir.path()).await;
        status(&target, dir.path()).await;
    }
}
