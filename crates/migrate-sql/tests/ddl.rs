//! The DDL of every operation on every dialect, pinned. (The databases run it in the other tests;
//! these pin its text so a change to it is reviewed.)

mod common;

use toasty_migrate::schema::{
    ColumnDef, ColumnPosition, ColumnType, DefaultValue, EnumType, IndexColumn, IndexDef, IndexOp,
    Operation, TableDef, TableSnapshot,
};
use toasty_migrate_sql::{Dialect, ddl};

fn live_users() -> TableSnapshot {
    TableSnapshot::keyed_by_first_column(
        "users",
        vec![
            ColumnDef {
                auto_increment: true,
                ..ColumnDef::new("id", ColumnType::Integer(8))
            },
            ColumnDef {
                nullable: true,
                ..ColumnDef::new("mail", ColumnType::VarChar(255))
            },
            ColumnDef::new("score", ColumnType::Integer(4)),
        ],
        vec![IndexDef::new("index_users_by_mail", &["mail"], true)],
    )
}

fn operations() -> Vec<Operation> {
    let users = live_users();
    let mail = users.columns[1].clone();
    let score = users.columns[2].clone();
    vec![
        Operation::CreateTable(users.def()),
        Operation::CreateTable(TableDef {
            name: "memberships".into(),
            columns: vec![
                ColumnDef::new("user_id", ColumnType::Integer(8)),
                ColumnDef::new("group_id", ColumnType::UnsignedInteger(4)),
                ColumnDef {
                    default: Some(DefaultValue::Bool(false)),
                    ..ColumnDef::new("admin", ColumnType::Boolean)
                },
                ColumnDef {
                    nullable: true,
                    ..ColumnDef::new(
                        "role",
                        ColumnType::Enum(EnumType {
                            name: Some("role".into()),
                            variants: vec!["member".into(), "owner".into()],
                        }),
                    )
                },
            ],
            primary_key: vec![IndexColumn::new("user_id"), IndexColumn::new("group_id")],
        }),
        Operation::DropTable {
            table: "users".into(),
        },
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef {
                nullable: true,
                ..ColumnDef::new("bio", ColumnType::Text)
            },
            position: None,
        },
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef {
                default: Some(DefaultValue::Text("it's".into())),
                ..ColumnDef::new("motto", ColumnType::VarChar(40))
            },
            position: None,
        },
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef::new("age", ColumnType::Integer(2)),
            position: None,
        },
        // How `down` puts dropped columns back where they were.
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef {
                nullable: true,
                ..ColumnDef::new("nickname", ColumnType::Text)
            },
            position: Some(ColumnPosition::After("id".into())),
        },
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef::new("rank", ColumnType::Integer(4)),
            position: Some(ColumnPosition::First),
        },
        Operation::DropColumn {
            table: "users".into(),
            column: "score".into(),
        },
        Operation::ModifyColumn {
            table: "users".into(),
            from: mail.clone(),
            to: ColumnDef {
                name: "email".into(),
                ..mail.clone()
            },
        },
        // Online, its NULLs are filled in batches before these statements (a data step).
        Operation::ModifyColumn {
            table: "users".into(),
            from: mail.clone(),
            to: ColumnDef {
                nullable: false,
                ..mail.clone()
            },
        },
        Operation::ModifyColumn {
            table: "users".into(),
            from: mail.clone(),
            to: ColumnDef {
                nullable: false,
                ty: ColumnType::Text,
                ..mail
            },
        },
        Operation::ModifyColumn {
            table: "users".into(),
            from: score.clone(),
            to: ColumnDef {
                ty: ColumnType::Integer(8),
                default: Some(DefaultValue::Integer(-1)),
                ..score
            },
        },
        Operation::CreateIndex {
            table: "users".into(),
            index: IndexDef {
                name: "index_users_by_score_mail".into(),
                columns: vec![
                    IndexColumn {
                        op: IndexOp::Desc,
                        ..IndexColumn::new("score")
                    },
                    IndexColumn::new("mail"),
                ],
                unique: false,
            },
        },
        Operation::DropIndex {
            table: "users".into(),
            index: "index_users_by_mail".into(),
        },
        Operation::Raw {
            statement: "UPDATE users SET score = 0".into(),
        },
    ]
}

/// The statements of every operation on `users` as it is, in the plain forms or `online`.
fn listing(dialect: Dialect, online: bool) -> String {
    let live = live_users();
    let mut out = Vec::new();
    for op in operations() {
        out.push(format!("-- {op}"));
        match ddl::statements(dialect, &op, Some(&live), online) {
            Ok(statements) => out.extend(statements.into_iter().map(|s| format!("{s};"))),
            Err(e) => out.push(format!("-- error: {e}")),
        }
    }
    out.join("\n")
}

#[test]
fn sqlite_ddl() {
    insta::assert_snapshot!(listing(Dialect::Sqlite, false));
}

#[test]
fn postgres_ddl() {
    insta::assert_snapshot!(listing(Dialect::Postgres, false));
}

#[test]
fn mysql_ddl() {
    insta::assert_snapshot!(listing(Dialect::Mysql, false));
}

/// What runs where an application may be using the table: PostgreSQL builds and drops indexes
/// CONCURRENTLY and proves NOT NULL by a validated check; MySQL asks for an in-place build.
#[test]
fn postgres_online_ddl() {
    insta::assert_snapshot!(listing(Dialect::Postgres, true));
}

#[test]
fn mysql_online_ddl() {
    insta::assert_snapshot!(listing(Dialect::Mysql, true));
}
