//! Helpers shared by the MongoDB and DynamoDB tests.

use toasty_migrate::{
    backend::Backend,
    diff::{DiffOptions, detect_changes_with},
    files::MigrationPlan,
    run::{Migrator, RunOptions},
    schema::SchemaSnapshot,
};

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

/// The column names of `table`, in order.
pub fn column_names(snapshot: &SchemaSnapshot, table: &str) -> Vec<String> {
    let table = snapshot.table(table).expect("the table exists");
    table.columns.iter().map(|c| c.name.clone()).collect()
}

/// A migration creating `v1`, then one from `v1` to `v2`.
pub fn create_then_change(v1: &SchemaSnapshot, v2: &SchemaSnapshot) -> Migrator {
    Migrator::from_plans(vec![
        migration(
            "20250101_000000_create",
            &SchemaSnapshot::default(),
            v1,
            &[],
        ),
        migration("20250102_000000_change", v1, v2, &[]),
    ])
}

/// `v1`, then the same without its column `drop`.
pub fn dropping_a_column(v1: &SchemaSnapshot, drop: &str) -> Migrator {
    let mut v2 = v1.clone();
    v2.tables[0].columns.retain(|c| c.name != drop);
    create_then_change(v1, &v2)
}

/// `holder` takes the lock and then runs nothing for four leases; `other` still cannot take it,
/// until `holder` unlocks.
pub async fn a_held_lock_stays_held<B: Backend>(
    mut holder: B,
    mut other: B,
    lease: std::time::Duration,
) {
    holder.lock().await.unwrap();
    tokio::time::sleep(lease * 4).await;
    assert!(!other.try_lock().await.unwrap(), "the lease was kept");
    holder.unlock().await.unwrap();
    assert!(other.try_lock().await.unwrap(), "and released by unlock");
}
