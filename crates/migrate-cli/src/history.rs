//! `toasty migrate:squash` and `migrate:rebase`: rewriting the history of the migrations
//! directory, with no database. The library decides (`toasty_migrate::files::{squash, rebase}`);
//! this prints what changed and what it means for databases.

use crate::output::{BOLD, GREEN, YELLOW};
use anstream::println;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use toasty_migrate::files::{
    MigrationGenerator, parse_migration_dir, rebase, squash, write_history,
};

#[derive(Args)]
pub struct SquashArgs {
    /// The newest migration to squash (with every one before it); the newest of all by default.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// The squashed migration's name.
    #[arg(short, long, default_value = "squashed")]
    message: String,
    /// The migrations directory (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    dir: PathBuf,
}

#[derive(Args)]
pub struct RebaseArgs {
    /// The migration to move after the other branch's, with those generated on top of it.
    version: String,
    /// The migrations directory (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    dir: PathBuf,
}

fn dir_exists(dir: &std::path::Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "migrations directory {} not found (pass --dir)",
            dir.display()
        );
    }
    Ok(())
}

pub fn run_squash(args: SquashArgs) -> Result<()> {
    dir_exists(&args.dir)?;
    let plans = parse_migration_dir(&args.dir)?;
    let plan = squash(&plans, args.to.as_deref(), &args.message)?;
    let path = &write_history(&args.dir, std::slice::from_ref(&plan))?[0];
    let (first, last) = (
        &plan.replaces[0],
        plan.replaces.last().expect("two or more"),
    );
    println!(
        "{GREEN}Squashed{GREEN:#} {} migrations ({first} .. {last}) into {BOLD}{}{BOLD:#}",
        plan.replaces.len(),
        path.display()
    );
    println!(
        "{YELLOW}Before{YELLOW:#} this history runs anywhere, every database must have applied \
         {last}: one that did is up to date (its next migrate:up records the squash in their \
         place); a new one runs only the squash; one that applied only some of them is refused."
    );
    Ok(())
}

pub fn run_rebase(args: RebaseArgs) -> Result<()> {
    dir_exists(&args.dir)?;
    let plans = parse_migration_dir(&args.dir)?;
    let moved = rebase(&plans, &args.version, &MigrationGenerator::new(&args.dir))?;
    let paths = write_history(&args.dir, &moved)?;
    let parent = moved[0].parent.as_deref().unwrap_or_default();
    println!(
        "{GREEN}Rebased{GREEN:#} {} migration(s) on top of {BOLD}{parent}{BOLD:#}:",
        moved.len()
    );
    for (plan, path) in moved.iter().zip(&paths) {
        println!("  {} -> {}", plan.replaces[0], path.display());
    }
    println!(
        "A database that applied the old version(s) is up to date with the new: its next \
         migrate:up applies the other branch's migrations and records the new versions in place \
         of the old."
    );
    Ok(())
}
