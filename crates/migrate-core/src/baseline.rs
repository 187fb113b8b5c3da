//! Adopting an existing database: its schema, read back, becomes the first migration, recorded
//! as applied there without running. Later migrations are generated on top of it as usual.

use crate::backend::{Backend, JournalRow};
use crate::diff::detect_changes;
use crate::generate::{MigrationGenerator, list_versions};
use crate::migration::MigrationPlan;
use crate::snapshot::SchemaSnapshot;
use crate::{Error, Result};
use std::time::Duration;
use time::OffsetDateTime;

/// Writes the first migration of `generator`'s directory from the schema `backend` has (and
/// `.schema.json`), and records it as applied on that database without running it. Refused,
/// before anything is written, where the directory has migrations already, the database tracks
/// some, or it has no tables.
pub async fn baseline(
    backend: &mut impl Backend,
    generator: &MigrationGenerator,
    message: &str,
) -> Result<MigrationPlan> {
    if let Some(first) = list_versions(generator.dir())?.first() {
        return Err(Error::History(format!(
            "{} has migrations already ({first}...): a baseline starts a history",
            generator.dir().display()
        )));
    }
    crate::runner::lock(backend).await?;
    let result = baseline_locked(backend, generator, message).await;
    crate::runner::unlock(backend, false, result).await
}

async fn baseline_locked(
    backend: &mut impl Backend,
    generator: &MigrationGenerator,
    message: &str,
) -> Result<MigrationPlan> {
    if let Some(row) = backend.applied().await?.first() {
        return Err(Error::History(format!(
            "{} tracks migrations already ({}...): a baseline is for a database that has none",
            backend.target(),
            row.version
        )));
    }
    let live = backend.introspect().await?;
    if live.tables.is_empty() {
        return Err(Error::History(format!(
            "{} has no tables: there is nothing to adopt (generate the first migration instead)",
            backend.target()
        )));
    }
    let plan = generator.generate(&detect_changes(&SchemaSnapshot::default(), &live)?, message)?;
    generator.write_migration_file(&plan)?;
    backend
        .write_row(&JournalRow {
            version: plan.version.clone(),
            name: plan.name().to_string(),
            checksum: plan.checksum(),
            applied_at: OffsetDateTime::now_utc(),
            execution_time: Duration::ZERO,
            done: 0,
            total: 0,
            steps_checksum: String::new(),
            reverting: false,
        })
        .await?;
    Ok(plan)
}
