//! The generated `migrations/mod.rs` compiles into an application, and what the compiled
//! migrations describe is exactly what the CLI reads from the files.

// Left as the generator wrote it: `cargo fmt` would reformat it (which the checksum tolerates).
#[rustfmt::skip]
#[path = "../fixtures/migrations/mod.rs"]
mod migrations;

use toasty_migrate::backend::Introspect as _;
use toasty_migrate::files::{MigrationPlan, list_versions, parse_migration_file};
use toasty_migrate_tests::{fixture_migrations_dir, generate_fixture_migrations};

#[test]
fn compiled_migrations_match_the_parsed_files() {
    let dir = fixture_migrations_dir();
    let compiled = migrations::migrations();
    let versions = list_versions(&dir).unwrap();
    assert_eq!(compiled.len(), versions.len());
    assert_eq!(compiled.len(), 3);
    for (migration, version) in compiled.iter().zip(&versions) {
        assert_eq!(migration.version(), version);
        let described = MigrationPlan::describe(migration.as_ref()).unwrap();
        let parsed = parse_migration_file(dir.join(format!("{version}.rs"))).unwrap();
        assert_eq!(described, parsed);
        assert_eq!(described.checksum(), parsed.checksum());
    }
}

#[test]
fn fixtures_are_what_the_generator_writes_today() {
    let fresh = tempfile::tempdir().unwrap();
    generate_fixture_migrations(fresh.path()).unwrap();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let dir = fixture_migrations_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(fresh.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(fresh.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        5,
        "three migrations (two schema, one data), mod.rs and .schema.json: {names:?}"
    );
    for name in names {
        let fresh_text = std::fs::read_to_string(fresh.path().join(&name)).unwrap();
        let committed = std::fs::read_to_string(fixture_migrations_dir().join(&name))
            .unwrap_or_else(|e| {
                panic!("{name:?}: {e} (run with UPDATE_FIXTURES=1 to write the fixtures)")
            });
        assert_eq!(
            fresh_text, committed,
            "{name:?} differs from what the generator writes; review, then UPDATE_FIXTURES=1"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_applies_its_embedded_migrations_at_start_up() {
    use toasty_migrate::run::{Migrator, RunOptions};
    use toasty_migrate_sql::SqlBackend;

    // What an application's `main` does before serving.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let migrator = Migrator::from_migrations(&migrations::migrations()).unwrap();
    let mut db = SqlBackend::connect(&url).await.unwrap();
    // The fixture's second migration drops an index (loses no data), so no allow is needed.
    let report = migrator.up(&mut db, &RunOptions::default()).await.unwrap();
    assert_eq!(report.steps.len(), 3);

    // The next start finds nothing to do, and the CLI's view of the files agrees.
    let mut db = SqlBackend::connect(&url).await.unwrap();
    assert!(
        migrator
            .up(&mut db, &RunOptions::default())
            .await
            .unwrap()
            .steps
            .is_empty()
    );
    let from_files = Migrator::from_dir(fixture_migrations_dir()).unwrap();
    let status = from_files.status(&mut db).await.unwrap();
    assert!(
        status
            .iter()
            .all(|s| matches!(s.state, toasty_migrate::run::MigrationState::Applied(_))),
        "{status:?}"
    );
    let live = db.introspect().await.unwrap();
    let expected =
        toasty_migrate::schema::load_snapshot(fixture_migrations_dir().join(".schema.json"))
            .unwrap();
    assert!(
        live.is_equivalent(&toasty_migrate_sql::introspect::stored_snapshot(
            db.dialect(),
            &expected
        ))
    );
}
