//! Caches of the migrations directory, so that a CLI run over many migrations neither parses nor
//! (for `status`) reads every file every time. Both live in `<migrations>/.toasty-cache/`, which
//! ignores itself in git (`*` in its own `.gitignore`, as `.pytest_cache` does), and are dropped
//! whole when toasty-migrate's version changes (the vocabulary may have). Failing to read or write
//! them only costs the work they save.
//!
//! - `plans.json`: what each file parses to, keyed by the SHA-256 of its bytes, so an edited file
//!   always misses.
//! - `index.json`: each file's version and checksum, keyed by what `stat` says of it (size,
//!   modification and change times, inode), as git's index does. Any write to a file moves its
//!   change time, which no program can set back; an entry is trusted only when the file's change
//!   time was over three seconds before the entry was taken (git's "racy" rule, with room for
//!   filesystems whose clocks tick every 2 s), so a write in the same clock tick as the `stat`
//!   is still seen. Where `stat` has no change time or inode (not
//!   Unix), every file is read and hashed.

use crate::migration::{MigrationPlan, to_hex};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The cache directory's name inside a migrations directory.
pub const PLAN_CACHE_DIR: &str = ".toasty-cache";
const PLANS_FILE: &str = "plans.json";
const INDEX_FILE: &str = "index.json";

#[derive(Serialize, Deserialize)]
struct Plans {
    toasty_migrate: String,
    /// SHA-256 of a file's bytes -> what it parses to, and that plan's checksum.
    plans: HashMap<String, (MigrationPlan, String)>,
}

#[derive(Serialize, Deserialize)]
struct Index {
    toasty_migrate: String,
    /// File name -> what `stat` said of it, and its migration's checksum.
    files: HashMap<String, IndexEntry>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq)]
struct IndexEntry {
    stat: FileStat,
    /// When `stat` was taken, in nanoseconds since the Unix epoch.
    taken_ns: i128,
    checksum: String,
}

#[derive(Serialize, Deserialize, Clone, PartialEq)]
struct FileStat {
    len: u64,
    modified_ns: i128,
    changed_ns: i128,
    device: u64,
    inode: u64,
}

