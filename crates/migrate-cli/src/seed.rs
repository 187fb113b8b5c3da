//! `toasty db:seed`: applies seed files (`<seeds>/<set>.json`) to a database whose migrations
//! are all applied, idempotently, and says per table what it inserted, updated and left alone.

use crate::Target;
use crate::backend::with_backend;
use crate::output::{BOLD, DIM, GREEN};
use crate::run::open_with;
use anstream::println;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use toasty_migrate::backend::Backend;
use toasty_migrate::seed::SeedSet;

#[derive(Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// The directory of the seed files.
    #[arg(long, default_value = "seeds")]
    seeds: PathBuf,
    /// A set to apply, `<seeds>/<set>.json` (repeatable, applied in order).
    #[arg(long = "set", value_name = "SET", default_value = "default")]
    sets: Vec<String>,
}

pub async fn run(args: SeedArgs) -> Result<()> {
    // Every file is read and checked before a connection is made.
    let sets = args
        .sets
        .iter()
        .map(|name| SeedSet::load(&args.seeds, name))
        .collect::<toasty_migrate::Result<Vec<_>>>()?;
    with_backend!(&args.target, true, seed_on(&args, &sets))
}

async fn seed_on<B: Backend>(
    args: &SeedArgs,
    sets: &[SeedSet],
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    let (migrator, mut backend) = open_with(&args.target, crate::cache::migrator, connect).await?;
    let counts = migrator.seed(&mut backend, sets).await?;
    let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
    println!("{BOLD}Seeded{BOLD:#} {}:", names.join(", "));
    for count in &counts {
        println!(
            "  {}: {GREEN}{} inserted{GREEN:#}, {} updated, {DIM}{} unchanged{DIM:#}",
            count.table, count.inserted, count.updated, count.unchanged
        );
    }
    Ok(())
}
