//! `toasty migrate:generate`: diff the recorded schema against the desired one and write the
//! migration, asking (on a terminal) what a dropped and an added column of one type mean, with
//! any data steps given appended; `toasty migrate:new`: an empty migration for data steps.

use crate::output::{self, BOLD, DIM, GREEN, YELLOW};
use anstream::{eprint, println};
use anyhow::{Result, bail};
use clap::Args;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use toasty_migrate::{
    Error,
    diff::{ColumnRename, DiffOptions, detect_changes_with},
    files::{MigrationGenerator, SCHEMA_FILE, parse_step},
    schema::{Operation, SchemaSnapshot, TableSnapshot, load_snapshot},
};

#[derive(Args)]
pub struct GenerateArgs {
    /// What the migration does; it becomes the file's name.
    #[arg(long, short)]
    message: String,
    /// The desired schema: a snapshot the application exported with
    /// `SchemaSnapshot::from_models` (or `from_schema`) and `save_snapshot`. Default: the models
    /// themselves, as toasty.toml's `models_bin` prints them; else `schema.json`.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// The migrations directory, created if missing (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    dir: PathBuf,
    /// A column rename, as `table.old=new`, so it keeps its data (repeatable).
    #[arg(long = "rename", value_name = "TABLE.OLD=NEW")]
    renames: Vec<String>,
    /// Write the migration even if it drops tables, columns or indexes, or narrows a column.
    #[arg(long)]
    allow_destructive: bool,
    /// A data step to run after the schema changes, as the file writes it, e.g.
    /// 'db.update_rows("users", vec![("email_lower", lower(col("email")))], all())'
    /// (repeatable; checked against the schema before anything is written).
    #[arg(long = "data", value_name = "STEP")]
    data: Vec<String>,
}

#[derive(Args)]
pub struct NewArgs {
    /// What the migration does; it becomes the file's name.
    #[arg(long, short)]
    message: String,
    /// The migrations directory, created if missing (default: toasty.toml's `dir`, else `migrations`).
    #[arg(long, default_value_os_t = crate::config::get().dir())]
    dir: PathBuf,
}

/// Writes an empty migration, the schema as of the last one, for a person to fill with data
/// steps.
pub fn new(args: NewArgs) -> Result<()> {
    let generator = MigrationGenerator::new(&args.dir);
    let path = generator.write_migration_file(&generator.empty(&args.message)?)?;
    println!("{GREEN}Wrote{GREEN:#} {}", path.display());
    println!(
        "{DIM}Fill `up` and `down` with data steps: db.insert_rows, db.update_rows, db.delete_rows \
         (inserts are reverted by key on their own), or db.irreversible(\"why\") in `down`.{DIM:#}"
    );
    Ok(())
}

