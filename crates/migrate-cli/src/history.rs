//! `toasty migrate:squash`: rewriting the history of the migrations directory, with no
//! database. The library decides (`toasty_migrate::files::squash`); this prints what changed and
//! what every database must have done first.

use crate::output::{BOLD, GREEN, YELLOW};
use anstream::println;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use toasty_migrate::files::{parse_migration_dir, squash, write_squash};

#[derive(Args)]
pub struct SquashArgs {
    /// The newest migration to squash (with every one before it); the newest of all by default.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// The squashed migration's name.
    #[arg(short, long, default_value = "squashed")]
    message: String,
    /// The migrations directory.
    #[arg(long, default_value = "migrations")]
    dir: PathBuf,
}

pub fn squash_command(args: SquashArgs) -> Result<()> {
    if !args.dir.is_dir() {
        bail!(
            "migrations directory {} not found (pass --dir)",
            args.dir.display()
        );
    }
    let plans = parse_migration_dir(&args.dir)?;
    let plan = squash(&plans, args.to.as_deref(), &args.message)?;
    let path = write_squash(&args.dir, &plan)?;
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
