//! The core's main job, end to end, with no database: diff two shipped schema snapshots, print
//! each change with its class, write the migration files, and read them back as the CLI would.
//!
//! cargo run -p toasty-migrate --example quickstart [-- <migrations dir>]

use std::path::{Path, PathBuf};
use toasty_migrate::{
    Error, Result,
    diff::{DiffOptions, detect_changes, detect_changes_with},
    files::{MigrationGenerator, SCHEMA_FILE, list_versions, parse_migration_file},
    schema::{SchemaSnapshot, load_snapshot},
};

fn main() -> Result<()> {
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas");
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/quickstart/migrations"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
    }

    let steps = [
        ("create users and posts", "v1.json", vec![]),
        (
            "rename mail to email, add tags",
            "v2.json",
            vec!["users.mail=email"],
        ),
    ];
    let generator = MigrationGenerator::new(&dir);
    for (message, schema, renames) in steps {
        let recorded = dir.join(SCHEMA_FILE);
        let old = if recorded.exists() {
            load_snapshot(&recorded)?
        } else {
            SchemaSnapshot::default()
        };
        let new = load_snapshot(schemas.join(schema))?;
        let options = DiffOptions {
            renames: renames.iter().map(|r| r.parse()).collect::<Result<_>>()?,
        };
        let diff = detect_changes_with(&old, &new, &options)?;
        println!("{message} ({schema}): {} change(s)", diff.changes.len());
        for change in &diff.changes {
            let mark = if change.is_destructive() { "!" } else { " " };
            println!("  {:<12} {mark} {change}", change.kind());
        }
        let migration = generator.generate(&diff, message)?;
        let path = generator.write_migration_file(&migration)?;
        println!("  wrote {}\n", path.display());
    }

    // What `toasty migrate:up --dry-run` will read: the files, parsed back, with their checksums.
    for version in list_versions(&dir)? {
        let plan = parse_migration_file(dir.join(format!("{version}.rs")))?;
        println!("{plan}  checksum {}\n", plan.checksum());
    }

    // Nothing left to do: the recorded schema is the desired one.
    let recorded = load_snapshot(dir.join(SCHEMA_FILE))?;
    match generator.generate(
        &detect_changes(&recorded, &load_snapshot(schemas.join("v2.json"))?)?,
        "again",
    ) {
        Err(Error::NoChanges) => println!("{}: up to date, nothing to generate", dir.display()),
        other => panic!("expected no changes, got {other:?}"),
    }
    Ok(())
}
