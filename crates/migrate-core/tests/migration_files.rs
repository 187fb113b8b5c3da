//! Generated migration files: one pinned file per change kind, generate -> parse round trips for
//! every change kind and column type, checksums, and what the generator writes to disk.

mod common;

use common::*;
use std::path::Path;
use toasty_migrate::{
    Error, Migration, MigrationContext, Result,
    diff::{DiffOptions, detect_changes, detect_changes_with},
    files::{
        MOD_FILE, MigrationGenerator, MigrationPlan, SCHEMA_FILE, list_versions, parse_migration,
        parse_migration_file, render_migration,
    },
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexDef, IndexedSchema, Operation, SchemaSnapshot,
        TableSnapshot, load_snapshot,
    },
};

fn users_v1() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef {
                auto_increment: true,
                ..ColumnDef::new("id", ColumnType::Integer(8))
            },
            ColumnDef::new("mail", ColumnType::VarChar(255)),
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("age", ColumnType::Integer(4))
            },
        ],
        vec![IndexDef::new("index_users_by_mail", &["mail"], true)],
    )])
}

/// One (old, new, hints) per change kind, each producing exactly that kind.
fn one_change_per_kind() -> Vec<(&'static str, SchemaSnapshot, SchemaSnapshot, DiffOptions)> {
    let v1 = users_v1();
    let with = |f: &dyn Fn(&mut TableSnapshot)| {
        let mut s = v1.clone();
        f(&mut s.tables[0]);
        s
    };
    let posts = TableSnapshot::keyed_by_first_column(
        "posts",
        vec![
            ColumnDef::new("id", ColumnType::Uuid),
            ColumnDef::new("title", ColumnType::Text),
        ],
        vec![],
    );
    let mut with_posts = v1.clone();
    with_posts.tables.push(posts);
    with_posts.canonicalize();
    vec![
        (
            "create_table",
            v1.clone(),
            with_posts.clone(),
            DiffOptions::default(),
        ),
        ("drop_table", with_posts, v1.clone(), DiffOptions::default()),
        (
            "add_column",
            v1.clone(),
            with(&|t| {
                t.columns.push(ColumnDef {
                    default: Some(DefaultValue::Text("".into())),
                    ..ColumnDef::new("email", ColumnType::Text)
                })
            }),
            DiffOptions::default(),
        ),
        (
            "drop_column",
            v1.clone(),
            with(&|t| {
                t.columns.remove(2);
            }),
            DiffOptions::default(),
        ),
        (
            "modify_column",
            v1.clone(),
            with(&|t| {
                t.columns[1].name = "email".into();
                t.columns[1].ty = ColumnType::VarChar(320);
                t.indexes[0].columns[0].column = "email".into();
            }),
            DiffOptions {
                renames: vec!["users.mail -> users.email".parse().unwrap()],
            },
        ),
        (
            "create_index",
            v1.clone(),
            with(&|t| {
                t.indexes
                    .push(IndexDef::new("index_users_by_age", &["age"], false))
            }),
            DiffOptions::default(),
        ),
        (
            "drop_index",
            v1.clone(),
            with(&|t| {
                t.indexes.clear();
            }),
            DiffOptions::default(),
        ),
        (
            "drop_middle_column",
            with(&|t| t.columns.push(ColumnDef::new("bio", ColumnType::Text))),
            with(&|t| {
                t.columns.remove(2);
                t.columns.push(ColumnDef::new("bio", ColumnType::Text));
            }),
            DiffOptions::default(),
        ),
    ]
}

#[test]
fn one_pinned_file_per_change_kind() {
    for (kind, old, new, options) in one_change_per_kind() {
        let diff = detect_changes_with(&old, &new, &options).unwrap();
        assert_eq!(diff.changes.len(), 1, "{kind}: {:?}", diff.changes);
        let plan = generator(Path::new("migrations"))
            .generate(&diff, kind)
            .unwrap();
        let source = render_migration(&plan);
        insta::assert_snapshot!(kind, source);
        let parsed = parse_migration(&source, Path::new(&format!("{}.rs", plan.version))).unwrap();
        assert_eq!(parsed, plan, "{kind}: parse(generate(diff)) == the plan");
    }
}

