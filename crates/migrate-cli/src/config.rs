//! `toasty.toml`: the project's settings, so everyday commands need no flags (flags override
//! them). Found in the working directory or the nearest directory above it; its paths are
//! relative to it. `toasty migrate:init` writes one.
//!
//! ```toml
//! [migrate]
//! dir = "migrations"          # the migrations directory
//! flavor = "postgresql"       # the database the schema is built for
//! url_env = "DATABASE_URL"    # where the database URL comes from when --url is not given
//! models_bin = "toasty-models" # the cargo binary that prints the models' schema
//! # schema = "schema.json"    # or: a schema file the application exports itself
//! ```

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use toasty_migrate_sql::{DatabaseUrl, Dialect};

/// The file's name.
pub const FILE: &str = "toasty.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    migrate: Config,
}

/// The `[migrate]` table; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    dir: Option<PathBuf>,
    pub flavor: Option<String>,
    pub url_env: Option<String>,
    pub models_bin: Option<String>,
    schema: Option<PathBuf>,
    /// Where the file was found: its relative paths start there. Not in the file.
    #[serde(skip)]
    root: PathBuf,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Reads `toasty.toml` (once) from the working directory or the nearest one above it; none
/// found is an empty configuration. A file that does not parse is an error naming it.
pub fn load() -> Result<()> {
    let config = match find(&std::env::current_dir()?) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let file: File =
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            let mut config = file.migrate;
            config.root = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if let Some(flavor) = &config.flavor {
                toasty_migrate::export::capability(flavor)
                    .with_context(|| format!("in {}: flavor", path.display()))?;
            }
            if config.models_bin.is_some() && config.schema.is_some() {
                bail!("in {}: give models_bin or schema, not both", path.display());
            }
            config
        }
        None => Config::default(),
    };
    let _ = CONFIG.set(config);
    Ok(())
}

fn find(mut dir: &Path) -> Option<PathBuf> {
    loop {
        let candidate = dir.join(FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = dir.parent()?;
    }
}

/// The configuration [`load`] read.
pub fn get() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

impl Config {
    /// The directory the file is in: where `cargo` runs the models binary.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file's `dir`, else `migrations`: the default of every `--dir`.
    pub fn dir(&self) -> PathBuf {
        match &self.dir {
            Some(dir) => self.root.join(dir),
            None => PathBuf::from("migrations"),
        }
    }

    /// The schema file the file names, if it names one.
    pub fn schema(&self) -> Option<PathBuf> {
        self.schema.as_ref().map(|s| self.root.join(s))
    }
}

/// The SQL database a flavor builds the schema for; `None` for DynamoDB.
pub fn sql_dialect(flavor: &str) -> Option<Dialect> {
    match flavor {
        "sqlite" => Some(Dialect::Sqlite),
        "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::Mysql),
        _ => None,
    }
}

/// Refuses a URL for another database than the one the schema is built for: the flavor decides
/// the tables (MySQL's `varchar(191)` keys, say), so applying them elsewhere gives wrong ones.
pub fn check_flavor(url: &str) -> Result<()> {
    let Some(flavor) = &get().flavor else {
        return Ok(());
    };
    let named = DatabaseUrl::parse(url).ok();
    let fits = match sql_dialect(flavor) {
        Some(dialect) => named.is_some_and(|n| n.dialect() == dialect),
        None => named.is_none(),
    };
    if !fits {
        let scheme = url.split(':').next().unwrap_or_default();
        bail!(
            "the migrations are built for {flavor} ({FILE}), and the URL is a {scheme} database; \
             use a {flavor} database, or change the flavor and generate the migrations again"
        );
    }
    Ok(())
}
