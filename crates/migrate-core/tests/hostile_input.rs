//! Input written to do harm or by mistake: custom types that smuggle SQL, nesting deep enough to
//! overflow a reader's stack, bytes that are not UTF-8, and random mutations of valid files. Each
//! is refused with an error naming the place, and nothing panics.

mod common;

use common::*;
use proptest::prelude::*;
use std::path::Path;
use toasty_migrate::{
    Migration, MigrationContext, Result,
    diff::detect_changes,
    files::{MigrationPlan, parse_migration, parse_migration_file, render_migration},
    run::Migrator,
    schema::{
        ColumnDef, ColumnType, MAX_LIST_NESTING, SchemaSnapshot, TableSnapshot, load_snapshot,
        snapshot_from_json, snapshot_to_json,
    },
};

const INJECTION: &str = "text); DROP TABLE victim; CREATE TABLE pwned (a int";

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

/// The generated migration that creates `table_with(ty)`, as source.
fn migration_source(ty: ColumnType) -> (MigrationPlan, String) {
    let diff = detect_changes(&SchemaSnapshot::default(), &table_with(ty)).unwrap();
    let plan = generator(Path::new("m")).generate(&diff, "t").unwrap();
    let source = render_migration(&plan);
    (plan, source)
}

fn parse_error(plan: &MigrationPlan, source: &str) -> String {
    parse_migration(source, Path::new(&format!("m/{}.rs", plan.version)))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_custom_type_that_is_not_a_type_name_is_refused_in_snapshots_files_and_code() {
    // A snapshot: refused at load, with its JSON path.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    let json =
        serde_json::to_string_pretty(&table_with(ColumnType::Custom(INJECTION.into()))).unwrap();
    std::fs::write(&path, json).unwrap();
    let err = load_snapshot(&path).unwrap_err().to_string();
    assert!(err.contains("tables[0].columns[1]"), "{err}");
    assert!(err.contains("is not a type name"), "{err}");

    // A migration file: refused at parse, with its line.
    let (plan, source) = migration_source(ColumnType::Custom("citext".into()));
    let edited = source.replace("\"citext\"", &format!("{INJECTION:?}"));
    assert_ne!(edited, source);
    let err = parse_error(&plan, &edited);
    assert!(err.starts_with(&format!("m/{}.rs:", plan.version)), "{err}");
    assert!(err.contains("is not a type name"), "{err}");

    // A compiled migration (`ty: "...".into()` by hand): refused when described.
    struct Hostile;
    impl Migration for Hostile {
        fn version(&self) -> &str {
            "20250101_000000_hostile"
        }
        fn up(&self, db: &mut dyn MigrationContext) -> Result<()> {
            db.add_column("t", ColumnDef::new("c", INJECTION.into()))
        }
        fn down(&self, db: &mut dyn MigrationContext) -> Result<()> {
            db.drop_column("t", "c")
        }
    }
    let err = MigrationPlan::describe(&Hostile).unwrap_err().to_string();
    assert!(err.contains("is not a type name"), "{err}");
    assert!(Migrator::from_migrations(&[Box::new(Hostile) as Box<dyn Migration>]).is_err());
}

/// `ColumnType::List` nested `depth` deep around an integer.
fn nested_list(depth: usize) -> ColumnType {
    (0..depth).fold(ColumnType::Integer(4), |ty, _| {
        ColumnType::List(Box::new(ty))
    })
}

#[test]
fn the_deepest_list_type_a_snapshot_may_hold_round_trips_through_a_file() {
    let (plan, source) = migration_source(nested_list(MAX_LIST_NESTING));
    let parsed = parse_migration(&source, Path::new(&format!("{}.rs", plan.version))).unwrap();
    assert_eq!(parsed, plan);
}

#[test]
fn a_snapshot_with_lists_nested_too_deep_is_refused_before_anything_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    let json = serde_json::to_string(&table_with(nested_list(66))).unwrap();
    std::fs::write(&path, json).unwrap();
    let err = load_snapshot(&path).unwrap_err().to_string();
    assert!(err.contains("tables[0].columns[1]"), "{err}");
    assert!(err.contains("nested 66 deep"), "{err}");
}

#[test]
fn deep_nesting_in_a_migration_file_is_refused_not_a_stack_overflow() {
    let (plan, source) = migration_source(ColumnType::Integer(4));
    let deep = |open: &str, close: &str, n: usize| {
        source.replace(
            "ColumnType::Integer(4)",
            &format!(
                "{}ColumnType::Integer(4){}",
                open.repeat(n),
                close.repeat(n)
            ),
        )
    };
    let hostile = [
        deep("(", ")", 150),
        deep("(", ")", 100_000),
        deep("{", "}", 5_000),
        deep("[", "]", 5_000),
        deep("ColumnType::List(Box::new(", "))", 150),
        deep("- ", "", 5_000),
        deep("&", "", 5_000),
        deep("Vec::<", ">::new()", 5_000),
    ];
    for edited in &hostile {
        let err = parse_error(&plan, edited);
        assert!(err.contains("nested deeper than 64"), "{err}");
        assert!(err.contains(&format!("m/{}.rs:", plan.version)), "{err}");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    std::fs::write(
        &path,
        b"{\n  \"format_version\": 1,\n  \"ta\xffbles\": []\n}\n",
    )
    .unwrap();
    let err = load_snapshot(&path).unwrap_err().to_string();
    assert!(err.contains("line 3, column 6"), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");

    let (plan, source) = migration_source(ColumnType::Integer(4));
    let file = dir.path().join(format!("{}.rs", plan.version));
    let mut bytes = source.into_bytes();
    bytes.splice(0..0, b"// \xc3\n".iter().copied());
    std::fs::write(&file, bytes).unwrap();
    let err = parse_migration_file(&file).unwrap_err().to_string();
    assert!(err.contains(&format!("{}.rs:1:4", plan.version)), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
}

/// A valid file cut, spliced and repeated at random places: the reader answers, never panics.
fn mutated(valid: String) -> impl Strategy<Value = String> {
    let len = valid.len();
    (
        0..=len,
        0..=len,
        prop::collection::vec(any::<char>(), 0..8),
        0usize..4,
    )
        .prop_map(move |(a, b, insert, repeat)| {
            let (a, b) = (a.min(b), a.max(b));
            let floor = |mut i: usize| {
                while !valid.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let (a, b) = (floor(a), floor(b));
            let inserted: String = insert.into_iter().collect();
            let middle = valid[a..b].repeat(repeat);
            format!("{}{inserted}{middle}{}", &valid[..a], &valid[b..])
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_migration_reader_never_panics(source in mutated(migration_source(every_type().remove(24)).1)) {
        let _ = parse_migration(&source, Path::new("20250101_000000_t.rs"));
    }

    #[test]
    fn the_snapshot_loader_never_panics(json in mutated(snapshot_to_json(&SchemaSnapshot::new(vec![every_type_table()])))) {
        let _ = snapshot_from_json(&json, Path::new("schema.json"));
    }

    #[test]
    fn nesting_of_any_depth_is_read_or_refused(depth in 0usize..400, open in prop::sample::select(vec!["(", "[", "{", "Box::new(", "-", "<"])) {
        let close = match open { "(" | "Box::new(" => ")", "[" => "]", "{" => "}", "<" => ">", _ => "" };
        let (_, source) = migration_source(ColumnType::Integer(4));
        let source = source.replace("ColumnType::Integer(4)", &format!("{}ColumnType::Integer(4){}", open.repeat(depth), close.repeat(depth)));
        let _ = parse_migration(&source, Path::new("20250101_000000_t.rs"));
    }
}
