//! `toasty migrate:status`: each migration's state, and drift between the database and what the
//! applied migrations say it should be.

use crate::Target;
use crate::backend::with_backend;
use crate::output::{BOLD, DIM, GREEN, RED, YELLOW};
use crate::run::open_with;
use anstream::println;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::fmt::Write;
use toasty_migrate::{
    Error,
    backend::Backend,
    run::{Drift, MigrationState, MigrationStatus},
};

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: StatusArgs) -> Result<()> {
    with_backend!(&args.target, false, run_on(&args))
}

async fn run_on<B: Backend>(
    args: &StatusArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    // The tracking rows and the catalog are read while the migrations load.
    let read_ahead = async {
        let mut backend = connect.await?;
        let read =
            async { Ok::<_, Error>((backend.applied().await?, backend.introspect().await?)) };
        let read = read.await;
        Ok((backend, read))
    };
    let (migrator, (backend, read)) =
        open_with(&args.target, crate::cache::migrator_with_plans, read_ahead).await?;
    let (applied, live) = read?;
    let statuses = migrator.status_of(applied);
    let drift = migrator.drift_of(&statuses, &live, &backend)?;
    let history = history_problem(&statuses);
    if args.json {
        print_json(&statuses, &drift, &migrator.forks(), history.is_none());
    } else {
        crate::output::forks(&migrator.forks());
        print_table(&statuses, &drift);
    }
    // An applied migration edited or gone is what `up` and `down` refuse: status says so too,
    // with the same exit code.
    match history {
        Some(problem) => Err(problem.into()),
        None => Ok(()),
    }
}

/// The first applied migration whose file was edited or removed since, as the error `up` gives.
fn history_problem(statuses: &[MigrationStatus]) -> Option<Error> {
    statuses.iter().find_map(|s| match &s.state {
        MigrationState::Modified {
            applied,
            file_checksum,
        } => Some(Error::ChecksumMismatch {
            version: s.version.clone(),
            applied: applied.checksum.clone(),
            file: file_checksum.clone(),
        }),
        MigrationState::Missing(_) => Some(Error::MissingMigration {
            version: s.version.clone(),
        }),
        MigrationState::PartlyReplaced { missing, .. } => Some(Error::PartlySquashed {
            version: s.version.clone(),
            missing: missing.clone(),
        }),
        _ => None,
    })
}

fn state_name(state: &MigrationState) -> &'static str {
    match state {
        MigrationState::Pending => "pending",
        MigrationState::Applied(_) => "applied",
        MigrationState::Modified { .. } => "modified",
        MigrationState::Missing(_) => "missing",
        MigrationState::Partial(_) => "partial",
        MigrationState::AppliedAsReplaced(_) => "applied",
        MigrationState::PartlyReplaced { .. } => "partial",
    }
}