#[test]
fn every_column_type_round_trips_through_a_file() {
    let new = SchemaSnapshot::new(vec![every_type_table()]);
    let diff = detect_changes(&SchemaSnapshot::default(), &new).unwrap();
    let plan = generator(Path::new("m"))
        .generate(&diff, "every type")
        .unwrap();
    let source = render_migration(&plan);
    let parsed = parse_migration(&source, Path::new(&format!("{}.rs", plan.version))).unwrap();
    assert_eq!(parsed, plan);
    // And modifying each column into another type, both ways.
    let old_table = &new.tables[0];
    let mut modified = old_table.clone();
    let types = every_type();
    for (i, c) in modified
        .columns
        .iter_mut()
        .enumerate()
        .skip(1)
        .take(types.len())
    {
        c.ty = types[(i + 7) % types.len()].clone();
        c.nullable = !c.nullable;
    }
    let diff = detect_changes(&new, &SchemaSnapshot::new(vec![modified])).unwrap();
    assert_eq!(diff.changes.len(), types.len());
    let plan = generator(Path::new("m")).generate(&diff, "retype").unwrap();
    let parsed = parse_migration(
        &render_migration(&plan),
        Path::new(&format!("{}.rs", plan.version)),
    )
    .unwrap();
    assert_eq!(parsed, plan);
}

#[test]
fn the_generated_file_describes_what_a_compiled_one_would() {
    // `describe` on a hand-built migration equals parsing the same text.
    struct Hand;
    impl Migration for Hand {
        fn version(&self) -> &str {
            "20250117_120000_hand"
        }
        fn up(&self, db: &mut dyn MigrationContext) -> Result<()> {
            db.add_column(
                "users",
                ColumnDef {
                    name: "email".into(),
                    ty: "String".into(),
                    nullable: false,
                    default: None,
                    auto_increment: false,
                },
            )?;
            Ok(())
        }
        fn down(&self, db: &mut dyn MigrationContext) -> Result<()> {
            db.drop_column("users", "email")?;
            Ok(())
        }
    }
    let plan = MigrationPlan::describe(&Hand).unwrap();
    let parsed = parse_migration(
        &render_migration(&plan),
        Path::new("20250117_120000_hand.rs"),
    )
    .unwrap();
    assert_eq!(parsed, plan);
    assert_eq!(plan.name(), "hand");
}

#[test]
fn down_undoes_up_in_reverse_order() {
    for (kind, old, new, options) in one_change_per_kind() {
        let diff = detect_changes_with(&old, &new, &options).unwrap();
        let plan = generator(Path::new("m")).generate(&diff, kind).unwrap();
        let mut schema = IndexedSchema::from(old.clone());
        for op in &plan.up {
            schema.apply(op).unwrap();
        }
        assert!(
            schema.to_snapshot().is_equivalent(&new),
            "{kind}: up gives the new schema"
        );
        for op in &plan.down {
            schema.apply(op).unwrap();
        }
        assert!(
            schema.to_snapshot().is_equivalent(&old),
            "{kind}: down gives the old schema back"
        );
    }
}

#[test]
fn checksum_ignores_layout_and_line_endings_but_not_operations() {
    let (_, old, new, options) = one_change_per_kind().remove(4);
    let diff = detect_changes_with(&old, &new, &options).unwrap();
    let plan = generator(Path::new("m")).generate(&diff, "rename").unwrap();
    let path = format!("{}.rs", plan.version);
    let source = render_migration(&plan);
    let checksum = |src: &str| parse_migration(src, Path::new(&path)).unwrap().checksum();
    let original = checksum(&source);
    assert_eq!(original, plan.checksum());
    assert_eq!(original.len(), 64);

    let crlf = source.replace('\n', "\r\n");
    assert_eq!(checksum(&crlf), original, "CRLF line endings");
    let reflowed = source
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("(\n", "(")
        .replace(",\n", ", ");
    assert_ne!(reflowed, source);
    assert_eq!(checksum(&reflowed), original, "indentation and line breaks");
    let commented = source.replace("fn up(", "// a reviewer's note\n    fn up(");
    assert_eq!(checksum(&commented), original, "comments");

    let edited = source.replacen("VarChar(320)", "VarChar(321)", 1);
    assert_ne!(edited, source);
    assert_ne!(
        checksum(&edited),
        original,
        "an edited operation changes the checksum"
    );
}

