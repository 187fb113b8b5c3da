//! The CI gate, with no database: whether the migration files, the recorded snapshot
//! (`.schema.json`) and the application's schema agree. The files are replayed from empty; the
//! snapshot must be what they build (not edited or merged by hand), and the application's schema
//! must need no new migration.

use crate::diff::detect_changes;
use crate::generate::{MOD_FILE, SCHEMA_FILE};
use crate::migration::{Direction, MigrationPlan};
use crate::snapshot::{SchemaSnapshot, load_snapshot};
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// What `check` found. Each list holds one line per change, as `migrate:generate` prints them.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The schema the migration files build, replayed from empty.
    pub built: SchemaSnapshot,
    /// From `built` to `.schema.json`: a snapshot edited or merged by hand (or missing).
    pub recorded: Vec<String>,
    /// Why `mod.rs` is not the listing of the migration files (merged by hand, say), if it is not.
    pub listing: Option<String>,
    /// From `built` to the application's schema: models changed with no migration generated.
    pub pending: Vec<String>,
    /// Migrations generated on top of the same parent (two branches merged), one line each,
    /// with what to do.
    pub forks: Vec<String>,
}

impl Check {
    /// Whether the files, the snapshot and the application's schema agree.
    pub fn is_clean(&self) -> bool {
        self.recorded.is_empty()
            && self.listing.is_none()
            && self.pending.is_empty()
            && self.forks.is_empty()
    }
}

/// Where the history forks: each migration whose recorded parent is not the migration before
/// it, said with the one that took its place and what to do. Migrations written before parents
/// were recorded (none) are not judged.
pub fn forks(plans: &[MigrationPlan]) -> Vec<String> {
    fork_lines(&plans.iter().map(MigrationPlan::lineage).collect::<Vec<_>>())
}

/// A migration's version, its recorded parent and the versions it replaces.
pub(crate) type Lineage<'a> = (&'a str, Option<&'a str>, &'a [String]);

/// [`forks`] over each migration's lineage, oldest first.
pub(crate) fn fork_lines(history: &[Lineage]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, &(version, parent, _)) in history.iter().enumerate().skip(1) {
        let Some(parent) = parent else {
            continue;
        };
        let (before, _, before_replaces) = history[i - 1];
        // A squash stands in for the migrations it replaced, the last of which was the parent.
        if parent == before || before_replaces.iter().any(|v| v == parent) {
            continue;
        }
        out.push(match history[..i].iter().find(|(v, ..)| *v == parent) {
            Some(_) => format!(
                "{version} and {before} were both generated on top of {parent} (two branches merged): \
                 `toasty migrate:rebase {version}` moves it (and any generated on top of it) after the \
                 other branch"
            ),
            None => format!(
                "{version} was generated on top of {parent}, which is not among the migrations \
                 (removed or renamed?)"
            ),
        });
    }
    out
}

/// Checks the migrations of `dir` (and, with `desired`, the application's schema against them).
pub fn check(dir: &Path, desired: Option<&SchemaSnapshot>) -> Result<Check> {
    check_plans(dir, &crate::load::parse_migration_dir(dir)?, desired)
}

/// [`check`] against the schema Toasty builds for `models` on a database with `capability`: for
/// a `#[test]` in the application, so that `cargo test` fails when a model changed with no
/// migration generated.
///
/// ```ignore
/// #[test]
/// fn migrations_are_up_to_date() {
///     let found = toasty_migrate::files::check_models(
///         "migrations".as_ref(),
///         toasty::models!(crate::*),
///         &toasty_core::driver::Capability::POSTGRESQL,
///     )
///     .unwrap();
///     assert!(found.is_clean(), "run `toasty migrate:generate`: {found:?}");
/// }
/// ```
#[cfg(feature = "toasty")]
pub fn check_models(
    dir: &Path,
    models: toasty_core::schema::app::ModelSet,
    capability: &toasty_core::driver::Capability,
) -> Result<Check> {
    check(dir, Some(&SchemaSnapshot::from_models(models, capability)?))
}

/// [`check`] over plans already read from `dir`'s files.
pub fn check_plans(
    dir: &Path,
    plans: &[MigrationPlan],
    desired: Option<&SchemaSnapshot>,
) -> Result<Check> {
    let built = replay(plans)?;
    let recorded_path = dir.join(SCHEMA_FILE);
    // A snapshot that does not even load (a merge conflict in it) is a difference too, which
    // `--fix` repairs like any other.
    let recorded = if recorded_path.exists() {
        match load_snapshot(&recorded_path) {
            Ok(recorded) => changes(&built, &recorded),
            Err(e) => vec![format!("cannot be read: {e}")],
        }
    } else if built.tables.is_empty() {
        Vec::new()
    } else {
        vec![format!("{} is missing", recorded_path.display())]
    };
    let pending = desired.map_or_else(Vec::new, |d| changes(&built, d));
    Ok(Check {
        built,
        recorded,
        listing: listing(dir, plans),
        pending,
        forks: forks(plans),
    })
}

/// Why `dir`'s `mod.rs` does not list exactly `plans`' files, if it does not. Compared by the
/// files its modules name, so a reformatted `mod.rs` is still the listing.
fn listing(dir: &Path, plans: &[MigrationPlan]) -> Option<String> {
    let path = dir.join(MOD_FILE);
    let expected: BTreeSet<String> = plans.iter().map(|p| format!("{}.rs", p.version)).collect();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) if plans.is_empty() => return None,
        Err(e) => return Some(format!("{} cannot be read: {e}", path.display())),
    };
    let Ok(file) = syn::parse_file(&text) else {
        return Some(format!(
            "{} is not Rust (a merge conflict?)",
            path.display()
        ));
    };
    let listed: BTreeSet<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) => m.attrs.iter().find_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            }),
            _ => None,
        })
        .collect();
    (listed != expected).then(|| {
        let missing: Vec<&String> = expected.difference(&listed).collect();
        let extra: Vec<&String> = listed.difference(&expected).collect();
        format!(
            "{} does not list the migration files (not listed: {missing:?}; no such file: {extra:?})",
            path.display()
        )
    })
}

/// Every migration's `up`, in version order, from empty. An operation that does not fit names
/// its file and line.
fn replay(plans: &[MigrationPlan]) -> Result<SchemaSnapshot> {
    let (schema, failure) = crate::replay::replay(plans);
    if let Some(f) = failure {
        let place = f
            .plan
            .place(Direction::Up, f.index)
            .unwrap_or_else(|| f.plan.version.clone());
        return Err(Error::Migration {
            version: f.plan.version.clone(),
            message: format!(
                "{place}: does not replay from the migrations before it: {}",
                f.error
            ),
        });
    }
    Ok(schema.into_snapshot())
}

/// The changes from `from` to `to`, one line each; none when they are equivalent.
fn changes(from: &SchemaSnapshot, to: &SchemaSnapshot) -> Vec<String> {
    if from.is_equivalent(to) {
        return Vec::new();
    }
    match detect_changes(from, to) {
        Ok(diff) if !diff.is_empty() => diff.changes.iter().map(|c| c.to_string()).collect(),
        Ok(_) => vec!["the schemas differ in column order or layout".into()],
        Err(e) => vec![e.to_string()],
    }
}
