//! `toasty migrate:up`, `toasty migrate:down` and `toasty migrate:baseline`.

use crate::Target;
use crate::backend::with_backend;
use crate::output::{BOLD, DIM, GREEN, YELLOW};
use anstream::println;
use anyhow::{Context, Result};
use clap::Args;
use std::path::Path;
use toasty_migrate::{
    backend::{Backend, LockRetry},
    files::Direction,
    run::{Migrator, RunOptions, RunReport},
    schema::Operation,
};

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Apply at most this many pending migrations.
    #[arg(long)]
    count: Option<usize>,
    /// Let operations that can lose data run.
    #[arg(long)]
    allow_destructive: bool,
    #[command(flatten)]
    run: Execution,
}

#[derive(Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Revert this many migrations, newest first.
    #[arg(long, default_value_t = 1)]
    count: usize,
    #[command(flatten)]
    run: Execution,
}

/// How `up` and `down` run the migrations they pick.
#[derive(Args)]
struct Execution {
    /// Print the exact statements instead of running them.
    #[arg(long)]
    dry_run: bool,
    /// How many more times a migration whose statement gave up waiting for a lock is tried,
    /// after pauses from 0.5 s, doubling.
    #[arg(long, value_name = "N", default_value_t = 5)]
    lock_retries: u32,
    /// Plain forms for tables an application may be using: no CREATE INDEX CONCURRENTLY, no
    /// batched fill or validated check before NOT NULL, no LOCK=NONE. Faster where nothing uses
    /// the database.
    #[arg(long)]
    offline: bool,
}

impl Execution {
    fn options(&self, count: Option<usize>, allow_destructive: bool) -> RunOptions {
        RunOptions {
            count,
            dry_run: self.dry_run,
            allow_destructive,
            lock_retry: LockRetry {
                attempts: self.lock_retries,
                ..LockRetry::default()
            },
            offline: self.offline,
        }
    }
}

/// `load(--dir)` and the backend `connect` connects to, at once: reading many files and
/// waiting for a server's handshake overlap.
pub async fn open_with<T: Send + 'static, B>(
    target: &Target,
    load: fn(&Path) -> toasty_migrate::Result<T>,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<(T, B)> {
    let (loaded, backend) = tokio::join!(start_loading(target, load)?, connect);
    let loaded = loaded?;
    let backend = backend.context("connecting to the database")?;
    Ok((loaded, backend))
}

/// `load(--dir)` started on a blocking thread: it runs while the caller connects and locks.
fn start_loading<T: Send + 'static>(
    target: &Target,
    load: fn(&Path) -> toasty_migrate::Result<T>,
) -> Result<impl Future<Output = toasty_migrate::Result<T>>> {
    if !target.dir.is_dir() {
        anyhow::bail!(
            "migrations directory {} not found (create migrations with `toasty migrate:generate`, or pass --dir)",
            target.dir.display()
        );
    }
    let dir = target.dir.clone();
    let loading = tokio::task::spawn_blocking(move || load(&dir));
    Ok(async { loading.await.expect("loading migrations does not panic") })
}

/// Runs `up` or `down`: connected while the migrations load, then locked and the tracking rows
/// read while they finish loading (`Migrator::run_while_loading`). A mistake in the files is
/// said before a database that cannot be reached.
async fn run_on<B: Backend>(
    target: &Target,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
    options: &RunOptions,
    direction: Direction,
) -> Result<(Migrator, RunReport)> {
    let loading = start_loading(target, crate::cache::migrator)?;
    let mut backend = match connect.await {
        Ok(backend) => backend,
        Err(e) => {
            loading.await?;
            return Err(e).context("connecting to the database");
        }
    };
    let loading = async {
        let migrator = loading.await?;
        if direction == Direction::Up {
            crate::output::forks(&migrator.forks());
        }
        Ok(migrator)
    };
    Ok(Migrator::run_while_loading(&mut backend, loading, options, direction).await?)
}

pub async fn up(args: UpArgs) -> Result<()> {
    with_backend!(&args.target, !args.run.dry_run, up_on(&args))
}

async fn up_on<B: Backend>(
    args: &UpArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    let options = args.run.options(args.count, args.allow_destructive);
    let (migrator, report) = run_on(&args.target, connect, &options, Direction::Up).await?;
    print_report(&migrator, &report, args.run.dry_run)?;
    if args.run.dry_run
        && !args.allow_destructive
        && report.steps.iter().any(|s| !s.destructive.is_empty())
    {
        println!(
            "{YELLOW}note:{YELLOW:#} applying this needs --allow-destructive (it can lose data)"
        );
    }
    Ok(())
}

pub async fn down(args: DownArgs) -> Result<()> {
    with_backend!(&args.target, !args.run.dry_run, down_on(&args))
}

async fn down_on<B: Backend>(
    args: &DownArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    let options = args.run.options(Some(args.count), true);
    let (migrator, report) = run_on(&args.target, connect, &options, Direction::Down).await?;
    print_report(&migrator, &report, args.run.dry_run)
}

fn print_report(migrator: &Migrator, report: &RunReport, dry_run: bool) -> Result<()> {
    if report.steps.is_empty() {
        println!("Nothing to do.");
        return Ok(());
    }
    for step in &report.steps {
        let verb = match (step.direction, dry_run) {
            (Direction::Up, false) => "Applied",
            (Direction::Down, false) => "Reverted",
            (Direction::Up, true) => "Would apply",
            (Direction::Down, true) => "Would revert",
        };
        let time = step
            .execution_time
            .map(|t| format!(" {DIM}({} ms){DIM:#}", t.as_millis()))
            .unwrap_or_default();
        println!(
            "{GREEN}{verb}{GREEN:#} {BOLD}{}{BOLD:#}{time}",
            step.version
        );
        for destructive in &step.destructive {
            println!("  {YELLOW}can lose data:{YELLOW:#} {destructive}");
        }
        if dry_run {
            step.findings.iter().for_each(crate::output::finding);
        }
        if step.direction == Direction::Down {
            // What `up` dropped, `down` re-creates empty: say so.
            let plan = migrator
                .migrations()?
                .iter()
                .find(|p| p.version == step.version);
            for op in plan.into_iter().flat_map(|p| &p.up) {
                if let Operation::DropTable { .. } | Operation::DropColumn { .. } = op {
                    println!(
                        "  {YELLOW}note:{YELLOW:#} up did `{op}`; down re-creates it, but not the data it held"
                    );
                }
            }
        }
        for statement in &step.statements {
            println!("{statement};");
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// What the first migration is called.
    #[arg(long, short, default_value = "baseline")]
    message: String,
}

/// Adopts an existing database: its schema becomes the first migration (and `.schema.json`),
/// recorded as applied there without running it.
pub async fn baseline(args: BaselineArgs) -> Result<()> {
    with_backend!(&args.target, false, baseline_on(&args))
}

async fn baseline_on<B: Backend>(
    args: &BaselineArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    let mut backend = connect
        .await
        .with_context(|| "connecting to the database".to_string())?;
    let generator = toasty_migrate::files::MigrationGenerator::new(&args.target.dir);
    let plan = toasty_migrate::run::baseline(&mut backend, &generator, &args.message).await?;
    println!(
        "{GREEN}Wrote{GREEN:#} {} ({} tables) and recorded it as applied on {}",
        args.target
            .dir
            .join(format!("{}.rs", plan.version))
            .display(),
        plan.up.len(),
        backend.target()
    );
    println!(
        "{DIM}Next: export your models' schema and run `toasty migrate:generate`: it writes only \
         what differs from this database.{DIM:#}"
    );
    Ok(())
}
