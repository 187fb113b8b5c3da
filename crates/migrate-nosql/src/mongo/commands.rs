//! What MongoDB is sent, computed without a server: the commands each operation becomes, the
//! `$jsonSchema` validator that keeps a collection's definition, their rendering for dry runs,
//! and the names MongoDB refuses.

use mongodb::bson::{Bson, Document, doc};
use toasty_migrate::schema::{
    ColumnDef, ColumnPosition, ColumnType, DefaultValue, IndexOp, Operation, SchemaSnapshot,
    TableDef, TableSnapshot,
};

/// The unique index that stands for a collection's primary key.
pub(super) fn primary_key_index(table: &str) -> String {
    format!("{table}_pkey")
}

/// Table-level facts the validator's `description` keeps.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct TableMeta {
    pub(super) primary_key: Vec<toasty_migrate::schema::IndexColumn>,
}

/// `snapshot` as MongoDB keeps it: index columns keep their direction, not DynamoDB's
/// partition/sort scope. Introspection of what `snapshot` built equals this.
pub fn stored_snapshot(snapshot: &SchemaSnapshot) -> SchemaSnapshot {
    let mut stored = snapshot.clone();
    for index in stored.tables.iter_mut().flat_map(|t| t.indexes.iter_mut()) {
        for key in &mut index.columns {
            let op = if key.op == IndexOp::Desc {
                IndexOp::Desc
            } else {
                IndexOp::Eq
            };
            *key = toasty_migrate::schema::IndexColumn {
                op,
                ..toasty_migrate::schema::IndexColumn::new(key.column.clone())
            };
        }
    }
    stored
}

/// A command as extended JSON, for dry runs and messages.
pub fn render(command: &Document) -> String {
    Bson::Document(command.clone())
        .into_relaxed_extjson()
        .to_string()
}

pub(super) fn bson_type(ty: &ColumnType) -> &'static str {
    use ColumnType::*;
    match ty {
        Boolean => "bool",
        Integer(1..=4) | UnsignedInteger(1..=2) => "int",
        Integer(_) | UnsignedInteger(_) => "long",
        Float(_) => "double",
        Numeric(_) => "decimal",
        Blob | Binary(_) => "binData",
        Timestamp(_) | DateTime(_) | Date => "date",
        List(_) => "array",
        Document { .. } | Json | Jsonb => "object",
        Text | VarChar(_) | Uuid | Time(_) | Cidr | Inet | MacAddr | MacAddr8 | Enum(_)
        | Custom(_) => "string",
    }
}

fn to_bson(value: &DefaultValue, ty: &ColumnType) -> Bson {
    match (value, bson_type(ty)) {
        (DefaultValue::Bool(b), _) => Bson::Boolean(*b),
        (DefaultValue::Integer(i), "int") => Bson::Int32(*i as i32),
        (DefaultValue::Integer(i), "double") => Bson::Double(*i as f64),
        (DefaultValue::Integer(i), _) => Bson::Int64(*i),
        (DefaultValue::Float(f), _) => Bson::Double(*f),
        (DefaultValue::Text(s), _) => Bson::String(s.clone()),
    }
}

/// The type's zero, for documents that lack a NOT NULL field being added.
fn zero(ty: &ColumnType) -> Bson {
    match bson_type(ty) {
        "bool" => Bson::Boolean(false),
        "int" => Bson::Int32(0),
        "long" => Bson::Int64(0),
        "double" => Bson::Double(0.0),
        "decimal" => Bson::Decimal128("0".parse().expect("0 is a decimal")),
        "binData" => Bson::Binary(mongodb::bson::Binary {
            subtype: mongodb::bson::spec::BinarySubtype::Generic,
            bytes: Vec::new(),
        }),
        "date" => Bson::DateTime(mongodb::bson::DateTime::from_millis(0)),
        "array" => Bson::Array(Vec::new()),
        "object" => Bson::Document(Document::new()),
        _ => match ty {
            ColumnType::Enum(e) => Bson::String(e.variants[0].clone()),
            _ => Bson::String(String::new()),
        },
    }
}

/// The value a document gets for a column it lacks: its default, or its zero if it is NOT NULL.
pub(super) fn fill(column: &ColumnDef) -> Option<Bson> {
    match &column.default {
        Some(d) => Some(to_bson(d, &column.ty)),
        None if !column.nullable => Some(zero(&column.ty)),
        None => None,
    }
}

