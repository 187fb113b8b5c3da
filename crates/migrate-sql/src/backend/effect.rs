//! What a statement leaves in the schema once it took effect, so that a resumed run can tell a
//! statement the server finished after its runner died (MySQL runs a DDL statement to its end
//! whether or not its client is still there) from one that never ran.

use toasty_migrate::schema::{Operation, SchemaSnapshot};

/// What the schema shows once a statement took effect.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    TableExists(String),
    TableGone(String),
    ColumnExists { table: String, column: String },
    ColumnGone { table: String, column: String },
    IndexExists { table: String, index: String },
    IndexGone { table: String, index: String },
}

impl Effect {
    /// The effect of the `position`-th of `count` statements of `op`, where it is one a second
    /// run would trip over (creating what exists, dropping what is gone). `None` for statements
    /// that are harmless to run again (a column's type set again, a fill of NULLs) and for raw
    /// statements, which say nothing of their effect.
    pub fn of(op: &Operation, position: usize, count: usize) -> Option<Effect> {
        let last = position + 1 == count;
        let table = || op.table().unwrap_or_default().to_string();
        match op {
            Operation::CreateTable(def) if last => Some(Effect::TableExists(def.name.clone())),
            Operation::DropTable { table } => Some(Effect::TableGone(table.clone())),
            // The column is added first; a second statement only drops a fill default.
            Operation::AddColumn { column, .. } if position == 0 => Some(Effect::ColumnExists {
                table: table(),
                column: column.name.clone(),
            }),
            Operation::DropColumn { column, .. } => Some(Effect::ColumnGone {
                table: table(),
                column: column.clone(),
            }),
            Operation::ModifyColumn { from, to, .. } if last && from.name != to.name => {
                Some(Effect::ColumnGone {
                    table: table(),
                    column: from.name.clone(),
                })
            }
            Operation::CreateIndex { index, .. } => Some(Effect::IndexExists {
                table: table(),
                index: index.name.clone(),
            }),
            Operation::DropIndex { index, .. } => Some(Effect::IndexGone {
                table: table(),
                index: index.clone(),
            }),
            _ => None,
        }
    }

    /// The table the effect is seen in.
    pub fn table(&self) -> &str {
        match self {
            Effect::TableExists(table)
            | Effect::TableGone(table)
            | Effect::ColumnExists { table, .. }
            | Effect::ColumnGone { table, .. }
            | Effect::IndexExists { table, .. }
            | Effect::IndexGone { table, .. } => table,
        }
    }

    /// Whether `live` shows this effect.
    pub fn shown_by(&self, live: &SchemaSnapshot) -> bool {
        let column = |table: &str, column: &str| {
            live.table(table)
                .is_some_and(|t| t.column(column).is_some())
        };
        let index =
            |table: &str, index: &str| live.table(table).is_some_and(|t| t.index(index).is_some());
        match self {
            Effect::TableExists(table) => live.table(table).is_some(),
            Effect::TableGone(table) => live.table(table).is_none(),
            Effect::ColumnExists { table, column: c } => column(table, c),
            Effect::ColumnGone { table, column: c } => !column(table, c),
            Effect::IndexExists { table, index: i } => index(table, i),
            Effect::IndexGone { table, index: i } => !index(table, i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::schema::{ColumnDef, ColumnType, IndexDef, TableSnapshot};

    fn users() -> SchemaSnapshot {
        SchemaSnapshot::new(vec![TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("email", ColumnType::Text),
            ],
            vec![IndexDef::new("by_email", &["email"], true)],
        )])
    }

    #[test]
    fn each_effect_is_read_from_the_schema() {
        let live = users();
        let shown = |op: &Operation| Effect::of(op, 0, 1).unwrap().shown_by(&live);
        assert!(shown(&Operation::CreateTable(live.tables[0].def())));
        assert!(!shown(&Operation::DropTable {
            table: "users".into()
        }));
        assert!(shown(&Operation::DropTable {
            table: "posts".into()
        }));
        assert!(shown(&Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef::new("email", ColumnType::Text),
            position: None,
        }));
        assert!(!shown(&Operation::DropColumn {
            table: "users".into(),
            column: "email".into(),
        }));
        assert!(shown(&Operation::CreateIndex {
            table: "users".into(),
            index: live.tables[0].indexes[0].clone(),
        }));
        assert!(shown(&Operation::DropIndex {
            table: "users".into(),
            index: "by_name".into(),
        }));
    }

    #[test]
    fn statements_safe_to_repeat_have_no_effect_to_check() {
        let email = ColumnDef::new("email", ColumnType::Text);
        let retyped = Operation::ModifyColumn {
            table: "users".into(),
            from: email.clone(),
            to: ColumnDef {
                nullable: true,
                ..email
            },
        };
        assert_eq!(Effect::of(&retyped, 0, 1), None);
        let raw = Operation::Raw {
            statement: "DO 1".into(),
        };
        assert_eq!(Effect::of(&raw, 0, 1), None);
        // Only the statement that adds the column, not the one dropping its fill default.
        let add = Operation::AddColumn {
            table: "users".into(),
            column: ColumnDef::new("age", ColumnType::Integer(4)),
            position: None,
        };
        assert!(Effect::of(&add, 0, 2).is_some());
        assert_eq!(Effect::of(&add, 1, 2), None);
    }
}
