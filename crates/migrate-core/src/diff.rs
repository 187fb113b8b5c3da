//! Change detection: from two snapshots to the ordered list of [`SchemaChange`]s that turns the
//! old schema into the new one, and from changes to the `up` and `down` operations.

use crate::operation::{ColumnPosition, Operation};
use crate::snapshot::{ColumnDef, IndexColumn, IndexDef, SchemaSnapshot, TableDef, TableSnapshot};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// One difference between two schemas. Drop and modify variants carry the old definition, so the
/// change can be reverted without looking anything up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaChange {
    CreateTable {
        table: TableDef,
    },
    DropTable {
        table: TableDef,
    },
    AddColumn {
        table: String,
        column: ColumnDef,
    },
    DropColumn {
        table: String,
        column: ColumnDef,
        /// Where the column was, so that `down` puts it back there; `None` when it was last.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<ColumnPosition>,
    },
    ModifyColumn {
        table: String,
        old: ColumnDef,
        new: ColumnDef,
    },
    CreateIndex {
        table: String,
        index: IndexDef,
    },
    DropIndex {
        table: String,
        index: IndexDef,
    },
}

/// The class of a change, from the kind of change alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Creates something new; existing data is untouched.
    Additive,
    /// Removes something.
    Destructive,
    /// Changes something in place.
    Modificative,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ChangeKind::Additive => "additive",
            ChangeKind::Destructive => "destructive",
            ChangeKind::Modificative => "modificative",
        })
    }
}

impl SchemaChange {
    pub fn kind(&self) -> ChangeKind {
        match self {
            SchemaChange::CreateTable { .. }
            | SchemaChange::AddColumn { .. }
            | SchemaChange::CreateIndex { .. } => ChangeKind::Additive,
            SchemaChange::DropTable { .. }
            | SchemaChange::DropColumn { .. }
            | SchemaChange::DropIndex { .. } => ChangeKind::Destructive,
            SchemaChange::ModifyColumn { .. } => ChangeKind::Modificative,
        }
    }

    /// True when applying the change can lose data or make existing rows invalid; the rule is
    /// [`Operation::is_destructive`] of the change's `up`.
    pub fn is_destructive(&self) -> bool {
        self.up().is_destructive()
    }

    pub fn table(&self) -> &str {
        match self {
            SchemaChange::CreateTable { table } | SchemaChange::DropTable { table } => &table.name,
            SchemaChange::AddColumn { table, .. }
            | SchemaChange::DropColumn { table, .. }
            | SchemaChange::ModifyColumn { table, .. }
            | SchemaChange::CreateIndex { table, .. }
            | SchemaChange::DropIndex { table, .. } => table,
        }
    }

    /// The operation that applies the change.
    pub fn up(&self) -> Operation {
        match self.clone() {
            SchemaChange::CreateTable { table } => Operation::CreateTable(table),
            SchemaChange::DropTable { table } => Operation::DropTable { table: table.name },
            SchemaChange::AddColumn { table, column } => Operation::AddColumn {
                table,
                column,
                position: None,
            },
            SchemaChange::DropColumn { table, column, .. } => Operation::DropColumn {
                table,
                column: column.name,
            },
            SchemaChange::ModifyColumn { table, old, new } => Operation::ModifyColumn {
                table,
                from: old,
                to: new,
            },
            SchemaChange::CreateIndex { table, index } => Operation::CreateIndex { table, index },
            SchemaChange::DropIndex { table, index } => Operation::DropIndex {
                table,
                index: index.name,
            },
        }
    }

    /// The operation that reverts the change.
    pub fn down(&self) -> Operation {
        match self.clone() {
            SchemaChange::CreateTable { table } => Operation::DropTable { table: table.name },
            SchemaChange::DropTable { table } => Operation::CreateTable(table),
            SchemaChange::AddColumn { table, column } => Operation::DropColumn {
                table,
                column: column.name,
            },
            SchemaChange::DropColumn {
                table,
                column,
                position,
            } => Operation::AddColumn {
                table,
                column,
                position,
            },
            SchemaChange::ModifyColumn { table, old, new } => Operation::ModifyColumn {
                table,
                from: new,
                to: old,
            },
            SchemaChange::CreateIndex { table, index } => Operation::DropIndex {
                table,
                index: index.name,
            },
            SchemaChange::DropIndex { table, index } => Operation::CreateIndex { table, index },
        }
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaChange::ModifyColumn { table, old, new }
                if old.name != new.name && old.ty == new.ty =>
            {
                write!(f, "rename column {table}.{} -> {}", old.name, new.name)?;
                if old.nullable != new.nullable
                    || old.default != new.default
                    || old.auto_increment != new.auto_increment
                {
                    write!(f, " ({})", self.up())?;
                }
                Ok(())
            }
            _ => write!(f, "{}", self.up()),
        }
    }
}

