//! Rewriting the history of a migrations directory, with no database: `squash` and `rebase`
//! plan new migrations that each record the versions they take the place of (`replaces`), and
//! `write_history` puts them in the directory in place of those. The runner recognises a
//! database that applied the replaced migrations (`MigrationState::AppliedAsReplaced`) and
//! records the new one in their place.
//!
//! A squash's `up` creates, from empty, the schema the migrations build up to their first data
//! step, then keeps every operation from that step on as written, so hand-written data steps run
//! in order on the schema they were written for. Its `down` drops every table: the range starts
//! from an empty database, so that reverts it exactly.
//!
//! A rebase moves one branch's migrations (one and those generated on top of it) after the
//! other branch's, once two branches that each generated migrations are merged: each keeps its
//! operations (its message, its data steps) and gets a new version and parent. It is refused
//! where the two branches change the same table, column or index: their order would matter.

use crate::diff::detect_changes;
use crate::generate::{MOD_FILE, MigrationGenerator, SCHEMA_FILE, list_versions, slugify};
use crate::migration::{Direction, MigrationPlan, version_name};
use crate::operation::Operation;
use crate::render::{render_migration, render_mod};
use crate::replay::{IndexedSchema, replay};
use crate::snapshot::{SchemaSnapshot, snapshot_to_json};
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The migration that replaces `plans` (sorted, as a directory holds them) from the first
/// through `through` (the newest when `None`), versioned with the timestamp of the last one it
/// replaces and `message` as its name.
///
/// Refused, saying why, when the range has fewer than two migrations, holds a raw statement
/// (which no replay can check), does not replay, or when the version would not sort before the
/// migration after the range.
pub fn squash(
    plans: &[MigrationPlan],
    through: Option<&str>,
    message: &str,
) -> Result<MigrationPlan> {
    let end = match through {
        None => plans.len().checked_sub(1),
        Some(version) => plans.iter().position(|p| p.version == version),
    };
    let refused = |version: &str, message: String| Error::Migration {
        version: version.to_string(),
        message,
    };
    let Some(end) = end else {
        return Err(refused(
            through.unwrap_or("(none)"),
            "no migration has this version".into(),
        ));
    };
    let range = &plans[..=end];
    let last = &range[end].version;
    if range.len() < 2 {
        return Err(refused(
            last,
            "nothing to squash: a squash replaces two migrations or more".into(),
        ));
    }
    for plan in range {
        if let Some(i) = plan
            .up
            .iter()
            .position(|op| matches!(op, Operation::Raw { .. }))
        {
            let place = plan
                .place(Direction::Up, i)
                .unwrap_or_else(|| plan.version.clone());
            return Err(refused(
                &plan.version,
                format!(
                    "{place}: a raw statement cannot be squashed (its effect on the schema is \
                     unknown); squash through the migration before it"
                ),
            ));
        }
    }

    // Schema operations up to the first data step collapse into their net effect; the rest stay.
    let ops = range.iter().flat_map(|p| &p.up);
    let first_data = ops.clone().position(Operation::is_data);
    let mut before_data = IndexedSchema::default();
    for op in ops.clone().take(first_data.unwrap_or(usize::MAX)) {
        before_data.apply(op)?;
    }
    let mut up =
        detect_changes(&SchemaSnapshot::default(), &before_data.into_snapshot())?.up_operations();
    up.extend(ops.skip(first_data.unwrap_or(usize::MAX)).cloned());

    let (built, failure) = replay(range);
    let built = built.into_snapshot();
    if let Some(f) = failure {
        return Err(refused(
            &f.plan.version,
            format!("does not replay, so it cannot be squashed: {}", f.error),
        ));
    }
    let down = detect_changes(&built, &SchemaSnapshot::default())?.up_operations();

    let version = format!("{}_{}", &last[..15], slugify(message)?);
    if let Some(next) = plans.get(end + 1)
        && version >= next.version
    {
        return Err(refused(
            &version,
            format!(
                "it would not sort before {}, the migration after the squash",
                next.version
            ),
        ));
    }
    let plan = MigrationPlan {
        version,
        up,
        down,
        transactional: range.iter().all(|p| p.transactional),
        online: range.iter().all(|p| p.online),
        parent: None,
        replaces: range.iter().map(|p| p.version.clone()).collect(),
        allow: Vec::new(),
        source: None,
    };
    // The squash must build exactly what the migrations it replaces build.
    let (squashed, _) = replay([&plan]);
    if !squashed.into_snapshot().is_equivalent(&built) {
        return Err(refused(
            &plan.version,
            "the squashed migration would not build the schema its migrations build".into(),
        ));
    }
    Ok(plan)
}

