//! `MigrationGenerator`: from a diff to a migration file, plus the `mod.rs` that lists every
//! migration and the `.schema.json` that records the schema as of the newest migration.
//!
//! The Rust itself is [`crate::render`]'s; [`crate::parse`] reads exactly that vocabulary back.

use crate::diff::SchemaDiff;
use crate::migration::{MigrationPlan, is_version};
use crate::render::{render_migration, render_mod};
use crate::replay::IndexedSchema;
use crate::snapshot::{SchemaSnapshot, load_snapshot, snapshot_to_json};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The timestamp part of a version.
const STAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]_[hour][minute][second]");

/// File name of the snapshot that records the schema as of the newest migration.
pub const SCHEMA_FILE: &str = ".schema.json";
/// File name of the module that lists every migration.
pub const MOD_FILE: &str = "mod.rs";

/// Writes migration files into one directory.
#[derive(Debug, Clone)]
pub struct MigrationGenerator {
    dir: PathBuf,
    now: Option<OffsetDateTime>,
}

impl MigrationGenerator {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        MigrationGenerator {
            dir: dir.into(),
            now: None,
        }
    }

    /// Uses a fixed time for versions instead of the clock (reproducible output, tests).
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The migration for `diff`, versioned `YYYYMMDD_HHMMSS_<slug of message>` in UTC (one second
    /// after the newest migration in the directory if the clock is not past it). Its `down`
    /// undoes `up` exactly, in reverse order. An empty diff is [`Error::NoChanges`].
    pub fn generate(&self, diff: &SchemaDiff, message: &str) -> Result<MigrationPlan> {
        if diff.is_empty() {
            return Err(Error::NoChanges);
        }
        let mut plan = MigrationPlan::from_diff(self.version(message)?, diff);
        plan.parent = list_versions(&self.dir)?.pop();
        Ok(plan)
    }

    /// A migration with nothing in it yet, versioned as [`generate`](Self::generate) does, for a
    /// person (or a caller) to fill with data steps: `toasty migrate:new`.
    pub fn empty(&self, message: &str) -> Result<MigrationPlan> {
        Ok(MigrationPlan {
            parent: list_versions(&self.dir)?.pop(),
            ..MigrationPlan::new(self.version(message)?, Vec::new(), Vec::new())
        })
    }

    fn version(&self, message: &str) -> Result<String> {
        let slug = slugify(message)?;
        Ok(self.version_after(&slug, list_versions(&self.dir)?.last().map(String::as_str)))
    }

    /// `<now>_<slug>`, or one second after `after`'s timestamp if the clock is not past it: two
    /// migrations made within one second (or with the clock set back) still sort in the order
    /// they were made.
    pub(crate) fn version_after(&self, slug: &str, after: Option<&str>) -> String {
        let mut now = self
            .now
            .unwrap_or_else(OffsetDateTime::now_utc)
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond");
        if let Some(last) = after
            && let Ok(last) = PrimitiveDateTime::parse(&last[..15], STAMP)
            && now <= last.assume_utc()
        {
            now = last.assume_utc() + time::Duration::SECOND;
        }
        let stamp = now.format(STAMP).expect("a UTC time always formats");
        format!("{stamp}_{slug}")
    }

    /// Writes `<dir>/<version>.rs`, regenerates `<dir>/mod.rs` and updates `<dir>/.schema.json`
    /// (the previous one with the migration's `up` replayed on it). Returns the file's path.
    ///
    /// Everything is checked and rendered before the first byte is written, so a migration that
    /// does not fit the recorded schema, or a version that is not newer than the last one, leaves
    /// the directory as it was.
    pub fn write_migration_file(&self, plan: &MigrationPlan) -> Result<PathBuf> {
        let schema_path = self.dir.join(SCHEMA_FILE);
        let recorded = match schema_path.exists() {
            true => load_snapshot(&schema_path)?,
            false => SchemaSnapshot::default(),
        };
        self.write_migration_file_over(plan, recorded)
    }

    /// [`write_migration_file`](Self::write_migration_file) over `recorded`, the directory's
    /// `.schema.json` as the caller already read it (a large one is not read twice).
    pub fn write_migration_file_over(
        &self,
        plan: &MigrationPlan,
        recorded: SchemaSnapshot,
    ) -> Result<PathBuf> {
        let path = self.dir.join(format!("{}.rs", plan.version));
        if path.exists() {
            return Err(Error::MigrationExists { path });
        }
        let mut versions = list_versions(&self.dir)?;
        if let Some(last) = versions.last()
            && last.as_str() >= plan.version.as_str()
        {
            return Err(Error::InvalidName {
                name: plan.version.clone(),
                message: format!(
                    "it must sort after the newest migration {last} (is the clock behind?)"
                ),
            });
        }

        let schema_path = self.dir.join(SCHEMA_FILE);
        let mut schema = IndexedSchema::from(recorded);
        for op in &plan.up {
            schema.apply(op)?;
        }
        let schema = schema.into_snapshot();
        schema.validate("<schema after the new migration>")?;

        let source = render_migration(plan);
        versions.push(plan.version.clone());
        let module = render_mod(&versions);

        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mod_path = self.dir.join(MOD_FILE);
        let old_mod = std::fs::read(&mod_path).ok();
        crate::fs::write_atomic(&path, source.as_bytes())?;
        let rest = crate::fs::write_atomic(&mod_path, module.as_bytes()).and_then(|()| {
            crate::fs::write_atomic(&schema_path, snapshot_to_json(&schema).as_bytes())
        });
        if let Err(err) = rest {
            // Put the directory back as it was: no migration file without its listing.
            let _ = std::fs::remove_file(&path);
            if let Some(old_mod) = old_mod {
                let _ = crate::fs::write_atomic(&mod_path, &old_mod);
            }
            return Err(err);
        }
        Ok(path)
    }
}

/// Versions of the migration files in `dir`, sorted; an absent directory has none.
pub fn list_versions(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".rs")) else {
            continue;
        };
        if is_version(stem) {
            versions.push(stem.to_string());
        }
    }
    versions.sort();
    Ok(versions)
}

/// `"Add user email!"` -> `add_user_email`.
pub(crate) fn slugify(message: &str) -> Result<String> {
    let mut slug = String::new();
    for c in message.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    let slug: String = slug.chars().take(64).collect();
    let slug = slug.trim_end_matches('_').to_string();
    if slug.is_empty() {
        return Err(Error::InvalidName {
            name: message.to_string(),
            message: "a migration message needs at least one letter or digit".into(),
        });
    }
    Ok(slug)
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs() {
        assert_eq!(
            slugify("Add user email field").unwrap(),
            "add_user_email_field"
        );
        assert_eq!(
            slugify("  drop 'users'; DROP TABLE x -- ").unwrap(),
            "drop_users_drop_table_x"
        );
        assert!(slugify("!!!").is_err());
    }
}
