//! A cache of parsed migration files, so that a CLI run over many migrations does not parse every
//! file every time. Entries are keyed by the SHA-256 of the file's bytes, so an edited file always
//! misses; the cache is dropped whole when toasty-migrate's version changes (the vocabulary may
//! have). It lives in `<migrations>/.toasty-cache/`, which ignores itself in git (`*` in its own
//! `.gitignore`, as `.pytest_cache` does). Failing to read or write it only costs the parse.

use crate::migration::MigrationPlan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// The cache directory's name inside a migrations directory.
pub const PLAN_CACHE_DIR: &str = ".toasty-cache";
const CACHE_FILE: &str = "plans.json";

#[derive(Serialize, Deserialize)]
struct Cache {
    toasty_migrate: String,
    /// SHA-256 of a file's bytes -> what it parses to, and that plan's checksum.
    plans: HashMap<String, (MigrationPlan, String)>,
}

/// The plans of `versions` in `dir`, in order, with their checksums: cached where the file is
/// unchanged, parsed (on every core) where not.
pub(crate) fn load_plans(dir: &Path, versions: &[String]) -> Result<Vec<(MigrationPlan, String)>> {
    let cache_path = dir.join(PLAN_CACHE_DIR).join(CACHE_FILE);
    let mut cache = std::fs::read(&cache_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Cache>(&bytes).ok())
        .filter(|c| c.toasty_migrate == env!("CARGO_PKG_VERSION"))
        .map(|c| c.plans)
        .unwrap_or_default();

    let mut files = Vec::with_capacity(versions.len());
    for version in versions {
        let path = dir.join(format!("{version}.rs"));
        let source = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let hash: String = Sha256::digest(source.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        files.push((path, source, hash));
    }
    let misses: Vec<usize> = (0..files.len())
        .filter(|&i| {
            cache
                .get(&files[i].2)
                .is_none_or(|(p, _)| p.version != versions[i])
        })
        .collect();
    let parsed = parse_in_parallel(
        &misses
            .iter()
            .map(|&i| (&files[i].0, &files[i].1))
            .collect::<Vec<_>>(),
    )?;
    let stale = cache.len() != files.len();
    for (&i, plan) in misses.iter().zip(parsed) {
        let checksum = plan.checksum();
        cache.insert(files[i].2.clone(), (plan, checksum));
    }
    let plans: Vec<(MigrationPlan, String)> = files
        .iter()
        .map(|(_, _, hash)| cache[hash].clone())
        .collect();
    if !misses.is_empty() || stale {
        let current: HashMap<String, (MigrationPlan, String)> = files
            .iter()
            .map(|(_, _, hash)| (hash.clone(), cache[hash].clone()))
            .collect();
        store(dir, &cache_path, current);
    }
    Ok(plans)
}

/// Parsing is most of a cold run's time with many migrations: spread it over the cores.
fn parse_in_parallel(files: &[(&std::path::PathBuf, &String)]) -> Result<Vec<MigrationPlan>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let chunk = files.len().div_ceil(threads);
    let parsed: Vec<Result<Vec<MigrationPlan>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(path, source)| crate::parse::parse_migration(source, path))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("parsing does not panic"))
            .collect()
    });
    let mut plans = Vec::with_capacity(files.len());
    for chunk in parsed {
        plans.extend(chunk?);
    }
    Ok(plans)
}

/// Best effort: a read-only directory just means parsing next time too.
fn store(dir: &Path, cache_path: &Path, plans: HashMap<String, (MigrationPlan, String)>) {
    let cache_dir = dir.join(PLAN_CACHE_DIR);
    let cache = Cache {
        toasty_migrate: env!("CARGO_PKG_VERSION").to_string(),
        plans,
    };
    let write = || -> Result<()> {
        std::fs::create_dir_all(&cache_dir).map_err(|e| Error::io(&cache_dir, e))?;
        let ignore = cache_dir.join(".gitignore");
        if !ignore.exists() {
            crate::fs::write_atomic(
                &ignore,
                b"# Written by toasty-migrate: a cache, not to commit.\n*\n",
            )?;
        }
        let bytes = serde_json::to_vec(&cache).expect("plans always serialize");
        crate::fs::write_atomic(cache_path, &bytes)
    };
    let _ = write();
}