/// What an operation changes, for telling whether two branches collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Touch {
    /// The table as a whole: created, dropped.
    Table(String),
    Column(String, String),
    Index(String, String),
    /// Rows written, with the columns named by the data step.
    Rows(String),
}

impl Touch {
    fn table(&self) -> &str {
        match self {
            Touch::Table(t) | Touch::Column(t, _) | Touch::Index(t, _) | Touch::Rows(t) => t,
        }
    }

    /// Whether two changes, one on each branch, depend on their order.
    fn collides(&self, other: &Touch) -> bool {
        match (self, other) {
            (Touch::Table(t), o) | (o, Touch::Table(t)) => o.table() == t,
            (Touch::Rows(_), _) | (_, Touch::Rows(_)) => false,
            (a, b) => a == b,
        }
    }

    fn describe(&self) -> String {
        match self {
            Touch::Table(t) | Touch::Rows(t) => format!("table {t}"),
            Touch::Column(t, c) => format!("column {t}.{c}"),
            Touch::Index(t, i) => format!("index {i} on {t}"),
        }
    }
}

/// What `op` changes; `None` for a raw statement, which could change anything.
fn touches(op: &Operation) -> Option<Vec<Touch>> {
    let column = |t: &str, c: &str| Touch::Column(t.into(), c.into());
    Some(match op {
        Operation::CreateTable(def) => vec![Touch::Table(def.name.clone())],
        Operation::DropTable { table } => vec![Touch::Table(table.clone())],
        Operation::AddColumn {
            table, column: c, ..
        } => vec![column(table, &c.name)],
        Operation::DropColumn { table, column: c } => vec![column(table, c)],
        Operation::ModifyColumn { table, from, to } => {
            vec![column(table, &from.name), column(table, &to.name)]
        }
        Operation::CreateIndex { table, index } => {
            let mut out = vec![Touch::Index(table.clone(), index.name.clone())];
            out.extend(index.columns.iter().map(|k| column(table, &k.column)));
            out
        }
        Operation::DropIndex { table, index } => vec![Touch::Index(table.clone(), index.clone())],
        Operation::InsertRows { table, .. } | Operation::DeleteRows { table, .. } => {
            vec![Touch::Rows(table.clone())]
        }
        Operation::UpdateRows { table, set, .. } => {
            let mut out = vec![Touch::Rows(table.clone())];
            out.extend(set.iter().map(|(c, _)| column(table, c)));
            out
        }
        Operation::Irreversible { .. } => Vec::new(),
        Operation::Raw { .. } => return None,
    })
}

/// Everything `plans` change; refused, naming the migration, where one has a raw statement.
fn touched<'p>(plans: impl IntoIterator<Item = &'p MigrationPlan>) -> Result<BTreeSet<Touch>> {
    let mut out = BTreeSet::new();
    for plan in plans {
        for op in &plan.up {
            out.extend(touches(op).ok_or_else(|| {
                Error::Migration {
                    version: plan.version.clone(),
                    message:
                        "has a raw statement, whose changes a rebase cannot tell from the other \
                          branch's; move it by hand"
                            .into(),
                }
            })?);
        }
    }
    Ok(out)
}

