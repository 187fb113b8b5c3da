//! The history a team lives with: `migrate:check` as a CI gate, `baseline` of a database Toasty
//! built, `squash`, and `rebase` of two branches merged in git.

use crate::common::{db, fails, run, toasty};
use crate::{export, v1, v2};
use toasty_migrate::schema::{SchemaSnapshot, save_snapshot};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

on_each_sql_database!(baseline, branches_merged_in_git);

/// `migrate:check`, the CI gate: no database; exit 0 when the files, `.schema.json` and the
/// exported schema agree; 2 listing what differs; `--fix` rebuilds `.schema.json` from the files.
#[test]
fn check_is_a_ci_gate_without_a_database() {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let users = |extra: Option<&str>| {
        let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
        columns.extend(extra.map(|c| ColumnDef::new(c, ColumnType::Text)));
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users",
            columns,
            vec![],
        )])
    };
    save_snapshot(&users(None), w.join("schema.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    run(&mut cli(&["migrate:generate", "-m", "create users"]));
    let out = run(&mut cli(&["migrate:check"]));
    assert!(out.contains("In sync"), "{out}");

    // The models gained a field; nobody generated a migration.
    save_snapshot(&users(Some("name")), w.join("schema.json")).unwrap();
    let out = cli(&["migrate:check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("The schema changed with no migration"),
        "{stdout}"
    );
    assert!(
        stdout.contains("add column users.name text not null"),
        "{stdout}"
    );
    let out = cli(&["migrate:check", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["pending"][0], "add column users.name text not null");

    // A merge left conflict markers in `.schema.json`: --fix rebuilds it from the files.
    run(&mut cli(&["migrate:generate", "-m", "add name"]));
    let recorded = w.join("migrations/.schema.json");
    std::fs::write(&recorded, "<<<<<<< ours\n{}\n=======\n{}\n>>>>>>> theirs\n").unwrap();
    let (code, _) = fails(&mut cli(&["migrate:check"]));
    assert_eq!(code, 2);
    let out = run(&mut cli(&["migrate:check", "--fix"]));
    assert!(out.contains("Rewrote"), "{out}");
    let out = run(&mut cli(&["migrate:check"]));
    assert!(out.contains("In sync"), "{out}");
}

/// Adopting a database Toasty built itself (`push_schema`): `migrate:baseline` writes the first
/// migration from it and records it applied; the models then generate nothing, and the next
/// model change generates only itself.
async fn baseline(dialect: Dialect) {
    let database = TestDatabase::sql(dialect).await;
    let url = database.url.as_str();
    let app = db(toasty::models!(v1::User), url).await;
    app.push_schema().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    let out = run(&mut cli(&["migrate:baseline", "--url", url]));
    assert!(out.contains("recorded it as applied"), "{dialect:?}: {out}");
    let out = run(&mut cli(&["migrate:status", "--url", url]));
    assert!(
        out.contains("applied") && out.contains("_baseline"),
        "{dialect:?}: {out}"
    );
    assert!(out.contains("the database matches"), "{dialect:?}: {out}");

    export(toasty::models!(v1::User), dialect, &w.join("schema.json"));
    let out = run(&mut cli(&["migrate:generate", "-m", "nothing"]));
    assert!(
        out.contains("No changes"),
        "{dialect:?}: the baseline is the models' schema: {out}"
    );
    export(toasty::models!(v2::User), dialect, &w.join("schema.json"));
    let out = run(&mut cli(&["migrate:generate", "-m", "add age"]));
    assert!(out.contains("+ add column users.age"), "{dialect:?}: {out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("  lint"))
            .count(),
        2,
        "{dialect:?}: only the real changes: {out}"
    );
    run(&mut cli(&["migrate:up", "--url", url]));

    // Once is enough: a database that tracks migrations, or a directory that has some, is
    // refused before anything is written.
    let (code, err) = fails(&mut cli(&["migrate:baseline", "--url", url]));
    assert_eq!(code, 2);
    assert!(err.contains("has migrations already"), "{err}");
}

/// `migrate:squash` with no database; then a database that applied the squashed migrations is
/// told it is up to date, and its next `up` records the squash in their place and runs the rest.
#[test]
fn squash_replaces_applied_migrations_without_a_database() {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
    for name in ["name", "email", "bio"] {
        columns.push(ColumnDef {
            nullable: true,
            ..ColumnDef::new(name, ColumnType::Text)
        });
        let users = TableSnapshot::keyed_by_first_column("users", columns.clone(), vec![]);
        save_snapshot(&SchemaSnapshot::new(vec![users]), w.join("schema.json")).unwrap();
        run(&mut cli(&[
            "migrate:generate",
            "-m",
            &format!("add {name}"),
        ]));
    }
    let url = format!("sqlite:{}", w.join("app.db").display());
    run(&mut cli(&["migrate:up", "--url", &url, "--count", "2"]));
    let versions = toasty_migrate::files::list_versions(&w.join("migrations")).unwrap();

    let (code, err) = fails(&mut cli(&[
        "migrate:squash",
        "--to",
        "20990101_000000_nope",
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("no migration has this version"), "{err}");
    let out = run(&mut cli(&[
        "migrate:squash",
        "--to",
        &versions[1],
        "-m",
        "base",
    ]));
    assert!(out.contains("Squashed 2 migrations"), "{out}");
    let after = toasty_migrate::files::list_versions(&w.join("migrations")).unwrap();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after[0].ends_with("_base"), "{after:?}");
    assert_eq!(after[1], versions[2]);
    run(&mut cli(&["migrate:check"]));

    let out = run(&mut cli(&["migrate:status", "--url", &url]));
    assert!(
        out.contains(&format!(
            "as {}, {}, which it replaces",
            versions[0], versions[1]
        )),
        "{out}"
    );
    assert!(out.contains("the database matches"), "{out}");
    run(&mut cli(&["migrate:up", "--url", &url]));
    let out = run(&mut cli(&["migrate:status", "--url", &url, "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let states: Vec<(&str, &str)> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["version"].as_str().unwrap(), m["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            (after[0].as_str(), "applied"),
            (after[1].as_str(), "applied")
        ]
    );
}

/// Two git branches each generate a migration on top of the same one, and each is applied to a
/// database of its own; merged, `migrate:check` fails naming both, `migrate:rebase` fixes the
/// history (and the conflicts in `mod.rs` and `.schema.json`), and `migrate:up` brings the
/// database of either branch to the merged schema.
async fn branches_merged_in_git(dialect: Dialect) {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(w)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let ok = |args: &[&str]| {
        let (success, text) = git(args);
        assert!(success, "git {args:?}: {text}");
    };
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    let table = |name: &str, extra: &[&str]| {
        let mut columns = vec![ColumnDef::new("id", ColumnType::Integer(8))];
        columns.extend(extra.iter().map(|c| ColumnDef {
            nullable: true,
            ..ColumnDef::new(*c, ColumnType::Text)
        }));
        TableSnapshot::keyed_by_first_column(name, columns, vec![])
    };
    let models = |tables: Vec<TableSnapshot>| {
        save_snapshot(&SchemaSnapshot::new(tables), w.join("schema.json")).unwrap()
    };
    let version_of = |slug: &str| {
        toasty_migrate::files::list_versions(&w.join("migrations"))
            .unwrap()
            .into_iter()
            .find(|v| v.ends_with(slug))
            .unwrap()
    };

    ok(&["init", "-q", "-b", "main"]);
    models(vec![table("users", &["name"])]);
    run(&mut cli(&["migrate:generate", "-m", "create users"]));
    ok(&["add", "-A"]);
    ok(&["commit", "-q", "-m", "users"]);

    ok(&["checkout", "-q", "-b", "posts"]);
    models(vec![table("users", &["name"]), table("posts", &["title"])]);
    run(&mut cli(&["migrate:generate", "-m", "add posts"]));
    ok(&["add", "-A"]);
    ok(&["commit", "-q", "-m", "posts"]);
    let on_posts = TestDatabase::sql(dialect).await;
    run(&mut cli(&["migrate:up", "--url", &on_posts.url]));

    ok(&["checkout", "-q", "main"]);
    ok(&["checkout", "-q", "-b", "email"]);
    models(vec![table("users", &["name", "email"])]);
    run(&mut cli(&["migrate:generate", "-m", "add email"]));
    ok(&["add", "-A"]);
    ok(&["commit", "-q", "-m", "email"]);
    let on_email = TestDatabase::sql(dialect).await;
    run(&mut cli(&["migrate:up", "--url", &on_email.url]));

    // The merge conflicts in the listing and the snapshots; the application's models are the
    // union of both branches'.
    ok(&["checkout", "-q", "posts"]);
    let (merged, text) = git(&["merge", "-q", "email", "-m", "merge"]);
    assert!(
        !merged,
        "both branches rewrote mod.rs and .schema.json: {text}"
    );
    models(vec![
        table("users", &["name", "email"]),
        table("posts", &["title"]),
    ]);
    let (posts, email) = (version_of("_add_posts"), version_of("_add_email"));
    let out = cli(&["migrate:check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("Branches merged") && stdout.contains(&posts) && stdout.contains(&email),
        "{stdout}"
    );

    // The branch merged in moves after the other: a new version, the old one replaced.
    let out = run(&mut cli(&["migrate:rebase", &email]));
    assert!(out.contains("Rebased 1 migration(s)"), "{out}");
    let out = run(&mut cli(&["migrate:check"]));
    assert!(out.contains("In sync"), "{out}");
    ok(&["add", "-A"]);
    ok(&["commit", "-q", "-m", "merge"]);

    for (db, was) in [(&on_posts, "posts"), (&on_email, "email")] {
        let out = run(&mut cli(&["migrate:status", "--url", &db.url]));
        assert!(out.contains("pending"), "{dialect:?}, was on {was}: {out}");
        run(&mut cli(&["migrate:up", "--url", &db.url]));
        let out = run(&mut cli(&["migrate:status", "--url", &db.url, "--json"]));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let states: Vec<&str> = json["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["applied"; 3], "{dialect:?}, was on {was}: {out}");
        assert_eq!(
            json["schema"]["state"], "in_sync",
            "{dialect:?}, was on {was}: {out}"
        );
    }
}
