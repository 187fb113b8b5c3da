//! `toasty migrate:lint` and the findings `generate` and `up --dry-run` print: the rules of the
//! configured flavor with no database, the pending migrations on a real PostgreSQL, a finding
//! allowed in its file, and the exit codes CI reads.

mod common;

use common::{fails, run, toasty};
use toasty_migrate::schema::{
    ColumnDef, ColumnType, IndexDef, SchemaSnapshot, TableSnapshot, save_snapshot,
};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

fn users(indexed: bool) -> SchemaSnapshot {
    let indexes = match indexed {
        true => vec![IndexDef::new("users_by_email", &["email"], false)],
        false => vec![],
    };
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("email", ColumnType::VarChar(200)),
        ],
        indexes,
    )])
}

#[tokio::test(flavor = "multi_thread")]
async fn lint_says_what_blocks_a_database_in_use() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    std::fs::write(
        w.join("toasty.toml"),
        "[migrate]\nflavor = \"postgresql\"\nschema = \"schema.json\"\n",
    )
    .unwrap();
    save_snapshot(&users(false), w.join("schema.json")).unwrap();
    let out = run(&mut cli(&["migrate:generate", "-m", "create users"]));
    assert!(!out.contains("lint"), "a new table is empty: {out}");
    save_snapshot(&users(true), w.join("schema.json")).unwrap();
    let out = run(&mut cli(&["migrate:generate", "-m", "index email"]));
    assert!(
        out.contains("lint error[pg-index-blocks-writes] `create index users_by_email"),
        "{out}"
    );

    // With no database: every migration, by the flavor's rules; exit 2 on the error.
    let out = cli(&["migrate:lint"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("pg-index-blocks-writes"), "{stdout}");
    let out = cli(&["migrate:lint", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(
        json["migrations"][1]["findings"][0]["code"],
        "pg-index-blocks-writes"
    );

    // On a database that applied the first: only the pending one, and the dry run says it too.
    let db = TestDatabase::sql(Dialect::Postgres).await;
    let url = db.url.as_str();
    run(&mut cli(&["migrate:up", "--url", url, "--count", "1"]));
    let out = run(&mut cli(&["migrate:up", "--url", url, "--dry-run"]));
    assert!(out.contains("lint error[pg-index-blocks-writes]"), "{out}");
    let (code, _) = fails(&mut cli(&["migrate:lint", "--url", url]));
    assert_eq!(code, 2);

    // Allowed in the file, visibly, with a reason: reported, and no longer failing.
    let versions = toasty_migrate::files::list_versions(&w.join("migrations")).unwrap();
    let file = w.join("migrations").join(format!("{}.rs", versions[1]));
    let source = std::fs::read_to_string(&file).unwrap();
    let allowed = source.replacen(
        "    fn up(",
        "    fn allow(&self) -> &[(&str, &str)] {\n        &[(\"pg-index-blocks-writes\", \"users has a few hundred rows\")]\n    }\n    fn up(",
        1,
    );
    std::fs::write(&file, allowed).unwrap();
    let out = run(&mut cli(&["migrate:lint", "--url", url]));
    assert!(
        out.contains("(allowed: users has a few hundred rows)"),
        "{out}"
    );
    let out = run(&mut cli(&["migrate:lint", "--latest", "1"]));
    assert!(out.contains("allowed"), "{out}");
}
