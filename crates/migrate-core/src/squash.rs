//! `toasty migrate:squash`: the migrations from the first through one version replaced by a
//! single migration that builds the same schema, recording the versions it replaces. No database:
//! the runner recognises a database that applied the replaced migrations (see
//! `MigrationState::AppliedAsReplaced`) and records the squash in their place.
//!
//! The squashed `up` creates, from empty, the schema the migrations build up to their first data
//! step, then keeps every operation from that step on as written, so hand-written data steps run
//! in order on the schema they were written for. Its `down` drops every table: the range starts
//! from an empty database, so that reverts it exactly.

use crate::diff::detect_changes;
use crate::generate::{MOD_FILE, list_versions, render_migration, render_mod, slugify};
use crate::migration::{Direction, MigrationPlan};
use crate::operation::Operation;
use crate::snapshot::SchemaSnapshot;
use crate::{Error, Result};
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
    let mut before_data = SchemaSnapshot::default();
    for op in ops.clone().take(first_data.unwrap_or(usize::MAX)) {
        before_data.apply(op)?;
    }
    let mut up = detect_changes(&SchemaSnapshot::default(), &before_data)?.up_operations();
    up.extend(ops.skip(first_data.unwrap_or(usize::MAX)).cloned());

    let (built, failure) = crate::runner::replay(range);
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
        parent: None,
        replaces: range.iter().map(|p| p.version.clone()).collect(),
        source: None,
    };
    // The squash must build exactly what the migrations it replaces build.
    let (squashed, _) = crate::runner::replay([&plan]);
    if !squashed.is_equivalent(&built) {
        return Err(refused(
            &plan.version,
            "the squashed migration would not build the schema its migrations build".into(),
        ));
    }
    Ok(plan)
}

/// Writes the squashed migration into `dir`, lists it in `mod.rs` in place of the migrations it
/// replaces, and removes their files. `.schema.json` stays: the schema is the same. Returns the
/// new file's path.
pub fn write_squash(dir: &Path, plan: &MigrationPlan) -> Result<PathBuf> {
    let path = dir.join(format!("{}.rs", plan.version));
    if path.exists() {
        return Err(Error::MigrationExists { path });
    }
    let mut versions: Vec<String> = list_versions(dir)?
        .into_iter()
        .filter(|v| !plan.replaces.contains(v))
        .collect();
    versions.push(plan.version.clone());
    versions.sort();
    crate::fs::write_atomic(&path, render_migration(plan).as_bytes())?;
    crate::fs::write_atomic(&dir.join(MOD_FILE), render_mod(&versions).as_bytes())?;
    for version in &plan.replaces {
        let old = dir.join(format!("{version}.rs"));
        std::fs::remove_file(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Value, col, eq, upper};
    use crate::snapshot::{ColumnDef, TableSnapshot};
    use crate::types::ColumnType;

    fn plan(version: &str, up: Vec<Operation>) -> MigrationPlan {
        MigrationPlan {
            version: version.into(),
            up,
            down: vec![],
            transactional: true,
            parent: None,
            replaces: vec![],
            source: None,
        }
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
}
