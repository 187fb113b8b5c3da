//! The `toasty` command line tool (`migrate:generate`, `migrate:up`, `migrate:down`,
//! `migrate:status`).
//!
//! Not built yet: this crate has no binary until the command line issue lands, so that nothing
//! installs a `toasty` that cannot run a migration.