/// Written whole, in one write: a thousand migrations are a thousand lines.
fn print_table(statuses: &[MigrationStatus], drift: &Drift) {
    let now = time::OffsetDateTime::now_utc();
    let mut out = String::new();
    if statuses.is_empty() {
        out.push_str("No migrations.\n");
    }
    for status in statuses {
        let (style, note) = match &status.state {
            MigrationState::Pending => (YELLOW, String::new()),
            MigrationState::Applied(a) => {
                (GREEN, format!("{DIM}{}{DIM:#}", when(a.applied_at, now)))
            }
            MigrationState::Modified {
                applied,
                file_checksum,
            } => (
                RED,
                format!(
                    "file edited since it was applied (checksum {} applied, {} now)",
                    &applied.checksum[..12],
                    &file_checksum[..12]
                ),
            ),
            MigrationState::Missing(_) => (RED, "applied, but its file is gone".into()),
            MigrationState::Partial(a) => {
                let (done, total) = a.progress.unwrap_or_default();
                let (what, resume) = if a.reverting {
                    ("reverting", "migrate:down")
                } else {
                    ("applying", "migrate:up")
                };
                (
                    YELLOW,
                    format!(
                        "interrupted {what}, after {done} of {total} steps; `{resume}` resumes it"
                    ),
                )
            }
            MigrationState::AppliedAsReplaced(replaced) => {
                let versions: Vec<&str> = replaced.iter().map(|a| a.version.as_str()).collect();
                let what = match versions.len() {
                    1..=3 => versions.join(", "),
                    n => format!("the {n} migrations"),
                };
                (
                    GREEN,
                    format!(
                        "{DIM}{}{DIM:#} as {what}, which it replaces; the next `migrate:up` records it in their place",
                        when(replaced.last().expect("replaces some").applied_at, now),
                    ),
                )
            }
            MigrationState::PartlyReplaced { applied, missing } => (
                RED,
                format!(
                    "squashed {} migrations, of which this database applied only {}; check out \
                     the commit before the squash and run `migrate:up` there",
                    applied.len() + missing.len(),
                    applied.len()
                ),
            ),
        };
        let state = state_name(&status.state);
        let _ = writeln!(
            out,
            "{style}{state:<9}{style:#} {BOLD}{}{BOLD:#} {note}",
            status.version
        );
    }
    let _ = match drift {
        Drift::InSync => writeln!(
            out,
            "{GREEN}schema:{GREEN:#} the database matches the applied migrations"
        ),
        Drift::Differs(changes) => {
            let _ = writeln!(
                out,
                "{RED}schema: drift{RED:#}: the database differs from what the applied migrations build:"
            );
            changes
                .iter()
                .try_for_each(|change| writeln!(out, "  {change}"))
        }
        Drift::Unknown(why) => writeln!(out, "{YELLOW}schema:{YELLOW:#} not checked: {why}"),
    };
    crate::output::print_whole(&out);
}

/// `2026-11-29 14:02 UTC (3 days ago)`: at a glance; `--json` has the exact time.
fn when(at: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let date = at.format(&format).expect("a UTC time formats");
    let ago = now - at;
    let (n, unit) = if ago.whole_minutes() < 1 {
        return format!("{date} (just now)");
    } else if ago.whole_hours() < 1 {
        (ago.whole_minutes(), "minute")
    } else if ago.whole_days() < 1 {
        (ago.whole_hours(), "hour")
    } else {
        (ago.whole_days(), "day")
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{date} ({n} {unit}{plural} ago)")
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats")
}

/// `ok` is false when an applied migration was edited or removed (exit code 2).
fn print_json(statuses: &[MigrationStatus], drift: &Drift, forks: &[String], ok: bool) {
    let migrations: Vec<_> = statuses
        .iter()
        .map(|s| {
            let applied = match &s.state {
                MigrationState::Applied(a) | MigrationState::Missing(a) | MigrationState::Partial(a) => Some(a),
                MigrationState::Modified { applied, .. } => Some(applied),
                MigrationState::AppliedAsReplaced(replaced) => replaced.last(),
                MigrationState::PartlyReplaced { applied, .. } => applied.last(),
                MigrationState::Pending => None,
            };
            json!({
                "version": s.version,
                "state": state_name(&s.state),
                "applied_at": applied.map(|a| rfc3339(a.applied_at)),
                "checksum": applied.map(|a| a.checksum.clone()),
                "file_checksum": match &s.state { MigrationState::Modified { file_checksum, .. } => Some(file_checksum.clone()), _ => None },
                "progress": applied.and_then(|a| a.progress).map(|(done, total)| json!({"done": done, "total": total})),
                "applied_as": match &s.state {
                    MigrationState::AppliedAsReplaced(replaced) | MigrationState::PartlyReplaced { applied: replaced, .. } =>
                        Some(replaced.iter().map(|a| a.version.clone()).collect::<Vec<_>>()),
                    _ => None,
                },
            })
        })
        .collect();
    let drift = match drift {
        Drift::InSync => json!({"state": "in_sync"}),
        Drift::Differs(changes) => json!({"state": "drift", "changes": changes}),
        Drift::Unknown(why) => json!({"state": "unknown", "reason": why}),
    };
    let out = json!({ "ok": ok, "migrations": migrations, "schema": drift, "forks": forks });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values serialize")
    );
}
