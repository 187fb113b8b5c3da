//! Property tests: for random pairs of schemas, the diff's `up` operations turn the old schema
//! into the new one, and its `down` operations turn the new one back into the old; for random
//! histories, the files the generator writes replay (with no database) to the schema it recorded.

mod common;

use proptest::prelude::*;
use toasty_migrate::{
    diff::{
        ChangeKind, ColumnRename, DiffOptions, SchemaChange, detect_changes, detect_changes_with,
    },
    schema::{
        ColumnDef, ColumnType, DefaultValue, IndexColumn, IndexDef, IndexedSchema, SchemaSnapshot,
        TableSnapshot,
    },
};

const TABLES: &[&str] = &["accounts", "posts", "tags", "users", "weird \"name\"; DROP"];
const COLUMNS: &[&str] = &["a", "b", "c", "d", "e", "f", "g"];

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop_oneof![
        Just(ColumnType::Text),
        Just(ColumnType::Boolean),
        (1u8..=8).prop_map(ColumnType::Integer),
        (1u64..400).prop_map(ColumnType::VarChar),
        Just(ColumnType::Uuid),
        (0u8..=6).prop_map(ColumnType::Timestamp),
        Just(ColumnType::Numeric(Some((10, 2)))),
        Just(ColumnType::List(Box::new(ColumnType::Text))),
    ]
}

fn column_def(name: &'static str) -> impl Strategy<Value = ColumnDef> {
    (column_type(), any::<bool>(), prop::option::of(-5i64..5)).prop_map(
        move |(ty, nullable, default)| ColumnDef {
            name: name.into(),
            default: match (&ty, default) {
                (ColumnType::Integer(_), Some(d)) => Some(DefaultValue::Integer(d)),
                _ => None,
            },
            ty,
            nullable,
            auto_increment: false,
        },
    )
}

fn table_strategy(name: &'static str) -> impl Strategy<Value = TableSnapshot> {
    let columns = prop::sample::subsequence(COLUMNS, 0..=COLUMNS.len())
        .prop_flat_map(|names| names.into_iter().map(column_def).collect::<Vec<_>>());
    let id_type = prop_oneof![
        Just(ColumnType::Integer(8)),
        Just(ColumnType::Integer(4)),
        Just(ColumnType::Uuid)
    ];
    (id_type, columns)
        .prop_flat_map(move |(id_type, columns)| {
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            let indexes = if names.is_empty() {
                Just(Vec::new()).boxed()
            } else {
                let index = (
                    prop::sample::subsequence(names.clone(), 1..=names.len().min(2)),
                    any::<bool>(),
                );
                prop::collection::vec(index, 0..3).boxed()
            };
            (Just(id_type), Just(columns), indexes)
        })
        .prop_map(move |(id_type, columns, indexes)| {
            let mut all = vec![ColumnDef::new("id", id_type)];
            all.extend(columns);
            let indexes = indexes
                .into_iter()
                .enumerate()
                .map(|(i, (cols, unique))| IndexDef {
                    // Names are unique across the schema, as Toasty's are.
                    name: format!("index_{name}_{i}"),
                    columns: cols.iter().map(IndexColumn::new).collect(),
                    unique,
                })
                .collect();
            TableSnapshot::keyed_by_first_column(name, all, indexes)
        })
}

fn schema() -> impl Strategy<Value = SchemaSnapshot> {
    prop::sample::subsequence(TABLES, 0..=TABLES.len())
        .prop_flat_map(|names| names.into_iter().map(table_strategy).collect::<Vec<_>>())
        .prop_map(SchemaSnapshot::new)
}

