//! A Toasty model set evolving over three versions through generate -> up -> status -> down on
//! each SQL database, Toasty's runtime reading and writing rows in between.

use crate::common::{db, run, toasty};
use crate::{export, v1, v2, v3};
use toasty_migrate_sql::Dialect;
use toasty_migrate_tests::TestDatabase;

on_each_sql_database!(evolve);

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
