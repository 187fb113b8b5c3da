//! The schemas the load + diff benchmark and `scale_files` share: N tables of 20 columns and 3
//! indexes, and 1% of them changed; and the same schema as Toasty 0.11's `db::Schema`, the
//! baseline.

#![allow(dead_code)] // each bench uses its part

use toasty_core::schema::db;
use toasty_core::stmt;
use toasty_migrate::schema::{
    ColumnDef, ColumnType, IndexColumn, IndexDef, SchemaSnapshot, TableSnapshot,
};

fn column(name: String, ty: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        nullable,
        ..ColumnDef::new(name, ty)
    }
}

fn key(column: &str) -> IndexColumn {
    IndexColumn::new(column)
}

/// `tables` tables; with `changed`, every hundredth one has a column added, a column retyped and
/// an index replaced.
pub fn snapshot(tables: usize, changed: bool) -> SchemaSnapshot {
    let types = [
        ColumnType::Text,
        ColumnType::Integer(8),
        ColumnType::Boolean,
        ColumnType::VarChar(255),
    ];
    let tables = (0..tables)
        .map(|t| {
            let name = format!("table_{t:05}");
            let mut columns = vec![column("id".into(), ColumnType::Integer(8), false)];
            columns.extend((1..20).map(|c| {
                column(
                    format!("column_{c:02}"),
                    types[c % types.len()].clone(),
                    c % 3 == 0,
                )
            }));
            let mut indexes = vec![
                IndexDef {
                    name: format!("index_{name}_by_column_01"),
                    columns: vec![key("column_01")],
                    unique: false,
                },
                IndexDef {
                    name: format!("index_{name}_by_column_02"),
                    columns: vec![key("column_02")],
                    unique: true,
                },
                IndexDef {
                    name: format!("index_{name}_by_column_03_column_04"),
                    columns: vec![key("column_03"), key("column_04")],
                    unique: false,
                },
            ];
            if changed && t % 100 == 0 {
                columns.push(column("added".into(), ColumnType::Text, true));
                columns[5].ty = ColumnType::Text;
                indexes[0] = IndexDef {
                    name: format!("index_{name}_by_column_05"),
                    columns: vec![key("column_05")],
                    unique: false,
                };
            }
            TableSnapshot {
                name,
                columns,
                primary_key: vec![key("id")],
                indexes,
            }
        })
        .collect();
    SchemaSnapshot::new(tables)
}

/// The same schema as Toasty's `db::Schema`, for the baseline.
pub fn toasty_schema(snapshot: &SchemaSnapshot) -> db::Schema {
    let tables = snapshot
        .tables
        .iter()
        .enumerate()
        .map(|(ti, t)| {
            let table = db::TableId(ti);
            let column_id = |name: &str| db::ColumnId {
                table,
                index: t.columns.iter().position(|c| c.name == name).unwrap(),
            };
            let columns = t
                .columns
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let (ty, storage_ty) = match c.ty {
                        ColumnType::Integer(_) => (stmt::Type::I64, db::Type::Integer(8)),
                        ColumnType::Boolean => (stmt::Type::Bool, db::Type::Boolean),
                        ColumnType::VarChar(n) => (stmt::Type::String, db::Type::VarChar(n)),
                        _ => (stmt::Type::String, db::Type::Text),
                    };
                    db::Column {
                        id: db::ColumnId { table, index: ci },
                        name: c.name.clone(),
                        ty,
                        storage_ty,
                        nullable: c.nullable,
                        primary_key: ci == 0,
                        auto_increment: false,
                        versionable: false,
                    }
                })
                .collect();
            let index_column = |k: &IndexColumn| db::IndexColumn {
                column: column_id(&k.column),
                op: db::IndexOp::Eq,
                scope: db::IndexScope::Partition,
            };
            let mut indices = vec![db::Index {
                id: db::IndexId { table, index: 0 },
                name: format!("{}_pkey", t.name),
                on: table,
                columns: t.primary_key.iter().map(index_column).collect(),
                unique: true,
                primary_key: true,
            }];
            indices.extend(t.indexes.iter().enumerate().map(|(ii, i)| db::Index {
                id: db::IndexId {
                    table,
                    index: ii + 1,
                },
                name: i.name.clone(),
                on: table,
                columns: i.columns.iter().map(index_column).collect(),
                unique: i.unique,
                primary_key: false,
            }));
            db::Table {
                id: table,
                name: t.name.clone(),
                columns,
                primary_key: db::PrimaryKey {
                    columns: vec![column_id("id")],
                    index: db::IndexId { table, index: 0 },
                },
                indices,
            }
        })
        .collect();
    db::Schema { tables }
}
