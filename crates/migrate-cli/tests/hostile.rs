//! The `toasty` binary against input meant to do harm or made by mistake, on the real databases:
//! SQL smuggled in a custom type, credentials in every URL form, files nested to overflow a
//! stack, edited and missing migrations, SQLite paths that are empty or wrong, servers that
//! refuse. Each gets a clear error naming the place and the right exit code, and nothing is left
//! half done.

mod common;

use assert_cmd::Command;
use common::{fails, run, toasty};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use toasty_migrate::backend::Introspect as _;
use toasty_migrate::schema::{ColumnDef, ColumnType, SchemaSnapshot, TableSnapshot, save_snapshot};
use toasty_migrate_sql::{Dialect, SqlBackend};
use toasty_migrate_tests::TestDatabase;

const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

/// A table `t (id, c)` with `c` of type `ty`.
fn table_with(ty: ColumnType) -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "t",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("c", ty),
        ],
        vec![],
    )])
}

/// A work directory with one generated migration creating `table_with(ty)`; returns the
/// migration file.
fn one_migration(w: &Path, ty: ColumnType) -> PathBuf {
    save_snapshot(&table_with(ty), w.join("schema.json")).unwrap();
    run(toasty()
        .current_dir(w)
        .args(["migrate:generate", "-m", "create t"]));
    migration_files(w).remove(0)
}

fn migration_files(w: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(w.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("mod.rs"))
        .collect();
    files.sort();
    files
}

fn cli(w: &Path, args: &[&str]) -> Command {
    let mut cmd = toasty();
    cmd.current_dir(w).args(args);
    cmd
}

async fn tables(url: &str) -> Vec<String> {
    let mut backend = SqlBackend::connect(url).await.unwrap();
    let schema = backend.introspect().await.unwrap();
    schema.tables.iter().map(|t| t.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_in_a_custom_type_is_refused_and_never_runs() {
    let injection = "text); DROP TABLE victim; CREATE TABLE pwned (a int";
    for dialect in DIALECTS {
        let database = TestDatabase::sql(dialect).await;
        let url = database.url.as_str();
        SqlBackend::connect(url)
            .await
            .unwrap()
            .execute("CREATE TABLE victim (a INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        let work = tempfile::tempdir().unwrap();
        let w = work.path();

        // In a snapshot: refused by generate, naming the JSON path; nothing written.
        let json = serde_json::to_string_pretty(&table_with(ColumnType::Custom(injection.into())))
            .unwrap();
        std::fs::write(w.join("hostile.json"), json).unwrap();
        let (code, err) = fails(&mut cli(
            w,
            &["migrate:generate", "-m", "x", "--schema", "hostile.json"],
        ));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("hostile.json: at `tables[0].columns[1]`"),
            "{err}"
        );
        assert!(err.contains("is not a type name"), "{err}");
        assert!(!w.join("migrations").exists());

        // Written into a migration file by hand: refused by up and status, naming the line.
        let file = one_migration(w, ColumnType::Custom("text".into()));
        let source = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            source.replace("\"text\".into()", &format!("{injection:?}.into()")),
        )
        .unwrap();
        for command in ["migrate:up", "migrate:status"] {
            let (code, err) = fails(&mut cli(w, &[command, "--url", url]));
            assert_eq!(code, 2, "{dialect:?} {command}: {err}");
            let name = file.file_name().unwrap().to_string_lossy();
            assert!(err.contains(&format!("{name}:")), "{err}");
            assert!(err.contains("is not a type name"), "{err}");
        }
        let left = tables(url).await;
        assert!(
            left.contains(&"victim".to_string()),
            "{dialect:?}: {left:?}"
        );
        assert!(
            !left.contains(&"pwned".to_string()),
            "{dialect:?}: {left:?}"
        );
    }
}

/// Every output of a command, both streams.
fn output(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_appear_in_no_output() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    one_migration(w, ColumnType::Text);
    let commands: [&[&str]; 4] = [
        &["migrate:up", "--dry-run"],
        &["migrate:up"],
        &["migrate:status"],
        &["migrate:status", "--json"],
    ];
    let check = |url: &str, secrets: &[&str]| {
        for args in commands {
            let (code, text) = output(cli(w, args).args(["--url", url]));
            for secret in secrets {
                assert!(!text.contains(secret), "{args:?} {url}: {text}");
            }
            // Nothing hides the error itself.
            if code != Some(0) {
                assert!(text.contains("error:"), "{text}");
            }
        }
    };

    // PostgreSQL takes a password in the query string (trust auth ignores it, so these run).
    let pg = TestDatabase::sql(Dialect::Postgres).await;
    check(&format!("{}?password=hunter2-pg", pg.url), &["hunter2-pg"]);
    check(
        &format!("{}?sslmode=disable&sslpassword=key-pass-pg", pg.url),
        &["key-pass-pg"],
    );
    // A statement that fails: the error names the database without the password.
    let bad = w.join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("20250101_000000_bad.rs"),
        include_str!("fixtures/20250101_000000_bad.rs"),
    )
    .unwrap();
    let fresh = TestDatabase::sql(Dialect::Postgres).await;
    let (code, text) = output(
        cli(w, &["migrate:up", "--dir", "bad", "--url"])
            .arg(format!("{}?password=hunter2-pg", fresh.url)),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("password=***"), "{text}");
    assert!(!text.contains("hunter2-pg"), "{text}");
    // PostgreSQL's message, without the line of the server's C source sqlx appends.
    assert!(text.contains("does not exist (SQLSTATE 42P01)"), "{text}");
    assert!(!text.contains(" at line "), "{text}");

    // Userinfo, refused by the server.
    check(
        "mysql://root:wrong-pw-my@127.0.0.1:3306/test",
        &["wrong-pw-my"],
    );
    // MongoDB: userinfo and an AWS session token in authMechanismProperties.
    check(
        "mongodb://user:mongo-pw@127.0.0.1:1/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:mongo-token",
        &["mongo-pw", "mongo-token"],
    );
    check(
        "mongodb://127.0.0.1:1/db?tls=true&tlsCertificateKeyFilePassword=pem-pass",
        &["pem-pass"],
    );
    // DynamoDB: AWS keys in the URL (refused by name), and an endpoint with userinfo.
    check(
        "dynamodb://us-east-1?aws_access_key_id=AKIDEXAMPLE&aws_secret_access_key=aws-secret&aws_session_token=aws-token",
        &["AKIDEXAMPLE", "aws-secret", "aws-token"],
    );
    check(
        "dynamodb://us-east-1?endpoint=http://key:endpoint-secret@127.0.0.1:1",
        &["endpoint-secret"],
    );
}

