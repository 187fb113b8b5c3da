//! The real `toasty` binary, end to end: a Toasty model set that evolves over three versions
//! (add a field, add an index, make a field optional, drop a field, rename a field) through
//! generate -> up -> status -> down -> status on SQLite, PostgreSQL and MariaDB, with Toasty's
//! runtime writing and reading rows in the migrated database along the way. Then bad input.

mod common;

use common::{db, fails, run, toasty};
use std::path::Path;
use toasty_core::driver::Capability;
use toasty_migrate::schema::{SchemaSnapshot, save_snapshot};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

mod v1 {
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: String,
        pub email: String,
        pub bio: String,
    }
}

mod v2 {
    /// Adds `age` and an index on `email`.
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: String,
        #[index]
        pub email: String,
        pub bio: String,
        pub age: i64,
    }
}

mod v3 {
    /// `name` optional, `bio` dropped, `email` renamed to `mail`.
    #[derive(Debug, toasty::Model)]
    pub struct User {
        #[key]
        #[auto]
        pub id: i64,
        pub name: Option<String>,
        #[index]
        pub mail: String,
        pub age: i64,
    }
}

fn capability(dialect: Dialect) -> &'static Capability {
    match dialect {
        Dialect::Sqlite => &Capability::SQLITE,
        Dialect::Postgres => &Capability::POSTGRESQL,
        Dialect::Mysql => &Capability::MYSQL,
    }
}

/// What an application does to hand its schema to the CLI: two lines.
fn export(models: toasty::ModelSet, dialect: Dialect, path: &Path) {
    let snapshot = SchemaSnapshot::from_models(models, capability(dialect)).unwrap();
    save_snapshot(&snapshot, path).unwrap();
}

/// One test per SQL database for each of `$test(dialect)`: `sqlite::evolve`, `mariadb::evolve`...
macro_rules! on_each_sql_database {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Postgres).await })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $test() { super::$test(super::Dialect::Mysql).await })*
        }
    };
}

on_each_sql_database!(evolve, baseline, branches_merged_in_git);

