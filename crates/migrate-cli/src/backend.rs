//! Which backend a `--url` names, behind the CLI's Cargo features.

use anyhow::Result;
use std::time::Duration;
use toasty_migrate::{
    AppliedMigration, Backend, Direction, Error, MigrationPlan, Operation, SchemaSnapshot,
};
#[cfg(feature = "sql")]
use toasty_migrate_sql::SqlBackend;

#[cfg(not(any(feature = "sql", feature = "mongodb", feature = "dynamodb")))]
compile_error!(
    "the toasty CLI needs a backend: enable sqlite, postgres, mysql, mongodb or dynamodb"
);

/// A connected backend of any kind this build has.
pub enum AnyBackend {
    #[cfg(feature = "sql")]
    Sql(SqlBackend),
    #[cfg(feature = "mongodb")]
    Mongo(toasty_migrate_nosql::MongoBackend),
    #[cfg(feature = "dynamodb")]
    Dynamo(toasty_migrate_nosql::DynamoBackend),
}

impl AnyBackend {
    /// Connects to `url`; a command that only reads (`writes` false) never creates a database
    /// (SQLite's file).
    pub async fn connect(url: &str, writes: bool) -> Result<Self, Error> {
        // Only SQLite creates a database by connecting.
        #[cfg(not(feature = "sql"))]
        let _ = writes;
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            #[cfg(feature = "mongodb")]
            "mongodb" | "mongodb+srv" => Ok(AnyBackend::Mongo(
                toasty_migrate_nosql::MongoBackend::connect(url)
                    .await?
                    .with_progress(true),
            )),
            #[cfg(not(feature = "mongodb"))]
            "mongodb" | "mongodb+srv" => {
                Err(toasty_migrate_sql::not_built(url, "MongoDB", "mongodb"))
            }
            #[cfg(feature = "dynamodb")]
            "dynamodb" => Ok(AnyBackend::Dynamo(
                toasty_migrate_nosql::DynamoBackend::connect(url)
                    .await?
                    .with_progress(true),
            )),
            #[cfg(not(feature = "dynamodb"))]
            "dynamodb" => Err(toasty_migrate_sql::not_built(url, "DynamoDB", "dynamodb")),
            #[cfg(feature = "sql")]
            _ if writes => Ok(AnyBackend::Sql(SqlBackend::connect(url).await?)),
            #[cfg(feature = "sql")]
            _ => Ok(AnyBackend::Sql(
                SqlBackend::connect_without_creating(url).await?,
            )),
            #[cfg(not(feature = "sql"))]
            _ => Err(toasty_migrate_sql::DatabaseUrl::parse(url)?.not_built(url)),
        }
    }

    /// A cheap digest of what `introspect` reads, where the backend has one.
    pub async fn schema_fingerprint(&mut self) -> Result<Option<String>, Error> {
        match self {
            #[cfg(feature = "sql")]
            AnyBackend::Sql(b) => b.schema_fingerprint().await,
            #[cfg(feature = "mongodb")]
            AnyBackend::Mongo(_) => Ok(None),
            #[cfg(feature = "dynamodb")]
            AnyBackend::Dynamo(_) => Ok(None),
        }
    }

    /// A token for all the server has committed, where the backend has one.
    pub async fn commit_watermark(&mut self) -> Result<Option<String>, Error> {
        match self {
            #[cfg(feature = "sql")]
            AnyBackend::Sql(b) => b.commit_watermark().await,
            #[cfg(feature = "mongodb")]
            AnyBackend::Mongo(_) => Ok(None),
            #[cfg(feature = "dynamodb")]
            AnyBackend::Dynamo(_) => Ok(None),
        }
    }
}

/// Forwards each call to the backend inside.
macro_rules! each {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "sql")]
            AnyBackend::Sql($b) => $call,
            #[cfg(feature = "mongodb")]
            AnyBackend::Mongo($b) => $call,
            #[cfg(feature = "dynamodb")]
            AnyBackend::Dynamo($b) => $call,
        }
    };
}

impl Backend for AnyBackend {
    fn check(&self, op: &Operation) -> Result<(), String> {
        each!(self, b => b.check(op))
    }

    fn target(&self) -> String {
        each!(self, b => b.target())
    }

    async fn introspect(&mut self) -> toasty_migrate::Result<SchemaSnapshot> {
        each!(self, b => Backend::introspect(b).await)
    }

    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
        each!(self, b => b.stored(snapshot))
    }

    fn keeps_column_order(&self) -> bool {
        each!(self, b => b.keeps_column_order())
    }

    async fn ensure_tracking(&mut self) -> toasty_migrate::Result<()> {
        each!(self, b => b.ensure_tracking().await)
    }

    async fn lock(&mut self) -> toasty_migrate::Result<()> {
        each!(self, b => b.lock().await)
    }

    async fn unlock(&mut self) -> toasty_migrate::Result<()> {
        each!(self, b => b.unlock().await)
    }

    async fn applied(&mut self) -> toasty_migrate::Result<Vec<AppliedMigration>> {
        each!(self, b => b.applied().await)
    }

    async fn statements(
        &mut self,
        migrations: &[&[Operation]],
    ) -> toasty_migrate::Result<Vec<Vec<String>>> {
        each!(self, b => b.statements(migrations).await)
    }

    async fn run(
        &mut self,
        migration: &MigrationPlan,
        direction: Direction,
        checksum: &str,
    ) -> toasty_migrate::Result<Duration> {
        each!(self, b => b.run(migration, direction, checksum).await)
    }
}