/// Rename hints for shared tables: the first dropped column becomes the first added one.
fn rename_hints(old: &SchemaSnapshot, new: &mut SchemaSnapshot) -> Vec<ColumnRename> {
    let mut hints = Vec::new();
    for new_table in &mut new.tables {
        let Some(old_table) = old.table(&new_table.name) else {
            continue;
        };
        let dropped = old_table
            .columns
            .iter()
            .find(|c| new_table.column(&c.name).is_none());
        let added = new_table
            .columns
            .iter()
            .find(|c| old_table.column(&c.name).is_none());
        if let (Some(dropped), Some(added)) = (dropped, added) {
            hints.push(ColumnRename {
                table: new_table.name.clone(),
                from: dropped.name.clone(),
                to: added.name.clone(),
            });
        }
    }
    hints
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn up_gives_new_and_down_gives_old(old in schema(), mut new in schema(), use_renames in any::<bool>()) {
        old.validate("old").unwrap();
        new.validate("new").unwrap();
        let renames = if use_renames { rename_hints(&old, &mut new) } else { Vec::new() };
        let diff = detect_changes_with(&old, &new, &DiffOptions { renames }).unwrap();

        let mut schema = IndexedSchema::from(old.clone());
        for op in diff.up_operations() {
            schema.apply(&op).unwrap_or_else(|e| panic!("up {op}: {e}"));
        }
        prop_assert!(schema.to_snapshot().is_equivalent(&new), "up: {:#?}\nwanted {:#?}", schema, new);

        for op in diff.down_operations() {
            schema.apply(&op).unwrap_or_else(|e| panic!("down {op}: {e}"));
        }
        // Exactly the old schema, column order included: dropped columns go back in place.
        let canonical = |s: &SchemaSnapshot| { let mut s = s.clone(); s.canonicalize(); s };
        prop_assert_eq!(schema.into_snapshot(), canonical(&old), "down");

        prop_assert!(detect_changes(&new, &new).unwrap().is_empty());
        prop_assert_eq!(detect_changes_with(&old, &new, &DiffOptions::default()).unwrap().changes.len() >= diff.changes.len(), true);
    }

    #[test]
    fn kinds_and_destructiveness_agree(old in schema(), new in schema()) {
        let diff = detect_changes(&old, &new).unwrap();
        for change in &diff.changes {
            match change.kind() {
                ChangeKind::Additive => prop_assert!(!change.is_destructive(), "{change}"),
                // Every drop but an index's loses data.
                ChangeKind::Destructive => prop_assert_eq!(
                    change.is_destructive(),
                    !matches!(change, SchemaChange::DropIndex { .. }),
                    "{}",
                    change
                ),
                ChangeKind::Modificative => {}
            }
        }
    }
}

/// A directory with one generated migration for each change from one schema of `history` to the
/// next, a minute apart.
fn generated_history(history: &[SchemaSnapshot]) -> tempfile::TempDir {
    use toasty_migrate::files::MigrationGenerator;
    let dir = tempfile::tempdir().unwrap();
    let mut previous = SchemaSnapshot::default();
    for (i, schema) in history.iter().enumerate() {
        let diff = detect_changes(&previous, schema).unwrap();
        if diff.is_empty() {
            continue;
        }
        let at =
            time::macros::datetime!(2025-01-01 00:00:00 UTC) + time::Duration::minutes(i as i64);
        let generator = MigrationGenerator::new(dir.path()).at(at);
        generator
            .write_migration_file(&generator.generate(&diff, &format!("step {i}")).unwrap())
            .unwrap();
        previous = schema.clone();
    }
    dir
}

