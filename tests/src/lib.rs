//! End-to-end tests that cross crate boundaries, and the fixtures they share (the CLI's own
//! end-to-end tests, in `crates/migrate-cli/tests`, use them too). Unit and snapshot tests of
//! one crate stay in that crate.
//!
//! `fixtures/migrations` is a migrations directory exactly as the generator writes it for the
//! quickstart's schemas; `tests/embedded.rs` compiles it into a test binary, as an application
//! embeds its migrations.

use std::path::{Path, PathBuf};
use toasty_migrate::{
    DiffOptions, MigrationGenerator, Result, SCHEMA_FILE, SchemaSnapshot, detect_changes_with,
    load_snapshot,
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
    Ok(())
}

/// A fresh, empty database of one dialect for one test: a SQLite file in a temporary directory,
/// or a PostgreSQL or MariaDB database of its own (Toasty's drivers cannot be pointed at a
/// PostgreSQL schema). A server that is down fails the test; `./scripts/test` starts them.
pub struct FreshDatabase {
    pub dialect: Dialect,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl FreshDatabase {
    pub async fn new(dialect: Dialect) -> FreshDatabase {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "tm_e2e_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let server =
            |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
        let (admin, create) = match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite:{}", dir.path().join("app.db").display());
                return FreshDatabase {
                    dialect,
                    url,
                    _dir: Some(dir),
                };
            }
            Dialect::Postgres => (
                server(
                    "TOASTY_TEST_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                ),
                format!("CREATE DATABASE \"{name}\""),
            ),
            Dialect::Mysql => (
                server("TOASTY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
                format!("CREATE DATABASE `{name}`"),
            ),
        };
        let mut backend = SqlBackend::connect(&admin).await.unwrap_or_else(|e| {
            panic!("test database server unavailable ({e}); ./scripts/test starts it")
        });
        backend
            .execute(&create)
            .await
            .expect("create the test database");
        let url = format!(
            "{}/{name}",
            &admin[..admin.rfind('/').expect("a URL with a database")]
        );
        FreshDatabase {
            dialect,
            url,
            _dir: None,
        }
    }
}
