//! Helpers shared by the MongoDB and DynamoDB tests.

use toasty_migrate::*;

/// Options that let destructive operations run.
pub fn allow() -> RunOptions {
    RunOptions {
        allow_destructive: true,
        ..RunOptions::default()
    }
}

/// The migration from `old` to `new`, with `table.old=new` column renames.
pub fn migration(
    version: &str,
    old: &SchemaSnapshot,
    new: &SchemaSnapshot,
    renames: &[&str],
) -> MigrationPlan {
    let options = DiffOptions {
        renames: renames.iter().map(|r| r.parse().unwrap()).collect(),
    };
    MigrationPlan::from_diff(version, &detect_changes_with(old, new, &options).unwrap())
}