/// The ordered changes from one schema to another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaDiff {
    pub changes: Vec<SchemaChange>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn has_destructive(&self) -> bool {
        self.changes.iter().any(SchemaChange::is_destructive)
    }

    /// The operations that apply the diff, in order.
    pub fn up_operations(&self) -> Vec<Operation> {
        self.changes.iter().map(SchemaChange::up).collect()
    }

    /// The operations that revert the diff: each change undone, newest first.
    pub fn down_operations(&self) -> Vec<Operation> {
        self.changes.iter().rev().map(SchemaChange::down).collect()
    }
}

/// A hint that a column was renamed, so the diff says `ModifyColumn` (keeping its data) instead of
/// a drop and an add.
///
/// Parsed from `users.mail=email` (the CLI's `--rename`) or `users.mail -> users.email`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnRename {
    pub table: String,
    pub from: String,
    pub to: String,
}

impl FromStr for ColumnRename {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Diff(format!(
                "rename hint {s:?} is not of the form `table.old=new` or `table.old -> table.new`"
            ))
        };
        let (left, right) = s
            .split_once("->")
            .or_else(|| s.split_once('='))
            .ok_or_else(bad)?;
        let (table, from) = left.trim().split_once('.').ok_or_else(bad)?;
        let right = right.trim();
        let to = match right.split_once('.') {
            Some((to_table, to)) if to_table == table => to,
            Some(_) => {
                return Err(Error::Diff(format!(
                    "rename hint {s:?} moves a column to another table; only columns within a table can be renamed"
                )));
            }
            None => right,
        };
        if table.is_empty() || from.is_empty() || to.is_empty() {
            return Err(bad());
        }
        Ok(ColumnRename {
            table: table.to_string(),
            from: from.to_string(),
            to: to.to_string(),
        })
    }
}

/// Options for [`detect_changes_with`].
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub renames: Vec<ColumnRename>,
}

/// The changes that turn `old` into `new`, in an order that can be executed.
pub fn detect_changes(old: &SchemaSnapshot, new: &SchemaSnapshot) -> Result<SchemaDiff> {
    detect_changes_with(old, new, &DiffOptions::default())
}

/// [`detect_changes`] with rename hints.
///
/// The order is: index drops, table drops, table creates, then per table (by name) column drops,
/// modifications and adds, and last index creates. So an index goes before the column it covers
/// and after the table it belongs to, and a name is freed before it is reused.
pub fn detect_changes_with(
    old: &SchemaSnapshot,
    new: &SchemaSnapshot,
    options: &DiffOptions,
) -> Result<SchemaDiff> {
    let old_tables: HashMap<&str, &TableSnapshot> =
        old.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let new_tables: HashMap<&str, &TableSnapshot> =
        new.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let renames = RenameMap::new(&options.renames, &old_tables, &new_tables)?;

    let mut old_names: Vec<&str> = old_tables.keys().copied().collect();
    let mut new_names: Vec<&str> = new_tables.keys().copied().collect();
    old_names.sort_unstable();
    new_names.sort_unstable();

    let mut drop_indexes = Vec::new();
    let mut drop_tables = Vec::new();
    let mut create_tables = Vec::new();
    let mut column_changes = Vec::new();
    let mut create_indexes = Vec::new();

    for &name in &old_names {
        let old_table = old_tables[name];
        let Some(new_table) = new_tables.get(name) else {
            for index in sorted_indexes(old_table) {
                drop_indexes.push(SchemaChange::DropIndex {
                    table: name.to_string(),
                    index: index.clone(),
                });
            }
            drop_tables.push(SchemaChange::DropTable {
                table: old_table.def(),
            });
            continue;
        };
        if old_table == *new_table {
            continue;
        }
        diff_table(
            old_table,
            new_table,
            &renames,
            &mut drop_indexes,
            &mut column_changes,
            &mut create_indexes,
        )?;
    }
    for &name in &new_names {
        if !old_tables.contains_key(name) {
            let new_table = new_tables[name];
            create_tables.push(SchemaChange::CreateTable {
                table: new_table.def(),
            });
            for index in sorted_indexes(new_table) {
                create_indexes.push(SchemaChange::CreateIndex {
                    table: name.to_string(),
                    index: index.clone(),
                });
            }
        }
    }

    // Indexes of existing and of new tables, together by table.
    create_indexes.sort_by(|a, b| a.table().cmp(b.table()));
    let mut changes = drop_indexes;
    changes.extend(drop_tables);
    changes.extend(create_tables);
    changes.extend(column_changes);
    changes.extend(create_indexes);
    Ok(SchemaDiff { changes })
}

