//! `SchemaSnapshot::from_schema`: a snapshot of the database schema Toasty builds for its models.

use crate::snapshot::{
    ColumnDef, IndexColumn, IndexDef, IndexOp, IndexScope, SchemaSnapshot, TableSnapshot,
};
use crate::types::{ColumnType, EnumType};
use crate::{Error, Result};
use toasty_core::driver::Capability;
use toasty_core::schema::app::ModelSet;
use toasty_core::schema::db;
use toasty_core::stmt::Direction;

impl SchemaSnapshot {
    /// The snapshot of the database schema Toasty builds for `models` on a database with
    /// `capability` (`Capability::SQLITE`, `POSTGRESQL`, `MYSQL`, `DYNAMODB`), without connecting:
    ///
    /// ```ignore
    /// let snapshot = SchemaSnapshot::from_models(toasty::models!(crate::*), &Capability::POSTGRESQL)?;
    /// toasty_migrate::save_snapshot(&snapshot, "schema.json")?;
    /// ```
    pub fn from_models(models: ModelSet, capability: &Capability) -> Result<SchemaSnapshot> {
        let built = toasty_core::schema::app::Schema::from_macro(models)
            .and_then(|app| toasty_core::schema::Builder::new().build(app, capability))
            .map_err(|e| Error::Models(e.to_string()))?;
        Ok(SchemaSnapshot::from_schema(&built.db))
    }

    /// The snapshot of a Toasty database schema (`toasty_core::schema::db::Schema`, which
    /// `toasty_core::schema::Builder::build` produces for a driver's capability).
    pub fn from_schema(schema: &db::Schema) -> SchemaSnapshot {
        let tables = schema.tables.iter().map(table).collect();
        SchemaSnapshot::new(tables)
    }
}

fn table(t: &db::Table) -> TableSnapshot {
    let column_name = |id: db::ColumnId| t.columns[id.index].name.clone();
    let key = |c: &db::IndexColumn| IndexColumn {
        column: column_name(c.column),
        op: match c.op {
            db::IndexOp::Eq => IndexOp::Eq,
            db::IndexOp::Sort(Direction::Asc) => IndexOp::Asc,
            db::IndexOp::Sort(Direction::Desc) => IndexOp::Desc,
        },
        scope: match c.scope {
            db::IndexScope::Partition => IndexScope::Partition,
            db::IndexScope::Local => IndexScope::Local,
        },
    };
    // The primary key is stored as an index flagged `primary_key`; its columns say which are
    // partition and which sort keys.
    let pk_index = t.indices.iter().find(|i| i.primary_key);
    let primary_key = match pk_index {
        Some(index) => index.columns.iter().map(key).collect(),
        None => t
            .primary_key
            .columns
            .iter()
            .map(|id| IndexColumn {
                column: column_name(*id),
                op: IndexOp::Eq,
                scope: IndexScope::Partition,
            })
            .collect(),
    };
    let indexes = t
        .indices
        .iter()
        .filter(|i| !i.primary_key)
        .map(|i| IndexDef {
            name: i.name.clone(),
            columns: i.columns.iter().map(key).collect(),
            unique: i.unique,
        })
        .collect();
    TableSnapshot {
        name: t.name.clone(),
        columns: t
            .columns
            .iter()
            .map(|c| ColumnDef {
                name: c.name.clone(),
                ty: column_type(&c.storage_ty),
                nullable: c.nullable,
                default: None,
                auto_increment: c.auto_increment,
            })
            .collect(),
        primary_key,
        indexes,
    }
}

fn column_type(ty: &db::Type) -> ColumnType {
    match ty {
        db::Type::Boolean => ColumnType::Boolean,
        db::Type::Integer(w) => ColumnType::Integer(*w),
        db::Type::UnsignedInteger(w) => ColumnType::UnsignedInteger(*w),
        db::Type::Float(w) => ColumnType::Float(*w),
        db::Type::Text => ColumnType::Text,
        db::Type::VarChar(n) => ColumnType::VarChar(*n),
        db::Type::Uuid => ColumnType::Uuid,
        db::Type::Numeric(p) => ColumnType::Numeric(*p),
        db::Type::Blob => ColumnType::Blob,
        db::Type::Binary(n) => ColumnType::Binary(*n),
        db::Type::Timestamp(p) => ColumnType::Timestamp(*p),
        db::Type::Date => ColumnType::Date,
        db::Type::Time(p) => ColumnType::Time(*p),
        db::Type::DateTime(p) => ColumnType::DateTime(*p),
        db::Type::Cidr => ColumnType::Cidr,
        db::Type::Inet => ColumnType::Inet,
        db::Type::MacAddr => ColumnType::MacAddr,
        db::Type::MacAddr8 => ColumnType::MacAddr8,
        db::Type::Enum(e) => ColumnType::Enum(EnumType {
            name: e.name.clone(),
            variants: e.variants.iter().map(|v| v.name.clone()).collect(),
        }),
        db::Type::List(elem) => ColumnType::List(Box::new(column_type(elem))),
        db::Type::Document { binary } => ColumnType::Document { binary: *binary },
        db::Type::Json => ColumnType::Json,
        db::Type::Jsonb => ColumnType::Jsonb,
        db::Type::Custom(name) => ColumnType::Custom(name.clone()),
    }
}
