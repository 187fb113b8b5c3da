//! Replaying operations on a schema: [`IndexedSchema`] keeps its tables by name and knows every
//! index name, so that applying one operation costs the size of its table, never the schema's
//! (a first migration of 10,000 tables replays in linear time); [`replay`] builds the schema a
//! run of migrations leaves, from empty.

use crate::data;
use crate::migration::MigrationPlan;
use crate::operation::{ColumnPosition, Operation};
use crate::snapshot::{SchemaSnapshot, TableSnapshot};
use crate::{Error, Result};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

/// A schema that operations are applied to, one by one, each checked to fit: what the runner
/// plans from, lint and `migrate:check` judge against, and the generator and squash build.
#[derive(Debug, Clone, Default)]
pub struct IndexedSchema {
    tables: BTreeMap<String, TableSnapshot>,
    /// Every index of every table: index names are unique across a schema.
    index_names: HashSet<String>,
}

impl From<SchemaSnapshot> for IndexedSchema {
    fn from(snapshot: SchemaSnapshot) -> Self {
        let index_names = snapshot
            .tables
            .iter()
            .flat_map(|t| t.indexes.iter().map(|i| i.name.clone()))
            .collect();
        let tables = snapshot
            .tables
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        IndexedSchema {
            tables,
            index_names,
        }
    }
}

impl IndexedSchema {
    pub fn table(&self, name: &str) -> Option<&TableSnapshot> {
        self.tables.get(name)
    }

    /// The snapshot of this schema, in canonical order.
    pub fn to_snapshot(&self) -> SchemaSnapshot {
        SchemaSnapshot::new(self.tables.values().cloned().collect())
    }

    pub fn into_snapshot(self) -> SchemaSnapshot {
        SchemaSnapshot::new(self.tables.into_values().collect())
    }

    /// Applies one operation, checking that it fits: the table, column or index it names exists
    /// (or, for a create, does not), and no column still in a key or index is dropped. The
    /// schema stays valid after every operation; one that does not fit leaves it as it was.
    pub fn apply(&mut self, op: &Operation) -> Result<()> {
        let fail = |message: String| Error::Apply {
            operation: op.to_string(),
            message,
        };
        let missing = |name: &str| fail(format!("table {name:?} does not exist"));
        match op {
            Operation::CreateTable(def) => match self.tables.entry(def.name.clone()) {
                Entry::Occupied(_) => Err(fail(format!("table {:?} already exists", def.name))),
                Entry::Vacant(entry) => {
                    entry.insert(def.clone().into_snapshot());
                    Ok(())
                }
            },
            Operation::DropTable { table } => {
                let t = self.tables.get(table).ok_or_else(|| missing(table))?;
                if let Some(index) = t.indexes.first() {
                    return Err(fail(format!(
                        "index {:?} must be dropped first",
                        index.name
                    )));
                }
                self.tables.remove(table);
                Ok(())
            }
            Operation::CreateIndex { table, index } => {
                if self.index_names.contains(&index.name) {
                    return Err(fail(format!("index {:?} already exists", index.name)));
                }
                let t = self.tables.get_mut(table).ok_or_else(|| missing(table))?;
                if let Some(absent) = index.columns.iter().find(|k| t.column(&k.column).is_none()) {
                    return Err(fail(format!("column {:?} does not exist", absent.column)));
                }
                let at = t
                    .indexes
                    .binary_search_by(|i| i.name.cmp(&index.name))
                    .unwrap_or_else(|e| e);
                t.indexes.insert(at, index.clone());
                self.index_names.insert(index.name.clone());
                Ok(())
            }
            Operation::DropIndex { table, index } => {
                let t = self.tables.get_mut(table).ok_or_else(|| missing(table))?;
                let ii = t
                    .indexes
                    .iter()
                    .position(|i| &i.name == index)
                    .ok_or_else(|| {
                        fail(format!("index {index:?} does not exist on table {table:?}"))
                    })?;
                t.indexes.remove(ii);
                self.index_names.remove(index);
                Ok(())
            }
            Operation::Raw { .. } => Err(fail(
                "a raw statement cannot be replayed on a schema snapshot".into(),
            )),
            Operation::Irreversible { .. } => Ok(()),
            Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::ModifyColumn { table, .. }
            | Operation::InsertRows { table, .. }
            | Operation::UpdateRows { table, .. }
            | Operation::DeleteRows { table, .. } => {
                let t = self.tables.get_mut(table).ok_or_else(|| missing(table))?;
                apply_to_table(t, op).map_err(fail)
            }
        }
    }
}

