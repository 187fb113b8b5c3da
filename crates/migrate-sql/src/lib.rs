//! SQL backends for toasty-migrate: PostgreSQL and MySQL/MariaDB over sqlx, SQLite over rusqlite
//! (the SQLite that Toasty's own driver links, so both fit in one application). Each backend is a
//! Cargo feature (`sqlite`, `postgres`, `mysql`, all on by default); DDL and introspection parsing
//! are always built.
//!
//! - [`dialect`]: identifier quoting, literals and type names per dialect (toasty-sql's names).
//! - [`ddl`]: the statements for each operation, including SQLite's copy-table rebuild.
//! - [`introspect`]: reading a live database back into a `SchemaSnapshot`.
//! - [`SqlBackend`]: the migrator's `Backend` over one connection: the `_toasty_migrations`
//!   tracking table, the lock (PostgreSQL advisory lock, MySQL `GET_LOCK`, SQLite
//!   `BEGIN IMMEDIATE`), one transaction per migration on PostgreSQL and SQLite, and
//!   statement-by-statement progress on MySQL, whose DDL commits on its own.
//!
//! ```no_run
//! # async fn run() -> toasty_migrate::Result<()> {
//! use toasty_migrate::{Migrator, RunOptions};
//! use toasty_migrate_sql::SqlBackend;
//!
//! let mut db = SqlBackend::connect("sqlite:app.db").await?;
//! let migrator = Migrator::from_dir("migrations")?;
//! migrator.up(&mut db, &RunOptions::default()).await?;
//! # Ok(())
//! # }
//! ```

mod backend;
pub mod ddl;
pub mod dialect;
pub mod introspect;
#[cfg(feature = "sqlite")]
mod sqlite;
mod url;

pub use backend::{SqlBackend, TRACKING_TABLE};
pub use dialect::Dialect;
pub use url::{DatabaseUrl, redact};
