//! A new Toasty application, from `cargo new` to four model changes, as a user would go: its
//! models in `src/lib.rs`, `toasty migrate:init` once, then after each edit only
//! `toasty migrate:generate -m ...` (which builds the application's models binary through
//! cargo) and `toasty migrate:up`. Toasty's runtime, with the same models, writes a row at each
//! step and reads every row back at the next, on SQLite and PostgreSQL.
//!
//! The application depends on toasty from crates.io and on this workspace's toasty-migrate by
//! path, with this workspace's Cargo.lock, and builds into `target/e2e-app` (one build of its
//! dependencies for every run), one database's run at a time.

mod common;

use common::{db, fails, run, toasty};
use std::path::Path;
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

/// The models at each step, as the application's `src/lib.rs` and as this test's own modules
/// (the same source, so that Toasty's runtime here reads what the application's schema made).
macro_rules! steps {
    ($($step:ident: $source:literal;)*) => {
        $(mod $step { include!(concat!("fixtures/project/", $source)); })*
        const SOURCES: &[&str] = &[$(include_str!(concat!("fixtures/project/", $source))),*];
    };
}

steps! {
    created: "0_created.rs";
    with_bio: "1_add_field.rs";
    indexed: "2_add_index.rs";
    renamed: "3_rename_field.rs";
    dropped: "4_drop_field.rs";
}