/// An operation on the columns or rows of `t`, the table it names.
fn apply_to_table(t: &mut TableSnapshot, op: &Operation) -> Result<(), String> {
    match op {
        Operation::AddColumn {
            column, position, ..
        } => {
            if t.column(&column.name).is_some() {
                return Err(format!("column {:?} already exists", column.name));
            }
            let at = ColumnPosition::index_in(position.as_ref(), &t.columns)?;
            t.columns.insert(at, column.clone());
        }
        Operation::DropColumn { column, .. } => {
            let ci = t
                .columns
                .iter()
                .position(|c| &c.name == column)
                .ok_or_else(|| format!("column {column:?} does not exist"))?;
            if t.primary_key.iter().any(|k| &k.column == column) {
                return Err(format!("column {column:?} is part of the primary key"));
            }
            if let Some(index) = t
                .indexes
                .iter()
                .find(|i| i.columns.iter().any(|k| &k.column == column))
            {
                return Err(format!("index {:?} covers column {column:?}", index.name));
            }
            if t.columns.len() == 1 {
                return Err("a table cannot lose its last column".into());
            }
            t.columns.remove(ci);
        }
        Operation::ModifyColumn { from, to, .. } => {
            let ci = t
                .columns
                .iter()
                .position(|c| c.name == from.name)
                .ok_or_else(|| format!("column {:?} does not exist", from.name))?;
            if t.columns[ci] != *from {
                return Err(format!(
                    "column {:?} is not as the migration expects (found {:?})",
                    from.name, t.columns[ci]
                ));
            }
            if from.name != to.name && t.column(&to.name).is_some() {
                return Err(format!("column {:?} already exists", to.name));
            }
            t.columns[ci] = to.clone();
            // A rename carries over into every key and index, as in SQL.
            let keys = t
                .primary_key
                .iter_mut()
                .chain(t.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()));
            for key in keys.filter(|k| k.column == from.name) {
                key.column = to.name.clone();
            }
        }
        // Data steps leave the schema as it is; they must fit it.
        Operation::InsertRows { rows, .. } => data::check_insert(t, rows)?,
        Operation::UpdateRows { set, filter, .. } => data::check_update(t, set, filter)?,
        Operation::DeleteRows { filter, .. } => data::check_filter(t, filter)?,
        _ => unreachable!("`IndexedSchema::apply` applies the others"),
    }
    Ok(())
}

/// The first operation that did not replay: which, and why.
pub(crate) struct ReplayFailure<'p> {
    pub plan: &'p MigrationPlan,
    /// Its index in `plan.up`.
    pub index: usize,
    pub error: Error,
}

/// `plans`' `up` operations replayed from empty, in order, and the first that did not fit (a
/// raw statement never does); the ones after it are replayed past it.
pub(crate) fn replay<'p>(
    plans: impl IntoIterator<Item = &'p MigrationPlan>,
) -> (IndexedSchema, Option<ReplayFailure<'p>>) {
    let mut schema = IndexedSchema::default();
    let mut first_failure = None;
    for plan in plans {
        for (index, op) in plan.up.iter().enumerate() {
            if let Err(error) = schema.apply(op)
                && first_failure.is_none()
            {
                first_failure = Some(ReplayFailure { plan, index, error });
            }
        }
    }
    (schema, first_failure)
}
