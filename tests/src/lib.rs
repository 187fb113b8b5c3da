//! End-to-end tests that cross crate boundaries, and the fixtures they share (the CLI's own
//! end-to-end tests, in `crates/migrate-cli/tests`, use them too). Unit and snapshot tests of
//! one crate stay in that crate.
//!
//! `fixtures/migrations` is a migrations directory exactly as the generator writes it for the
//! quickstart's schemas; `tests/embedded.rs` compiles it into a test binary, as an application
//! embeds its migrations.

use std::path::{Path, PathBuf};
use toasty_migrate::{
    Result,
    data::{Value, col, is_null, lower, upper},
    diff::{DiffOptions, detect_changes_with},
    files::{MigrationGenerator, SCHEMA_FILE},
    schema::{Operation, SchemaSnapshot, load_snapshot},
};
use toasty_migrate_sql::{Dialect, SqlBackend};

/// The quickstart's schema snapshots (`crates/migrate-core/examples/schemas`).
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/migrate-core/examples/schemas")
}

/// The committed fixture migrations directory.
pub fn fixture_migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrations")
}

/// Generates the fixture migrations (v1, then v2 with a rename) into `dir`, with a fixed clock.
pub fn generate_fixture_migrations(dir: &Path) -> Result<()> {
    let steps = [
        ("create users and posts", "v1.json", vec![]),
        (
            "rename mail to email, add tags",
            "v2.json",
            vec!["users.mail=email"],
        ),
    ];
    for (message, schema, renames) in steps {
        let recorded = dir.join(SCHEMA_FILE);
        let old = if recorded.exists() {
            load_snapshot(&recorded)?
        } else {
            SchemaSnapshot::default()
        };
        let new = load_snapshot(schemas_dir().join(schema))?;
        let options = DiffOptions {
            renames: renames.iter().map(|r| r.parse()).collect::<Result<_>>()?,
        };
        let diff = detect_changes_with(&old, &new, &options)?;
        let generator =
            MigrationGenerator::new(dir).at(time::macros::datetime!(2025-01-17 12:00:00 UTC));
        generator.write_migration_file(&generator.generate(&diff, message)?)?;
    }
    // A data migration: what `migrate:new` starts and a person fills in.
    let generator =
        MigrationGenerator::new(dir).at(time::macros::datetime!(2025-01-17 12:00:00 UTC));
    let mut seed = generator.empty("seed users")?;
    let user = |id: i64, name: &str, email: &str| {
        vec![
            ("id".to_string(), Value::Integer(id)),
            ("name".to_string(), Value::Text(name.into())),
            ("email".to_string(), Value::Text(email.into())),
        ]
    };
    seed.up = vec![
        Operation::InsertRows {
            table: "users".into(),
            rows: vec![
                user(1, "ann", "ann@example.com"),
                user(2, "bob", "bob@example.com"),
            ],
        },
        Operation::UpdateRows {
            table: "users".into(),
            set: vec![("name".into(), upper(col("name")))],
            filter: is_null("age"),
        },
    ];
    seed.down = vec![Operation::UpdateRows {
        table: "users".into(),
        set: vec![("name".into(), lower(col("name")))],
        filter: is_null("age"),
    }];
    generator.write_migration_file(&seed)?;
    Ok(())
}

/// The databases every backend test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sql(Dialect),
    Mongo,
    Dynamo,
}

/// Every kind, for a test that runs on all five.
pub const KINDS: [Kind; 5] = [
    Kind::Sql(Dialect::Sqlite),
    Kind::Sql(Dialect::Postgres),
    Kind::Sql(Dialect::Mysql),
    Kind::Mongo,
    Kind::Dynamo,
];

/// A fresh, empty database for one test, the one factory every test uses: a SQLite file in a
/// temporary directory, a PostgreSQL or MariaDB database of its own (Toasty's drivers cannot be
/// pointed at a PostgreSQL schema), a MongoDB database, or DynamoDB tables under a prefix of
/// their own. A server that is down fails the test; `./scripts/test` starts them.
pub struct TestDatabase {
    pub kind: Kind,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

fn server(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

impl TestDatabase {
    pub async fn new(kind: Kind) -> TestDatabase {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "tm_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000
        );
        let database = |url: String| TestDatabase {
            kind,
            url,
            _dir: None,
        };
        let (admin, create) = match kind {
            Kind::Sql(Dialect::Sqlite) => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite:{}", dir.path().join("app.db").display());
                return TestDatabase {
                    kind,
                    url,
                    _dir: Some(dir),
                };
            }
            Kind::Sql(Dialect::Postgres) => (
                server(
                    "TOASTY_TEST_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                ),
                format!("CREATE DATABASE \"{name}\""),
            ),
            Kind::Sql(Dialect::Mysql) => (
                server("TOASTY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
                format!("CREATE DATABASE `{name}`"),
            ),
            // Databases and tables come into being with their first write.
            Kind::Mongo => {
                let base = server("TOASTY_TEST_MONGODB_URL", "mongodb://127.0.0.1:27017");
                return database(format!("{base}/{name}"));
            }
            Kind::Dynamo => {
                // moto takes any credentials; the AWS chain reads these.
                // SAFETY: set before any client exists, to the same values by every test.
                unsafe {
                    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
                    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
                }
                let endpoint = server("TOASTY_TEST_DYNAMODB_ENDPOINT", "http://127.0.0.1:8000");
                return database(format!(
                    "dynamodb://us-east-1?endpoint={endpoint}&prefix={}_",
                    name.replace('_', "x")
                ));
            }
        };
        let mut backend = SqlBackend::connect(&admin).await.unwrap_or_else(|e| {
            panic!("test database server unavailable ({e}); ./scripts/test starts it")
        });
        backend
            .execute(&create)
            .await
            .expect("create the test database");
        database(format!(
            "{}/{name}",
            &admin[..admin.rfind('/').expect("a URL with a database")]
        ))
    }

    /// A fresh SQL database of `dialect`.
    pub async fn sql(dialect: Dialect) -> TestDatabase {
        TestDatabase::new(Kind::Sql(dialect)).await
    }

    /// The SQL dialect of a SQL database.
    pub fn dialect(&self) -> Dialect {
        match self.kind {
            Kind::Sql(dialect) => dialect,
            other => panic!("{other:?} is not a SQL database"),
        }
    }

    /// A connection to a SQL database.
    pub async fn connect(&self) -> SqlBackend {
        SqlBackend::connect(&self.url).await.unwrap_or_else(|e| {
            panic!("test database unavailable ({e}); ./scripts/test starts the servers")
        })
    }
}