fn sorted_indexes(table: &TableSnapshot) -> Vec<&IndexDef> {
    let mut indexes: Vec<&IndexDef> = table.indexes.iter().collect();
    indexes.sort_by(|a, b| a.name.cmp(&b.name));
    indexes
}

/// Rename hints by table, checked against both schemas.
struct RenameMap<'a> {
    by_table: HashMap<&'a str, HashMap<&'a str, &'a str>>,
}

impl<'a> RenameMap<'a> {
    fn new(
        hints: &'a [ColumnRename],
        old: &HashMap<&str, &TableSnapshot>,
        new: &HashMap<&str, &TableSnapshot>,
    ) -> Result<Self> {
        let mut by_table: HashMap<&str, HashMap<&str, &str>> = HashMap::new();
        let mut targets: HashSet<(&str, &str)> = HashSet::new();
        for hint in hints {
            let label = format!("rename {}.{} -> {}", hint.table, hint.from, hint.to);
            let (Some(old_table), Some(new_table)) =
                (old.get(hint.table.as_str()), new.get(hint.table.as_str()))
            else {
                return Err(Error::Diff(format!(
                    "{label}: table {:?} is not in both schemas",
                    hint.table
                )));
            };
            if old_table.column(&hint.from).is_none() {
                return Err(Error::Diff(format!(
                    "{label}: the old schema has no column {:?}",
                    hint.from
                )));
            }
            if new_table.column(&hint.to).is_none() {
                return Err(Error::Diff(format!(
                    "{label}: the new schema has no column {:?}",
                    hint.to
                )));
            }
            let renames = by_table.entry(hint.table.as_str()).or_default();
            if renames
                .insert(hint.from.as_str(), hint.to.as_str())
                .is_some()
            {
                return Err(Error::Diff(format!(
                    "{label}: column {:?} is renamed twice",
                    hint.from
                )));
            }
            if !targets.insert((hint.table.as_str(), hint.to.as_str())) {
                return Err(Error::Diff(format!(
                    "{label}: two columns are renamed to {:?}",
                    hint.to
                )));
            }
        }
        // A rename onto a name the old table still uses (and keeps) cannot be told apart.
        for hint in hints {
            let old_table = old[hint.table.as_str()];
            let renamed_away = by_table[hint.table.as_str()].contains_key(hint.to.as_str());
            if hint.from != hint.to && old_table.column(&hint.to).is_some() && !renamed_away {
                return Err(Error::Diff(format!(
                    "rename {}.{} -> {}: the old schema already has a column {:?} that is not renamed",
                    hint.table, hint.from, hint.to, hint.to
                )));
            }
        }
        Ok(RenameMap { by_table })
    }

    /// The column's name in the new schema.
    fn new_name<'b>(&self, table: &str, column: &'b str) -> &'b str
    where
        'a: 'b,
    {
        self.by_table
            .get(table)
            .and_then(|m| m.get(column).copied())
            .unwrap_or(column)
    }

    fn map_keys(&self, table: &str, keys: &[IndexColumn]) -> Vec<IndexColumn> {
        keys.iter()
            .map(|k| IndexColumn {
                column: self.new_name(table, &k.column).to_string(),
                ..k.clone()
            })
            .collect()
    }
}

