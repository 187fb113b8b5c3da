//! Which backend a `--url` names, behind the CLI's Cargo features. Commands are generic over
//! [`toasty_migrate::backend::Backend`]; [`with_backend!`] picks the backend once and calls them.

use toasty_migrate::{Error, Result};

#[cfg(not(any(feature = "sql", feature = "mongodb", feature = "dynamodb")))]
compile_error!(
    "the toasty CLI needs a backend: enable sqlite, postgres, mysql, mongodb or dynamodb"
);

/// The kinds of database this build can talk to.
pub enum Kind {
    #[cfg(feature = "sql")]
    Sql,
    #[cfg(feature = "mongodb")]
    Mongo,
    #[cfg(feature = "dynamodb")]
    Dynamo,
}

impl Kind {
    /// The kind `url` names, or why this build cannot reach it.
    pub fn of(url: &str) -> Result<Kind> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            #[cfg(feature = "mongodb")]
            "mongodb" | "mongodb+srv" => Ok(Kind::Mongo),
            #[cfg(not(feature = "mongodb"))]
            "mongodb" | "mongodb+srv" => {
                Err(toasty_migrate_sql::not_built(url, "MongoDB", "mongodb"))
            }
            #[cfg(feature = "dynamodb")]
            "dynamodb" => Ok(Kind::Dynamo),
            #[cfg(not(feature = "dynamodb"))]
            "dynamodb" => Err(toasty_migrate_sql::not_built(url, "DynamoDB", "dynamodb")),
            #[cfg(feature = "sql")]
            _ => Ok(Kind::Sql),
            #[cfg(not(feature = "sql"))]
            _ => Err(toasty_migrate_sql::DatabaseUrl::parse(url)?.not_built(url)),
        }
    }
}

/// Connects to a SQL database; a command that only reads (`writes` false) never creates one
/// (SQLite's file).
#[cfg(feature = "sql")]
pub async fn sql(
    url: &str,
    writes: bool,
    target: &crate::Target,
) -> Result<toasty_migrate_sql::SqlBackend, Error> {
    use toasty_migrate_sql::SqlBackend;
    let mut backend = if writes {
        SqlBackend::connect(url).await?
    } else {
        SqlBackend::connect_without_creating(url).await?
    };
    let lock_wait = std::time::Duration::from_millis(target.lock_wait);
    backend.set_statement_lock_timeout((!lock_wait.is_zero()).then_some(lock_wait));
    Ok(backend
        .with_batch_size(target.batch_size)
        .with_progress(true))
}

#[cfg(feature = "mongodb")]
pub async fn mongo(url: &str) -> Result<toasty_migrate_nosql::MongoBackend, Error> {
    Ok(toasty_migrate_nosql::MongoBackend::connect(url)
        .await?
        .with_progress(true))
}

#[cfg(feature = "dynamodb")]
pub async fn dynamo(url: &str) -> Result<toasty_migrate_nosql::DynamoBackend, Error> {
    Ok(toasty_migrate_nosql::DynamoBackend::connect(url)
        .await?
        .with_progress(true))
}

/// `$command(args..., connect)`, where `connect` is the future that connects to `$target`'s URL
/// with the backend its scheme names: the one place the CLI chooses a backend.
macro_rules! with_backend {
    ($target:expr, $writes:expr, $command:ident($($arg:expr),*)) => {{
        let target: &$crate::Target = $target;
        let url = target.url()?;
        let url: &str = &url;
        #[allow(unused_variables)] // `writes` matters to SQL only
        let writes: bool = $writes;
        match $crate::backend::Kind::of(url)? {
            #[cfg(feature = "sql")]
            $crate::backend::Kind::Sql => {
                $command($($arg,)* $crate::backend::sql(url, writes, target)).await
            }
            #[cfg(feature = "mongodb")]
            $crate::backend::Kind::Mongo => $command($($arg,)* $crate::backend::mongo(url)).await,
            #[cfg(feature = "dynamodb")]
            $crate::backend::Kind::Dynamo => $command($($arg,)* $crate::backend::dynamo(url)).await,
        }
    }};
}
pub(crate) use with_backend;