#[test]
fn generator_writes_the_file_mod_rs_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("migrations");
    let v1 = users_v1();
    let diff = detect_changes(&SchemaSnapshot::default(), &v1).unwrap();
    let generator1 = generator(&dir);
    let first = generator1.generate(&diff, "create users").unwrap();
    assert_eq!(first.version, "20250117_120000_create_users");
    let path = generator1.write_migration_file(&first).unwrap();
    assert_eq!(path, dir.join("20250117_120000_create_users.rs"));
    assert_eq!(load_snapshot(dir.join(SCHEMA_FILE)).unwrap(), v1);

    // A second migration, a second later.
    let (_, _, v2, options) = one_change_per_kind().remove(4);
    let diff = detect_changes_with(&v1, &v2, &options).unwrap();
    let generator2 =
        MigrationGenerator::new(&dir).at(time::macros::datetime!(2025-01-17 12:00:01 UTC));
    let second = generator2.generate(&diff, "Rename mail to email").unwrap();
    generator2.write_migration_file(&second).unwrap();
    assert!(
        load_snapshot(dir.join(SCHEMA_FILE))
            .unwrap()
            .is_equivalent(&v2)
    );
    assert_eq!(
        list_versions(&dir).unwrap(),
        vec![
            "20250117_120000_create_users",
            "20250117_120001_rename_mail_to_email"
        ]
    );
    insta::assert_snapshot!(
        "mod_rs",
        std::fs::read_to_string(dir.join(MOD_FILE)).unwrap()
    );
    let parsed = parse_migration_file(dir.join(format!("{}.rs", second.version))).unwrap();
    assert_eq!(parsed, second);

    // The same version again, or an older one, is refused and changes nothing.
    let before = std::fs::read_to_string(dir.join(MOD_FILE)).unwrap();
    assert!(matches!(
        generator2.write_migration_file(&second),
        Err(Error::MigrationExists { .. })
    ));
    // A generator whose clock is behind still versions after the newest migration.
    let behind = generator1.generate(&diff, "behind").unwrap();
    assert_eq!(behind.version, "20250117_120002_behind");
    let stale = MigrationPlan {
        version: "20250117_115959_stale".into(),
        ..behind
    };
    assert!(stale.transactional);
    let err = generator1.write_migration_file(&stale).unwrap_err();
    assert!(err.to_string().contains("must sort after"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join(MOD_FILE)).unwrap(), before);
    assert_eq!(list_versions(&dir).unwrap().len(), 2);
}

#[test]
fn a_migration_that_does_not_fit_the_recorded_schema_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Dropping a table the recorded (empty) schema does not have.
    let diff = detect_changes(&users_v1(), &SchemaSnapshot::default()).unwrap();
    let plan = generator(dir.path()).generate(&diff, "drop users").unwrap();
    let err = generator(dir.path())
        .write_migration_file(&plan)
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_empty_diff_generates_nothing_and_says_so() {
    let v1 = users_v1();
    let diff = detect_changes(&v1, &v1).unwrap();
    assert!(diff.is_empty());
    let err = generator(Path::new("m"))
        .generate(&diff, "nothing")
        .unwrap_err();
    assert!(matches!(err, Error::NoChanges));
    assert_eq!(err.to_string(), "no schema changes: nothing to generate");
}