fn diff_table(
    old: &TableSnapshot,
    new: &TableSnapshot,
    renames: &RenameMap<'_>,
    drop_indexes: &mut Vec<SchemaChange>,
    column_changes: &mut Vec<SchemaChange>,
    create_indexes: &mut Vec<SchemaChange>,
) -> Result<()> {
    let table = old.name.as_str();
    let old_pk = renames.map_keys(table, &old.primary_key);
    if old_pk != new.primary_key {
        let names = |keys: &[IndexColumn]| {
            keys.iter()
                .map(|k| k.column.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::Diff(format!(
            "the primary key of table {table:?} changes from ({}) to ({}); changing a primary key is not \
             supported: create a new table and copy the data in a hand-written migration",
            names(&old.primary_key),
            names(&new.primary_key)
        )));
    }

    let new_columns: HashMap<&str, &ColumnDef> =
        new.columns.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut matched: HashSet<&str> = HashSet::new();
    let mut drops = Vec::new();
    let mut modifies = Vec::new();
    for (i, old_column) in old.columns.iter().enumerate() {
        let new_name = renames.new_name(table, &old_column.name);
        match new_columns.get(new_name) {
            Some(new_column) => {
                matched.insert(new_name);
                if old_column != *new_column {
                    modifies.push((old_column, *new_column));
                }
            }
            None => drops.push(SchemaChange::DropColumn {
                table: table.to_string(),
                column: old_column.clone(),
                position: match i {
                    _ if i + 1 == old.columns.len() => None,
                    0 => Some(ColumnPosition::First),
                    _ => Some(ColumnPosition::After(old.columns[i - 1].name.clone())),
                },
            }),
        }
    }
    // Last column first: `down` then puts them back first to last, each after a column that
    // is already there.
    column_changes.extend(drops.into_iter().rev());
    for (old_column, new_column) in order_renames(table, modifies)? {
        column_changes.push(SchemaChange::ModifyColumn {
            table: table.to_string(),
            old: old_column.clone(),
            new: new_column.clone(),
        });
    }
    for new_column in &new.columns {
        if !matched.contains(new_column.name.as_str()) {
            column_changes.push(SchemaChange::AddColumn {
                table: table.to_string(),
                column: new_column.clone(),
            });
        }
    }

    let new_indexes: HashMap<&str, &IndexDef> =
        new.indexes.iter().map(|i| (i.name.as_str(), i)).collect();
    for old_index in sorted_indexes(old) {
        let kept = new_indexes
            .get(old_index.name.as_str())
            .is_some_and(|new_index| {
                new_index.unique == old_index.unique
                    && renames.map_keys(table, &old_index.columns) == new_index.columns
            });
        if !kept {
            drop_indexes.push(SchemaChange::DropIndex {
                table: table.to_string(),
                index: old_index.clone(),
            });
        }
    }
    let old_index_names: HashMap<&str, &IndexDef> =
        old.indexes.iter().map(|i| (i.name.as_str(), i)).collect();
    for new_index in sorted_indexes(new) {
        let kept = old_index_names
            .get(new_index.name.as_str())
            .is_some_and(|old_index| {
                new_index.unique == old_index.unique
                    && renames.map_keys(table, &old_index.columns) == new_index.columns
            });
        if !kept {
            create_indexes.push(SchemaChange::CreateIndex {
                table: table.to_string(),
                index: new_index.clone(),
            });
        }
    }
    Ok(())
}

/// Orders column modifications so that a rename never takes a name another column still holds
/// (`b -> c` before `a -> b`). A cycle (`a -> b`, `b -> a`) has no such order.
fn order_renames<'c>(
    table: &str,
    mut pending: Vec<(&'c ColumnDef, &'c ColumnDef)>,
) -> Result<Vec<(&'c ColumnDef, &'c ColumnDef)>> {
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let sources: HashSet<&str> = pending
            .iter()
            .filter(|(old, new)| old.name != new.name)
            .map(|(old, _)| old.name.as_str())
            .collect();
        let ready = pending
            .iter()
            .position(|(old, new)| old.name == new.name || !sources.contains(new.name.as_str()));
        match ready {
            Some(i) => ordered.push(pending.remove(i)),
            None => {
                let cycle: Vec<String> = pending
                    .iter()
                    .map(|(old, new)| format!("{} -> {}", old.name, new.name))
                    .collect();
                return Err(Error::Diff(format!(
                    "the column renames in table {table:?} form a cycle ({}); rename through a temporary name in two migrations",
                    cycle.join(", ")
                )));
            }
        }
    }
    Ok(ordered)
}
