//! NoSQL backends for toasty-migrate.
//!
//! - MongoDB (feature `mongodb`): [`MongoBackend`]. A table is a collection with a `$jsonSchema`
//!   validator and a unique index for its primary key; columns are added, dropped and converted
//!   with server-side updates; progress is recorded per operation, so an interrupted migration
//!   resumes; the lock is a lease document under a unique `_id`.
//! - DynamoDB (feature `dynamodb`): [`DynamoBackend`], laying tables out as Toasty's DynamoDB
//!   driver does (keys, GSIs, unique indexes as tables), with a registry table for the columns
//!   DynamoDB does not keep, parallel-segment conditional item rewrites (backfills, drops,
//!   renames, stored values converted between types), a lease item lock and per-operation
//!   progress.

#[cfg(any(feature = "dynamodb", feature = "mongodb"))]
mod connect;
#[cfg(feature = "dynamodb")]
mod dynamo;
#[cfg(any(feature = "dynamodb", feature = "mongodb"))]
mod lease;
#[cfg(any(feature = "dynamodb", feature = "mongodb"))]
mod lint;
#[cfg(feature = "mongodb")]
mod mongo;
#[cfg(any(feature = "dynamodb", feature = "mongodb"))]
#[cfg(feature = "dynamodb")]
pub use dynamo::{
    DynamoBackend, DynamoStep, lint as dynamodb_lint, stored_snapshot as dynamodb_stored_snapshot,
};

#[cfg(feature = "mongodb")]
pub use mongo::{
    LOCK_COLLECTION, MongoBackend, MongoStep, TRACKING_COLLECTION, commands, lint as mongodb_lint,
    render, stored_snapshot, validator,
};