impl FileStat {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<FileStat> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(FileStat {
            len: m.len(),
            modified_ns: ns(m.mtime(), m.mtime_nsec()),
            changed_ns: ns(m.ctime(), m.ctime_nsec()),
            device: m.dev(),
            inode: m.ino(),
        })
    }

    #[cfg(not(unix))]
    fn of(_path: &Path) -> Option<FileStat> {
        None
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Trusted when the file was last changed more than this before its entry was taken.
const RACY_NS: i128 = 3_000_000_000;

/// The checksums of `versions` in `dir`, in order: from the index where a file's `stat` is
/// unchanged, otherwise from its bytes (through the plan cache).
pub(crate) fn load_checksums(dir: &Path, versions: &[String]) -> Result<Vec<String>> {
    let index_path = dir.join(PLAN_CACHE_DIR).join(INDEX_FILE);
    let mut index = read_cache::<Index>(&index_path)
        .filter(|i| i.toasty_migrate == env!("CARGO_PKG_VERSION"))
        .map(|i| i.files)
        .unwrap_or_default();
    let taken_ns = now_ns();
    let mut checksums: Vec<Option<String>> = Vec::with_capacity(versions.len());
    let mut stats = Vec::with_capacity(versions.len());
    for version in versions {
        let stat = FileStat::of(&dir.join(file_name(version)));
        let cached = index.get(&file_name(version)).filter(|entry| {
            Some(&entry.stat) == stat.as_ref() && entry.stat.changed_ns + RACY_NS < entry.taken_ns
        });
        checksums.push(cached.map(|entry| entry.checksum.clone()));
        stats.push(stat);
    }
    let misses: Vec<String> = versions
        .iter()
        .zip(&checksums)
        .filter(|(_, c)| c.is_none())
        .map(|(v, _)| v.clone())
        .collect();
    let stale = index.len() != versions.len();
    if misses.is_empty() && !stale {
        return Ok(checksums.into_iter().flatten().collect());
    }
    let mut loaded = load_plans(dir, &misses)?.into_iter();
    let checksums: Vec<String> = checksums
        .into_iter()
        .map(|c| c.unwrap_or_else(|| loaded.next().expect("one plan per miss").1))
        .collect();
    index = versions
        .iter()
        .zip(stats)
        .zip(&checksums)
        .filter_map(|((version, stat), checksum)| {
            let entry = IndexEntry {
                stat: stat?,
                taken_ns,
                checksum: checksum.clone(),
            };
            // An entry that would not be trusted is not worth keeping.
            (entry.stat.changed_ns + RACY_NS < taken_ns).then(|| (file_name(version), entry))
        })
        .collect();
    write_cache(
        dir,
        &index_path,
        &Index {
            toasty_migrate: env!("CARGO_PKG_VERSION").to_string(),
            files: index,
        },
    );
    Ok(checksums)
}

fn file_name(version: &str) -> String {
    format!("{version}.rs")
}

/// The plans of `versions` in `dir`, in order, with their checksums: cached where the file is
/// unchanged, parsed (on every core) where not.
pub(crate) fn load_plans(dir: &Path, versions: &[String]) -> Result<Vec<(MigrationPlan, String)>> {
    let cache_path = dir.join(PLAN_CACHE_DIR).join(PLANS_FILE);
    let mut cache = read_cache::<Plans>(&cache_path)
        .filter(|c| c.toasty_migrate == env!("CARGO_PKG_VERSION"))
        .map(|c| c.plans)
        .unwrap_or_default();

    let files = on_every_core(versions, |version| {
        let path = dir.join(file_name(version));
        let source = crate::fs::read_text(&path, |line, column| {
            crate::parse::not_utf8(&path, line, column)
        })?;
        let hash = to_hex(&Sha256::digest(source.as_bytes()));
        Ok((path, source, hash))
    })?;
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
    for (&i, plan) in misses.iter().zip(parsed) {
        let checksum = plan.checksum();
        cache.insert(files[i].2.clone(), (plan, checksum));
    }
    if misses.is_empty() {
        // Nothing to write back: the plans move out of the cache. (No two files share a hash:
        // each holds its own version.)
        return Ok(files
            .iter()
            .map(|(_, _, hash)| cache.remove(hash).expect("every file's plan is cached"))
            .collect());
    }
    let plans: Vec<(MigrationPlan, String)> = files
        .iter()
        .map(|(_, _, hash)| cache[hash].clone())
        .collect();
    // Only plans of removed files go: `load_checksums` asks for a few files at a time, and a
    // `git checkout` may bring a file's old contents back.
    let present = crate::generate::list_versions(dir)?;
    cache.retain(|_, (plan, _)| present.binary_search(&plan.version).is_ok());
    write_cache(
        dir,
        &cache_path,
        &Plans {
            toasty_migrate: env!("CARGO_PKG_VERSION").to_string(),
            plans: cache,
        },
    );
    Ok(plans)
}

/// Parsing is most of a cold run's time with many migrations: spread it over the cores.
fn parse_in_parallel(files: &[(&PathBuf, &String)]) -> Result<Vec<MigrationPlan>> {
    on_every_core(files, |(path, source)| {
        crate::parse::parse_migration(source, path)
    })
}

/// `f` of each of `items`, in order, the items split evenly over the cores: reading, hashing
/// and parsing a thousand files is most of what a run over them costs.
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

fn read_cache<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_cache(dir: &Path, path: &Path, cache: &impl Serialize) {
    let bytes = serde_json::to_vec(cache).expect("caches always serialize");
    let name = path.file_name().expect("a cache file name");
    write_cache_file(dir, &name.to_string_lossy(), &bytes);
}

/// A file `name` in the cache directory of the migrations in `dir`, for callers that keep a
/// cache of their own there (`migrate:status` keeps its drift verdicts); `None` if it cannot be
/// read.
pub fn read_cache_file(dir: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(PLAN_CACHE_DIR).join(name)).ok()
}

/// Writes a cache file, best effort: a read-only directory just means the work is redone next
/// time.
pub fn write_cache_file(dir: &Path, name: &str, bytes: &[u8]) {
    let cache_dir = dir.join(PLAN_CACHE_DIR);
    let write = || -> Result<()> {
        std::fs::create_dir_all(&cache_dir).map_err(|e| Error::io(&cache_dir, e))?;
        let ignore = cache_dir.join(".gitignore");
        if !ignore.exists() {
            crate::fs::write_cache(
                &ignore,
                b"# Written by toasty-migrate: a cache, not to commit.\n*\n",
            )?;
        }
        crate::fs::write_cache(&cache_dir.join(name), bytes)
    };
    let _ = write();
}
