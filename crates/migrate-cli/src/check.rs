//! `toasty migrate:check`: the CI gate. Needs no database: replays every migration file from
//! empty and compares what they build with `.schema.json` and with the application's exported
//! schema. Exit 0 when all three agree, 2 listing the changes when not; `--fix` rewrites
//! `.schema.json` and `mod.rs` from the files (so a merge conflict in them is never resolved by
//! hand).

use crate::models::Source;
use crate::output::{BOLD, GREEN, YELLOW};
use anstream::println;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use toasty_migrate::files::{MOD_FILE, SCHEMA_FILE, check, list_versions, render_mod};
use toasty_migrate::schema::save_snapshot;

#[derive(Args)]
pub struct CheckArgs {
    /// The application's schema, as exported for `migrate:generate`; without it (and with no
    /// `schema.json` here) only the files and `.schema.json` are compared.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// The migrations directory (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    dir: PathBuf,
    /// Rewrite `.schema.json` and `mod.rs` as the migration files build and list them.
    #[arg(long)]
    fix: bool,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CheckArgs) -> Result<()> {
    if !args.dir.is_dir() {
        bail!(
            "migrations directory {} not found (pass --dir)",
            args.dir.display()
        );
    }
    // The same source as `migrate:generate`, where there is one: a schema file that does not
    // exist is only compared when named.
    let schema = match crate::models::source(args.schema.as_deref()) {
        Source::File(path) if args.schema.is_none() && !path.exists() => None,
        source => Some(source),
    };
    let desired = schema.as_ref().map(crate::models::load).transpose()?;
    let mut found = check(&args.dir, desired.as_ref())?;
    let recorded = args.dir.join(SCHEMA_FILE);
    if args.fix && !found.recorded.is_empty() {
        save_snapshot(&found.built, &recorded)?;
        if !args.json {
            println!(
                "{GREEN}Rewrote{GREEN:#} {} from the migration files",
                recorded.display()
            );
        }
        found.recorded.clear();
    }
    if args.fix && found.listing.is_some() {
        let listing = args.dir.join(MOD_FILE);
        std::fs::write(&listing, render_mod(&list_versions(&args.dir)?))
            .with_context(|| format!("writing {}", listing.display()))?;
        if !args.json {
            println!(
                "{GREEN}Rewrote{GREEN:#} {} from the migration files",
                listing.display()
            );
        }
        found.listing = None;
    }
    if args.json {
        println!(
            "{}",
            json!({
                "ok": found.is_clean(),
                "recorded": found.recorded,
                "listing": found.listing,
                "pending": found.pending,
                "forks": found.forks,
            })
        );
    } else {
        if !found.recorded.is_empty() {
            println!(
                "{YELLOW}{} is not what the migration files build{YELLOW:#} (edited or merged by hand; `migrate:check --fix` rewrites it):",
                recorded.display()
            );
            for change in &found.recorded {
                println!("  {change}");
            }
        }
        if let Some(listing) = &found.listing {
            println!("{YELLOW}{listing}{YELLOW:#} (`migrate:check --fix` rewrites it)");
        }
        for fork in &found.forks {
            println!("{YELLOW}Branches merged:{YELLOW:#} {fork}");
        }
        if !found.pending.is_empty() {
            println!(
                "{YELLOW}The schema changed with no migration{YELLOW:#} ({} against the files; run `migrate:generate`):",
                schema.as_ref().expect("pending needs a schema")
            );
            for change in &found.pending {
                println!("  {change}");
            }
        }
        if found.is_clean() {
            let against = match &schema {
                Some(source) => format!(", {} and {source}", recorded.display()),
                None => format!(" and {}", recorded.display()),
            };
            println!("{BOLD}In sync:{BOLD:#} the migration files{against} agree");
        }
    }
    if !found.is_clean() {
        bail!("the migrations are not in sync (see above)");
    }
    Ok(())
}
