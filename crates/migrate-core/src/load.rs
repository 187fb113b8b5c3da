//! Reading a whole migrations directory: every file parsed, the files spread over the cores
//! (parsing is most of a run's time over many migrations).

use crate::Result;
use crate::cores::on_every_core;
use crate::migration::MigrationPlan;
use crate::parse::{parse_migration, parse_migration_file};
use std::path::{Path, PathBuf};

/// The migrations in `dir`, oldest first: every file read and parsed (parsing is most of a run's
/// time over many migrations, so it is spread over the cores).
pub fn parse_migration_dir(dir: &Path) -> Result<Vec<MigrationPlan>> {
    let versions = crate::generate::list_versions(dir)?;
    let paths: Vec<PathBuf> = versions
        .iter()
        .map(|v| dir.join(format!("{v}.rs")))
        .collect();
    on_every_core(&paths, 1, |path| parse_migration_file(path))
        .into_iter()
        .collect()
}

/// Parses `sources` (each a file's path and its text), in order, on every core.
pub fn parse_migrations(sources: &[(&Path, &str)]) -> Result<Vec<MigrationPlan>> {
    on_every_core(sources, 1, |(path, source)| parse_migration(source, path))
        .into_iter()
        .collect()
}
