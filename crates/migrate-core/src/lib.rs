//! toasty-migrate's core: schema snapshots, change detection, and reversible migration files for
//! the [Toasty](https://github.com/tokio-rs/toasty) ORM.
//!
//! This crate talks to no database and runs no async runtime; the backends
//! (`toasty-migrate-sql`, `toasty-migrate-nosql`) and the `toasty` CLI build on it.
//!
//! ```text
//! SchemaSnapshot (old) ┐
//!                      ├ detect_changes ─> SchemaDiff ─ MigrationGenerator ─> migrations/<version>.rs
//! SchemaSnapshot (new) ┘                                                     (+ mod.rs, .schema.json)
//! migrations/<version>.rs ─ parse_migration_file (or compiled: MigrationPlan::describe) ─> MigrationPlan
//! MigrationPlans ─ Migrator (pending, order, checksums, destructive gate, dry run) ─> Backend
//! ```
//!
//! [`Migrator`] decides everything about applying migrations, and runs every step; a database
//! backend implements [`Backend`]: four narrow traits that plan and perform steps
//! ([`Executor`]), keep tracking rows ([`Journal`]), lock ([`Lock`]) and read the schema back
//! ([`Introspect`]).
//!
//! ```no_run
//! use toasty_migrate::{MigrationGenerator, detect_changes, load_snapshot};
//!
//! # fn main() -> toasty_migrate::Result<()> {
//! let old = load_snapshot("migrations/.schema.json")?;
//! let new = load_snapshot("schema.json")?;
//! let diff = detect_changes(&old, &new)?;
//! for change in &diff.changes {
//!     let mark = if change.is_destructive() { "!" } else { " " };
//!     println!("{mark} [{}] {change}", change.kind());
//! }
//! let generator = MigrationGenerator::new("migrations");
//! let migration = generator.generate(&diff, "add user email")?;
//! generator.write_migration_file(&migration)?;
//! # Ok(())
//! # }
//! ```

mod backend;
mod diff;
mod drift;
mod error;
mod execute;
mod fs;
mod generate;
mod load;
mod lock;
mod migration;
mod nesting;
mod operation;
mod parse;
mod redact;
mod runner;
mod snapshot;
mod types;

#[cfg(feature = "toasty")]
mod from_toasty;

pub use backend::{Atomicity, Backend, Executor, Introspect, Journal, Lock, Step};
pub use diff::{
    ChangeKind, ColumnRename, DiffOptions, SchemaChange, SchemaDiff, detect_changes,
    detect_changes_with,
};
pub use drift::Drift;
pub use error::{Error, Result};
pub use execute::JournalRow;
pub use generate::{
    MOD_FILE, MigrationGenerator, SCHEMA_FILE, list_versions, render_migration, render_mod,
};
pub use load::{parse_migration_dir, parse_migrations};
pub use migration::{
    Direction, Migration, MigrationContext, MigrationPlan, RecordingContext, is_version,
    version_name,
};
pub use operation::{ColumnPosition, Operation};
pub use parse::{parse_migration, parse_migration_file};
pub use redact::{redact, redact_in};
pub use runner::{
    AppliedMigration, MigrationIndex, MigrationState, MigrationStatus, Migrator, RunOptions,
    RunReport, RunStep,
};
pub use snapshot::{
    ColumnDef, DefaultValue, FORMAT_VERSION, IndexColumn, IndexDef, IndexOp, IndexScope,
    SchemaSnapshot, TableDef, TableSnapshot, load_snapshot, save_snapshot, snapshot_from_json,
    snapshot_to_json,
};
pub use types::{ColumnType, EnumType, MAX_LIST_NESTING};

/// Everything a migration file uses: `use toasty_migrate::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ColumnDef, ColumnPosition, ColumnType, DefaultValue, EnumType, IndexColumn, IndexDef,
        IndexOp, IndexScope, Migration, MigrationContext, Result, TableDef,
    };
}
