//! SQL backends for toasty-migrate: PostgreSQL and MySQL/MariaDB over sqlx, SQLite over rusqlite
//! (the SQLite that Toasty's own driver links, so both fit in one application). Each backend is a
//! Cargo feature (`sqlite`, `postgres`, `mysql`, all on by default); DDL and introspection parsing
//! are always built, [`SqlBackend`] with at least one backend.
//!
//! - [`dialect`]: identifier quoting, literals and type names per dialect (toasty-sql's names).
//! - [`ddl`]: the statements for each operation, including SQLite's copy-table rebuild.
//! - [`dml`]: data steps as statements with bound parameters, batched by key.
//! - [`introspect`]: reading a live database back into a `SchemaSnapshot`.
//! - [`lint`]: what each operation does to a table in use (locks, rewrites), per dialect.
//! - [`SqlBackend`]: the migrator's `Backend` over one connection: the `_toasty_migrations`
//!   tracking table, the lock (PostgreSQL advisory lock, MySQL `GET_LOCK`, SQLite
//!   `BEGIN IMMEDIATE`), one transaction per migration on PostgreSQL and SQLite, and
//!   statement-by-statement progress on MySQL, whose DDL commits on its own.
//!
//! ```no_run
//! # async fn run() -> toasty_migrate::Result<()> {
//! use toasty_migrate::run::{Migrator, RunOptions};
//! use toasty_migrate_sql::SqlBackend;
//!
//! let mut db = SqlBackend::connect("sqlite:app.db").await?;
//! let migrator = Migrator::from_dir("migrations")?;
//! migrator.up(&mut db, &RunOptions::default()).await?;
//! # Ok(())
//! # }
//! ```

// The backend needs a connection of at least one kind; without any, the crate is its DDL,
// dialects and introspection parsing.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod backend;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod introspect;
pub mod lint;
#[cfg(feature = "sqlite")]
mod sqlite;
mod url;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use backend::{SqlBackend, SqlStep};

/// The table that records applied migrations. Never Toasty's own `__toasty_migrations`.
pub const TRACKING_TABLE: &str = "_toasty_migrations";
pub use dialect::Dialect;
pub use url::{DatabaseUrl, not_built};
