//! Reading a whole migrations directory: every file parsed, the files spread over the cores
//! (parsing is most of a run's time over many migrations).

use crate::Result;
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
    on_every_core(&paths, |path| parse_migration_file(path))
}

/// Parses `sources` (each a file's path and its text), in order, on every core.
pub fn parse_migrations(sources: &[(&Path, &str)]) -> Result<Vec<MigrationPlan>> {
    on_every_core(sources, |(path, source)| parse_migration(source, path))
}

/// `f` of each of `items`, in order, the items split evenly over the cores.
fn on_every_core<I: Sync, T: Send>(
    items: &[I],
    f: impl Fn(&I) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let done: Vec<Result<Vec<T>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Result<Vec<_>>>()))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("workers do not panic"))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for chunk in done {
        out.extend(chunk?);
    }
    Ok(out)
}