async fn evolve(dialect: Dialect) {
    let database = TestDatabase::sql(dialect).await;
    let url = database.url.as_str();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("migrations");
    let schema = |v: &str| work.path().join(format!("schema_{v}.json"));
    let generate = |message: &str, v: &str| {
        let mut cmd = toasty();
        cmd.args(["migrate:generate", "--message", message, "--dir"])
            .arg(&dir)
            .arg("--schema")
            .arg(schema(v));
        cmd
    };
    let up = || {
        let mut cmd = toasty();
        cmd.args(["migrate:up", "--url", url, "--dir"]).arg(&dir);
        cmd
    };
    let status = || {
        let mut cmd = toasty();
        cmd.args(["migrate:status", "--url", url, "--dir"])
            .arg(&dir);
        cmd
    };

    // Version 1.
    export(toasty::models!(v1::User), dialect, &schema("v1"));
    let out = run(&mut generate("create users", "v1"));
    assert!(out.contains("+ create table users"), "{out}");
    run(&mut up());
    let mut app = db(toasty::models!(v1::User), url).await;
    toasty::create!(v1::User {
        name: "Ann",
        email: "ann@example.com",
        bio: "first"
    })
    .exec(&mut app)
    .await
    .unwrap();

    // Version 2: a field and an index added.
    export(toasty::models!(v2::User), dialect, &schema("v2"));
    // With a data step: the new NOT NULL column backfilled in the same migration.
    let out = run(generate("add age and an email index", "v2").args([
        "--data",
        r#"db.update_rows("users", vec![("age", lit(Value::Integer(42)))], eq("name", Value::Text("Ann".into())))"#,
    ]));
    assert!(out.contains("+ add column users.age"), "{out}");
    assert!(
        out.contains("data update users set age = 42 where name = \"Ann\""),
        "{out}"
    );
    assert!(out.contains("`down` does not revert the updates"), "{out}");
    assert!(out.contains("+ create index index_users_by_email"), "{out}");
    let out = run(&mut up());
    assert!(out.contains("Applied"), "{out}");
    let mut app = db(toasty::models!(v2::User), url).await;
    toasty::create!(v2::User {
        name: "Bob",
        email: "bob@example.com",
        bio: "second",
        age: 30
    })
    .exec(&mut app)
    .await
    .unwrap();
    let ann = v2::User::filter_by_email("ann@example.com")
        .exec(&mut app)
        .await
        .unwrap();
    assert_eq!(
        ann[0].age, 42,
        "a row from before gets what the migration's data step set in the new NOT NULL column"
    );

    // Version 3: destructive, so refused without --allow-destructive, and nothing written.
    export(toasty::models!(v3::User), dialect, &schema("v3"));
    let before = std::fs::read_dir(&dir).unwrap().count();
    let refused = generate("reshape users", "v3")
        .arg("--rename")
        .arg("users.email=mail")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("drop column users.bio"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
    let out = run(generate("reshape users", "v3").args([
        "--rename",
        "users.email=mail",
        "--allow-destructive",
    ]));
    assert!(out.contains("rename column users.email -> mail"), "{out}");
    assert!(
        out.contains("- drop column users.bio (destructive) ! can lose data"),
        "{out}"
    );
    assert!(out.contains("~ modify column users.name"), "{out}");
    let refused = up().output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "up refuses the drop too");
    // A dry run shows what up would do, destructive steps marked, without being allowed them.
    let dry = run(up().arg("--dry-run"));
    assert!(dry.contains("Would apply"), "{dry}");
    assert!(
        dry.contains("can lose data: drop column users.bio"),
        "{dry}"
    );
    assert!(dry.contains("DROP COLUMN"), "{dry}");
    assert!(dry.contains("needs --allow-destructive"), "{dry}");
    run(up().arg("--allow-destructive"));

    let mut app = db(toasty::models!(v3::User), url).await;
    toasty::create!(v3::User {
        name: None,
        mail: "cy@example.com",
        age: 7
    })
    .exec(&mut app)
    .await
    .unwrap();
    let mut users = v3::User::all().exec(&mut app).await.unwrap();
    users.sort_by_key(|u| u.id);
    let mails: Vec<&str> = users.iter().map(|u| u.mail.as_str()).collect();
    assert_eq!(
        mails,
        ["ann@example.com", "bob@example.com", "cy@example.com"],
        "renamed, values kept"
    );
    assert_eq!(users[0].name.as_deref(), Some("Ann"));
    assert_eq!(users[2].name, None);
    assert_eq!(
        v3::User::filter_by_mail("bob@example.com")
            .exec(&mut app)
            .await
            .unwrap()[0]
            .age,
        30
    );

    // Status: three applied, in sync; then as JSON.
    let out = run(&mut status());
    assert_eq!(
        out.lines().filter(|l| l.starts_with("applied")).count(),
        3,
        "{out}"
    );
    assert!(
        out.contains("the database matches the applied migrations"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&run(status().arg("--json"))).unwrap();
    assert_eq!(json["schema"]["state"], "in_sync");
    assert_eq!(json["migrations"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["forks"],
        serde_json::json!([]),
        "a history with no merged branches"
    );

    // A change made outside the migrations is drift, though "in sync" was just cached.
    let mut sql = toasty_migrate_sql::SqlBackend::connect(url).await.unwrap();
    sql.execute("ALTER TABLE users ADD COLUMN stray INTEGER")
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&run(status().arg("--json"))).unwrap();
    assert_eq!(json["schema"]["state"], "drift", "{json}");
    let changes = json["schema"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{json}");
    assert!(
        changes[0]
            .as_str()
            .unwrap()
            .starts_with("add column users.stray"),
        "{json}"
    );
    sql.execute("ALTER TABLE users DROP COLUMN stray")
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&run(status().arg("--json"))).unwrap();
    assert_eq!(json["schema"]["state"], "in_sync", "{json}");

    // Down one: v3 is pending again, the database is v2's.
    let out = run(toasty()
        .args(["migrate:down", "--url", url, "--dir"])
        .arg(&dir));
    assert!(out.contains("Reverted"), "{out}");
    assert!(
        out.contains("not the data it held"),
        "down says dropped data does not come back: {out}"
    );
    let json: serde_json::Value = serde_json::from_str(&run(status().arg("--json"))).unwrap();
    let states: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "applied", "pending"]);
    assert_eq!(json["schema"]["state"], "in_sync");
    let mut app = db(toasty::models!(v2::User), url).await;
    let bob = v2::User::filter_by_email("bob@example.com")
        .exec(&mut app)
        .await
        .unwrap();
    assert_eq!(bob[0].bio, "", "bio came back empty: its data was dropped");

    // Down the rest, then up again: Toasty's runtime works on the rebuilt tables.
    run(toasty()
        .args(["migrate:down", "--url", url, "--count", "2", "--dir"])
        .arg(&dir));
    let out = run(&mut status());
    assert_eq!(
        out.lines().filter(|l| l.starts_with("pending")).count(),
        3,
        "{out}"
    );
    run(up().arg("--allow-destructive"));
    let mut app = db(toasty::models!(v3::User), url).await;
    toasty::create!(v3::User {
        name: Some("Dee".into()),
        mail: "dee@example.com",
        age: 1
    })
    .exec(&mut app)
    .await
    .unwrap();
    assert_eq!(v3::User::all().exec(&mut app).await.unwrap().len(), 1);
    let out = run(up().arg("--allow-destructive"));
    assert!(out.contains("Nothing to do"), "{out}");
}

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

