//! Caches of the migrations directory, so that a CLI run over many migrations neither parses nor
//! (for `status`) reads every file every time. (The library only reads: `Migrator::from_dir`
//! parses every file; these caches are the CLI's.) Both live in `<migrations>/.toasty-cache/`, which
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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use toasty_migrate::{
    Result,
    files::{MigrationPlan, list_versions, parse_migration_file, parse_migrations},
    run::{MigrationIndex, Migrator},
};

/// The migrations of `dir`, parsed files taken from the cache where unchanged.
pub fn migrator(dir: &Path) -> Result<Migrator> {
    let versions = list_versions(dir)?;
    let plans = load_plans(dir, &versions)?;
    Ok(Migrator::from_plans(
        plans.into_iter().map(|(plan, _)| plan).collect(),
    ))
}

/// The versions and checksums of `dir`'s migrations, from the `stat`-keyed index where a file is
/// unchanged.
pub fn index(dir: &Path) -> Result<MigrationIndex> {
    let versions = list_versions(dir)?;
    let checksums = load_checksums(dir, &versions)?;
    Ok(MigrationIndex::new(
        versions.into_iter().zip(checksums).collect(),
    ))
}

/// The cache directory's name inside a migrations directory.
pub const CACHE_DIR: &str = ".toasty-cache";
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
fn load_checksums(dir: &Path, versions: &[String]) -> Result<Vec<String>> {
    let index_path = dir.join(CACHE_DIR).join(INDEX_FILE);
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
fn load_plans(dir: &Path, versions: &[String]) -> Result<Vec<(MigrationPlan, String)>> {
    let cache_path = dir.join(CACHE_DIR).join(PLANS_FILE);
    let mut cache = read_cache::<Plans>(&cache_path)
        .filter(|c| c.toasty_migrate == env!("CARGO_PKG_VERSION"))
        .map(|c| c.plans)
        .unwrap_or_default();

    let mut files = Vec::with_capacity(versions.len());
    for version in versions {
        let path = dir.join(file_name(version));
        let Ok(source) = std::fs::read_to_string(&path) else {
            // Missing, unreadable or not UTF-8: the parser's error says where.
            return Err(parse_migration_file(&path).expect_err("an unreadable file fails"));
        };
        let hash = format!("{:x}", Sha256::digest(source.as_bytes()));
        files.push((path, source, hash));
    }
    let misses: Vec<usize> = (0..files.len())
        .filter(|&i| {
            cache
                .get(&files[i].2)
                .is_none_or(|(p, _)| p.version != versions[i])
        })
        .collect();
    let parsed = parse_migrations(
        &misses
            .iter()
            .map(|&i| (files[i].0.as_path(), files[i].1.as_str()))
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
    let present = list_versions(dir)?;
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
    std::fs::read(dir.join(CACHE_DIR).join(name)).ok()
}

/// Writes a cache file, best effort: a read-only directory just means the work is redone next
/// time.
pub fn write_cache_file(dir: &Path, name: &str, bytes: &[u8]) {
    let cache_dir = dir.join(CACHE_DIR);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&cache_dir)?;
        let ignore = cache_dir.join(".gitignore");
        if !ignore.exists() {
            replace(
                &ignore,
                b"# Written by toasty-migrate: a cache, not to commit.\n*\n",
            )?;
        }
        replace(&cache_dir.join(name), bytes)
    };
    let _ = write();
}

/// Writes `bytes` beside `path` and renames them over it, so that a reader never sees half a
/// file. Not flushed to disk: readers check what they read against the files and the database
/// it stands for, so a cache lost in a crash costs only a miss.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::{
        diff::detect_changes,
        files::MigrationGenerator,
        schema::{ColumnDef, ColumnType, SchemaSnapshot, TableSnapshot},
    };

    fn users_v1() -> SchemaSnapshot {
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("mail", ColumnType::VarChar(255)),
            ],
            vec![],
        )])
    }

    #[test]
    fn the_parse_cache_serves_unchanged_files_and_never_an_edited_one() {
        let dir = tempfile::tempdir().unwrap();
        let diff = detect_changes(&SchemaSnapshot::default(), &users_v1()).unwrap();
        let plan = MigrationGenerator::new(dir.path())
            .generate(&diff, "create users")
            .unwrap();
        let path = MigrationGenerator::new(dir.path())
            .write_migration_file(&plan)
            .unwrap();

        let first = migrator(dir.path()).unwrap();
        let cache = dir.path().join(CACHE_DIR);
        assert!(cache.join("plans.json").exists());
        assert_eq!(
            std::fs::read_to_string(cache.join(".gitignore"))
                .unwrap()
                .lines()
                .last(),
            Some("*")
        );
        assert_eq!(
            migrator(dir.path()).unwrap().migrations(),
            first.migrations()
        );

        // An edit within the vocabulary is parsed again, not served from the cache.
        let source = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, source.replacen("VarChar(255)", "VarChar(256)", 1)).unwrap();
        let edited = migrator(dir.path()).unwrap();
        assert_ne!(edited.migrations()[0], first.migrations()[0]);
        assert_eq!(edited.migrations()[0], parse_migration_file(&path).unwrap());

        // A broken cache only costs the parse.
        std::fs::write(cache.join("plans.json"), "not json").unwrap();
        assert_eq!(
            migrator(dir.path()).unwrap().migrations(),
            edited.migrations()
        );
    }

    #[test]
    fn the_index_serves_unchanged_files_and_sees_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let diff = detect_changes(&SchemaSnapshot::default(), &users_v1()).unwrap();
        let plan = MigrationGenerator::new(dir.path())
            .generate(&diff, "create users")
            .unwrap();
        let path = MigrationGenerator::new(dir.path())
            .write_migration_file(&plan)
            .unwrap();
        let index_file = dir.path().join(CACHE_DIR).join("index.json");

        // A file written within the last three seconds is not trusted to its `stat` yet (a second write
        // in the same clock tick could leave it unchanged): read every time, never indexed.
        let fresh = index(dir.path()).unwrap();
        assert_eq!(fresh.versions(), std::slice::from_ref(&plan.version));
        assert_eq!(
            migrator(dir.path()).unwrap().index(),
            &fresh,
            "the index and the parsed files agree"
        );
        assert!(
            !std::fs::read_to_string(&index_file)
                .unwrap()
                .contains(".rs")
        );
        std::thread::sleep(std::time::Duration::from_millis(3100));
        assert_eq!(index(dir.path()).unwrap(), fresh);
        assert!(
            std::fs::read_to_string(&index_file)
                .unwrap()
                .contains(".rs")
        );

        // An edit of the same length with the modification time set back is still seen: the
        // change time moves on every write.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let source = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, source.replacen("VarChar(255)", "VarChar(256)", 1)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let edited = index(dir.path()).unwrap();
        assert_ne!(edited, fresh);
        assert_eq!(migrator(dir.path()).unwrap().index(), &edited);

        // A broken index only costs reading the files.
        std::fs::write(&index_file, "not json").unwrap();
        assert_eq!(index(dir.path()).unwrap(), edited);
    }
}
