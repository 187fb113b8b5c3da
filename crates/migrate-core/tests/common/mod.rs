//! Fixtures shared by the core's integration tests.
#![allow(dead_code)]

use toasty_migrate::{
    files::MigrationGenerator,
    schema::{ColumnDef, ColumnType, DefaultValue, EnumType, IndexDef, TableSnapshot},
};

/// One of every portable type, with parameters where the type has them.
pub fn every_type() -> Vec<ColumnType> {
    use ColumnType::*;
    vec![
        Boolean,
        Integer(1),
        Integer(2),
        Integer(4),
        Integer(8),
        UnsignedInteger(1),
        UnsignedInteger(8),
        Float(4),
        Float(8),
        Text,
        VarChar(255),
        Uuid,
        Numeric(None),
        Numeric(Some((10, 2))),
        Blob,
        Binary(16),
        Timestamp(6),
        Date,
        Time(3),
        DateTime(0),
        Cidr,
        Inet,
        MacAddr,
        MacAddr8,
        Enum(EnumType {
            name: Some("status".into()),
            variants: vec!["active".into(), "it's \"quoted\"".into()],
        }),
        Enum(EnumType {
            name: None,
            variants: vec!["a".into()],
        }),
        List(Box::new(Text)),
        List(Box::new(List(Box::new(Integer(4))))),
        Document { binary: false },
        Document { binary: true },
        Json,
        Jsonb,
        Custom("citext".into()),
    ]
}

/// A table with one column of every type and every kind of default.
pub fn every_type_table() -> TableSnapshot {
    let mut columns = vec![ColumnDef {
        auto_increment: true,
        ..ColumnDef::new("id", ColumnType::Integer(8))
    }];
    for (i, ty) in every_type().into_iter().enumerate() {
        columns.push(ColumnDef {
            nullable: i % 2 == 0,
            ..ColumnDef::new(format!("c{i}"), ty)
        });
    }
    let defaults = [
        DefaultValue::Bool(true),
        DefaultValue::Integer(-9223372036854775808),
        DefaultValue::Integer(42),
        DefaultValue::Float(-1.5),
        DefaultValue::Float(1e300),
        DefaultValue::Text("it's; DROP TABLE users; --".into()),
    ];
    for (i, default) in defaults.into_iter().enumerate() {
        let ty = match &default {
            DefaultValue::Bool(_) => ColumnType::Boolean,
            DefaultValue::Integer(_) => ColumnType::Integer(8),
            DefaultValue::Float(_) => ColumnType::Float(8),
            DefaultValue::Text(_) => ColumnType::Text,
        };
        columns.push(ColumnDef {
            default: Some(default),
            ..ColumnDef::new(format!("d{i}"), ty)
        });
    }
    TableSnapshot::keyed_by_first_column(
        "every_type",
        columns,
        vec![IndexDef::new(
            "index_every_type_by_c1_c9",
            &["c1", "c9"],
            true,
        )],
    )
}

/// A migration generator with a fixed clock, writing into `dir`.
pub fn generator(dir: &std::path::Path) -> MigrationGenerator {
    MigrationGenerator::new(dir).at(time::macros::datetime!(2025-01-17 12:00:00 UTC))
}
