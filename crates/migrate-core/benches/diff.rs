//! Load two snapshot files and diff them, at 10,000 and 20,000 tables (20 columns and 3 indexes
//! each, 1% of tables changed), against Toasty 0.11's own JSON load + `diff::Schema::from` on the
//! same schemas in the same process.
//!
//! cargo bench -p toasty-migrate --bench diff

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::path::Path;
use toasty_core::schema::db;
use toasty_core::stmt;
use toasty_migrate::{
    diff::detect_changes,
    schema::{
        ColumnDef, ColumnType, IndexColumn, IndexDef, IndexOp, IndexScope, SchemaSnapshot,
        TableSnapshot, load_snapshot, save_snapshot,
    },
};

fn column(name: String, ty: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        nullable,
        default: None,
        auto_increment: false,
    }
}

fn key(column: &str) -> IndexColumn {
    IndexColumn {
        column: column.into(),
        op: IndexOp::Eq,
        scope: IndexScope::Partition,
    }
}

/// `tables` tables; with `changed`, every hundredth one has a column added, a column retyped and
/// an index replaced.
fn snapshot(tables: usize, changed: bool) -> SchemaSnapshot {
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
fn toasty_schema(snapshot: &SchemaSnapshot) -> db::Schema {
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

fn load_and_diff(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("load_and_diff");
    group.sample_size(10);
    for tables in [10_000, 20_000] {
        let old = snapshot(tables, false);
        let new = snapshot(tables, true);
        let old_path = dir.path().join(format!("old_{tables}.json"));
        let new_path = dir.path().join(format!("new_{tables}.json"));
        save_snapshot(&old, &old_path).unwrap();
        save_snapshot(&new, &new_path).unwrap();
        let expected = detect_changes(&old, &new).unwrap().changes.len();
        assert_eq!(
            expected,
            tables / 100 * 4,
            "1% of tables changed, 4 changes each"
        );

        group.bench_with_input(
            BenchmarkId::new("toasty_migrate", tables),
            &tables,
            |b, _| {
                b.iter(|| {
                    let old = load_snapshot(&old_path).unwrap();
                    let new = load_snapshot(&new_path).unwrap();
                    detect_changes(&old, &new).unwrap().changes.len()
                })
            },
        );

        let toasty_old = dir.path().join(format!("toasty_old_{tables}.json"));
        let toasty_new = dir.path().join(format!("toasty_new_{tables}.json"));
        std::fs::write(
            &toasty_old,
            serde_json::to_vec_pretty(&toasty_schema(&old)).unwrap(),
        )
        .unwrap();
        std::fs::write(
            &toasty_new,
            serde_json::to_vec_pretty(&toasty_schema(&new)).unwrap(),
        )
        .unwrap();
        let load = |path: &Path| -> db::Schema {
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
        };
        group.bench_with_input(
            BenchmarkId::new("toasty_core_baseline", tables),
            &tables,
            |b, _| {
                b.iter(|| {
                    let old = load(&toasty_old);
                    let new = load(&toasty_new);
                    let hints = toasty_core::schema::diff::RenameHints::new();
                    let diff = toasty_core::schema::diff::Schema::from(&old, &new, &hints);
                    diff.tables().len()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, load_and_diff);
criterion_main!(benches);
