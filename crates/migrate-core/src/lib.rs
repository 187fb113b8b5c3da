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
//! The API comes in eight groups:
//! - [`schema`]: snapshots of a schema, their types, and the operations that edit them;
//! - [`diff`]: what changed between two snapshots;
//! - [`data`]: the values, expressions and filters of data steps (insert, update, delete rows);
//! - [`seed`]: seed files, applied idempotently by [`run::Migrator::seed`];
//! - [`files`]: migration files: generating, reading back, the [`Migration`] trait;
//! - [`run`]: the [`run::Migrator`], which decides everything about applying migrations and runs
//!   every step;
//! - [`lint`]: what a migration does to a database in use (locks, rewrites, data it can lose),
//!   as findings with stable codes;
//! - [`backend`]: what a database implements: four narrow traits that plan and perform steps
//!   ([`backend::Executor`]), keep tracking rows ([`backend::Journal`]), lock
//!   ([`backend::Lock`]) and read the schema back ([`backend::Introspect`]).
//!
//! With the feature `toasty`, `export` is the application's side of `toasty migrate:generate`:
//! the schema its models build, printed for the CLI. With `progress`, [`progress`] is the one
//! look of the backends' progress bars.
//!
//! [`Error`], [`Result`], the [`Migration`] trait that generated files implement and the
//! [`prelude`] they import live at the root.
//!
//! ```no_run
//! use toasty_migrate::{diff::detect_changes, files::MigrationGenerator, schema::load_snapshot};
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

pub mod backend;
mod baseline;
mod check;
mod cores;
pub mod data;
pub mod diff;
mod drift;
mod error;
mod execute;
mod fs;
mod generate;
mod history;
pub mod lint;
mod load;
mod lock;
mod migration;
mod migrator;
mod nesting;
mod operation;
mod parse;
mod redact;
mod render;
mod replay;
mod runner;
pub mod seed;
mod snapshot;
mod state;
mod types;

#[cfg(feature = "toasty")]
pub mod export;
#[cfg(feature = "toasty")]
mod from_toasty;
#[cfg(feature = "progress")]
pub mod progress;

pub use error::{Error, Result};
pub use migration::{Migration, MigrationContext};

/// A schema as data: the snapshot (`.schema.json`), its tables, columns, types and indexes, and
/// the [`Operation`](schema::Operation)s that edit it.
pub mod schema {
    pub use crate::operation::{ColumnPosition, Operation};
    pub use crate::replay::IndexedSchema;
    pub use crate::snapshot::{
        ColumnDef, DefaultValue, FORMAT_VERSION, IndexColumn, IndexDef, IndexOp, IndexScope,
        SchemaSnapshot, TableDef, TableSnapshot, load_snapshot, save_snapshot, snapshot_from_json,
        snapshot_to_json,
    };
    pub use crate::types::{ColumnType, EnumType, MAX_LIST_NESTING};
}

/// Migration files: writing them ([`MigrationGenerator`](files::MigrationGenerator)), reading
/// them back without compiling them ([`parse_migration_file`](files::parse_migration_file)), and
/// what a compiled one is ([`Migration`]).
pub mod files {
    #[cfg(feature = "toasty")]
    pub use crate::check::check_models;
    pub use crate::check::{Check, check, check_plans, forks};
    pub use crate::generate::{MOD_FILE, MigrationGenerator, SCHEMA_FILE, list_versions};
    pub use crate::history::{rebase, squash, write_history};
    pub use crate::load::{parse_migration_dir, parse_migrations};
    pub use crate::migration::{
        Direction, Migration, MigrationContext, MigrationPlan, RecordingContext, Source,
        is_version, version_name,
    };
    pub use crate::parse::{parse_migration, parse_migration_file, parse_step};
    pub use crate::render::{render_migration, render_mod};
}

/// Applying and reverting migrations: the [`Migrator`](run::Migrator), its options and reports,
/// each migration's status, and drift.
pub mod run {
    pub use crate::baseline::baseline;
    pub use crate::drift::Drift;
    pub use crate::migrator::{Migrator, checksums};
    pub use crate::runner::{RunOptions, RunReport, RunStep};
    pub use crate::state::{AppliedMigration, MigrationState, MigrationStatus, PlanHead};
}

/// Everything a migration file uses: `use toasty_migrate::prelude::*;`.
pub mod prelude {
    pub use crate::data::{
        Expr, Filter, Value, all, and, cast, coalesce, col, concat, eq, is_in, is_not_null,
        is_null, lit, lower, ne, or, upper,
    };
    pub use crate::schema::{
        ColumnDef, ColumnPosition, ColumnType, DefaultValue, EnumType, IndexColumn, IndexDef,
        IndexOp, IndexScope, TableDef,
    };
    pub use crate::{Migration, MigrationContext, Result};
}