#[test]
fn parse_errors_name_file_line_and_construct() {
    let (_, old, new, options) = one_change_per_kind().remove(2);
    let diff = detect_changes_with(&old, &new, &options).unwrap();
    let plan = generator(Path::new("m"))
        .generate(&diff, "add email")
        .unwrap();
    let source = render_migration(&plan);
    let path = format!("migrations/{}.rs", plan.version);
    let parse = |src: &str| {
        parse_migration(src, Path::new(&path))
            .unwrap_err()
            .to_string()
    };

    let with_loop = source.replace(
        "Ok(())\n    }\n    fn down",
        "for _ in 0..2 {}\n        Ok(())\n    }\n    fn down",
    );
    assert_ne!(with_loop, source);
    let err = parse(&with_loop);
    assert!(err.starts_with(&format!("{path}:")), "{err}");
    assert!(err.contains("found `for _ in 0..2 {}`"), "{err}");
    assert!(err.contains("must run embedded"), "{err}");
    insta::assert_snapshot!("parse_error_loop", err);

    let unknown = source.replace("db.drop_column(", "db.truncate_column(");
    insta::assert_snapshot!("parse_error_unknown_call", parse(&unknown));

    let computed = source.replace(
        "ColumnDef::new(\"email\"",
        "ColumnDef::new(format!(\"e{}\", 1)",
    );
    insta::assert_snapshot!("parse_error_computed_value", parse(&computed));

    let bad_type = source.replace("ColumnType::Text", "ColumnType::Text2");
    insta::assert_snapshot!("parse_error_bad_type", parse(&bad_type));

    let wrong_version = source.replace(
        &format!("\"{}\"", plan.version),
        "\"20990101_000000_other\"",
    );
    insta::assert_snapshot!("parse_error_version", parse(&wrong_version));

    assert!(parse("fn main( {").contains("not valid Rust"));
}

#[test]
fn opting_out_of_the_transaction_round_trips_and_counts_in_the_checksum() {
    let (_, old, new, options) = one_change_per_kind().remove(5);
    let diff = detect_changes_with(&old, &new, &options).unwrap();
    let mut plan = generator(Path::new("m"))
        .generate(&diff, "concurrent index")
        .unwrap();
    let transactional = plan.checksum();
    plan.transactional = false;
    let source = render_migration(&plan);
    assert!(
        source.contains("fn transactional(&self) -> bool {\n        false\n    }"),
        "{source}"
    );
    let parsed = parse_migration(&source, Path::new(&format!("{}.rs", plan.version))).unwrap();
    assert_eq!(parsed, plan);
    assert_ne!(parsed.checksum(), transactional);
}

#[test]
fn opting_out_of_the_online_forms_round_trips_outside_the_checksum() {
    let (_, old, new, options) = one_change_per_kind().remove(5);
    let diff = detect_changes_with(&old, &new, &options).unwrap();
    let mut plan = generator(Path::new("m"))
        .generate(&diff, "index on an empty table")
        .unwrap();
    let online = plan.checksum();
    plan.online = false;
    let source = render_migration(&plan);
    assert!(
        source.contains("fn online(&self) -> bool {\n        false\n    }"),
        "{source}"
    );
    let parsed = parse_migration(&source, Path::new(&format!("{}.rs", plan.version))).unwrap();
    assert_eq!(parsed, plan);
    assert!(!parsed.online);
    // How the steps hold their locks, not what they leave: an applied migration that opts out
    // afterwards is not "modified".
    assert_eq!(parsed.checksum(), online);
}

/// A migrations directory whose first migration creates `users_v1`, and its generator.
fn with_users() -> (tempfile::TempDir, MigrationGenerator) {
    let dir = tempfile::tempdir().unwrap();
    let g = generator(dir.path());
    let diff = detect_changes(&SchemaSnapshot::default(), &users_v1()).unwrap();
    g.write_migration_file(&g.generate(&diff, "create users").unwrap())
        .unwrap();
    (dir, g)
}