/// `cargo new`, as far as this test needs: a library package depending on toasty and, by path,
/// on toasty-migrate with its `toasty` feature.
fn new_application(dir: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let core = workspace
        .join("crates/migrate-core")
        .canonicalize()
        .unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"blog-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ntoasty = \"0.11\"\n\
             toasty-migrate = {{ path = {:?}, features = [\"toasty\"] }}\n\n\
             [workspace]\n",
            core.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// One application at a time: they share `target/e2e-app`, where each builds its models binary
/// under the same name.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn model_changes_reach_the_database(dialect: Dialect, flavor: &str) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let database = TestDatabase::sql(dialect).await;
    let url = database.url.as_str();
    let work = tempfile::tempdir().unwrap();
    let app = work.path();
    new_application(app);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-app");
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(app)
            .env("CARGO_TARGET_DIR", &target)
            .env("APP_DATABASE_URL", url)
            .args(args);
        cmd
    };
    let models = |step: usize| std::fs::write(app.join("src/lib.rs"), SOURCES[step]).unwrap();

    models(0);
    let out = run(&mut cli(&[
        "migrate:init",
        "--flavor",
        flavor,
        "--url-env",
        "APP_DATABASE_URL",
    ]));
    assert!(out.contains("Wrote toasty.toml"), "{out}");
    assert!(
        !out.contains("cargo add"),
        "the dependency is there already: {out}"
    );
    // `--allow-destructive` is asked twice: when the migration is written, and when it runs.
    let generate = |message: &str, extra: &[&str]| {
        let mut args = vec!["migrate:generate", "-m", message];
        args.extend(extra);
        let out = run(&mut cli(&args));
        let mut up = vec!["migrate:up"];
        up.extend(extra.iter().filter(|a| **a == "--allow-destructive"));
        run(&mut cli(&up));
        out
    };
    let out = generate("create users", &[]);
    assert!(out.contains("+ create table users"), "{dialect:?}: {out}");
    let mut app_db = db(toasty::models!(created::User), url).await;
    toasty::create!(created::User { name: "Ann" })
        .exec(&mut app_db)
        .await
        .unwrap();

    models(1);
    let out = generate("add bio", &[]);
    assert!(out.contains("add column users.bio"), "{dialect:?}: {out}");
    let mut app_db = db(toasty::models!(with_bio::User), url).await;
    assert_eq!(
        with_bio::User::all().exec(&mut app_db).await.unwrap()[0].name,
        "Ann"
    );
    toasty::create!(with_bio::User {
        name: "Bob",
        bio: Some("hi".to_string())
    })
    .exec(&mut app_db)
    .await
    .unwrap();

    models(2);
    let out = generate("index names", &[]);
    assert!(out.contains("create index"), "{dialect:?}: {out}");
    let mut app_db = db(toasty::models!(indexed::User), url).await;
    let bob = indexed::User::filter_by_name("Bob")
        .exec(&mut app_db)
        .await
        .unwrap();
    assert_eq!(bob[0].bio.as_deref(), Some("hi"));

    // A rename loses the column's data unless said: without --rename, generate refuses.
    models(3);
    let (code, err) = fails(&mut cli(&["migrate:generate", "-m", "rename name"]));
    assert_eq!(code, 2, "{err}");
    let out = generate("rename name", &["--rename", "users.name=full_name"]);
    assert!(
        out.contains("users.name -> full_name"),
        "{dialect:?}: {out}"
    );
    let mut app_db = db(toasty::models!(renamed::User), url).await;
    let mut names: Vec<String> = renamed::User::all()
        .exec(&mut app_db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.full_name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["Ann", "Bob"],
        "{dialect:?}: the renamed column kept its data"
    );

    models(4);
    let out = generate("drop bio", &["--allow-destructive"]);
    assert!(out.contains("drop column users.bio"), "{dialect:?}: {out}");
    let mut app_db = db(toasty::models!(dropped::User), url).await;
    assert_eq!(
        dropped::User::all().exec(&mut app_db).await.unwrap().len(),
        2
    );
    let out = run(&mut cli(&["migrate:check"]));
    assert!(out.contains("In sync"), "{dialect:?}: {out}");

    // The schema is built for one flavor: a URL for another database is refused.
    let other = match dialect {
        Dialect::Sqlite => "postgres://localhost/elsewhere",
        _ => "sqlite:elsewhere.db",
    };
    let (code, err) = fails(&mut cli(&["migrate:status", "--url", other]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("built for {flavor}")), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite() {
    model_changes_reach_the_database(Dialect::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres() {
    model_changes_reach_the_database(Dialect::Postgres, "postgresql").await;
}

/// What `migrate:init` and `toasty.toml` refuse, each saying where: a package without a
/// library, an unknown flavor, a second init, a misspelt setting.
#[test]
fn init_and_the_config_file_refuse_what_cannot_work() {
    let work = tempfile::tempdir().unwrap();
    let app = work.path();
    let cli = |args: &[&str]| {
        let mut cmd = toasty();
        cmd.current_dir(app).args(args);
        cmd
    };
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"only-bin\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let (code, err) = fails(&mut cli(&["migrate:init", "--flavor", "sqlite"]));
    assert_eq!(code, 2);
    assert!(err.contains("no library (src/lib.rs)"), "{err}");

    std::fs::create_dir(app.join("src")).unwrap();
    std::fs::write(app.join("src/lib.rs"), "").unwrap();
    let (_, err) = fails(&mut cli(&["migrate:init", "--flavor", "oracle"]));
    assert!(err.contains("unknown database flavor \"oracle\""), "{err}");
    let out = run(&mut cli(&["migrate:init", "--flavor", "sqlite"]));
    assert!(
        out.contains("cargo add toasty-migrate --features toasty"),
        "{out}"
    );
    let bin = std::fs::read_to_string(app.join("src/bin/toasty-models.rs")).unwrap();
    assert!(bin.contains("toasty::models!(only_bin::*)"), "{bin}");
    let (_, err) = fails(&mut cli(&["migrate:init", "--flavor", "sqlite"]));
    assert!(err.contains("toasty.toml exists already"), "{err}");

    std::fs::write(app.join("toasty.toml"), "[migrate]\ndirectory = \"m\"\n").unwrap();
    let (code, err) = fails(&mut cli(&["migrate:check"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("toasty.toml") && err.contains("unknown field `directory`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb() {
    model_changes_reach_the_database(Dialect::Mysql, "mariadb").await;
}
