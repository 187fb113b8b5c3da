//! The SQL dialects' lint rules ([`toasty_migrate::lint`]): what each operation does, as
//! [`crate::ddl`] writes it, to a table an application is using. Pure: the CLI runs them with
//! no database for `migrate:generate`, the backend for a dry run.

use crate::dialect::Dialect;
use toasty_migrate::lint::{Finding, Level};
use toasty_migrate::schema::{ColumnDef, ColumnType, Operation, TableSnapshot};

/// What `op` does to `table` (which exists and may hold rows) on `dialect`.
pub fn findings(dialect: Dialect, op: &Operation, table: &TableSnapshot) -> Vec<Finding> {
    let t = &table.name;
    let mut out = Vec::new();
    match (dialect, op) {
        (Dialect::Postgres, Operation::CreateIndex { .. }) => out.push(Finding::new(
            "pg-index-blocks-writes",
            Level::Error,
            op,
            format!("CREATE INDEX blocks every write to {t} until the index is built"),
            "build it with CREATE INDEX CONCURRENTLY (a raw statement in a migration whose \
             `transactional()` is false)",
        )),
        (Dialect::Postgres, Operation::ModifyColumn { from, to, .. }) => {
            if !retypes_in_place(from, to) {
                out.push(Finding::new(
                    "pg-rewrite",
                    Level::Error,
                    op,
                    format!(
                        "changing {} from {} to {} rewrites {t} under an ACCESS EXCLUSIVE lock \
                         (no reads, no writes)",
                        from.name, from.ty, to.ty
                    ),
                    "add a new column, fill it in batches (a data step), move the application \
                     to it, then drop the old one",
                ));
            }
            if from.nullable && !to.nullable {
                out.push(Finding::new(
                    "pg-set-not-null",
                    Level::Error,
                    op,
                    format!("SET NOT NULL scans all of {t} under an ACCESS EXCLUSIVE lock"),
                    format!(
                        "add CHECK ({} IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it (no \
                         exclusive lock), then SET NOT NULL, which uses the check",
                        to.name
                    ),
                ));
            }
        }
        (Dialect::Mysql, Operation::ModifyColumn { from, to, .. })
            if !retypes_in_place(from, to) =>
        {
            out.push(Finding::new(
                "mysql-copy",
                Level::Error,
                op,
                format!(
                    "changing {} from {} to {} copies {t} (ALGORITHM=COPY), blocking writes \
                     until the copy is done",
                    from.name, from.ty, to.ty
                ),
                "add a new column (INSTANT), fill it in batches (a data step), move the \
                 application to it, then drop the old one",
            ));
        }
        (Dialect::Sqlite, _) if crate::ddl::sqlite_rebuild_reason(op).is_some() => {
            out.push(Finding::new(
                "sqlite-rebuild",
                Level::Warning,
                op,
                format!(
                    "SQLite cannot {} in place: {t} is copied into a new table while the \
                     migration holds the database's write lock",
                    crate::ddl::sqlite_rebuild_reason(op).unwrap_or_default()
                ),
                "run it when a pause in writes is acceptable, or keep the column as it is",
            ));
        }
        _ => {}
    }
    out
}

/// Whether a column keeps its storage: the same type (a rename, a default, nullability), or a
/// VARCHAR made longer or into TEXT.
fn retypes_in_place(from: &ColumnDef, to: &ColumnDef) -> bool {
    match (&from.ty, &to.ty) {
        (a, b) if a == b => true,
        (ColumnType::VarChar(a), ColumnType::VarChar(b)) => b >= a,
        (ColumnType::VarChar(_), ColumnType::Text) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::schema::IndexDef;

    fn users() -> TableSnapshot {
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef {
                    nullable: true,
                    ..ColumnDef::new("name", ColumnType::VarChar(40))
                },
            ],
            vec![],
        )
    }

    fn codes(dialect: Dialect, op: &Operation) -> Vec<&'static str> {
        findings(dialect, op, &users())
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn each_dialect_says_what_locks_or_rewrites() {
        let index = Operation::CreateIndex {
            table: "users".into(),
            index: IndexDef::new("users_name", &["name"], false),
        };
        assert_eq!(codes(Dialect::Postgres, &index), ["pg-index-blocks-writes"]);
        assert!(
            codes(Dialect::Mysql, &index).is_empty(),
            "INPLACE, LOCK=NONE"
        );
        assert!(codes(Dialect::Sqlite, &index).is_empty());

        let modify = |ty: ColumnType, nullable: bool| Operation::ModifyColumn {
            table: "users".into(),
            from: users().columns[1].clone(),
            to: ColumnDef {
                nullable,
                ..ColumnDef::new("name", ty)
            },
        };
        let longer = modify(ColumnType::VarChar(80), true);
        assert!(codes(Dialect::Postgres, &longer).is_empty());
        assert!(codes(Dialect::Mysql, &longer).is_empty());
        assert_eq!(codes(Dialect::Sqlite, &longer), ["sqlite-rebuild"]);
        let retyped = modify(ColumnType::Integer(8), false);
        assert_eq!(
            codes(Dialect::Postgres, &retyped),
            ["pg-rewrite", "pg-set-not-null"]
        );
        assert_eq!(codes(Dialect::Mysql, &retyped), ["mysql-copy"]);
    }
}