proptest! {
    // Each case writes files: fewer cases than the pure properties above.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_generated_history_checks_clean(history in prop::collection::vec(schema(), 1..4)) {
        use toasty_migrate::files::check;
        let dir = generated_history(&history);
        let found = check(dir.path(), Some(history.last().unwrap())).unwrap();
        prop_assert!(found.is_clean(), "{:?}", found);
        prop_assert!(found.built.is_equivalent(history.last().unwrap()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Squashing a generated history (through a random migration) writes files that replay to
    /// the same schema as the originals: `check` stays clean, and the squash reads back as
    /// written, listing the versions it replaces.
    #[test]
    fn a_squashed_history_builds_the_same_schema(
        history in prop::collection::vec(schema(), 2..5),
        through in any::<prop::sample::Index>(),
    ) {
        use toasty_migrate::files::{check, parse_migration_dir, squash, write_history};
        let dir = generated_history(&history);
        let plans = parse_migration_dir(dir.path()).unwrap();
        prop_assume!(plans.len() >= 2);
        let end = 1 + through.index(plans.len() - 1);
        let squashed = squash(&plans, Some(&plans[end].version), "squashed").unwrap();
        write_history(dir.path(), std::slice::from_ref(&squashed)).unwrap();
        let found = check(dir.path(), Some(history.last().unwrap())).unwrap();
        prop_assert!(found.is_clean(), "{:?}", found);
        let after = parse_migration_dir(dir.path()).unwrap();
        prop_assert_eq!(&after[0], &squashed);
        prop_assert_eq!(after.len(), plans.len() - end);
    }
}

/// `changed`'s tables where `mine` says, `base`'s elsewhere (the fork marker among them).
fn branch(base: &SchemaSnapshot, changed: &SchemaSnapshot, mine: &[bool]) -> SchemaSnapshot {
    let is_mine = |name: &str| {
        TABLES
            .iter()
            .position(|t| *t == name)
            .is_some_and(|i| mine[i])
    };
    let mut tables: Vec<TableSnapshot> = base
        .tables
        .iter()
        .filter(|t| !is_mine(&t.name))
        .cloned()
        .collect();
    tables.extend(changed.tables.iter().filter(|t| is_mine(&t.name)).cloned());
    let mut schema = SchemaSnapshot::new(tables);
    schema.canonicalize();
    schema
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two branches generated on top of one migration, each changing its own tables, merged:
    /// `check` names the fork; rebasing one branch's migration on the other's writes a history
    /// that checks clean against the union of the two.
    #[test]
    fn a_rebase_of_two_branches_builds_their_union(
        base in schema(),
        ours in schema(),
        theirs in schema(),
        mask in prop::collection::vec(any::<bool>(), TABLES.len()),
    ) {
        use toasty_migrate::files::{MigrationGenerator, check, parse_migration_dir, rebase, write_history};
        let marker = TableSnapshot::keyed_by_first_column(
            "forked",
            vec![ColumnDef::new("id", ColumnType::Integer(8))],
            vec![],
        );
        let with_marker = |s: SchemaSnapshot| {
            let mut tables = s.tables;
            tables.push(marker.clone());
            let mut s = SchemaSnapshot::new(tables);
            s.canonicalize();
            s
        };
        let base = with_marker(base);
        let not_mask: Vec<bool> = mask.iter().map(|m| !m).collect();
        let a = branch(&base, &theirs, &mask);
        let b = branch(&base, &ours, &not_mask);
        let union = branch(&a, &ours, &not_mask);
        let (to_a, to_b) = (detect_changes(&base, &a).unwrap(), detect_changes(&base, &b).unwrap());
        prop_assume!(!to_a.is_empty() && !to_b.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let at = |minute: i64| {
            MigrationGenerator::new(dir.path())
                .at(time::macros::datetime!(2025-01-01 00:00:00 UTC) + time::Duration::minutes(minute))
        };
        let g = at(0);
        let first = g.generate(&detect_changes(&SchemaSnapshot::default(), &base).unwrap(), "base").unwrap();
        g.write_migration_file(&first).unwrap();
        let g = at(1);
        g.write_migration_file(&g.generate(&to_a, "theirs").unwrap()).unwrap();
        let g = at(2);
        let mut mine = g.generate(&to_b, "ours").unwrap();
        mine.parent = Some(first.version.clone());
        g.write_migration_file(&mine).unwrap();
        let forked = check(dir.path(), Some(&union)).unwrap();
        prop_assert_eq!(forked.forks.len(), 1, "{:?}", forked);

        let moved = rebase(&parse_migration_dir(dir.path()).unwrap(), &mine.version, &at(3)).unwrap();
        prop_assert_eq!(&moved[0].replaces, &vec![mine.version.clone()]);
        write_history(dir.path(), &moved).unwrap();
        let found = check(dir.path(), Some(&union)).unwrap();
        prop_assert!(found.is_clean(), "{:?}", found);
    }
}

#[test]
fn modifications_classify_by_data_loss() {
    let change = |old: ColumnDef, new: ColumnDef| SchemaChange::ModifyColumn {
        table: "t".into(),
        old,
        new,
    };
    let c = |ty: ColumnType, nullable: bool| ColumnDef {
        nullable,
        ..ColumnDef::new("c", ty)
    };
    assert!(
        !change(
            c(ColumnType::Integer(4), false),
            c(ColumnType::Integer(8), false)
        )
        .is_destructive()
    );
    assert!(
        change(
            c(ColumnType::Integer(8), false),
            c(ColumnType::Integer(4), false)
        )
        .is_destructive()
    );
    assert!(
        change(
            c(ColumnType::VarChar(255), false),
            c(ColumnType::VarChar(10), false)
        )
        .is_destructive()
    );
    assert!(
        change(c(ColumnType::Text, true), c(ColumnType::Text, false)).is_destructive(),
        "nullable -> NOT NULL"
    );
    assert!(!change(c(ColumnType::Text, false), c(ColumnType::Text, true)).is_destructive());
    let renamed = ColumnDef {
        name: "d".into(),
        ..c(ColumnType::Text, false)
    };
    let rename = change(c(ColumnType::Text, false), renamed);
    assert!(!rename.is_destructive());
    assert_eq!(rename.kind(), ChangeKind::Modificative);
    assert_eq!(rename.to_string(), "rename column t.c -> d");
}

#[test]
fn changes_come_out_in_an_executable_order() {
    let old = SchemaSnapshot::new(vec![
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("email", ColumnType::Text),
                ColumnDef::new("name", ColumnType::Text),
            ],
            vec![IndexDef::new("index_users_by_email", &["email"], false)],
        ),
        TableSnapshot::keyed_by_first_column(
            "legacy",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("x", ColumnType::Text),
            ],
            vec![IndexDef::new("index_legacy_by_x", &["x"], false)],
        ),
    ]);
    let new = SchemaSnapshot::new(vec![
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("name", ColumnType::VarChar(100)),
                ColumnDef::new("age", ColumnType::Integer(4)),
            ],
            vec![IndexDef::new("index_users_by_age", &["age"], false)],
        ),
        TableSnapshot::keyed_by_first_column(
            "posts",
            vec![
                ColumnDef::new("id", ColumnType::Uuid),
                ColumnDef::new("title", ColumnType::Text),
            ],
            vec![IndexDef::new("index_posts_by_title", &["title"], false)],
        ),
    ]);
    let diff = detect_changes(&old, &new).unwrap();
    let lines: Vec<String> = diff
        .changes
        .iter()
        .map(|c| {
            format!(
                "{:<12} {} {c}",
                c.kind(),
                if c.is_destructive() { "!" } else { " " }
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn bad_rename_hints_and_key_changes_are_errors() {
    let old = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("mail", ColumnType::Text),
        ],
        vec![],
    )]);
    let new = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("email", ColumnType::Text),
        ],
        vec![],
    )]);
    let with = |hint: &str| {
        detect_changes_with(
            &old,
            &new,
            &DiffOptions {
                renames: vec![hint.parse().unwrap()],
            },
        )
    };
    let diff = with("users.mail=email").unwrap();
    assert!(matches!(
        &diff.changes[..],
        [SchemaChange::ModifyColumn { .. }]
    ));
    assert!(
        with("users.nope=email")
            .unwrap_err()
            .to_string()
            .contains("no column \"nope\"")
    );
    assert!(
        with("people.mail=email")
            .unwrap_err()
            .to_string()
            .contains("not in both schemas")
    );
    assert!("users.mail".parse::<ColumnRename>().is_err());
    assert!(
        "users.mail -> posts.email"
            .parse::<ColumnRename>()
            .unwrap_err()
            .to_string()
            .contains("another table")
    );

    let mut new_key = new.clone();
    new_key.tables[0].primary_key = vec![IndexColumn::new("email")];
    let err = detect_changes(&old, &new_key).unwrap_err().to_string();
    assert!(err.contains("primary key of table \"users\""), "{err}");

    let swapped_old = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "t",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("a", ColumnType::Text),
            ColumnDef::new("b", ColumnType::Integer(4)),
        ],
        vec![],
    )]);
    let swapped_new = SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "t",
        vec![
            ColumnDef::new("id", ColumnType::Integer(8)),
            ColumnDef::new("b", ColumnType::Text),
            ColumnDef::new("a", ColumnType::Integer(4)),
        ],
        vec![],
    )]);
    let renames = vec!["t.a=b".parse().unwrap(), "t.b=a".parse().unwrap()];
    let err = detect_changes_with(&swapped_old, &swapped_new, &DiffOptions { renames })
        .unwrap_err()
        .to_string();
    assert!(err.contains("cycle"), "{err}");
}