/// `generate` on a terminal (a pseudo-terminal from util-linux's `script`), answering its
/// questions from `answers`. Returns what the terminal showed.
fn on_terminal(dir: &Path, args: &str, answers: &str) -> String {
    let toasty = Path::new(env!("CARGO_BIN_EXE_toasty"));
    let out = std::process::Command::new("script")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["-qec", &format!("{} {args}", toasty.display()), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(answers.as_bytes())?;
            child.wait_with_output()
        })
        .expect("util-linux `script` runs");
    String::from_utf8_lossy(&out.stdout).to_string()
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

/// With two migrations applied: `status` shows both applied and in sync; after `down`, the
/// JSON status shows the second pending and the database still in sync.
#[cfg(any(feature = "mongodb", feature = "dynamodb"))]
fn status_then_down(cli: impl Fn(&[&str]) -> assert_cmd::Command, url: &str) {
    let status = run(&mut cli(&["migrate:status", "--url", url]));
    assert_eq!(
        status.lines().filter(|l| l.starts_with("applied")).count(),
        2,
        "{status}"
    );
    assert!(
        status.contains("the database matches the applied migrations"),
        "{status}"
    );
    run(&mut cli(&["migrate:down", "--url", url]));
    let json: serde_json::Value =
        serde_json::from_str(&run(&mut cli(&["migrate:status", "--url", url, "--json"]))).unwrap();
    let states: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "pending"]);
    assert_eq!(json["schema"]["state"], "in_sync");
}

#[cfg(feature = "mongodb")]
#[test]
fn mongodb_through_the_cli() {
    let url = format!("mongodb://127.0.0.1:27017/tm_cli_{}", std::process::id());
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrate-core/examples/schemas");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w).args(args);
        cmd
    };
    let v1 = schemas.join("v1.json");
    let v2 = schemas.join("v2.json");
    run(cli(&["migrate:generate", "-m", "create"])
        .arg("--schema")
        .arg(&v1));
    run(cli(&[
        "migrate:generate",
        "-m",
        "reshape",
        "--rename",
        "users.mail=email",
    ])
    .arg("--schema")
    .arg(&v2));
    let dry = run(&mut cli(&["migrate:up", "--dry-run", "--url", &url]));
    assert!(dry.contains(r#"{"create":"users""#), "{dry}");
    run(&mut cli(&["migrate:up", "--url", &url]));
    status_then_down(cli, &url);
}

#[cfg(feature = "dynamodb")]
#[test]
fn dynamodb_through_the_cli() {
    use toasty_migrate::schema::{ColumnDef, ColumnType, DefaultValue, IndexDef, TableSnapshot};
    let url = format!(
        "dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix=tmcli{}_",
        std::process::id()
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let users = |columns: Vec<ColumnDef>, indexes: Vec<IndexDef>| {
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users", columns, indexes,
        )])
    };
    let v1 = users(
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef::new("mail", ColumnType::Text),
        ],
        vec![IndexDef::new("index_users_by_name", &["name"], false)],
    );
    let v2 = users(
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef::new("email", ColumnType::Text),
            ColumnDef {
                default: Some(DefaultValue::Integer(0)),
                ..ColumnDef::new("age", ColumnType::Integer(8))
            },
        ],
        vec![
            IndexDef::new("index_users_by_name", &["name"], false),
            IndexDef::new("index_users_by_email", &["email"], true),
        ],
    );
    save_snapshot(&v1, w.join("v1.json")).unwrap();
    save_snapshot(&v2, w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(w)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    run(&mut cli(&[
        "migrate:generate",
        "-m",
        "create",
        "--schema",
        "v1.json",
    ]));
    run(&mut cli(&[
        "migrate:generate",
        "-m",
        "reshape",
        "--rename",
        "users.mail=email",
        "--schema",
        "v2.json",
    ]));
    run(&mut cli(&["migrate:up", "--url", &url]));
    status_then_down(cli, &url);
}

