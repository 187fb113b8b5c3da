//! `toasty migrate:status`: each migration's state, and drift between the database and what the
//! applied migrations say it should be.

use crate::Target;
use crate::backend::with_backend;
use crate::cache::{read_cache_file, write_cache_file};
use crate::output::{BOLD, DIM, GREEN, RED, YELLOW};
use crate::run::open_with;
use anstream::{print, println};
use anyhow::Result;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
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
    with_backend!(args.target.url()?, false, run_on(&args))
}

async fn run_on<B: Backend>(
    args: &StatusArgs,
    connect: impl Future<Output = toasty_migrate::Result<B>>,
) -> Result<()> {
    let (index, mut backend) = open_with(&args.target, crate::cache::index, connect).await?;
    let statuses = index.status(&mut backend).await?;
    let drift = drift(&args.target.dir, &statuses, &mut backend).await?;
    let history = history_problem(&statuses);
    if args.json {
        print_json(&statuses, &drift, history.is_none());
    } else {
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
        _ => None,
    })
}

/// Compares the database with the schema its applied migrations build ([`toasty_migrate::run::Migrator::drift`]).
/// That takes the plans and a full introspection, so an "in sync" verdict is kept in the migrations' cache directory per
/// database and reused while the applied migrations' checksums and one of two tokens stay the
/// same: the server's commit watermark (nothing committed at all since) or the schema's
/// fingerprint (the catalog read cheaply). Backends with neither always compare in full.
async fn drift(
    dir: &Path,
    statuses: &[MigrationStatus],
    backend: &mut impl Backend,
) -> Result<Drift> {
    let mut applied = Vec::new();
    for status in statuses {
        match &status.state {
            MigrationState::Applied(a) => applied.push((&status.version, &a.checksum)),
            MigrationState::Modified { file_checksum, .. } => {
                applied.push((&status.version, file_checksum))
            }
            MigrationState::Pending => {}
            MigrationState::Missing(_) | MigrationState::Partial(_) => {
                return Ok(Drift::Unknown(format!(
                    "migration {} is {}",
                    status.version,
                    state_name(&status.state)
                )));
            }
        }
    }
    // A token keys a verdict together with the migrations it was made against.
    let keyed = |token: String| {
        hash(
            [token]
                .into_iter()
                .chain(applied.iter().map(|(v, c)| format!("{v} {c}"))),
        )
    };
    // Databases are told apart by a hash of their (password-free) target.
    let database = hash([backend.target()]);
    let cached = Verdict::cached(dir, &database);
    // Taken before the schema is read: a later equal watermark vouches for all read after it.
    // (The applied migrations were read before, but they are part of the key.)
    let watermark = backend.commit_watermark().await?.map(keyed);
    if watermark.is_some() && watermark == cached.watermark {
        return Ok(Drift::InSync);
    }
    let fingerprint = backend.schema_fingerprint().await?;
    let fingerprint_key = fingerprint.clone().map(keyed);
    if fingerprint_key.is_some() && fingerprint_key == cached.fingerprint {
        Verdict {
            fingerprint: fingerprint_key,
            watermark,
        }
        .keep(dir, &database);
        return Ok(Drift::InSync);
    }

    let drift = crate::cache::migrator(dir)?.drift(backend).await?;
    if drift == Drift::InSync {
        // The fingerprint vouches for the verdict only if nothing changed the schema while it
        // was compared; the watermark, taken first, moves with any such change by itself.
        let fingerprint = match fingerprint_key {
            Some(key) if backend.schema_fingerprint().await? == fingerprint => Some(key),
            _ => None,
        };
        Verdict {
            fingerprint,
            watermark,
        }
        .keep(dir, &database);
    }
    Ok(drift)
}

/// SHA-256 over `parts`, each ended by a zero byte, in hex.
fn hash<S: AsRef<[u8]>>(parts: impl IntoIterator<Item = S>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_ref());
        hasher.update([0]);
    }
    format!("{:x}", hasher.finalize())
}

/// The tokens, each keyed with the applied migrations, under which a database was last found in
/// sync with them.
#[derive(Default, PartialEq, Serialize, Deserialize)]
struct Verdict {
    fingerprint: Option<String>,
    watermark: Option<String>,
}

/// The kept verdicts, by database. Read only by the version of the tool that wrote them (a newer
/// one may compare differently).
#[derive(Serialize, Deserialize)]
struct Verdicts {
    toasty_migrate: String,
    in_sync: BTreeMap<String, Verdict>,
}

const VERDICT_FILE: &str = "in-sync.json";
/// Databases whose last verdict is kept.
const VERDICTS_KEPT: usize = 16;

impl Verdict {
    fn all(dir: &Path) -> BTreeMap<String, Verdict> {
        read_cache_file(dir, VERDICT_FILE)
            .and_then(|bytes| serde_json::from_slice::<Verdicts>(&bytes).ok())
            .filter(|v| v.toasty_migrate == env!("CARGO_PKG_VERSION"))
            .map(|v| v.in_sync)
            .unwrap_or_default()
    }

    fn cached(dir: &Path, database: &str) -> Verdict {
        Self::all(dir).remove(database).unwrap_or_default()
    }

    /// Records this verdict for `database`, unless it is already the one kept or vouches for
    /// nothing.
    fn keep(self, dir: &Path, database: &str) {
        if self == Verdict::default() {
            return;
        }
        let mut all = Self::all(dir);
        if all.get(database) == Some(&self) {
            return;
        }
        if all.len() >= VERDICTS_KEPT {
            all.clear();
        }
        all.insert(database.to_string(), self);
        let file = Verdicts {
            toasty_migrate: env!("CARGO_PKG_VERSION").to_string(),
            in_sync: all,
        };
        let bytes = serde_json::to_vec(&file).expect("verdicts serialize");
        write_cache_file(dir, VERDICT_FILE, &bytes);
    }
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
    print!("{out}");
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
fn print_json(statuses: &[MigrationStatus], drift: &Drift, ok: bool) {
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
    let out = json!({ "ok": ok, "migrations": migrations, "schema": drift });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values serialize")
    );
}