/// Every data step and every expression and filter, written, pinned, read back and described
/// by the compiled form alike.
#[test]
fn data_steps_round_trip_through_a_file() {
    use toasty_migrate::data::*;
    let (_dir, g) = with_users();
    let mut plan = g.empty("seed and backfill").unwrap();
    let text = |s: &str| Value::Text(s.into());
    plan.up = vec![
        Operation::InsertRows {
            table: "users".into(),
            rows: vec![
                vec![
                    ("id".into(), Value::Integer(-1)),
                    ("mail".into(), text("a\"b@x")),
                    ("age".into(), Value::Null),
                ],
                vec![
                    ("id".into(), Value::Integer(2)),
                    ("mail".into(), text("c@x")),
                ],
            ],
        },
        Operation::UpdateRows {
            table: "users".into(),
            set: vec![(
                "mail".into(),
                coalesce(vec![
                    upper(col("mail")),
                    concat(vec![lower(col("mail")), lit(text("!"))]),
                    cast(col("age"), ColumnType::Text),
                ]),
            )],
            filter: and(vec![
                or(vec![eq("id", Value::Integer(1)), ne("mail", text("x"))]),
                is_null("age"),
                is_not_null("mail"),
                is_in("id", vec![Value::Integer(1), Value::Integer(2)]),
            ]),
        },
        Operation::DeleteRows {
            table: "users".into(),
            filter: all(),
        },
    ];
    plan.down = vec![Operation::Irreversible {
        reason: "rows were deleted".into(),
    }];
    let path = g.write_migration_file(&plan).unwrap();
    let source = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("data_steps", source);
    assert_eq!(parse_migration_file(&path).unwrap(), plan);
    assert_eq!(plan.irreversible(), Some("rows were deleted"));
}

#[test]
fn a_data_step_that_does_not_fit_the_schema_is_refused_naming_row_and_column() {
    use toasty_migrate::data::Value;
    use toasty_migrate::schema::Operation;
    let (dir, g) = with_users();
    let before = list_versions(dir.path()).unwrap();
    let mut plan = g.empty("bad seed").unwrap();
    plan.up = vec![Operation::InsertRows {
        table: "users".into(),
        rows: vec![
            vec![
                ("id".into(), Value::Integer(1)),
                ("mail".into(), Value::Text("ok".into())),
            ],
            vec![
                ("id".into(), Value::Integer(2)),
                ("mail".into(), Value::Integer(7)),
            ],
        ],
    }];
    let err = g.write_migration_file(&plan).unwrap_err().to_string();
    assert!(
        err.contains("row 2: column \"mail\" (varchar(255)): expected text, found 7"),
        "{err}"
    );
    assert_eq!(
        list_versions(dir.path()).unwrap(),
        before,
        "nothing written"
    );
}

/// The CI gate: the files replayed from empty against `.schema.json` and the application's
/// schema, with no database.
#[test]
fn check_compares_the_files_the_snapshot_and_the_models() {
    use toasty_migrate::files::check;
    let (dir, g) = with_users();
    let clean = check(dir.path(), Some(&users_v1())).unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert!(clean.built.is_equivalent(&users_v1()));

    // Models changed with no migration generated.
    let mut v2 = users_v1();
    v2.tables[0].columns.push(ColumnDef {
        nullable: true,
        ..ColumnDef::new("bio", ColumnType::Text)
    });
    let found = check(dir.path(), Some(&v2)).unwrap();
    assert_eq!(found.pending, ["add column users.bio text"]);
    assert!(found.recorded.is_empty());

    // `.schema.json` edited (or merged) by hand, then broken by a conflict.
    let recorded = dir.path().join(SCHEMA_FILE);
    toasty_migrate::schema::save_snapshot(&v2, &recorded).unwrap();
    let found = check(dir.path(), None).unwrap();
    assert_eq!(found.recorded, ["add column users.bio text"]);
    std::fs::write(&recorded, "<<<<<<< HEAD\n{}\n=======\n").unwrap();
    let found = check(dir.path(), None).unwrap();
    assert!(
        found.recorded[0].starts_with("cannot be read:"),
        "{found:?}"
    );

    // A file that does not replay names its place.
    let mut plan = g.empty("drop ghost").unwrap();
    plan.up = vec![toasty_migrate::schema::Operation::DropTable {
        table: "ghost".into(),
    }];
    std::fs::write(
        dir.path().join(format!("{}.rs", plan.version)),
        render_migration(&plan),
    )
    .unwrap();
    let err = check(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("drop_ghost.rs:"), "{err}");
    assert!(err.contains("table \"ghost\" does not exist"), "{err}");
}

