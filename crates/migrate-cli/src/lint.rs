//! `toasty migrate:lint`: what migrations do to a database in use, for CI. With a database URL,
//! the pending migrations, as a dry run of `up` plans them there; without one, every migration
//! (or the newest `--latest N`), each against the schema the ones before it build, by the rules
//! of toasty.toml's flavor. Exit 2 when an error-level finding is not allowed in its file.

use crate::Target;
use crate::backend::with_backend;
use crate::output::{BOLD, GREEN};
use anstream::println;
use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;
use toasty_migrate::{
    backend::Backend,
    lint::{Finding, lint_history},
    run::RunOptions,
    schema::{Operation, TableSnapshot},
};
use toasty_migrate_sql::Dialect;

#[derive(Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Without a database: only the newest N migrations.
    #[arg(long, value_name = "N")]
    latest: Option<usize>,
    /// Lint the plain forms, as `migrate:up --offline` runs them.
    #[arg(long)]
    offline: bool,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: LintArgs) -> Result<()> {
    let linted = match args.target.given_url() {
        Some(_) => with_backend!(&args.target, false, pending_on(&args))?,
        None => without_database(&args)?,
    };
    report(&linted, args.json)
}

/// The pending migrations' findings on the database, from a dry run of `up`.
async fn pending_on<B: Backend>(
    args: &LintArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<Vec<(String, Vec<Finding>)>> {
    let (migrator, mut backend) =
        crate::run::open_with(&args.target, crate::cache::migrator, connect).await?;
    let dry = RunOptions {
        dry_run: true,
        offline: args.offline,
        ..RunOptions::default()
    };
    let report = migrator.up(&mut backend, &dry).await?;
    Ok(report
        .steps
        .into_iter()
        .map(|s| (s.version, s.findings))
        .collect())
}

/// Every migration's findings (or the newest `--latest`), each against the schema the ones
/// before it build, with no database.
fn without_database(args: &LintArgs) -> Result<Vec<(String, Vec<Finding>)>> {
    let dir = &args.target.dir;
    if !dir.is_dir() {
        bail!(
            "migrations directory {} not found (pass --dir)",
            dir.display()
        );
    }
    let migrator = crate::cache::migrator(dir)?;
    let plans = migrator.migrations()?;
    let skip = plans.len() - args.latest.unwrap_or(plans.len()).min(plans.len());
    let rules = rules(crate::config::get().flavor.as_deref());
    Ok(lint_history(plans, skip, !args.offline, &*rules)
        .into_iter()
        .map(|(plan, findings)| (plan.version.clone(), findings))
        .collect())
}

/// A database's own lint rules, as `lint_plan` takes them.
pub type Rules = Box<dyn Fn(&Operation, &TableSnapshot, bool) -> Vec<Finding>>;

/// The database's own rules for a flavor (toasty.toml's); with none, the shared rules alone.
pub fn rules(flavor: Option<&str>) -> Rules {
    let sql = |dialect: Dialect| -> Rules {
        Box::new(move |op, table, online| {
            toasty_migrate_sql::lint::findings(dialect, op, table, online)
        })
    };
    match (flavor, flavor.and_then(crate::config::sql_dialect)) {
        (_, Some(dialect)) => sql(dialect),
        #[cfg(feature = "dynamodb")]
        (Some("dynamodb"), None) => {
            Box::new(|op, table, _| toasty_migrate_nosql::dynamodb_lint(op, table))
        }
        _ => Box::new(|_, _, _| Vec::new()),
    }
}

fn report(linted: &[(String, Vec<Finding>)], json: bool) -> Result<()> {
    let blocking = linted
        .iter()
        .flat_map(|(_, f)| f)
        .filter(|f| f.blocks())
        .count();
    if json {
        let migrations: Vec<_> = linted
            .iter()
            .map(|(version, findings)| json!({"version": version, "findings": findings}))
            .collect();
        println!("{}", json!({"ok": blocking == 0, "migrations": migrations}));
    } else {
        for (version, findings) in linted.iter().filter(|(_, f)| !f.is_empty()) {
            println!("{BOLD}{version}{BOLD:#}");
            findings.iter().for_each(crate::output::finding);
        }
        if linted.iter().all(|(_, f)| f.is_empty()) {
            println!(
                "{GREEN}No findings{GREEN:#} in {} migration(s)",
                linted.len()
            );
        }
    }
    if blocking > 0 {
        bail!(
            "{blocking} finding(s) at error level; change the migration, or allow the code in \
             its file with the reason it is safe: fn allow(&self) -> &[(&str, &str)] {{ \
             &[(\"<code>\", \"<why>\")] }}"
        );
    }
    Ok(())
}