/// `version` and the migrations generated on top of it (following `parent`), moved after every
/// other migration: each keeps its name and operations and gets a version from `generator`'s
/// clock, the migration before it as its parent, and the version it had as what it `replaces`
/// (a database that applied it is up to date with its new self).
///
/// Refused, saying why, where the migration records no parent, is already on top of the rest,
/// was itself a squash, where either branch has a raw statement, where the two branches change
/// the same table, column or index (naming them), or where the moved operations do not replay
/// on top of the other branch.
pub fn rebase(
    plans: &[MigrationPlan],
    version: &str,
    generator: &MigrationGenerator,
) -> Result<Vec<MigrationPlan>> {
    let refused = |message: String| Error::Migration {
        version: version.to_string(),
        message,
    };
    let Some(start) = plans.iter().position(|p| p.version == version) else {
        return Err(refused("no migration has this version".into()));
    };
    let Some(fork) = plans[start].parent.clone() else {
        return Err(refused(
            "it records no parent (written before parents were), so where its branch began is \
             unknown"
                .into(),
        ));
    };
    // The branch: the migration and its descendants, in version order.
    let mut branch: Vec<&MigrationPlan> = vec![&plans[start]];
    for plan in &plans[start + 1..] {
        if plan
            .parent
            .as_ref()
            .is_some_and(|p| branch.iter().any(|b| &b.version == p))
        {
            branch.push(plan);
        }
    }
    let rest: Vec<&MigrationPlan> = plans
        .iter()
        .filter(|p| !branch.iter().any(|b| b.version == p.version))
        .collect();
    let Some(base) = rest.last() else {
        return Err(refused(
            "there is no other migration to move it after".into(),
        ));
    };
    if base.version == fork {
        return Err(refused(format!(
            "it is already on top of {fork}, the newest migration outside its branch"
        )));
    }
    if let Some(squash) = branch.iter().find(|p| !p.replaces.is_empty()) {
        return Err(Error::Migration {
            version: squash.version.clone(),
            message: "is a squash; a rebase cannot move it (squash after rebasing)".into(),
        });
    }
    let fork_at = rest
        .iter()
        .position(|p| p.version == fork)
        .map_or(0, |i| i + 1);
    let theirs = touched(rest[fork_at..].iter().copied())?;
    let ours = touched(branch.iter().copied())?;
    let collisions: Vec<String> = ours
        .iter()
        .filter(|o| theirs.iter().any(|t| o.collides(t)))
        .map(Touch::describe)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !collisions.is_empty() {
        let other: Vec<&str> = rest[fork_at..].iter().map(|p| p.version.as_str()).collect();
        return Err(refused(format!(
            "both branches change {} (this branch, and {}); their order matters, so merge them \
             by hand: delete this branch's migrations, `toasty migrate:check --fix`, and generate \
             again",
            collisions.join(", "),
            other.join(", ")
        )));
    }

    let (mut schema, _) = replay(rest.iter().copied());
    let mut parent = base.version.clone();
    let mut moved = Vec::with_capacity(branch.len());
    for plan in branch {
        for (i, op) in plan.up.iter().enumerate() {
            schema.apply(op).map_err(|e| {
                let place = plan
                    .place(Direction::Up, i)
                    .unwrap_or_else(|| plan.version.clone());
                refused(format!(
                    "{place}: does not apply after the other branch: {e}"
                ))
            })?;
        }
        let version = generator.version_after(version_name(&plan.version), Some(&parent));
        moved.push(MigrationPlan {
            version: version.clone(),
            up: plan.up.clone(),
            down: plan.down.clone(),
            transactional: plan.transactional,
            online: plan.online,
            parent: Some(parent),
            replaces: vec![plan.version.clone()],
            allow: plan.allow.clone(),
            source: None,
        });
        parent = version;
    }
    Ok(moved)
}