/// Each generated migration records the one it was generated on top of; two branches that each
/// added one to the same parent are found once merged, naming both and the parent.
#[test]
fn two_migrations_on_one_parent_are_a_fork_that_check_names() {
    use toasty_migrate::files::{check, forks};
    let (dir, g) = with_users();
    let first = list_versions(dir.path()).unwrap()[0].clone();
    let ours = g.empty("ours").unwrap();
    assert_eq!(ours.parent.as_deref(), Some(first.as_str()));
    let source = render_migration(&ours);
    assert!(
        source.contains(&format!(
            "fn parent(&self) -> Option<&str> {{\n        Some(\"{first}\")"
        )),
        "{source}"
    );
    assert_eq!(
        parse_migration(&source, Path::new(&format!("{}.rs", ours.version))).unwrap(),
        ours
    );
    g.write_migration_file(&ours).unwrap();
    assert!(check(dir.path(), None).unwrap().is_clean());

    // The other branch's migration, made on the same parent, merged in.
    let mut theirs = g.empty("theirs").unwrap();
    theirs.parent = Some(first.clone());
    g.write_migration_file(&theirs).unwrap();
    let found = check(dir.path(), None).unwrap();
    assert!(!found.is_clean());
    assert_eq!(found.forks.len(), 1, "{found:?}");
    let fork = &found.forks[0];
    assert!(
        fork.contains(&theirs.version) && fork.contains(&ours.version),
        "{fork}"
    );
    assert!(fork.contains(&format!("on top of {first}")), "{fork}");
    assert_eq!(forks(std::slice::from_ref(&ours)), Vec::<String>::new());
}

/// A squash's file: the schema created at once, a data step kept after it, the versions it
/// replaces listed; pinned, and read back as written.
#[test]
fn a_squashed_migration_round_trips_through_a_file() {
    use toasty_migrate::data::Value;
    use toasty_migrate::files::{parse_migration_dir, squash, write_history};
    use toasty_migrate::schema::Operation;
    let (dir, g) = with_users();
    let mut seed = g.empty("seed").unwrap();
    seed.up = vec![Operation::InsertRows {
        table: "users".into(),
        rows: vec![vec![
            ("id".into(), Value::Integer(1)),
            ("mail".into(), Value::Text("a@x".into())),
        ]],
    }];
    g.write_migration_file(&seed).unwrap();
    let plans = parse_migration_dir(dir.path()).unwrap();
    let squashed = squash(&plans, None, "squashed").unwrap();
    let paths = write_history(dir.path(), std::slice::from_ref(&squashed)).unwrap();
    let source = std::fs::read_to_string(&paths[0]).unwrap();
    insta::assert_snapshot!("squashed", source);
    assert_eq!(parse_migration_file(&paths[0]).unwrap(), squashed);
    assert_eq!(
        list_versions(dir.path()).unwrap(),
        std::slice::from_ref(&squashed.version),
        "the replaced files are gone"
    );
}

/// A body of thousands of statements is read on every core: it reads back as written, each
/// operation with its own line, and an error in the middle names its line.
#[test]
fn a_large_body_reads_back_with_every_line_in_place() {
    let version = "20250117_120000_many";
    let up: Vec<Operation> = (0..2_000)
        .map(|i| Operation::DropTable {
            table: format!("t{i}"),
        })
        .collect();
    let plan = MigrationPlan::new(
        version,
        up,
        vec![Operation::Irreversible {
            reason: "many".into(),
        }],
    );
    let source = render_migration(&plan);
    let path = format!("{version}.rs");
    let parsed = parse_migration(&source, Path::new(&path)).unwrap();
    assert_eq!(parsed, plan);
    let line_of = |text: &str| source.lines().position(|l| l.contains(text)).unwrap() + 1;
    let lines = &parsed.source.as_ref().unwrap().up;
    assert_eq!(lines[0], line_of("\"t0\""));
    assert_eq!(lines[1_500], line_of("\"t1500\""));

    let unknown = source.replace("db.drop_table(\"t1500\")", "db.truncate(\"t1500\")");
    let err = parse_migration(&unknown, Path::new(&path))
        .unwrap_err()
        .to_string();
    let place = format!(
        "{path}:{}:12: unknown operation `db.truncate`",
        line_of("\"t1500\"")
    );
    assert!(err.starts_with(&place), "{err}");
    let ending_with_semicolon = source.replacen("Ok(())\n", "Ok(());\n", 1);
    let err = parse_migration(&ending_with_semicolon, Path::new(&path))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected `Ok(())` at the end of the body"),
        "{err}"
    );
}

