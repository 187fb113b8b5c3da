//! SQL backends for toasty-migrate: SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! This crate will hold the DDL renderer for each dialect and the backend that applies, tracks and
//! locks migrations over sqlx. It holds nothing yet: no backend is implemented, and nothing here
//! claims to apply a migration.
