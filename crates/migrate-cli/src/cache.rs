//! The parse cache of the migrations directory, so that a CLI run over many migrations does not
//! parse every file every time (the library only reads: `Migrator::from_dir` parses every file).
//! `plans.json` holds what each file parses to, with the plan's head (version, checksum,
//! lineage), keyed by the SHA-256 of its bytes, so an edited file always misses. A cached plan
//! stays undecoded JSON until the migrator asks for it (`Migrator::from_heads`): an `up` with
//! nothing to run reads heads only. The cache lives in `<migrations>/.toasty-cache/`, which
//! ignores itself in git (`*` in its own `.gitignore`, as `.pytest_cache` does), and is dropped
//! whole when toasty-migrate's version changes (the vocabulary may have). Failing to read or
//! write it only costs the parse.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use toasty_migrate::{
    Error, Result,
    files::{MigrationPlan, list_versions, parse_migration_file, parse_migrations},
    run::{Migrator, PlanHead, checksums},
};

/// The migrations of `dir`, parsed files taken from the cache where unchanged; their plans are
/// decoded when the migrator first needs them.
pub fn migrator(dir: &Path) -> Result<Migrator> {
    let versions = list_versions(dir)?;
    let (heads, plans) = load(dir, &versions)?;
    Ok(Migrator::from_heads(heads, move || {
        plans.iter().map(Plan::read).collect()
    }))
}

/// [`migrator`] with every plan read: for a command that needs them all (`status` replays the
/// applied migrations), read while it waits for the database.
pub fn migrator_with_plans(dir: &Path) -> Result<Migrator> {
    let migrator = migrator(dir)?;
    migrator.migrations()?;
    Ok(migrator)
}

/// The cache directory's name inside a migrations directory.
pub const CACHE_DIR: &str = ".toasty-cache";
const PLANS_FILE: &str = "plans.json";

#[derive(Serialize, Deserialize)]
struct Cache {
    toasty_migrate: String,
    /// SHA-256 of a file's bytes -> what it parses to.
    plans: HashMap<String, Cached>,
}

/// A file's plan head, and the plan as JSON, decoded only when asked for.
#[derive(Serialize, Deserialize)]
struct Cached {
    head: PlanHead,
    plan: Box<RawValue>,
}

/// One migration's plan for the migrator's reader: parsed this run, or cached.
enum Plan {
    Parsed(MigrationPlan),
    Cached {
        json: Box<RawValue>,
        path: PathBuf,
        checksum: String,
    },
}

impl Plan {
    fn read(&self) -> Result<MigrationPlan> {
        match self {
            Plan::Parsed(plan) => Ok(plan.clone()),
            // A plan that does not decode (a damaged cache) is parsed from its file again, which
            // must still say what the head says.
            Plan::Cached {
                json,
                path,
                checksum,
            } => {
                match serde_json::from_str::<MigrationPlan>(json.get()) {
                    Ok(mut plan) => {
                        // A cached plan names the file as it was reached when parsed.
                        if let Some(source) = &mut plan.source {
                            source.path = path.clone();
                        }
                        Ok(plan)
                    }
                    Err(_) => {
                        let plan = parse_migration_file(path)?;
                        if plan.checksum() != *checksum {
                            return Err(changed_while_read(path));
                        }
                        Ok(plan)
                    }
                }
            }
        }
    }
}