#[test]
fn nesting_deep_enough_to_overflow_a_stack_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let file = one_migration(w, ColumnType::Integer(4));
    let source = std::fs::read_to_string(&file).unwrap();
    let nested = |open: &str, close: &str| {
        source.replace(
            "ColumnType::Integer(4)",
            &format!(
                "{}ColumnType::Integer(4){}",
                open.repeat(150),
                close.repeat(150)
            ),
        )
    };
    for edited in [
        nested("(", ")"),
        nested("{", "}"),
        nested("ColumnType::List(Box::new(", "))"),
    ] {
        std::fs::write(&file, edited).unwrap();
        for command in ["migrate:status", "migrate:up"] {
            let (code, err) = fails(&mut cli(w, &[command, "--url", "sqlite:app.db"]));
            assert_eq!(code, 2, "{command}: {err}");
            assert!(err.contains("nested deeper than 64"), "{err}");
        }
    }

    // A snapshot with a list type nested 66 deep: refused by generate, nothing written.
    let deep = (0..66).fold(ColumnType::Integer(4), |t, _| ColumnType::List(Box::new(t)));
    std::fs::write(
        w.join("deep.json"),
        serde_json::to_string(&table_with(deep)).unwrap(),
    )
    .unwrap();
    let before = migration_files(w);
    let (code, err) = fails(&mut cli(
        w,
        &["migrate:generate", "-m", "deep", "--schema", "deep.json"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nested 66 deep"), "{err}");
    assert_eq!(migration_files(w), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_exits_2_when_an_applied_migration_was_edited_or_removed() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let database = TestDatabase::sql(dialect).await;
        let url = database.url.as_str();
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let file = one_migration(w, ColumnType::Text);
        run(&mut cli(w, &["migrate:up", "--url", url]));

        // Applied: said once per line, with a readable time; exit 0.
        let status = run(&mut cli(w, &["migrate:status", "--url", url]));
        let line = status.lines().find(|l| l.starts_with("applied")).unwrap();
        assert_eq!(line.matches("applied").count(), 1, "{line}");
        assert!(line.contains(" UTC (just now)"), "{line}");
        let json: serde_json::Value = serde_json::from_str(&run(&mut cli(
            w,
            &["migrate:status", "--json", "--url", url],
        )))
        .unwrap();
        assert_eq!(json["ok"], true);
        assert!(
            json["migrations"][0]["applied_at"]
                .as_str()
                .unwrap()
                .ends_with('Z'),
            "the exact time: {json}"
        );

        let source = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            source.replace("ColumnType::Text", "ColumnType::Integer(8)"),
        )
        .unwrap();
        let (code, err) = fails(&mut cli(w, &["migrate:status", "--url", url]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("was edited after it was applied"), "{err}");
        let out = cli(w, &["migrate:status", "--json", "--url", url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["migrations"][0]["state"], "modified");

        std::fs::remove_file(&file).unwrap();
        let (code, err) = fails(&mut cli(w, &["migrate:status", "--url", url]));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("is recorded as applied but its file is missing"),
            "{err}"
        );
    }
}

#[test]
fn sqlite_urls_that_name_no_file_or_a_missing_one() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    one_migration(w, ColumnType::Text);

    for command in ["migrate:up", "migrate:status"] {
        let (code, err) = fails(&mut cli(w, &[command, "--url", "sqlite:"]));
        assert_eq!(code, 2, "a URL to fix: {err}");
        assert!(err.contains("names no file"), "{err}");
    }

    // Reading commands see a missing file as the empty database it would be, and leave no file
    // behind a mistyped path; up creates it.
    let status = run(&mut cli(w, &["migrate:status", "--url", "sqlite:typo.db"]));
    assert!(status.starts_with("pending"), "{status}");
    let dry = run(&mut cli(
        w,
        &["migrate:up", "--dry-run", "--url", "sqlite:typo.db"],
    ));
    assert!(dry.contains("CREATE TABLE"), "{dry}");
    let down = run(&mut cli(
        w,
        &["migrate:down", "--dry-run", "--url", "sqlite:typo.db"],
    ));
    assert!(down.contains("Nothing to do"), "{down}");
    assert!(
        !w.join("typo.db").exists(),
        "a reading command created the file"
    );
    run(&mut cli(w, &["migrate:up", "--url", "sqlite:typo.db"]));
    assert!(w.join("typo.db").exists());
}

#[test]
fn refused_connections_fail_at_once_in_one_line() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    one_migration(w, ColumnType::Text);
    for url in [
        "mongodb://127.0.0.1:1/db",
        "dynamodb://us-east-1?endpoint=http://127.0.0.1:1",
    ] {
        let started = Instant::now();
        let (code, err) = fails(
            cli(w, &["migrate:status", "--url", url])
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing"),
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: {:?}",
            started.elapsed()
        );
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("cannot connect to 127.0.0.1:1: connection refused"),
            "{err}"
        );
        assert!(
            !err.contains("Topology") && !err.contains("DispatchFailure"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 2, "one error and one cause: {err}");
    }
}

#[test]
fn mistakes_get_one_message_that_says_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    let (code, err) = fails(&mut cli(w, &["migrate:status"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--url") && err.contains("DATABASE_URL"),
        "{err}"
    );

    // An OS error's cause is said once.
    let (code, err) = fails(&mut cli(
        w,
        &["migrate:generate", "-m", "x", "--schema", "nowhere.json"],
    ));
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");

    // A snapshot that is not UTF-8: the place of the first bad byte.
    std::fs::write(
        w.join("latin1.json"),
        b"{\n  \"format_version\": 1, \"tables\": [\xe9]\n}\n",
    )
    .unwrap();
    let (code, err) = fails(&mut cli(
        w,
        &["migrate:generate", "-m", "x", "--schema", "latin1.json"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 2, column 35") && err.contains("not UTF-8"),
        "{err}"
    );

    // `--dir` that is a file: said before any change is printed.
    save_snapshot(&table_with(ColumnType::Text), w.join("schema.json")).unwrap();
    std::fs::write(w.join("afile"), "").unwrap();
    let out = cli(w, &["migrate:generate", "-m", "x", "--dir", "afile"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("afile is not a directory"));
}