/// The `$jsonSchema` validator for a table: types, NOT NULL as `required`, and each column's
/// definition in its `description`.
pub fn validator(table: &TableDef) -> Document {
    let mut properties = Document::new();
    let mut required = Vec::new();
    for column in &table.columns {
        let ty = bson_type(&column.ty);
        let mut property = if column.nullable {
            doc! { "bsonType": [ty, "null"] }
        } else {
            required.push(Bson::String(column.name.clone()));
            doc! { "bsonType": ty }
        };
        if let ColumnType::VarChar(n) = column.ty {
            property.insert("maxLength", n as i64);
        }
        property.insert(
            "description",
            serde_json::to_string(column).expect("a column serializes"),
        );
        properties.insert(column.name.clone(), property);
    }
    let meta = TableMeta {
        primary_key: table.primary_key.clone(),
    };
    let mut schema = doc! {
        "bsonType": "object",
        "description": serde_json::to_string(&meta).expect("keys serialize"),
        "properties": properties,
    };
    if !required.is_empty() {
        schema.insert("required", required);
    }
    doc! { "$jsonSchema": schema }
}

fn index_keys(columns: &[toasty_migrate::schema::IndexColumn]) -> Document {
    columns
        .iter()
        .map(|c| {
            (
                c.column.clone(),
                Bson::Int32(if c.op == IndexOp::Desc { -1 } else { 1 }),
            )
        })
        .collect()
}

fn update_many(table: &str, filter: Document, update: impl Into<Bson>) -> Document {
    doc! { "update": table, "updates": [ { "q": filter, "u": update.into(), "multi": true } ] }
}

/// The commands for one operation; `live` is its table as it is now (the validator of an
/// existing collection is rewritten from it).
pub fn commands(
    op: &Operation,
    live: Option<&TableSnapshot>,
) -> std::result::Result<Vec<Document>, String> {
    let live_def = |table: &str| {
        live.map(TableSnapshot::def).ok_or_else(|| {
            format!("collection {table:?} does not exist (or has no toasty-migrate validator)")
        })
    };
    let live_table = |table: &str| {
        live.ok_or_else(|| {
            format!("collection {table:?} does not exist (or has no toasty-migrate validator)")
        })
    };
    let collmod = |def: &TableDef| doc! { "collMod": &def.name, "validator": validator(def), "validationLevel": "strict" };
    Ok(match op {
        Operation::CreateTable(def) => vec![
            doc! { "create": &def.name, "validator": validator(def) },
            doc! { "createIndexes": &def.name, "indexes": [ { "key": index_keys(&def.primary_key), "name": primary_key_index(&def.name), "unique": true } ] },
        ],
        Operation::DropTable { table } => vec![doc! { "drop": table }],
        Operation::AddColumn {
            table,
            column,
            position,
        } => {
            let mut def = live_def(table)?;
            let at = ColumnPosition::index_in(position.as_ref(), &def.columns)?;
            def.columns.insert(at, column.clone());
            let mut out = Vec::new();
            // Backfill first: those writes still meet the old validator.
            if let Some(value) = fill(column) {
                out.push(update_many(
                    table,
                    doc! { &column.name: { "$exists": false } },
                    doc! { "$set": { &column.name: value } },
                ));
            }
            out.push(collmod(&def));
            out
        }
        Operation::DropColumn { table, column } => {
            let mut def = live_def(table)?;
            def.columns.retain(|c| &c.name != column);
            // Validator first: the `$unset` writes must meet the one without the column.
            vec![
                collmod(&def),
                update_many(
                    table,
                    doc! { column: { "$exists": true } },
                    doc! { "$unset": { column: "" } },
                ),
            ]
        }
        Operation::ModifyColumn { table, from, to } => {
            let mut def = live_def(table)?;
            let mut loose = def.clone();
            loose.columns.retain(|c| c.name != from.name);
            let mut out = vec![collmod(&loose)];
            if from.name != to.name {
                out.push(update_many(
                    table,
                    doc! { &from.name: { "$exists": true } },
                    doc! { "$rename": { &from.name: &to.name } },
                ));
            }
            if bson_type(&from.ty) != bson_type(&to.ty) {
                let field = format!("${}", to.name);
                let convert = doc! { "$convert": { "input": &field, "to": bson_type(&to.ty), "onError": &field, "onNull": Bson::Null } };
                out.push(update_many(
                    table,
                    doc! { &to.name: { "$exists": true } },
                    vec![Bson::Document(doc! { "$set": { &to.name: convert } })],
                ));
            }
            if let (true, false, Some(value)) = (from.nullable, to.nullable, fill(to)) {
                out.push(update_many(
                    table,
                    doc! { &to.name: Bson::Null },
                    doc! { "$set": { &to.name: value } },
                ));
            }
            if let Some(c) = def.columns.iter_mut().find(|c| c.name == from.name) {
                *c = to.clone();
            }
            for key in def.primary_key.iter_mut().filter(|k| k.column == from.name) {
                key.column = to.name.clone();
            }
            out.push(collmod(&def));
            out
        }
        Operation::CreateIndex { table, index } => vec![doc! {
            "createIndexes": table,
            "indexes": [ { "key": index_keys(&index.columns), "name": &index.name, "unique": index.unique } ],
        }],
        Operation::DropIndex { table, index } => {
            vec![doc! { "dropIndexes": table, "index": index }]
        }
        Operation::InsertRows { table, rows } => {
            vec![super::data::insert(live_table(table)?, rows)?]
        }
        Operation::UpdateRows { table, set, filter } => {
            vec![super::data::update(live_table(table)?, set, filter)?]
        }
        Operation::DeleteRows { table, filter } => {
            vec![super::data::delete(live_table(table)?, filter)?]
        }
        Operation::Irreversible { .. } => Vec::new(),
        Operation::Raw { statement } => {
            let json: serde_json::Value = serde_json::from_str(statement)
                .map_err(|e| format!("a raw MongoDB command must be a JSON document: {e}"))?;
            match Bson::try_from(json).map_err(|e| e.to_string())? {
                Bson::Document(d) => vec![d],
                _ => return Err("a raw MongoDB command must be a JSON document".into()),
            }
        }
    })
}

