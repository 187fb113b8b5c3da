//! `Operation`: one step of a migration, as a `MigrationContext` call describes it. A migration's
//! `up` and `down` are each a list of operations; backends execute them, `IndexedSchema` replays
//! them, and the checksum is taken over them.

use crate::Result;
use crate::data::{Expr, Filter, Row};
use crate::snapshot::{ColumnDef, IndexDef, TableDef};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    CreateTable(TableDef),
    DropTable {
        table: String,
    },
    /// Adds a column at the end of the table, or at `position` (how `down` puts a dropped
    /// column back where it was).
    AddColumn {
        table: String,
        column: ColumnDef,
        // Absent when at the end, so that checksums of migrations written before positions
        // existed stay as they were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<ColumnPosition>,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// Changes a column's definition; `from.name != to.name` renames it.
    ModifyColumn {
        table: String,
        from: ColumnDef,
        to: ColumnDef,
    },
    CreateIndex {
        table: String,
        index: IndexDef,
    },
    DropIndex {
        table: String,
        index: String,
    },
    /// A statement passed to the backend as written (SQL, or a backend command). It cannot be
    /// replayed on a snapshot and is never destructive-checked: the author vouches for it.
    Raw {
        statement: String,
    },
    /// Data step: inserts rows. Reverting the migration deletes them by primary key before its
    /// `down` runs, so `down` need not say so.
    InsertRows {
        table: String,
        rows: Vec<Row>,
    },
    /// Data step: sets columns of the rows `filter` matches.
    UpdateRows {
        table: String,
        set: Vec<(String, Expr)>,
        filter: Filter,
    },
    /// Data step: deletes the rows `filter` matches.
    DeleteRows {
        table: String,
        filter: Filter,
    },
    /// In a `down`: the migration cannot be reverted, and why. `down` refuses it before doing
    /// anything.
    Irreversible {
        reason: String,
    },
}

/// Where an added column goes, if not at the end of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnPosition {
    First,
    /// Right after this column.
    After(String),
}

impl ColumnPosition {
    /// The index the column takes among `columns`; `None` (no position) is the end.
    pub fn index_in(
        position: Option<&ColumnPosition>,
        columns: &[ColumnDef],
    ) -> Result<usize, String> {
        match position {
            None => Ok(columns.len()),
            Some(ColumnPosition::First) => Ok(0),
            Some(ColumnPosition::After(name)) => columns
                .iter()
                .position(|c| &c.name == name)
                .map(|i| i + 1)
                .ok_or_else(|| format!("column {name:?}, to add after, does not exist")),
        }
    }
}

impl fmt::Display for ColumnPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnPosition::First => f.write_str("first"),
            ColumnPosition::After(name) => write!(f, "after {name}"),
        }
    }
}

impl Operation {
    /// The table the operation acts on, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            Operation::CreateTable(def) => Some(&def.name),
            Operation::DropTable { table }
            | Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::ModifyColumn { table, .. }
            | Operation::CreateIndex { table, .. }
            | Operation::DropIndex { table, .. }
            | Operation::InsertRows { table, .. }
            | Operation::UpdateRows { table, .. }
            | Operation::DeleteRows { table, .. } => Some(table),
            Operation::Raw { .. } | Operation::Irreversible { .. } => None,
        }
    }
}

impl Operation {
    /// Whether the operation changes rows rather than the schema.
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Operation::InsertRows { .. }
                | Operation::UpdateRows { .. }
                | Operation::DeleteRows { .. }
        )
    }

    /// Checks every column definition the operation carries (type parameters, custom type names,
    /// defaults): what a snapshot's loader checks, for operations that come from compiled code.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Operation::CreateTable(def) => def.columns.iter().try_for_each(ColumnDef::validate),
            Operation::AddColumn { column, .. } => column.validate(),
            Operation::ModifyColumn { from, to, .. } => {
                from.validate()?;
                to.validate()
            }
            Operation::DropTable { .. }
            | Operation::DropColumn { .. }
            | Operation::CreateIndex { .. }
            | Operation::DropIndex { .. }
            | Operation::Raw { .. }
            | Operation::InsertRows { .. }
            | Operation::UpdateRows { .. }
            | Operation::DeleteRows { .. }
            | Operation::Irreversible { .. } => Ok(()),
        }
    }

    /// True when the operation can lose data: dropping a table or a column, and a column change
    /// that narrows the type (see [`crate::schema::ColumnType::widens_to`]) or makes a nullable column
    /// NOT NULL. Dropping an index loses no data (the index is rebuilt from the rows), so it is
    /// not. A raw statement is the author's responsibility and is not judged. Deleting rows is
    /// destructive; updating them is not (the author names the new values, and writes the `down`
    /// that restores them).
    pub fn is_destructive(&self) -> bool {
        match self {
            Operation::DropTable { .. }
            | Operation::DropColumn { .. }
            | Operation::DeleteRows { .. } => true,
            Operation::DropIndex { .. } => false,
            Operation::ModifyColumn { from, to, .. } => {
                !from.ty.widens_to(&to.ty) || (from.nullable && !to.nullable)
            }
            Operation::CreateTable(_)
            | Operation::AddColumn { .. }
            | Operation::CreateIndex { .. }
            | Operation::Raw { .. }
            | Operation::InsertRows { .. }
            | Operation::UpdateRows { .. }
            | Operation::Irreversible { .. } => false,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::CreateTable(def) => {
                write!(f, "create table {}", def.name)?;
                let columns: Vec<String> = def.columns.iter().map(describe_column).collect();
                write!(f, " ({})", columns.join(", "))
            }
            Operation::DropTable { table } => write!(f, "drop table {table}"),
            Operation::AddColumn {
                table,
                column,
                position,
            } => {
                write!(f, "add column {table}.{}", describe_column(column))?;
                match position {
                    Some(position) => write!(f, " ({position})"),
                    None => Ok(()),
                }
            }
            Operation::DropColumn { table, column } => write!(f, "drop column {table}.{column}"),
            Operation::ModifyColumn { table, from, to } => write!(
                f,
                "modify column {table}.{} -> {}",
                describe_column(from),
                describe_column(to)
            ),
            Operation::CreateIndex { table, index } => {
                let columns: Vec<&str> = index.columns.iter().map(|c| c.column.as_str()).collect();
                let unique = if index.unique { "unique " } else { "" };
                write!(
                    f,
                    "create {unique}index {} on {table} ({})",
                    index.name,
                    columns.join(", ")
                )
            }
            Operation::DropIndex { table, index } => write!(f, "drop index {index} on {table}"),
            Operation::Raw { statement } => write!(f, "raw: {statement}"),
            Operation::InsertRows { table, rows } => {
                let s = if rows.len() == 1 { "" } else { "s" };
                write!(f, "insert {} row{s} into {table}", rows.len())
            }
            Operation::UpdateRows { table, set, filter } => {
                let set: Vec<String> = set.iter().map(|(c, e)| format!("{c} = {e}")).collect();
                write!(f, "update {table} set {} where {filter}", set.join(", "))
            }
            Operation::DeleteRows { table, filter } => {
                write!(f, "delete from {table} where {filter}")
            }
            Operation::Irreversible { reason } => write!(f, "irreversible: {reason}"),
        }
    }
}

fn describe_column(c: &ColumnDef) -> String {
    let mut s = format!("{} {}", c.name, c.ty);
    if !c.nullable {
        s.push_str(" not null");
    }
    if let Some(default) = &c.default {
        s.push_str(&format!(" default {default}"));
    }
    if c.auto_increment {
        s.push_str(" auto_increment");
    }
    s
}
