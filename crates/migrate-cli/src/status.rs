//! `toasty migrate:status`: each migration's state, and drift between the database and what the
//! applied migrations say it should be.

use crate::Target;
use crate::backend::AnyBackend;
use crate::output::{BOLD, DIM, GREEN, RED, YELLOW};
use crate::run::open;
use anstream::println;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use toasty_migrate::{MigrationState, MigrationStatus, Migrator, SchemaSnapshot, detect_changes};

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: StatusArgs) -> Result<()> {
    let (migrator, mut backend) = open(&args.target).await?;
    let statuses = migrator.status(&mut backend).await?;
    let drift = drift(&migrator, &statuses, &mut backend).await?;
    if args.json {
        print_json(&statuses, &drift);
    } else {
        print_table(&statuses, &drift);
    }
    Ok(())
}

/// Whether the database matches the schema its applied migrations build.
enum Drift {
    InSync,
    /// Changes that would turn the expected schema into the database's.
    Differs(Vec<String>),
    /// Not checked, and why.
    Unknown(String),
}

async fn drift(
    migrator: &Migrator,
    statuses: &[MigrationStatus],
    backend: &mut AnyBackend,
) -> Result<Drift> {
    let mut expected = SchemaSnapshot::default();
    for status in statuses {
        let applied = matches!(
            status.state,
            MigrationState::Applied(_) | MigrationState::Modified { .. }
        );
        if !applied {
            if matches!(
                status.state,
                MigrationState::Missing(_) | MigrationState::Partial(_)
            ) {
                return Ok(Drift::Unknown(format!(
                    "migration {} is {}",
                    status.version,
                    state_name(&status.state)
                )));
            }
            continue;
        }
        let plan = migrator
            .migrations()
            .iter()
            .find(|p| p.version == status.version)
            .expect("applied has a plan");
        for op in &plan.up {
            if expected.apply(op).is_err() {
                return Ok(Drift::Unknown(format!(
                    "migration {} has an operation that cannot be replayed (`{op}`)",
                    plan.version
                )));
            }
        }
    }
    let live = backend.introspect().await?;
    let expected = backend.stored(&expected);
    if live.is_equivalent(&expected) {
        return Ok(Drift::InSync);
    }
    Ok(match detect_changes(&expected, &live) {
        Ok(diff) => Drift::Differs(diff.changes.iter().map(|c| c.to_string()).collect()),
        Err(e) => Drift::Differs(vec![e.to_string()]),
    })
}

fn state_name(state: &MigrationState) -> &'static str {
    match state {
        MigrationState::Pending => "pending",
        MigrationState::Applied(_) => "applied",
        MigrationState::Modified { .. } => "modified",
        MigrationState::Missing(_) => "missing",
        MigrationState::Partial(_) => "partial",
    }
}

fn print_table(statuses: &[MigrationStatus], drift: &Drift) {
    if statuses.is_empty() {
        println!("No migrations.");
    }
    for status in statuses {
        let (style, note) = match &status.state {
            MigrationState::Pending => (YELLOW, String::new()),
            MigrationState::Applied(a) => (
                GREEN,
                format!("{DIM}applied {}{DIM:#}", rfc3339(a.applied_at)),
            ),
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
                        "interrupted {what}, after {done} of {total} statements; `{resume}` resumes it"
                    ),
                )
            }
        };
        let state = state_name(&status.state);
        println!(
            "{style}{state:<9}{style:#} {BOLD}{}{BOLD:#} {note}",
            status.version
        );
    }
    match drift {
        Drift::InSync => {
            println!("{GREEN}schema:{GREEN:#} the database matches the applied migrations")
        }
        Drift::Differs(changes) => {
            println!(
                "{RED}schema: drift{RED:#}: the database differs from what the applied migrations build:"
            );
            for change in changes {
                println!("  {change}");
            }
        }
        Drift::Unknown(why) => println!("{YELLOW}schema:{YELLOW:#} not checked: {why}"),
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats")
}

fn print_json(statuses: &[MigrationStatus], drift: &Drift) {
    let migrations: Vec<_> = statuses
        .iter()
        .map(|s| {
            let applied = match &s.state {
                MigrationState::Applied(a) | MigrationState::Missing(a) | MigrationState::Partial(a) => Some(a),
                MigrationState::Modified { applied, .. } => Some(applied),
                MigrationState::Pending => None,
            };
            json!({
                "version": s.version,
                "state": state_name(&s.state),
                "applied_at": applied.map(|a| rfc3339(a.applied_at)),
                "checksum": applied.map(|a| a.checksum.clone()),
                "file_checksum": match &s.state { MigrationState::Modified { file_checksum, .. } => Some(file_checksum.clone()), _ => None },
                "progress": applied.and_then(|a| a.progress).map(|(done, total)| json!({"done": done, "total": total})),
            })
        })
        .collect();
    let drift = match drift {
        Drift::InSync => json!({"state": "in_sync"}),
        Drift::Differs(changes) => json!({"state": "drift", "changes": changes}),
        Drift::Unknown(why) => json!({"state": "unknown", "reason": why}),
    };
    let out = json!({ "migrations": migrations, "schema": drift });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values serialize")
    );
}