/// Collection names MongoDB refuses, and field names its update operators would read as a
/// path (`a.b`) or an operator (`$a`).
pub(super) fn check(database: &str, op: &Operation) -> std::result::Result<(), String> {
    let namespace = database.len() + 1;
    if let Some(table) = op.table() {
        if table.contains('$') || table.starts_with("system.") {
            return Err(format!(
                "collection name {table:?} has a `$` or starts with `system.`, which MongoDB refuses"
            ));
        }
        if namespace + table.len() > 255 {
            return Err(format!(
                "collection name {table:?} makes the namespace {} bytes long; MongoDB allows 255",
                namespace + table.len()
            ));
        }
    }
    let field = |name: &str| {
        if name.contains('.') || name.starts_with('$') {
            Err(format!(
                "field name {name:?} has a `.` or starts with `$`; MongoDB's updates would \
                 read it as a path or an operator"
            ))
        } else {
            Ok(())
        }
    };
    match op {
        Operation::CreateTable(def) => def.columns.iter().try_for_each(|c| field(&c.name)),
        Operation::AddColumn { column, .. } => field(&column.name),
        Operation::ModifyColumn { to, .. } => field(&to.name),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> TableSnapshot {
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("name", ColumnType::Text),
            ],
            vec![],
        )
    }

    fn names(cmds: &[Document]) -> Vec<&str> {
        cmds.iter()
            .map(|c| c.keys().next().unwrap().as_str())
            .collect()
    }

    #[test]
    fn a_new_not_null_field_is_backfilled_before_the_validator_requires_it() {
        let add = Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef {
                nullable: false,
                ..ColumnDef::new("age", ColumnType::Integer(4))
            },
            position: None,
        };
        let cmds = commands(&add, Some(&users())).unwrap();
        assert_eq!(names(&cmds), ["update", "collMod"]);
        assert!(
            render(&cmds[0]).contains(r#""$set":{"age":0}"#),
            "{}",
            render(&cmds[0])
        );
        assert!(
            render(&cmds[1]).contains(r#""required":["id","name","age"]"#),
            "{}",
            render(&cmds[1])
        );
    }

    #[test]
    fn a_dropped_field_leaves_the_validator_before_it_is_unset() {
        let drop = Operation::DropColumn {
            table: "users".into(),
            column: "name".into(),
        };
        let cmds = commands(&drop, Some(&users())).unwrap();
        assert_eq!(names(&cmds), ["collMod", "update"]);
        assert!(!render(&cmds[0]).contains(r#""name""#));
    }

    #[test]
    fn an_operation_on_a_collection_it_does_not_know_is_refused() {
        let drop = Operation::DropColumn {
            table: "users".into(),
            column: "name".into(),
        };
        let err = commands(&drop, None).unwrap_err();
        assert!(
            err.contains(r#"collection "users" does not exist"#),
            "{err}"
        );
    }

    #[test]
    fn names_mongodb_would_misread_are_refused() {
        let add = |name: &str| Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef::new(name, ColumnType::Text),
            position: None,
        };
        assert!(
            check("app", &add("a.b"))
                .unwrap_err()
                .contains("path or an operator")
        );
        assert!(check("app", &add("$a")).is_err());
        assert!(check("app", &add("ab")).is_ok());
        let system = Operation::DropTable {
            table: "system.users".into(),
        };
        assert!(check("app", &system).is_err());
        let long = Operation::DropTable {
            table: "x".repeat(252),
        };
        assert!(check("app", &long).unwrap_err().contains("256 bytes"));
    }
}