/// Writes `added` into `dir` in place of every migration they replace: their files written, the
/// replaced files removed, `mod.rs` listing the result and `.schema.json` rebuilt from it.
/// Returns the new files' paths.
pub fn write_history(dir: &Path, added: &[MigrationPlan]) -> Result<Vec<PathBuf>> {
    let replaced: Vec<&String> = added.iter().flat_map(|p| &p.replaces).collect();
    let mut versions: Vec<String> = list_versions(dir)?
        .into_iter()
        .filter(|v| !replaced.contains(&v))
        .collect();
    let mut paths = Vec::with_capacity(added.len());
    for plan in added {
        let path = dir.join(format!("{}.rs", plan.version));
        if path.exists() || versions.contains(&plan.version) {
            return Err(Error::MigrationExists { path });
        }
        versions.push(plan.version.clone());
        paths.push(path);
    }
    versions.sort();
    // Everything the directory will hold is read and replayed before anything is written.
    let mut plans: Vec<MigrationPlan> = crate::load::parse_migration_dir(dir)?
        .into_iter()
        .filter(|p| !replaced.contains(&&p.version))
        .collect();
    plans.extend(added.iter().cloned());
    plans.sort_by(|a, b| a.version.cmp(&b.version));
    let schema = replay(&plans).0.into_snapshot();

    for (plan, path) in added.iter().zip(&paths) {
        crate::fs::write_atomic(path, render_migration(plan).as_bytes())?;
    }
    crate::fs::write_atomic(&dir.join(MOD_FILE), render_mod(&versions).as_bytes())?;
    crate::fs::write_atomic(&dir.join(SCHEMA_FILE), snapshot_to_json(&schema).as_bytes())?;
    for version in replaced {
        let old = dir.join(format!("{version}.rs"));
        std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Value, col, eq, upper};
    use crate::snapshot::{ColumnDef, TableSnapshot};
    use crate::types::ColumnType;

    fn plan(version: &str, up: Vec<Operation>) -> MigrationPlan {
        MigrationPlan::new(version, up, vec![])
    }

    fn users() -> TableSnapshot {
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("name", ColumnType::Text),
            ],
            vec![],
        )
    }

    #[test]
    fn schema_steps_collapse_and_data_steps_stay_in_order() {
        let email = ColumnDef {
            nullable: true,
            ..ColumnDef::new("email", ColumnType::Text)
        };
        let plans = vec![
            plan(
                "20250101_000000_users",
                vec![Operation::CreateTable(users().def())],
            ),
            plan(
                "20250102_000000_email",
                vec![Operation::AddColumn {
                    table: "users".into(),
                    column: email,
                    position: None,
                }],
            ),
            plan(
                "20250103_000000_fill",
                vec![Operation::UpdateRows {
                    table: "users".into(),
                    set: vec![("email".into(), upper(col("name")))],
                    filter: eq("id", Value::Integer(1)),
                }],
            ),
            plan(
                "20250104_000000_drop_email",
                vec![Operation::DropColumn {
                    table: "users".into(),
                    column: "email".into(),
                }],
            ),
        ];
        let squashed = squash(&plans, None, "squashed").unwrap();
        assert_eq!(squashed.version, "20250104_000000_squashed");
        assert_eq!(squashed.replaces.len(), 4);
        let ups: Vec<String> = squashed.up.iter().map(|op| op.to_string()).collect();
        assert_eq!(
            ups,
            [
                "create table users (id integer(8) not null, name text not null, email text)",
                "update users set email = upper(name) where id = 1",
                "drop column users.email"
            ],
            "one create for the schema before the data step, then the rest as written"
        );
        assert_eq!(
            squashed.down,
            vec![Operation::DropTable {
                table: "users".into()
            }]
        );

        // Through an earlier version: the rest stays after it.
        let partial = squash(&plans, Some("20250102_000000_email"), "base").unwrap();
        assert_eq!(
            partial.replaces,
            ["20250101_000000_users", "20250102_000000_email"]
        );
        assert!(partial.up.iter().all(|op| !op.is_data()));

        let raw = vec![
            plan(
                "20250101_000000_users",
                vec![Operation::CreateTable(users().def())],
            ),
            plan(
                "20250102_000000_raw",
                vec![Operation::Raw {
                    statement: "SELECT 1".into(),
                }],
            ),
        ];
        let err = squash(&raw, None, "all").unwrap_err().to_string();
        assert!(err.contains("a raw statement cannot be squashed"), "{err}");
        let err = squash(&plans[..1], None, "one").unwrap_err().to_string();
        assert!(err.contains("nothing to squash"), "{err}");
    }

    #[test]
    fn a_rebase_moves_a_branch_after_the_other_and_refuses_a_collision() {
        let column = |name: &str| Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef {
                nullable: true,
                ..ColumnDef::new(name, ColumnType::Text)
            },
            position: None,
        };
        let on = |mut p: MigrationPlan, parent: &str| {
            p.parent = Some(parent.into());
            p
        };
        let base = plan(
            "20250101_000000_users",
            vec![Operation::CreateTable(users().def())],
        );
        let theirs = on(
            plan("20250102_000000_email", vec![column("email")]),
            &base.version,
        );
        let ours = on(
            plan("20250103_000000_bio", vec![column("bio")]),
            &base.version,
        );
        let ours_next = on(
            plan("20250104_000000_nick", vec![column("nick")]),
            &ours.version,
        );
        let plans = vec![
            base.clone(),
            theirs.clone(),
            ours.clone(),
            ours_next.clone(),
        ];
        let generator =
            MigrationGenerator::new("unused").at(time::macros::datetime!(2025-01-01 00:00:00 UTC));
        let moved = rebase(&plans, &ours.version, &generator).unwrap();
        let versions: Vec<_> = moved.iter().map(MigrationPlan::lineage).collect();
        assert_eq!(
            versions,
            [
                (
                    "20250102_000001_bio",
                    Some("20250102_000000_email"),
                    std::slice::from_ref(&ours.version)
                ),
                (
                    "20250102_000002_nick",
                    Some("20250102_000001_bio"),
                    std::slice::from_ref(&ours_next.version)
                ),
            ]
        );
        assert_eq!(moved[0].up, ours.up, "its operations as written");

        let err = rebase(&plans, &ours_next.version, &generator)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already on top of"), "{err}");

        let clash = on(
            plan("20250103_000000_email_too", vec![column("email")]),
            &base.version,
        );
        let err = rebase(&[base, theirs, clash.clone()], &clash.version, &generator)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "both branches change column users.email (this branch, and 20250102_000000_email)"
            ),
            "{err}"
        );
    }
}
