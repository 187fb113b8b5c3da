//! Every portable column type each dialect supports: created, read back as `stored_type` says,
//! and modified into another type and back. A type a dialect cannot store is a clear error
//! before anything runs.

mod common;

use common::*;
use toasty_migrate::backend::{Introspect as _, Journal as _};
use toasty_migrate::{
    run::{Migrator, RunOptions},
    schema::{ColumnDef, ColumnType, EnumType, Operation, SchemaSnapshot, TableSnapshot},
};
use toasty_migrate_sql::introspect::stored_snapshot;
use toasty_migrate_sql::{Dialect, ddl};

fn every_type(dialect: Dialect) -> Vec<ColumnType> {
    use ColumnType::*;
    let mut types = vec![
        Boolean,
        Integer(1),
        Integer(2),
        Integer(4),
        Integer(8),
        UnsignedInteger(1),
        UnsignedInteger(2),
        UnsignedInteger(4),
        UnsignedInteger(8),
        Float(4),
        Float(8),
        Text,
        VarChar(255),
        Numeric(Some((10, 2))),
        Blob,
        Binary(16),
        Timestamp(6),
        Date,
        Time(3),
        DateTime(6),
        Enum(EnumType {
            name: Some("mood".into()),
            variants: vec!["happy".into(), "it's complicated".into()],
        }),
        List(Box::new(Text)),
        Document { binary: true },
        Json,
        Uuid,
    ];
    match dialect {
        Dialect::Postgres => types.extend([
            Numeric(None),
            Cidr,
            Inet,
            MacAddr,
            MacAddr8,
            Jsonb,
            List(Box::new(Integer(8))),
        ]),
        Dialect::Sqlite => types.extend([Numeric(None), Custom("CITEXT".into())]),
        // A custom type is compared as the server spells it back.
        Dialect::Mysql => types.push(Custom("mediumtext".into())),
    }
    types
}

fn schema(types: &[ColumnType]) -> SchemaSnapshot {
    let mut columns = vec![ColumnDef {
        auto_increment: true,
        ..ColumnDef::new("id", ColumnType::Integer(8))
    }];
    for (i, ty) in types.iter().enumerate() {
        columns.push(ColumnDef {
            nullable: true,
            ..ColumnDef::new(format!("c{i}"), ty.clone())
        });
    }
    SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
        "every_type",
        columns,
        vec![],
    )])
}

async fn every_type_round_trips(dialect: Dialect) {
    let db = TestDb::sql(dialect).await;
    let mut backend = db.connect().await;
    let types = every_type(dialect);
    let new = schema(&types);
    let create = migration(
        "20250101_000000_every_type",
        &SchemaSnapshot::default(),
        &new,
        &[],
    );
    // Each column into the next type that keeps NULLs convertible, and back.
    let mut modified = new.clone();
    for column in modified.tables[0].columns.iter_mut().skip(1) {
        column.ty = ColumnType::Text;
    }
    let retype = migration("20250102_000000_retype", &new, &modified, &[]);
    let migrator = Migrator::from_plans(vec![create, retype]);
    migrator
        .up(
            &mut backend,
            &RunOptions {
                count: Some(1),
                ..allow()
            },
        )
        .await
        .unwrap();
    let live = backend.introspect().await.unwrap();
    let stored = stored_snapshot(dialect, &new);
    for (l, s) in live.tables[0].columns.iter().zip(&stored.tables[0].columns) {
        assert_eq!(l, s, "{dialect:?}");
    }
    assert!(live.is_equivalent(&stored));

    migrator.up(&mut backend, &allow()).await.unwrap();
    assert!(
        backend
            .introspect()
            .await
            .unwrap()
            .is_equivalent(&stored_snapshot(dialect, &modified))
    );
    migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert!(
        backend.introspect().await.unwrap().is_equivalent(&stored),
        "{dialect:?}: down restores every type"
    );
    migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap();
    assert!(backend.introspect().await.unwrap().tables.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_every_type() {
    every_type_round_trips(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_every_type() {
    every_type_round_trips(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_every_type() {
    every_type_round_trips(Dialect::Mysql).await;
}

#[test]
fn types_a_dialect_cannot_store_are_refused_by_name() {
    let cases = [
        (Dialect::Mysql, ColumnType::Cidr),
        (Dialect::Sqlite, ColumnType::Jsonb),
        (Dialect::Mysql, ColumnType::Numeric(None)),
        (
            Dialect::Postgres,
            ColumnType::Enum(EnumType {
                name: None,
                variants: vec!["a".into()],
            }),
        ),
    ];
    let mut messages = Vec::new();
    for (dialect, ty) in cases {
        let op = Operation::AddColumn {
            table: "t".into(),
            column: ColumnDef::new("c", ty),
            position: None,
        };
        messages.push(format!(
            "{dialect:?}: {}",
            ddl::statements(dialect, &op, None, false).unwrap_err()
        ));
    }
    insta::assert_snapshot!(messages.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_enum_types_gain_variants_and_refuse_to_lose_them() {
    let db = TestDb::sql(Dialect::Postgres).await;
    let mut backend = db.connect().await;
    let mood = |variants: &[&str]| {
        ColumnType::Enum(EnumType {
            name: Some("mood".into()),
            variants: variants.iter().map(|v| v.to_string()).collect(),
        })
    };
    let schema = |variants: &[&str]| {
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "people",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("mood", mood(variants)),
            ],
            vec![],
        )])
    };
    let (two, three) = (
        schema(&["happy", "sad"]),
        schema(&["happy", "sad", "it's meh"]),
    );
    let migrator = Migrator::from_plans(vec![
        migration(
            "20250101_000000_people",
            &SchemaSnapshot::default(),
            &two,
            &[],
        ),
        migration("20250102_000000_more_moods", &two, &three, &[]),
    ]);
    migrator.up(&mut backend, &allow()).await.unwrap();
    backend
        .execute("INSERT INTO \"people\" (\"id\", \"mood\") VALUES (1, 'it''s meh')")
        .await
        .unwrap();
    assert!(
        backend
            .introspect()
            .await
            .unwrap()
            .is_equivalent(&stored_snapshot(Dialect::Postgres, &three))
    );

    // Going back would remove a variant, which PostgreSQL cannot do: refused before running.
    let err = migrator
        .down(&mut backend, &RunOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot remove the variant \"it's meh\""),
        "{err}"
    );
    assert_eq!(backend.applied().await.unwrap().len(), 2);
}