/// The heads and plans of `versions` in `dir`, in order: cached where the file is unchanged,
/// parsed (on every core) where not.
fn load(dir: &Path, versions: &[String]) -> Result<(Vec<PlanHead>, Vec<Plan>)> {
    let cache_path = dir.join(CACHE_DIR).join(PLANS_FILE);
    // The cache is read while the files are read and hashed: neither waits for the other.
    let (mut cache, files) = std::thread::scope(|scope| {
        let cache = scope.spawn(|| {
            std::fs::read(&cache_path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Cache>(&bytes).ok())
                .filter(|c| c.toasty_migrate == env!("CARGO_PKG_VERSION"))
                .map(|c| c.plans)
                .unwrap_or_default()
        });
        // Reading a file is mostly the kernel's work: two threads read half each, into one
        // buffer each. Only the hash is kept: holding every file's text cost more in memory
        // growth than reading the few misses again (BENCHMARKS.md).
        let hash = |versions: &[String]| {
            let mut bytes = Vec::new();
            versions
                .iter()
                .map(|version| {
                    let path = dir.join(format!("{version}.rs"));
                    bytes.clear();
                    if File::open(&path)
                        .and_then(|mut f| f.read_to_end(&mut bytes))
                        .is_err()
                    {
                        return Err(unreadable(&path));
                    }
                    Ok((path, file_hash(&bytes)))
                })
                .collect::<Result<Vec<_>>>()
        };
        let (first, second) = versions.split_at(versions.len() / 2);
        let second = scope.spawn(move || hash(second));
        let files = hash(first).and_then(|mut files| {
            files.extend(second.join().expect("reading files does not panic")?);
            Ok(files)
        });
        (
            cache.join().expect("decoding the cache does not panic"),
            files,
        )
    });
    let mut files = files?;
    let misses: Vec<usize> = (0..files.len())
        .filter(|&i| {
            cache
                .get(&files[i].1)
                .is_none_or(|c| c.head.version != versions[i])
        })
        .collect();
    // A missed file is read again to be parsed, and cached under the hash of what was parsed.
    let mut sources = Vec::with_capacity(misses.len());
    for &i in &misses {
        let path = &files[i].0;
        let source = std::fs::read_to_string(path).map_err(|_| unreadable(path))?;
        files[i].1 = file_hash(source.as_bytes());
        sources.push(source);
    }
    let parsed = parse_migrations(
        &misses
            .iter()
            .zip(&sources)
            .map(|(&i, source)| (files[i].0.as_path(), source.as_str()))
            .collect::<Vec<_>>(),
    )?;
    let sums = checksums(&parsed);
    let mut parsed: HashMap<usize, (MigrationPlan, String)> = misses
        .iter()
        .copied()
        .zip(parsed.into_iter().zip(sums))
        .collect();
    if !parsed.is_empty() {
        for (&i, (plan, checksum)) in &parsed {
            let json = serde_json::value::to_raw_value(plan).expect("plans serialize");
            let head = PlanHead::of(plan, checksum.clone());
            cache.insert(files[i].1.clone(), Cached { head, plan: json });
        }
        // Plans of files no longer there go; the others stay, as a `git checkout` may bring a
        // file's old contents back.
        cache.retain(|_, c| versions.binary_search(&c.head.version).is_ok());
        let file = Cache {
            toasty_migrate: env!("CARGO_PKG_VERSION").to_string(),
            plans: cache,
        };
        write_cache_file(
            dir,
            PLANS_FILE,
            &serde_json::to_vec(&file).expect("the cache serializes"),
        );
        cache = file.plans;
    }
    // (No two files share a hash: each holds its own version.)
    Ok(files
        .into_iter()
        .enumerate()
        .map(|(i, (path, hash))| match parsed.remove(&i) {
            Some((plan, checksum)) => (PlanHead::of(&plan, checksum), Plan::Parsed(plan)),
            None => {
                let Cached { head, plan } = cache.remove(&hash).expect("every hit is cached");
                let checksum = head.checksum.clone();
                (
                    head,
                    Plan::Cached {
                        json: plan,
                        path,
                        checksum,
                    },
                )
            }
        })
        .unzip())
}

