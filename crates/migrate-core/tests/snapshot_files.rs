//! Saving and loading snapshot files: deterministic bytes, and every kind of bad file refused
//! with an error naming the file and the place in it.

mod common;

use common::*;
use toasty_migrate::schema::{
    ColumnDef, ColumnType, IndexColumn, IndexDef, SchemaSnapshot, TableSnapshot, load_snapshot,
    save_snapshot, snapshot_to_json,
};

fn sample() -> SchemaSnapshot {
    SchemaSnapshot::new(vec![
        every_type_table(),
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("email", ColumnType::Text),
            ],
            vec![IndexDef::new("index_users_by_email", &["email"], true)],
        ),
    ])
}

#[test]
fn save_is_deterministic_and_load_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let snapshot = sample();
    save_snapshot(&snapshot, &a).unwrap();
    // The same schema listed in another order saves to the same bytes.
    let mut shuffled = snapshot.clone();
    shuffled.tables.reverse();
    shuffled.tables[1].indexes.reverse();
    save_snapshot(&shuffled, &b).unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    assert!(bytes.ends_with(b"}\n"));
    assert_eq!(load_snapshot(&a).unwrap(), snapshot);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("{\n  \"format_version\": 1,"), "{text}");
}

/// Equivalence ignores the order tables, columns and indexes are listed in, never a key's order
/// or a difference in what they are.
#[test]
fn equivalent_snapshots_differ_only_in_listing_order() {
    let mut snapshot = sample();
    snapshot.tables[1]
        .indexes
        .push(IndexDef::new("index_users_by_id", &["id"], false));
    let mut shuffled = snapshot.clone();
    shuffled.tables.reverse();
    shuffled.tables[0].columns.reverse();
    shuffled.tables[0].indexes.reverse();
    assert!(snapshot.is_equivalent(&shuffled) && shuffled.is_equivalent(&snapshot));

    let differs = |edit: fn(&mut SchemaSnapshot)| {
        let mut edited = snapshot.clone();
        edit(&mut edited);
        !snapshot.is_equivalent(&edited) && !edited.is_equivalent(&snapshot)
    };
    assert!(differs(
        |s| s.tables[1].columns[1].ty = ColumnType::VarChar(10)
    ));
    assert!(differs(|s| s.tables[1].columns[1].nullable = true));
    assert!(differs(|s| s.tables[1].indexes[0].unique = false));
    assert!(differs(|s| s.tables[1].indexes.clear()));
    assert!(differs(|s| {
        s.tables[1].primary_key.push(IndexColumn::new("email"));
    }));
    // A key's columns are in key order.
    let mut id_email = snapshot.clone();
    id_email.tables[1].primary_key = vec![IndexColumn::new("id"), IndexColumn::new("email")];
    let mut email_id = id_email.clone();
    email_id.tables[1].primary_key.reverse();
    assert!(!id_email.is_equivalent(&email_id));
    assert!(differs(|s| s.tables[1].name = "people".into()));
    assert!(differs(|s| {
        s.tables.pop();
    }));
}

/// Loads `json` from a file and returns the error text.
fn load_error(json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    std::fs::write(&path, json).unwrap();
    let err = load_snapshot(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&path.display().to_string()),
        "the error names the file: {err}"
    );
    err.replace(&path.display().to_string(), "schema.json")
}

fn sample_json() -> String {
    snapshot_to_json(&sample())
}

#[test]
fn malformed_json_names_the_line() {
    let err = load_error("{\n  \"format_version\": 1,\n  \"tables\": [\n    {,\n  ]\n}\n");
    assert!(err.contains("line 4"), "{err}");
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_type_names_the_json_path_and_line() {
    let json = sample_json().replacen("\"kind\": \"uuid\"", "\"kind\": \"uuidv9\"", 1);
    let err = load_error(&json);
    assert!(err.contains("tables[0].columns["), "{err}");
    assert!(err.contains("uuidv9"), "{err}");
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_field_is_refused() {
    let json = sample_json().replacen("\"nullable\"", "\"nulable\"", 1);
    let err = load_error(&json);
    assert!(err.contains("nulable"), "{err}");
}

#[test]
fn unknown_version_is_refused() {
    let json = sample_json().replacen("\"format_version\": 1", "\"format_version\": 7", 1);
    insta::assert_snapshot!(load_error(&json));
    // Even when the rest of the file has another shape.
    let err = load_error("{\"format_version\": 2, \"entities\": {}}");
    assert!(err.contains("unknown snapshot format version 2"), "{err}");
}

fn invalid(edit: impl FnOnce(&mut SchemaSnapshot)) -> String {
    let mut snapshot = sample();
    edit(&mut snapshot);
    let json = serde_json::to_string_pretty(&snapshot).unwrap();
    load_error(&json)
}

#[test]
fn impossible_schemas_are_refused_with_their_path() {
    let errors = [
        invalid(|s| s.tables[1].name = s.tables[0].name.clone()),
        invalid(|s| {
            let c = s.tables[1].columns[1].clone();
            s.tables[1].columns.push(c)
        }),
        invalid(|s| {
            let i = s.tables[1].indexes[0].clone();
            s.tables[0].indexes.push(IndexDef {
                columns: vec![IndexColumn::new("id")],
                ..i
            })
        }),
        invalid(|s| s.tables[1].primary_key[0].column = "nope".into()),
        invalid(|s| s.tables[1].indexes[0].columns[0].column = "nope".into()),
        invalid(|s| s.tables[1].primary_key.clear()),
        invalid(|s| s.tables[1].columns[0].nullable = true),
        invalid(|s| s.tables[1].columns[1].ty = ColumnType::Integer(16)),
        invalid(|s| s.tables[1].columns[1].auto_increment = true),
        invalid(|s| s.tables[1].columns[1].name = String::new()),
    ];
    for err in &errors {
        assert!(err.starts_with("schema.json: at `tables["), "{err}");
    }
    insta::assert_snapshot!(errors.join("\n"));
}

#[test]
fn shipped_example_snapshots_are_canonical() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas");
    for name in ["v1.json", "v2.json"] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let snapshot = load_snapshot(&path).unwrap();
        assert_eq!(
            snapshot_to_json(&snapshot),
            text,
            "{name} is saved as save_snapshot would"
        );
    }
}
