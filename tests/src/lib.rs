//! End-to-end tests that cross crate boundaries, and the fixtures they share. Unit and snapshot
//! tests of one crate stay in that crate.
//!
//! `fixtures/migrations` is a migrations directory exactly as the generator writes it for the
//! quickstart's schemas; `tests/embedded.rs` compiles it into a test binary, as an application
//! embeds its migrations.

use std::path::{Path, PathBuf};
use toasty_migrate::{
    DiffOptions, MigrationGenerator, Result, SCHEMA_FILE, SchemaSnapshot, detect_changes_with,
    load_snapshot,
};

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
