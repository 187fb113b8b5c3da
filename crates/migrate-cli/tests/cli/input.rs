//! Bad input and what the CLI says about it; data steps from the command line; `--help`;
//! `generate`'s questions on a terminal.

use crate::common::{fails, run, toasty};
use crate::{export, on_terminal, v1};
use std::path::Path;
use toasty_migrate::schema::{SchemaSnapshot, save_snapshot};
use toasty_migrate_sql::Dialect;

#[test]
fn data_steps_from_the_command_line_are_checked_before_anything_is_written() {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let users = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("name", ColumnType::Text),
        ],
        vec![],
    )]);
    save_snapshot(&users, w.join("schema.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    run(&mut cli(&["migrate:generate", "-m", "create users"]));

    // An empty migration for a person to fill.
    let out = run(&mut cli(&["migrate:new", "-m", "seed users"]));
    assert!(out.contains("seed_users.rs"), "{out}");
    let written = std::fs::read_dir(w.join("migrations")).unwrap().count();

    let data = |step: &str| {
        cli(&["migrate:generate", "-m", "seed more", "--data", step])
            .output()
            .unwrap()
    };
    // A value that does not fit its column: the row and the column named, nothing written.
    let out = data(
        r#"db.insert_rows("users", vec![vec![("id", Value::Integer(1)), ("name", Value::Integer(5))]])"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("row 1: column \"name\" (text): expected text, found 5"),
        "{stderr}"
    );
    // A step outside the vocabulary: where, and what was expected.
    let out = data(r#"db.delete_rows("users", everything())"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--data #1:1:"), "{stderr}");
    assert!(stderr.contains("`all()`"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(w.join("migrations")).unwrap().count(),
        written,
        "nothing written"
    );

    // A good one, applied: the insert, then reverted by key with the migration.
    let out = data(
        r#"db.insert_rows("users", vec![vec![("id", Value::Integer(1)), ("name", Value::Text("Ann".into()))]])"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("sqlite:{}", w.join("app.db").display());

    // The empty migration, filled by hand with a value that does not fit: refused before
    // anything runs, naming the file and the line.
    let seed_file = std::fs::read_dir(w.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("seed_users.rs"))
        .unwrap();
    let empty = std::fs::read_to_string(&seed_file).unwrap();
    let fill = |value: &str| {
        empty.replacen(
            "Ok(())",
            &format!(
                "db.insert_rows(\"users\", vec![vec![(\"id\", Value::Integer(9)), (\"name\", {value})]])?;\n        Ok(())"
            ),
            1,
        )
    };
    let bad = fill("Value::Integer(5)");
    std::fs::write(&seed_file, &bad).unwrap();
    let line = bad.lines().position(|l| l.contains("insert_rows")).unwrap() + 1;
    let (code, err) = fails(&mut cli(&["migrate:up", "--url", &url]));
    assert_eq!(code, 2, "{err}");
    let place = format!("seed_users.rs:{line}: cannot apply `insert 1 row into users`");
    assert!(err.contains(&place), "{place}\n{err}");
    assert!(
        err.contains("row 1: column \"name\" (text): expected text, found 5"),
        "{err}"
    );
    std::fs::write(&seed_file, fill("Value::Text(\"Nine\".into())")).unwrap();
    let out = run(&mut cli(&["migrate:up", "--url", &url, "--dry-run"]));
    assert!(
        out.contains(
            "INSERT INTO \"users\" (\"id\", \"name\") VALUES (?, ?) /* parameters: 1, \"Ann\" */;"
        ),
        "{out}"
    );
    run(&mut cli(&["migrate:up", "--url", &url]));
    let out = run(&mut cli(&[
        "migrate:down",
        "--url",
        &url,
        "--dry-run",
        "--batch-size",
        "2",
    ]));
    assert!(
        out.contains("DELETE FROM \"users\" WHERE \"id\" IN (?)"),
        "{out}"
    );
    assert!(
        out.contains("/* in batches of 2 keys; the first key: */ SELECT rowid FROM \"users\""),
        "{out}"
    );

    // Seeds: a set applied twice changes nothing the second time; sets stay apart.
    std::fs::create_dir(w.join("seeds")).unwrap();
    std::fs::write(
        w.join("seeds/default.json"),
        r#"[ { "table": "users", "rows": [ { "id": 1, "name": "Ann" }, { "id": 2, "name": "Bob" } ] } ]"#,
    )
    .unwrap();
    std::fs::write(
        w.join("seeds/demo.json"),
        r#"[ { "table": "users", "rows": [ { "id": 3, "name": "Demo" } ] } ]"#,
    )
    .unwrap();
    let out = run(&mut cli(&["db:seed", "--url", &url]));
    assert!(out.contains("Seeded default:"), "{out}");
    assert!(
        out.contains("users: 1 inserted, 0 updated, 1 unchanged"),
        "{out}"
    );
    let out = run(&mut cli(&[
        "db:seed", "--url", &url, "--set", "default", "--set", "demo",
    ]));
    assert!(out.contains("Seeded default, demo:"), "{out}");
    assert!(
        out.contains("users: 1 inserted, 0 updated, 2 unchanged"),
        "{out}"
    );
    let (code, err) = fails(&mut cli(&["db:seed", "--url", &url, "--set", "nope"]));
    assert_eq!(code, 2);
    assert!(err.contains("nope.json"), "{err}");
}

#[test]
fn bad_input_gets_a_clear_message_and_a_non_zero_exit() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let generate = |schema: &Path| {
        let mut cmd = toasty();
        cmd.current_dir(w)
            .args(["migrate:generate", "-m", "x", "--schema"])
            .arg(schema);
        cmd
    };

    std::fs::write(
        w.join("broken.json"),
        "{\n  \"format_version\": 1,\n  \"tables\": [ nope ]\n}\n",
    )
    .unwrap();
    let (code, err) = fails(&mut generate(&w.join("broken.json")));
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.json") && err.contains("line 3"),
        "{err}"
    );

    std::fs::write(
        w.join("package.json"),
        "{\"name\": \"left-pad\", \"version\": \"1.0.0\"}",
    )
    .unwrap();
    let (code, err) = fails(&mut generate(&w.join("package.json")));
    assert_eq!(code, 2);
    assert!(
        err.contains("package.json") && err.contains("name"),
        "{err}"
    );

    let (code, err) = fails(&mut generate(&w.join("nowhere.json")));
    assert_eq!(code, 2);
    assert!(err.contains("nowhere.json"), "{err}");

    let (code, err) =
        fails(
            toasty()
                .current_dir(w)
                .args(["migrate:status", "--url", "sqlite:app.db"]),
        );
    assert_eq!(code, 2);
    assert!(
        err.contains("migrations directory migrations not found"),
        "{err}"
    );

    // A migration to work with.
    export(
        toasty::models!(v1::User),
        Dialect::Sqlite,
        &w.join("schema.json"),
    );
    run(toasty()
        .current_dir(w)
        .args(["migrate:generate", "-m", "create users"]));
    let out = run(toasty()
        .current_dir(w)
        .args(["migrate:generate", "-m", "again"]));
    assert!(out.contains("No changes"), "{out}");

    let (code, err) =
        fails(
            toasty()
                .current_dir(w)
                .args(["migrate:up", "--url", "oracle://scott:tiger@db/x"]),
        );
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown database URL scheme \"oracle\""),
        "{err}"
    );
    assert!(!err.contains("tiger"), "no password in output: {err}");

    let (code, err) = fails(toasty().current_dir(w).args([
        "migrate:up",
        "--url",
        "postgres://app:s3cret@127.0.0.1:1/x",
    ]));
    assert_eq!(code, 1, "a database that is down is a database failure");
    assert!(
        err.contains("cannot connect") && !err.contains("s3cret"),
        "{err}"
    );

    // DATABASE_URL is the default --url.
    run(toasty()
        .current_dir(w)
        .env("DATABASE_URL", "sqlite:app.db")
        .arg("migrate:up"));

    // Edited by hand outside the vocabulary.
    let file = std::fs::read_dir(w.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("mod.rs"))
        .unwrap();
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        source.replacen("Ok(())", "for _ in 0..2 {}\n        Ok(())", 1),
    )
    .unwrap();
    let (code, err) =
        fails(
            toasty()
                .current_dir(w)
                .args(["migrate:status", "--url", "sqlite:app.db"]),
        );
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{}:", file.file_name().unwrap().to_string_lossy())),
        "{err}"
    );
    assert!(
        err.contains("found `for _ in 0..2 {}`") && err.contains("must run embedded"),
        "{err}"
    );
    // The file's mistake is said before a database that is down, and `up` on a database it
    // reached leaves no tracking table behind it (`up` locks while the files load).
    let (code, err) = fails(toasty().current_dir(w).args([
        "migrate:up",
        "--url",
        "postgres://app:s3cret@127.0.0.1:1/x",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must run embedded"), "{err}");
    let (code, err) =
        fails(
            toasty()
                .current_dir(w)
                .args(["migrate:up", "--url", "sqlite:fresh.db"]),
        );
    assert_eq!(code, 2, "{err}");
    let tracked = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite:{}", w.join("fresh.db").display());
        let mut fresh = toasty_migrate_sql::SqlBackend::connect(&url).await.unwrap();
        fresh.execute("SELECT 1 FROM _toasty_migrations").await
    });
    assert!(tracked.is_err(), "nothing written to the database");

    // Edited within the vocabulary after it was applied: refused by checksum.
    let edited = source.replacen("ColumnDef::new(\"name\"", "ColumnDef::new(\"full_name\"", 1);
    assert_ne!(edited, source);
    std::fs::write(&file, edited).unwrap();
    let (code, err) = fails(
        toasty()
            .current_dir(w)
            .args(["migrate:up", "--url", "sqlite:app.db"]),
    );
    assert_eq!(code, 2);
    assert!(err.contains("was edited after it was applied"), "{err}");
    let out = toasty()
        .current_dir(w)
        .args(["migrate:status", "--url", "sqlite:app.db"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("modified"));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(toasty().args(["migrate:up", "--help"]));
    assert!(
        out.contains("Exit codes:") && out.contains("1  the database failed"),
        "{out}"
    );
}

#[test]
fn on_a_terminal_generate_asks_about_renames_and_data_loss() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    export(
        toasty::models!(v1::User),
        Dialect::Sqlite,
        &w.join("v1.json"),
    );
    run(toasty()
        .current_dir(w)
        .args(["migrate:generate", "-m", "create", "--schema", "v1.json"]));
    let mut renamed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("v1.json")).unwrap()).unwrap();
    renamed["tables"][0]["columns"][3]["name"] = "about".into(); // bio -> about
    std::fs::write(
        w.join("v2.json"),
        serde_json::to_string_pretty(&renamed).unwrap(),
    )
    .unwrap();
    let files = || std::fs::read_dir(w.join("migrations")).unwrap().count();
    let before = files();

    // "no" to the rename, then "no" to writing a migration that drops a column: nothing written.
    let shown = on_terminal(w, "migrate:generate -m reshape --schema v2.json", "n\nn\n");
    assert!(
        shown.contains("Was users.bio renamed to about (text)?"),
        "{shown}"
    );
    assert!(shown.contains("can lose data. Write it anyway?"), "{shown}");
    assert!(
        shown.contains("refusing operations that can lose data"),
        "{shown}"
    );
    assert_eq!(files(), before);

    // "yes" to the rename: a rename, nothing destructive, written.
    let shown = on_terminal(w, "migrate:generate -m reshape --schema v2.json", "y\n");
    assert!(
        shown.contains("~ rename column users.bio -> about"),
        "{shown}"
    );
    assert!(shown.contains("Wrote"), "{shown}");
    assert_eq!(files(), before + 1);
}
