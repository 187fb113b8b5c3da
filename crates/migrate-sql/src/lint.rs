//! The SQL dialects' lint rules ([`toasty_migrate::lint`]): what each operation does, as
//! [`crate::ddl`] writes it, to a table an application is using. Pure: the CLI runs them with
//! no database for `migrate:generate`, the backend for a dry run.

use crate::dialect::Dialect;
use toasty_migrate::lint::{Finding, Level};
use toasty_migrate::schema::{ColumnDef, ColumnType, Operation, TableSnapshot};

/// How to get the online forms back, for findings that only the plain forms have.
const GO_ONLINE: &str = "leave the migration online, the default (no `--offline`, no \
                         `fn online` returning false)";

/// What `op` does to `table` (which exists and may hold rows) on `dialect`, planned `online`
/// or not (see [`crate::ddl::statements`]).
pub fn findings(
    dialect: Dialect,
    op: &Operation,
    table: &TableSnapshot,
    online: bool,
) -> Vec<Finding> {
    let t = &table.name;
    let mut out = Vec::new();
    match (dialect, op) {
        (Dialect::Postgres, Operation::CreateIndex { .. }) if !online => out.push(Finding::new(
            "pg-index-blocks-writes",
            Level::Error,
            op,
            format!("CREATE INDEX blocks every write to {t} until the index is built"),
            format!("{GO_ONLINE}: it is built CONCURRENTLY"),
        )),
        (Dialect::Postgres, Operation::DropIndex { .. }) if !online => out.push(Finding::new(
            "pg-drop-index-locks",
            Level::Warning,
            op,
            format!("DROP INDEX takes an ACCESS EXCLUSIVE lock on {t} (no reads, no writes)"),
            format!("{GO_ONLINE}: it is dropped CONCURRENTLY"),
        )),
        (Dialect::Mysql, Operation::CreateIndex { index, .. })
            if !crate::ddl::mysql_builds_in_place(index, table) =>
        {
            out.push(Finding::new(
                "mysql-copy",
                Level::Error,
                op,
                format!(
                    "a unique index whose key may be longer than 3072 bytes is built by \
                     copying {t} (MariaDB keys it by a hash column), blocking writes"
                ),
                "key it on columns of bounded length (VARCHAR of at most 768 characters in all)",
            ))
        }
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
            if from.nullable && !to.nullable && !online {
                out.push(Finding::new(
                    "pg-set-not-null",
                    Level::Error,
                    op,
                    format!("SET NOT NULL scans all of {t} under an ACCESS EXCLUSIVE lock"),
                    format!(
                        "{GO_ONLINE}: a CHECK ({} IS NOT NULL) NOT VALID is validated first \
                         (no exclusive lock), then SET NOT NULL uses it",
                        to.name
                    ),
                ));
            }
        }
        (Dialect::Mysql, Operation::ModifyColumn { from, to, .. }) => {
            if !retypes_in_place(from, to) {
                out.push(Finding::new(
                    "mysql-copy",
                    Level::Error,
                    op,
                    format!(
                        "changing {} from {} to {} copies {t} (ALGORITHM=COPY), blocking \
                         writes until the copy is done",
                        from.name, from.ty, to.ty
                    ),
                    "add a new column (INSTANT), fill it in batches (a data step), move the \
                     application to it, then drop the old one",
                ));
            } else if from.nullable && !to.nullable {
                out.push(Finding::new(
                    "mysql-rebuild",
                    Level::Warning,
                    op,
                    format!(
                        "making {} NOT NULL rebuilds {t} in place: writes go on, but it takes \
                         the time and the disk space of a copy of {t}",
                        to.name
                    ),
                    "nothing makes it cheaper: run it when the server has the time and the \
                     room for the table's size",
                ));
                if crate::ddl::batched_fill(dialect, op, online).is_none() {
                    let hint = if from.ty == to.ty {
                        format!("{GO_ONLINE}: they are filled in batches first")
                    } else {
                        "make it NOT NULL in a migration of its own, keeping its type: its \
                         NULLs are then filled in batches"
                            .to_string()
                    };
                    out.push(Finding::new(
                        "mysql-fill-locks",
                        Level::Warning,
                        op,
                        format!(
                            "one UPDATE gives the NULLs of {} a value, holding their row \
                             locks until it ends",
                            to.name
                        ),
                        hint,
                    ));
                }
            }
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
        codes_online(dialect, op, false)
    }

    fn codes_online(dialect: Dialect, op: &Operation, online: bool) -> Vec<&'static str> {
        findings(dialect, op, &users(), online)
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

        // MariaDB rebuilds a table to make a column NOT NULL; offline, one UPDATE fills it.
        let not_null = modify(ColumnType::VarChar(40), false);
        assert_eq!(
            codes(Dialect::Mysql, &not_null),
            ["mysql-rebuild", "mysql-fill-locks"]
        );
        assert_eq!(
            codes_online(Dialect::Mysql, &not_null, true),
            ["mysql-rebuild"]
        );
        // Longer and NOT NULL at once: no batched fill for a type change, said how to get one.
        let longer_not_null = findings(
            Dialect::Mysql,
            &modify(ColumnType::VarChar(80), false),
            &users(),
            true,
        );
        let codes: Vec<&str> = longer_not_null.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["mysql-rebuild", "mysql-fill-locks"]);
        assert!(
            longer_not_null[1]
                .to_string()
                .contains("a migration of its own"),
            "{}",
            longer_not_null[1]
        );
    }

    #[test]
    fn online_forms_leave_only_what_they_cannot_avoid() {
        let index = |unique: bool, column: &str| Operation::CreateIndex {
            table: "users".into(),
            index: IndexDef::new("users_i", &[column], unique),
        };
        assert!(codes_online(Dialect::Postgres, &index(false, "name"), true).is_empty());
        let drop = Operation::DropIndex {
            table: "users".into(),
            index: "users_i".into(),
        };
        assert_eq!(codes(Dialect::Postgres, &drop), ["pg-drop-index-locks"]);
        assert!(codes_online(Dialect::Postgres, &drop, true).is_empty());
        let not_null = Operation::ModifyColumn {
            table: "users".into(),
            from: users().columns[1].clone(),
            to: ColumnDef::new("name", ColumnType::VarChar(40)),
        };
        assert!(codes_online(Dialect::Postgres, &not_null, true).is_empty());
        // A rewrite has no online form.
        let retyped = Operation::ModifyColumn {
            table: "users".into(),
            from: users().columns[1].clone(),
            to: ColumnDef::new("name", ColumnType::Integer(8)),
        };
        assert_eq!(
            codes_online(Dialect::Postgres, &retyped, true),
            ["pg-rewrite"]
        );

        // MariaDB keys a unique index longer than 3072 bytes by a hash, built by a copy.
        let mut wide = users();
        wide.columns[1].ty = ColumnType::VarChar(769);
        let long_unique = findings(Dialect::Mysql, &index(true, "name"), &wide, true);
        assert_eq!(long_unique[0].code, "mysql-copy");
        assert!(codes_online(Dialect::Mysql, &index(true, "name"), true).is_empty());
    }
}
