//! `toasty`: generate, apply, revert and inspect toasty-migrate migrations from the command line.
//!
//! Each subcommand is a thin layer over the library: `migrate:generate` over the core's diff and
//! generator, `migrate:up|down|status` over its `Migrator` driving a `toasty-migrate-sql` backend.
//! This crate decides only what is printed and which exit code a failure gets.

mod backend;
mod cache;
mod check;
mod config;
mod generate;
mod history;
mod init;
mod lint;
mod models;
mod output;
mod run;
mod seed;
mod status;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (including: nothing to do)
  1  the database failed: unreachable, a statement failed, or the migration lock was held too long
  2  a mistake to fix on your side: bad arguments or files, an edited or missing migration,
     a destructive change without --allow-destructive, a type the database cannot store";

#[derive(Parser)]
#[command(name = "toasty", version, about = "Schema migrations for the Toasty ORM", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up a Toasty application once: toasty.toml and the binary that prints its models'
    /// schema, so that generate needs no exported file.
    #[command(name = "migrate:init", after_help = EXIT_CODES)]
    Init(init::InitArgs),
    /// Write a migration for the difference between the schema as of the last migration
    /// (`<dir>/.schema.json`) and the desired schema (`--schema`).
    #[command(name = "migrate:generate", after_help = EXIT_CODES)]
    Generate(generate::GenerateArgs),
    /// Check, with no database, that the migration files, `<dir>/.schema.json` and the
    /// application's schema agree (the CI gate; exit 2 listing the differences).
    #[command(name = "migrate:check", after_help = EXIT_CODES)]
    Check(check::CheckArgs),
    /// Adopt an existing database: its schema becomes the first migration, recorded as applied
    /// there without running.
    #[command(name = "migrate:baseline", after_help = EXIT_CODES)]
    Baseline(run::BaselineArgs),
    /// Replace the migrations from the first through --to (all by default) with one that builds
    /// the same schema; databases that applied them stay up to date.
    #[command(name = "migrate:squash", after_help = EXIT_CODES)]
    Squash(history::SquashArgs),
    /// Move a migration (and those generated on top of it) after the other branch's, once two
    /// branches that each generated migrations are merged.
    #[command(name = "migrate:rebase", after_help = EXIT_CODES)]
    Rebase(history::RebaseArgs),
    /// Write an empty migration (the schema as of the last one) to fill with data steps.
    #[command(name = "migrate:new", after_help = EXIT_CODES)]
    New(generate::NewArgs),
    /// What migrations do to a database in use (locks, rewrites, data they can lose): the
    /// pending ones with --url, else every one (or --latest N); exit 2 on an error not allowed.
    #[command(name = "migrate:lint", after_help = EXIT_CODES)]
    Lint(lint::LintArgs),
    /// Apply pending migrations, oldest first.
    #[command(name = "migrate:up", after_help = EXIT_CODES)]
    Up(run::UpArgs),
    /// Revert applied migrations, newest first (one unless --count says more).
    #[command(name = "migrate:down", after_help = EXIT_CODES)]
    Down(run::DownArgs),
    /// Show each migration as applied, pending, edited since applied or missing, and whether the
    /// database still matches the migrations (drift).
    #[command(name = "migrate:status", after_help = EXIT_CODES)]
    Status(status::StatusArgs),
    /// Apply seed data (`seeds/<set>.json`) idempotently: insert new rows, update changed ones
    /// by primary key, leave the rest.
    #[command(name = "db:seed", after_help = EXIT_CODES)]
    Seed(seed::SeedArgs),
}

/// Where the migrations are and which database to use.
#[derive(Args, Clone)]
pub struct Target {
    /// Database URL: sqlite:PATH, sqlite::memory:, postgres://..., mysql://..., mongodb://host/db, dynamodb://region?endpoint=...
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    url: Option<String>,
    /// The migrations directory (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    pub dir: PathBuf,
    /// SQL: rows per batch of a data step's update or delete, so that no statement holds its
    /// locks over the whole table.
    #[arg(long, value_name = "ROWS", default_value_t = 1000)]
    pub batch_size: usize,
    /// PostgreSQL, MySQL: how long a statement waits for a lock the application holds before
    /// the migration lets go and is retried (--lock-retries); 0 waits as the server says.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub lock_wait: u64,
}

impl Target {
    /// `--url`, or `DATABASE_URL`, or the variable toasty.toml's `url_env` names.
    pub fn given_url(&self) -> Option<String> {
        self.url.clone().or_else(|| {
            let name = config::get().url_env.as_deref()?;
            std::env::var(name).ok()
        })
    }

    /// The database URL ([`Target::given_url`]); refused if it is not the database flavor
    /// toasty.toml builds the schema for.
    pub fn url(&self) -> anyhow::Result<String> {
        let url = self.given_url().ok_or_else(|| {
            anyhow::anyhow!(
                "no database URL: pass --url (e.g. --url sqlite:app.db) or set DATABASE_URL"
            )
        })?;
        config::check_flavor(&url)?;
        Ok(url)
    }
}

impl Command {
    /// The database URL the command was given, if any: its credentials are kept out of every
    /// message.
    fn url(&self) -> Option<String> {
        match self {
            Command::Init(_)
            | Command::Generate(_)
            | Command::New(_)
            | Command::Check(_)
            | Command::Squash(_)
            | Command::Rebase(_) => None,
            Command::Lint(args) => args.target.given_url(),
            Command::Up(args) => args.target.given_url(),
            Command::Down(args) => args.target.given_url(),
            Command::Status(args) => args.target.given_url(),
            Command::Seed(args) => args.target.given_url(),
            Command::Baseline(args) => args.target.given_url(),
        }
    }
}

fn main() -> ExitCode {
    // Before the arguments: toasty.toml gives their defaults.
    if let Err(err) = config::load() {
        output::error(&err, None);
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let url = cli.command.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Init(args) => init::run(args),
            Command::Generate(args) => generate::run(args),
            Command::New(args) => generate::new(args),
            Command::Check(args) => check::run(args),
            Command::Squash(args) => history::run_squash(args),
            Command::Rebase(args) => history::run_rebase(args),
            Command::Lint(args) => lint::run(args).await,
            Command::Up(args) => run::up(args).await,
            Command::Down(args) => run::down(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Seed(args) => seed::run(args).await,
            Command::Baseline(args) => run::baseline(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::error(&err, url.as_deref());
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 1 when the database failed, 2 for everything the user can fix.
fn exit_code(err: &anyhow::Error) -> u8 {
    use toasty_migrate::Error;
    match err.downcast_ref::<Error>() {
        Some(Error::Backend { .. } | Error::LockTimeout { .. }) => 1,
        _ => 2,
    }
}
