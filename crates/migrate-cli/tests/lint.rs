//! `toasty migrate:lint` and the findings `generate` and `up --dry-run` print: the rules of the
//! configured flavor with no database, the pending migrations on a real PostgreSQL, a finding
//! allowed in its file, and the exit codes CI reads.

mod common;

use common::{fails, run, toasty};
use toasty_migrate::backend::Introspect;
use toasty_migrate::schema::{
    ColumnDef, ColumnType, IndexDef, SchemaSnapshot, TableSnapshot, save_snapshot,
};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

/// `users`; `changed`, with an index on `email` and `age` widened (a rewrite on PostgreSQL).
fn users(changed: bool) -> SchemaSnapshot {
    let indexes = match changed {
        true => vec![IndexDef::new("users_by_email", &["email"], false)],
        false => vec![],
    };
    let age = ColumnType::Integer(if changed { 8 } else { 4 });
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("email", ColumnType::VarChar(200)),
            ColumnDef::new("age", age),
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
    let out = run(&mut cli(&[
        "migrate:generate",
        "-m",
        "index email, widen age",
    ]));
    assert!(
        out.contains("lint error[pg-rewrite] `modify column users.age"),
        "{out}"
    );
    // Online, the default, the index is built CONCURRENTLY: nothing to say about it.
    assert!(!out.contains("pg-index-blocks-writes"), "{out}");

    // With no database: every migration, by the flavor's rules; exit 2 on the error.
    let out = cli(&["migrate:lint"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("pg-rewrite"), "{stdout}");
    let out = cli(&["migrate:lint", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let codes = |json: &serde_json::Value| -> Vec<String> {
        let findings = json["migrations"][1]["findings"].as_array().unwrap();
        findings
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes(&json), ["pg-rewrite"]);
    // The plain forms, as `up --offline` runs them, block writes while the index builds.
    let out = cli(&["migrate:lint", "--json", "--offline"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(codes(&json), ["pg-rewrite", "pg-index-blocks-writes"]);

    // On a database that applied the first: only the pending one, and the dry run says it too.
    let db = TestDatabase::sql(Dialect::Postgres).await;
    let url = db.url.as_str();
    run(&mut cli(&["migrate:up", "--url", url, "--count", "1"]));
    let out = run(&mut cli(&["migrate:up", "--url", url, "--dry-run"]));
    assert!(out.contains("lint error[pg-rewrite]"), "{out}");
    assert!(
        out.contains(r#"CREATE INDEX CONCURRENTLY "users_by_email" ON "users" ("email");"#),
        "{out}"
    );
    let out = run(&mut cli(&[
        "migrate:up",
        "--url",
        url,
        "--dry-run",
        "--offline",
    ]));
    assert!(out.contains("lint error[pg-index-blocks-writes]"), "{out}");
    assert!(out.contains(r#"CREATE INDEX "users_by_email""#), "{out}");
    let (code, _) = fails(&mut cli(&["migrate:lint", "--url", url]));
    assert_eq!(code, 2);

    // Allowed in the file, visibly, with a reason: reported, and no longer failing.
    let versions = toasty_migrate::files::list_versions(&w.join("migrations")).unwrap();
    let file = w.join("migrations").join(format!("{}.rs", versions[1]));
    let source = std::fs::read_to_string(&file).unwrap();
    let allowed = source.replacen(
        "    fn up(",
        "    fn allow(&self) -> &[(&str, &str)] {\n        &[(\"pg-rewrite\", \"users has a few hundred rows\")]\n    }\n    fn up(",
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

    // Applied online: outside a transaction (CONCURRENTLY cannot run in one), recorded as a
    // whole, the index valid; and reverted the same way.
    run(&mut cli(&["migrate:up", "--url", url]));
    let status = run(&mut cli(&["migrate:status", "--url", url]));
    assert!(!status.contains("pending"), "{status}");
    assert!(!status.contains("partial"), "{status}");
    // Introspection shows valid indexes only.
    let live = db.connect().await.introspect().await.unwrap();
    assert!(
        live.table("users")
            .unwrap()
            .index("users_by_email")
            .is_some()
    );
    let out = run(&mut cli(&["migrate:down", "--url", url]));
    assert!(
        out.contains(r#"DROP INDEX CONCURRENTLY IF EXISTS "users_by_email";"#),
        "{out}"
    );
}