/// Files generated before columns took one line write them as structs: they read as the same
/// plan, so their checksums stand; and the one-line forms round-trip every field.
#[test]
fn columns_written_out_as_structs_read_as_the_one_line_form() {
    use toasty_migrate::schema::{IndexColumn, IndexOp, IndexScope, TableDef};
    let version = "20250117_120000_both_forms";
    let table = TableDef {
        name: "events".into(),
        columns: vec![
            ColumnDef::new("id", ColumnType::Integer(8)).auto_increment(),
            ColumnDef::new("at", ColumnType::Integer(8)),
            ColumnDef::new("kind", ColumnType::Text)
                .nullable()
                .default(DefaultValue::Text("x".into())),
        ],
        primary_key: vec![
            IndexColumn::new("id"),
            IndexColumn::new("at")
                .op(IndexOp::Desc)
                .scope(IndexScope::Local),
        ],
    };
    let plan = MigrationPlan::new(
        version,
        vec![Operation::CreateTable(table)],
        vec![Operation::DropTable {
            table: "events".into(),
        }],
    );
    let path = format!("{version}.rs");
    let one_line = render_migration(&plan);
    assert!(
        one_line.contains(".op(IndexOp::Desc).scope(IndexScope::Local)"),
        "{one_line}"
    );
    assert_eq!(parse_migration(&one_line, Path::new(&path)).unwrap(), plan);

    let structs = format!(
        "use toasty_migrate::prelude::*;\n\
         #[allow(non_camel_case_types)]\n\
         pub struct Migration_{version};\n\
         impl Migration for Migration_{version} {{\n\
             fn version(&self) -> &str {{ \"{version}\" }}\n\
             fn up(&self, db: &mut dyn MigrationContext) -> Result<()> {{\n\
                 db.create_table(TableDef {{\n\
                     name: \"events\".into(),\n\
                     columns: vec![\n\
                         ColumnDef {{ name: \"id\".into(), ty: ColumnType::Integer(8), nullable: false, default: None, auto_increment: true }},\n\
                         ColumnDef {{ name: \"at\".into(), ty: ColumnType::Integer(8), nullable: false, default: None, auto_increment: false }},\n\
                         ColumnDef {{ name: \"kind\".into(), ty: ColumnType::Text, nullable: true, default: Some(DefaultValue::Text(\"x\".into())), auto_increment: false }},\n\
                     ],\n\
                     primary_key: vec![\n\
                         IndexColumn {{ column: \"id\".into(), op: IndexOp::Eq, scope: IndexScope::Partition }},\n\
                         IndexColumn {{ column: \"at\".into(), op: IndexOp::Desc, scope: IndexScope::Local }},\n\
                     ],\n\
                 }})?;\n\
                 Ok(())\n\
             }}\n\
             fn down(&self, db: &mut dyn MigrationContext) -> Result<()> {{\n\
                 db.drop_table(\"events\")?;\n\
                 Ok(())\n\
             }}\n\
         }}\n"
    );
    let read = parse_migration(&structs, Path::new(&path)).unwrap();
    assert_eq!(read, plan);
    assert_eq!(read.checksum(), plan.checksum());

    // A call the one-line form does not know names itself.
    let unknown = one_line.replace(".nullable()", ".optional()");
    let err = parse_migration(&unknown, Path::new(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("found `.optional(..)`"), "{err}");
}
