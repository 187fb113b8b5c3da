//! `SchemaSnapshot::from_schema` on schemas Toasty builds from real `#[derive(toasty::Model)]`
//! models, for each driver capability, without a database connection.

use toasty_core::driver::Capability;
use toasty_migrate::{
    diff::detect_changes,
    schema::{
        ColumnType, IndexOp, IndexScope, SchemaSnapshot, snapshot_from_json, snapshot_to_json,
    },
};

#[allow(dead_code)]
#[derive(Debug, toasty::Model)]
struct User {
    #[key]
    #[auto]
    id: u64,
    #[unique]
    email: String,
    #[index]
    name: String,
    nickname: Option<String>,
    age: i32,
    score: f64,
    active: bool,
}

#[allow(dead_code)]
#[derive(Debug, toasty::Model)]
#[key(partition = user_id, local = id)]
struct Todo {
    #[auto]
    id: toasty::stmt::Uuid,
    user_id: u64,
    title: String,
    done: bool,
}

fn build(models: toasty::ModelSet, capability: &Capability) -> SchemaSnapshot {
    let app = toasty_core::schema::app::Schema::from_macro(models).expect("app schema");
    let schema = toasty_core::schema::Builder::new()
        .build(app, capability)
        .expect("db schema");
    let snapshot = SchemaSnapshot::from_schema(&schema.db);
    snapshot
        .validate("<from_schema>")
        .expect("from_schema gives a valid snapshot");
    snapshot
}

fn models() -> toasty::ModelSet {
    toasty::models!(User, Todo)
}

#[test]
fn sqlite_schema() {
    let snapshot = build(models(), &Capability::SQLITE);
    insta::assert_snapshot!(snapshot_to_json(&snapshot));
    let users = snapshot.table("users").expect("users table");
    let id = users.column("id").unwrap();
    assert!(id.auto_increment);
    assert!(!id.nullable);
    assert!(users.column("nickname").unwrap().nullable);
    assert_eq!(users.primary_key.len(), 1);
    let email_index = users
        .indexes
        .iter()
        .find(|i| i.columns[0].column == "email")
        .unwrap();
    assert!(email_index.unique);
    let name_index = users
        .indexes
        .iter()
        .find(|i| i.columns[0].column == "name")
        .unwrap();
    assert!(!name_index.unique);
}

#[test]
fn postgresql_and_mysql_types_follow_the_capability() {
    let pg = build(models(), &Capability::POSTGRESQL);
    let my = build(models(), &Capability::MYSQL);
    insta::assert_snapshot!("postgresql", snapshot_to_json(&pg));
    insta::assert_snapshot!("mysql", snapshot_to_json(&my));
    // MySQL stores strings as bounded VARCHAR by default; PostgreSQL as TEXT.
    let ty = |s: &SchemaSnapshot| {
        s.table("users")
            .unwrap()
            .column("email")
            .unwrap()
            .ty
            .clone()
    };
    assert_ne!(
        ty(&pg),
        ty(&my),
        "string storage differs between PostgreSQL and MySQL"
    );
    assert!(matches!(ty(&my), ColumnType::VarChar(_)));
}

#[test]
fn dynamodb_keys_say_partition_and_sort() {
    let snapshot = build(models(), &Capability::DYNAMODB);
    insta::assert_snapshot!("dynamodb", snapshot_to_json(&snapshot));
    let todos = snapshot.table("todos").expect("todos table");
    let key: Vec<(&str, IndexScope)> = todos
        .primary_key
        .iter()
        .map(|k| (k.column.as_str(), k.scope))
        .collect();
    assert_eq!(
        key,
        vec![
            ("user_id", IndexScope::Partition),
            ("id", IndexScope::Local)
        ]
    );
    assert!(
        todos.primary_key.iter().all(|k| k.op == IndexOp::Eq),
        "Toasty compares key columns by equality"
    );
}

#[test]
fn snapshot_of_a_toasty_schema_round_trips_and_diffs_empty() {
    for capability in [
        &Capability::SQLITE,
        &Capability::POSTGRESQL,
        &Capability::MYSQL,
        &Capability::DYNAMODB,
    ] {
        let snapshot = build(models(), capability);
        let json = snapshot_to_json(&snapshot);
        let loaded = snapshot_from_json(&json, "x.json".as_ref()).unwrap();
        assert_eq!(loaded, snapshot);
        assert_eq!(snapshot_to_json(&loaded), json, "same schema, same bytes");
        assert!(detect_changes(&snapshot, &loaded).unwrap().is_empty());
    }
}

#[test]
fn models_from_nothing_diff_into_creates() {
    let snapshot = build(models(), &Capability::SQLITE);
    let diff = detect_changes(&SchemaSnapshot::default(), &snapshot).unwrap();
    let creates = diff
        .changes
        .iter()
        .filter(|c| matches!(c, toasty_migrate::diff::SchemaChange::CreateTable { .. }))
        .count();
    assert_eq!(creates, 2);
    assert!(!diff.has_destructive());
}

/// The `#[test]` an application writes: the migrations are checked against its models, and a
/// model added with no migration generated fails it, naming the change.
#[test]
fn check_models_fails_when_a_model_changed_without_a_migration() {
    use toasty_migrate::files::{MigrationGenerator, check_models};
    let dir = tempfile::tempdir().unwrap();
    let users_only =
        SchemaSnapshot::from_models(toasty::models!(User), &Capability::SQLITE).unwrap();
    let generator = MigrationGenerator::new(dir.path());
    let diff = detect_changes(&SchemaSnapshot::default(), &users_only).unwrap();
    generator
        .write_migration_file(&generator.generate(&diff, "create users").unwrap())
        .unwrap();

    let found = check_models(dir.path(), toasty::models!(User), &Capability::SQLITE).unwrap();
    assert!(found.is_clean(), "{found:?}");
    let found = check_models(dir.path(), models(), &Capability::SQLITE).unwrap();
    assert!(!found.is_clean());
    assert!(
        found
            .pending
            .iter()
            .any(|c| c.starts_with("create table todos")),
        "{:?}",
        found.pending
    );
}