/// A runner killed (SIGKILL) in the middle of a backfill over 10,000 documents, then run again:
/// every document ends right and the migration is recorded once.
#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread")]
async fn mongodb_a_runner_killed_mid_backfill_is_finished_by_the_next() {
    use mongodb::bson::doc;
    let url = format!("mongodb://127.0.0.1:27017/tm_kill_{}", std::process::id());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let table = |extra: Vec<toasty_migrate::schema::ColumnDef>| {
        let mut columns = vec![toasty_migrate::schema::ColumnDef::new(
            "id",
            toasty_migrate::schema::ColumnType::Integer(8),
        )];
        columns.extend(extra);
        SchemaSnapshot::new(vec![
            toasty_migrate::schema::TableSnapshot::keyed_by_first_column("items", columns, vec![]),
        ])
    };
    save_snapshot(&table(vec![]), w.join("v1.json")).unwrap();
    let motto = toasty_migrate::schema::ColumnDef {
        default: Some(toasty_migrate::schema::DefaultValue::Text("hello".into())),
        ..toasty_migrate::schema::ColumnDef::new("motto", toasty_migrate::schema::ColumnType::Text)
    };
    save_snapshot(&table(vec![motto]), w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(w).env("NO_COLOR", "1").args(args);
        cmd
    };
    assert!(
        cli(&["migrate:generate", "-m", "items", "--schema", "v1.json"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        cli(&["migrate:up", "--url", &url])
            .output()
            .unwrap()
            .status
            .success()
    );
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let items = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("items");
    let docs: Vec<_> = (0..10_000_i64).map(|i| doc! { "id": i }).collect();
    items.insert_many(docs).await.unwrap();
    assert!(
        cli(&["migrate:generate", "-m", "add motto", "--schema", "v2.json"])
            .output()
            .unwrap()
            .status
            .success()
    );

    let mut runner = cli(&["migrate:up", "--url", &url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the backfill has begun (the first documents have the field), then SIGKILL.
    let started = std::time::Instant::now();
    while items
        .count_documents(doc! { "motto": "hello" })
        .await
        .unwrap()
        == 0
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    runner.kill().unwrap();
    runner.wait().unwrap();

    // The dead runner's lease (10 s by default) blocks for a while, then the next run finishes.
    // (The server may have finished the killed runner's update by then: it runs server-side.)
    let out = cli(&["migrate:up", "--url", &url]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(items.count_documents(doc! {}).await.unwrap(), 10_000);
    assert_eq!(
        items
            .count_documents(doc! { "motto": "hello" })
            .await
            .unwrap(),
        10_000,
        "every item backfilled"
    );
    let tracked = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("_toasty_migrations");
    assert_eq!(
        tracked.count_documents(doc! {}).await.unwrap(),
        2,
        "each migration recorded once"
    );

    // Reverting unsets the field on every document, showing on a terminal how many are left.
    let out = on_terminal(w, &format!("migrate:down --url '{url}'"), "");
    assert!(out.contains("Reverted"), "{out}");
    assert!(out.contains("items: update ["), "a progress bar: {out}");
    assert_eq!(
        items
            .count_documents(doc! { "motto": { "$exists": true } })
            .await
            .unwrap(),
        0
    );
}

/// A `migrate:up` SIGKILLed while it backfills 10,000 DynamoDB items, then run again: every item
/// ends right and the migration is recorded once.
#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_a_runner_killed_mid_backfill_is_finished_by_the_next() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use toasty_migrate::schema::{ColumnDef, ColumnType, DefaultValue, TableSnapshot};
    let prefix = format!("tmkill{}_", std::process::id());
    let url = format!("dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix={prefix}");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let table = |extra: Vec<ColumnDef>| {
        let mut columns = vec![ColumnDef::new("id", ColumnType::Text)];
        columns.extend(extra);
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "items",
            columns,
            vec![],
        )])
    };
    save_snapshot(&table(vec![]), w.join("v1.json")).unwrap();
    let motto = ColumnDef {
        default: Some(DefaultValue::Text("hello".into())),
        ..ColumnDef::new("motto", ColumnType::Text)
    };
    save_snapshot(&table(vec![motto]), w.join("v2.json")).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(w)
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    let succeeds = |args: &[&str]| {
        let out = cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    succeeds(&["migrate:generate", "-m", "items", "--schema", "v1.json"]);
    succeeds(&["migrate:up", "--url", &url]);

    let client = moto().await;
    let items = format!("{prefix}items");
    put_items(&client, &items, 10_000, |_| Vec::new()).await;
    let count_with_motto = || async {
        let mut count = 0;
        let mut from = None;
        loop {
            let page = client
                .scan()
                .table_name(&items)
                .filter_expression("motto = :v")
                .expression_attribute_values(":v", AttributeValue::S("hello".into()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(from)
                .send()
                .await
                .unwrap();
            count += page.count();
            from = page.last_evaluated_key;
            if from.is_none() {
                return count;
            }
        }
    };
    succeeds(&["migrate:generate", "-m", "add motto", "--schema", "v2.json"]);

    let mut runner = cli(&["migrate:up", "--url", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the backfill has begun (some items have the attribute), then SIGKILL.
    let started = std::time::Instant::now();
    let mut done_when_killed = 0;
    while done_when_killed == 0 && started.elapsed() < std::time::Duration::from_secs(30) {
        done_when_killed = count_with_motto().await;
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    assert!(
        (1..10_000).contains(&done_when_killed),
        "killed part-way: {done_when_killed} items done"
    );

    // The dead runner's lease (10 s) blocks for a while, then the next run finishes, showing
    // its progress on a terminal.
    let out = on_terminal(w, &format!("migrate:up --url '{url}'"), "");
    assert!(out.contains("Applied"), "{out}");
    assert!(out.contains("items: fill motto ["), "a progress bar: {out}");
    assert_eq!(count_with_motto().await, 10_000, "every item backfilled");
    let tracked = client
        .scan()
        .table_name(format!("{prefix}_toasty_migrations"))
        .send()
        .await
        .unwrap();
    assert_eq!(tracked.count(), 2, "each migration recorded once");
    let out = cli(&["migrate:status", "--url", &url]).output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("applied")).count(),
        2,
        "{out}"
    );
}

/// The schema and migrations of the killed-data-step tests: `items (id, name, label)`, then a
/// data migration that labels each item from its name. Returns the `toasty` command builder.
#[cfg(any(feature = "mongodb", feature = "dynamodb"))]
fn label_items_project(w: &Path, url: &str) -> impl Fn(&[&str]) -> std::process::Command {
    use toasty_migrate::schema::{ColumnDef, ColumnType, TableSnapshot};
    let items = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "items",
        vec![
            ColumnDef::new("id", ColumnType::Text),
            ColumnDef::new("name", ColumnType::Text),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("label", ColumnType::Text)
            },
        ],
        vec![],
    )]);
    save_snapshot(&items, w.join("schema.json")).unwrap();
    let w = w.to_path_buf();
    let cli = move |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_toasty"));
        cmd.current_dir(&w)
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(args);
        cmd
    };
    for args in [
        &["migrate:generate", "-m", "items"][..],
        &["migrate:up", "--url", url],
    ] {
        let out = cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    cli
}

/// Kills `migrate:up` once `labelled` says the data step has begun, then runs it again: every
/// item ends labelled, the migration recorded once.
#[cfg(any(feature = "mongodb", feature = "dynamodb"))]
async fn kill_the_labelling_then_finish<F, Fut>(
    cli: &dyn Fn(&[&str]) -> std::process::Command,
    url: &str,
    labelled: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let out = cli(&[
        "migrate:generate",
        "-m",
        "label items",
        "--data",
        r#"db.update_rows("items", vec![("label", upper(col("name")))], is_null("label"))"#,
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut runner = cli(&["migrate:up", "--url", url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while labelled().await == 0 && started.elapsed() < std::time::Duration::from_secs(20) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    runner.kill().unwrap(); // SIGKILL
    runner.wait().unwrap();
    // The dead runner's lease blocks for up to 10 s; then the next run finishes the step.
    let out = cli(&["migrate:up", "--url", url]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["migrate:status", "--url", url]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    let applied = status.lines().filter(|l| l.starts_with("applied")).count();
    assert_eq!(applied, 2, "each migration applied, once: {status}");
}

#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread")]
async fn mongodb_a_data_step_killed_mid_run_is_finished_by_the_next() {
    use mongodb::bson::doc;
    let url = format!(
        "mongodb://127.0.0.1:27017/tm_killdata_{}",
        std::process::id()
    );
    let work = tempfile::tempdir().unwrap();
    let cli = label_items_project(work.path(), &url);
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let items = client
        .default_database()
        .unwrap()
        .collection::<mongodb::bson::Document>("items");
    let docs: Vec<_> = (0..10_000_i64)
        .map(|i| doc! { "id": format!("{i:05}"), "name": format!("item{i}") })
        .collect();
    items.insert_many(docs).await.unwrap();
    let labelled = || items.count_documents(doc! { "label": { "$ne": null } });
    kill_the_labelling_then_finish(&cli, &url, || async { labelled().await.unwrap() }).await;
    assert_eq!(labelled().await.unwrap(), 10_000, "every item labelled");
    let wrong = items
        .count_documents(doc! { "$expr": { "$ne": [ "$label", { "$toUpper": "$name" } ] } })
        .await
        .unwrap();
    assert_eq!(wrong, 0);
}

#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_a_data_step_killed_mid_run_is_finished_by_the_next() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let prefix = format!("tmkilldata{}_", std::process::id());
    let url = format!("dynamodb://us-east-1?endpoint=http://127.0.0.1:8000&prefix={prefix}");
    let work = tempfile::tempdir().unwrap();
    let cli = label_items_project(work.path(), &url);
    let client = moto().await;
    let table = format!("{prefix}items");
    const ITEMS: usize = 2_000;
    put_items(&client, &table, ITEMS, |i| {
        vec![("name", AttributeValue::S(format!("item{i}")))]
    })
    .await;
    let labelled = || async {
        scan_all(&client, &table)
            .await
            .iter()
            .filter(|i| i.contains_key("label"))
            .count() as u64
    };
    kill_the_labelling_then_finish(&cli, &url, labelled).await;
    let items = scan_all(&client, &table).await;
    assert_eq!(items.len(), ITEMS);
    for item in items {
        let name = item["name"].as_s().unwrap();
        assert_eq!(
            item.get("label").and_then(|l| l.as_s().ok()),
            Some(&name.to_uppercase()),
            "{item:?}"
        );
    }
}

/// A client of the moto server the tests use.
#[cfg(feature = "dynamodb")]
async fn moto() -> aws_sdk_dynamodb::Client {
    // SAFETY: set before this test's client exists, to the values every test uses.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:8000")
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// Writes `count` items to `table`, ids `00000`, `00001`..., with the attributes `more` gives.
#[cfg(feature = "dynamodb")]
async fn put_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    count: usize,
    more: impl Fn(usize) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>,
) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|&i| {
                let mut put =
                    PutRequest::builder().item("id", AttributeValue::S(format!("{i:05}")));
                for (name, value) in more(i) {
                    put = put.item(name, value);
                }
                WriteRequest::builder()
                    .put_request(put.build().unwrap())
                    .build()
            })
            .collect();
        client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .unwrap();
    }
}

/// Every item of `table`.
#[cfg(feature = "dynamodb")]
async fn scan_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

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
