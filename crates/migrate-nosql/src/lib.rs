//! NoSQL backends for toasty-migrate: DynamoDB and MongoDB.
//!
//! This crate will hold the backends that apply migrations to DynamoDB tables and MongoDB
//! collections (tables, indexes, batched and resumable backfills), track them in
//! `_toasty_migrations` and lock with a lease. It holds nothing yet: no backend is implemented.
