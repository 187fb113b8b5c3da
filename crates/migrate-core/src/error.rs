use std::path::PathBuf;

/// Everything that can go wrong in toasty-migrate's core.
///
/// Every variant that comes from a file names it, and where it can, the place in it (a JSON path
/// and line for snapshots, a line and column for migration files).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A snapshot file that is not valid JSON or does not have the snapshot's shape.
    #[error("{path}: at `{json_path}` (line {line}, column {column}): {message}")]
    SnapshotFormat {
        path: PathBuf,
        json_path: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// A snapshot that parses but says something impossible (a duplicate name, a key on a missing
    /// column, an unsupported format version...).
    #[error("{origin}: at `{json_path}`: {message}")]
    InvalidSnapshot {
        /// The file, or `<memory>` for a snapshot that never touched disk.
        origin: String,
        json_path: String,
        message: String,
    },

    /// Two snapshots whose difference cannot be expressed with the seven change kinds, or rename
    /// hints that do not fit the snapshots.
    #[error("cannot diff schemas: {0}")]
    Diff(String),

    /// An operation that does not fit the schema it is applied to.
    #[error("cannot apply `{operation}`: {message}")]
    Apply { operation: String, message: String },

    /// `MigrationGenerator::generate` was given a diff with no changes.
    #[error("no schema changes: nothing to generate")]
    NoChanges,

    #[error("invalid migration name {name:?}: {message}")]
    InvalidName { name: String, message: String },

    #[error("migration file {path} already exists")]
    MigrationExists { path: PathBuf },

    /// A migration file outside the vocabulary the generator writes.
    #[error(
        "{path}:{line}:{column}: {message}\n\
         (the CLI reads only what `toasty migrate:generate` writes; a migration with other code must run embedded in the application)"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// The database (or the connection to it) failed. `message` is for a person; the driver's
    /// own error, where there is one, is the [`source`](std::error::Error::source). Built with
    /// [`Error::backend`] or [`Error::driver`].
    #[error("{target}: {message}")]
    Backend {
        target: String,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// Another runner held the migration lock for longer than the lock timeout.
    #[error("{target}: another runner holds the migration lock; gave up after {waited_secs} s")]
    LockTimeout { target: String, waited_secs: u64 },

    /// Toasty could not build a schema from the models.
    #[error("cannot build the schema of the models: {0}")]
    Models(String),

    /// Something this backend cannot do, said plainly rather than half done.
    #[error("{target}: {message}")]
    Unsupported { target: String, message: String },

    #[error(
        "refusing operations that can lose data unless allowed (--allow-destructive, or RunOptions::allow_destructive):\n  {}",
        operations.join("\n  ")
    )]
    DestructiveNotAllowed { operations: Vec<String> },

    #[error(
        "migration {version} was edited after it was applied (applied checksum {applied}, file checksum {file}); \
         restore the file, or write a new migration for the change"
    )]
    ChecksumMismatch {
        version: String,
        applied: String,
        file: String,
    },

    #[error("migration {version} is recorded as applied but its file is missing")]
    MissingMigration { version: String },

    /// A database applied only some of the migrations a squash replaced: the squashed
    /// migration cannot run over them, and their files are gone.
    #[error(
        "migration {version} squashed migrations this database applied only some of (not: {}); \
         check out the commit before the squash, run `toasty migrate:up` there, then come back",
        missing.join(", ")
    )]
    PartlySquashed {
        version: String,
        missing: Vec<String>,
    },

    /// A seed file that is not JSON, does not have a seed file's shape, or has a row that does
    /// not fit the schema.
    #[error("{path}: at `{json_path}`: {message}")]
    Seed {
        path: PathBuf,
        json_path: String,
        message: String,
    },

    /// What the migrations' history does not allow (a baseline of a directory that has
    /// migrations, of a database that tracks some).
    #[error("{0}")]
    History(String),

    /// A migration's `up` or `down` reported a failure while being described.
    #[error("migration {version}: {message}")]
    Migration { version: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A database failure said in our words (a timeout, a lost lock), with no driver error
    /// behind it.
    pub fn backend(target: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Backend {
            target: target.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A failure the database driver reported: `message` says it for a person, `source` keeps
    /// the driver's error for a caller that wants to inspect it.
    pub fn driver(
        target: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Backend {
            target: target.into(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