pub fn run(args: GenerateArgs) -> Result<()> {
    // Said before the changes are printed: nothing could be written there.
    if args.dir.exists() && !args.dir.is_dir() {
        bail!(
            "the migrations directory {} is not a directory (pass --dir DIR)",
            args.dir.display()
        );
    }
    let recorded = args.dir.join(SCHEMA_FILE);
    let source = crate::models::source(args.schema.as_deref());
    // The two schemas are read at once: for a large schema, reading is most of the run.
    let (old, new) = std::thread::scope(|scope| {
        let old = scope.spawn(|| match recorded.exists() {
            true => load_snapshot(&recorded),
            false => Ok(SchemaSnapshot::default()),
        });
        let new = crate::models::load(&source);
        (old.join().expect("reading a snapshot does not panic"), new)
    });
    let (old, new) = (old?, new?);
    let mut renames = args
        .renames
        .iter()
        .map(|r| r.parse::<ColumnRename>())
        .collect::<Result<Vec<_>, _>>()?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        renames.extend(ask_renames(&old, &new, &renames)?);
    }
    let diff = detect_changes_with(&old, &new, &DiffOptions { renames })?;
    let data = args
        .data
        .iter()
        .enumerate()
        .map(|(i, step)| parse_step(step, &format!("--data #{}", i + 1)))
        .collect::<toasty_migrate::Result<Vec<_>>>()?;
    if diff.is_empty() && data.is_empty() {
        println!(
            "No changes: {} already matches {}. Nothing written.",
            recorded.display(),
            source
        );
        return Ok(());
    }
    println!(
        "{BOLD}Changes{BOLD:#} ({} -> {source}):",
        recorded.display(),
    );
    for change in &diff.changes {
        output::change(change);
    }
    for step in &data {
        println!("  {DIM}data{DIM:#} {step}");
    }
    if diff.has_destructive() && !args.allow_destructive {
        let confirmed = interactive && ask("This migration can lose data. Write it anyway?")?;
        if !confirmed {
            bail!(Error::DestructiveNotAllowed {
                operations: diff
                    .changes
                    .iter()
                    .filter(|c| c.is_destructive())
                    .map(|c| c.to_string())
                    .collect(),
            });
        }
    }
    let generator = MigrationGenerator::new(&args.dir);
    let mut migration = match diff.is_empty() {
        true => generator.empty(&args.message)?,
        false => generator.generate(&diff, &args.message)?,
    };
    let reverts_data = data
        .iter()
        .all(|op| matches!(op, Operation::InsertRows { .. }));
    migration.up.extend(data);
    // What it will do to a database in use, by the configured flavor's rules: to review once
    // it is written.
    let rules = crate::lint::rules(crate::config::get().flavor.as_deref());
    let findings = toasty_migrate::lint::lint_plan(&migration, &old, true, &*rules);
    let path = generator.write_migration_file_over(&migration, old)?;
    println!("{GREEN}Wrote{GREEN:#} {}", path.display());
    findings.iter().for_each(output::finding);
    if !reverts_data {
        println!(
            "{YELLOW}note:{YELLOW:#} `down` does not revert the updates and deletes: add the steps \
             that do to its `down`, or db.irreversible(\"why\")"
        );
    }
    println!(
        "{DIM}Updated {} and {}{DIM:#}",
        args.dir.join("mod.rs").display(),
        recorded.display()
    );
    Ok(())
}

/// Django's questioner: for each table, a dropped column and an added column of the same type
/// may be one column renamed. Asks, and returns the renames confirmed.
fn ask_renames(
    old: &SchemaSnapshot,
    new: &SchemaSnapshot,
    known: &[ColumnRename],
) -> Result<Vec<ColumnRename>> {
    let old: HashMap<&str, &TableSnapshot> =
        old.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut confirmed: Vec<ColumnRename> = Vec::new();
    for new_table in &new.tables {
        let Some(old_table) = old.get(new_table.name.as_str()) else {
            continue;
        };
        let hinted = |c: &ColumnRename| c.table == new_table.name;
        let dropped: Vec<_> = old_table
            .columns
            .iter()
            .filter(|c| new_table.column(&c.name).is_none())
            .filter(|c| {
                !known
                    .iter()
                    .chain(&confirmed)
                    .any(|r| hinted(r) && r.from == c.name)
            })
            .collect();
        for gone in dropped {
            let candidates = new_table.columns.iter().filter(|c| {
                old_table.column(&c.name).is_none()
                    && c.ty == gone.ty
                    && !known
                        .iter()
                        .chain(&confirmed)
                        .any(|r| hinted(r) && r.to == c.name)
            });
            for added in candidates {
                let question = format!(
                    "Was {YELLOW}{}.{}{YELLOW:#} renamed to {YELLOW}{}{YELLOW:#} ({})? (no: drop it and add the new column)",
                    new_table.name, gone.name, added.name, added.ty
                );
                if ask(&question)? {
                    confirmed.push(ColumnRename {
                        table: new_table.name.clone(),
                        from: gone.name.clone(),
                        to: added.name.clone(),
                    });
                    break;
                }
            }
        }
    }
    Ok(confirmed)
}

/// A yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
