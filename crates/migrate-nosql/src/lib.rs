//! NoSQL backends for toasty-migrate.
//!
//! - MongoDB (feature `mongodb`): [`MongoBackend`]. A table is a collection with a `$jsonSchema`
//!   validator and a unique index for its primary key; columns are added, dropped and converted
//!   with server-side updates; progress is recorded per operation, so an interrupted migration
//!   resumes; the lock is a lease document under a unique `_id`.
//! - DynamoDB: not built yet. Nothing here claims to migrate DynamoDB; the CLI says so for a
//!   DynamoDB URL.

#[cfg(feature = "mongodb")]
mod mongo;

#[cfg(feature = "mongodb")]
pub use mongo::{
    LOCK_COLLECTION, MongoBackend, TRACKING_COLLECTION, commands, render, stored_snapshot,
    validator,
};