/// A file's key in the cache: the SHA-256 of its bytes, in hex.
fn file_hash(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Why `path` cannot be read (missing, unreadable or not UTF-8), in the parser's words.
fn unreadable(path: &Path) -> Error {
    match parse_migration_file(path) {
        Err(e) => e,
        // Readable again by now: say so rather than parse a file that keeps changing.
        Ok(_) => changed_while_read(path),
    }
}

/// The error for a migration file that changed between two reads of one run.
fn changed_while_read(path: &Path) -> Error {
    Error::Migration {
        // The file's stem is its version.
        version: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into(),
        message: format!(
            "{} changed while the migrations were read; run again",
            path.display()
        ),
    }
}

/// Writes a cache file, best effort: a read-only directory just means the work is redone next
/// time.
fn write_cache_file(dir: &Path, name: &str, bytes: &[u8]) {
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
        run::AppliedMigration,
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

    /// Each migration, recorded as applied with its plan's checksum, reads as applied (not
    /// edited): the checksum the cache gave is the plan's.
    fn assert_applied_as_its_file_says(migrator: &Migrator) {
        let rows = migrator
            .migrations()
            .unwrap()
            .iter()
            .map(|plan| AppliedMigration {
                version: plan.version.clone(),
                name: plan.name().to_string(),
                checksum: plan.checksum(),
                applied_at: time::OffsetDateTime::UNIX_EPOCH,
                execution_time: std::time::Duration::ZERO,
                progress: None,
                reverting: false,
            })
            .collect();
        for status in migrator.status_of(rows) {
            assert!(status.state.is_applied(), "{status:?}");
        }
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
        let cached = migrator(dir.path()).unwrap();
        assert_eq!(cached.migrations().unwrap(), first.migrations().unwrap());
        // The checksum kept with the plan is the plan's: an applied row of it reads as applied.
        assert_applied_as_its_file_says(&cached);

        // An edit within the vocabulary is parsed again, not served from the cache.
        let source = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, source.replacen("VarChar(255)", "VarChar(256)", 1)).unwrap();
        let edited = migrator(dir.path()).unwrap();
        assert_ne!(
            edited.migrations().unwrap()[0],
            first.migrations().unwrap()[0]
        );
        assert_eq!(
            edited.migrations().unwrap()[0],
            parse_migration_file(&path).unwrap()
        );
        assert_applied_as_its_file_says(&edited);
        assert_applied_as_its_file_says(&migrator(dir.path()).unwrap());

        // A broken cache only costs the parse.
        std::fs::write(cache.join("plans.json"), "not json").unwrap();
        assert_eq!(
            migrator(dir.path()).unwrap().migrations().unwrap(),
            edited.migrations().unwrap()
        );
        // So does a cached plan that no longer decodes, though its head does: it is parsed
        // from its file when the migrator asks for it.
        let plans = cache.join("plans.json");
        let mut damaged: Cache = serde_json::from_slice(&std::fs::read(&plans).unwrap()).unwrap();
        for cached in damaged.plans.values_mut() {
            cached.plan = RawValue::from_string("{\"up\": 1}".into()).unwrap();
        }
        std::fs::write(&plans, serde_json::to_vec(&damaged).unwrap()).unwrap();
        let served = migrator(dir.path()).unwrap();
        assert_applied_as_its_file_says(&served);
        assert_eq!(served.migrations().unwrap(), edited.migrations().unwrap());
        // A file edited between reading the heads and reading that plan: an error, not a plan
        // that differs from its head.
        std::fs::write(&plans, serde_json::to_vec(&damaged).unwrap()).unwrap();
        let racing = migrator(dir.path()).unwrap();
        std::fs::write(&path, source.replacen("VarChar(255)", "VarChar(300)", 1)).unwrap();
        let err = racing.migrations().unwrap_err().to_string();
        assert!(
            err.contains("changed while the migrations were read"),
            "{err}"
        );

        // A file that is not UTF-8 (hashed as bytes, then read again to be parsed): the
        // parser's error, at the bad byte.
        std::fs::write(&path, b"//! caf\xe9\n").unwrap();
        let err = migrator(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}:1:8", path.display())) && err.contains("not UTF-8"),
            "{err}"
        );
    }
}
