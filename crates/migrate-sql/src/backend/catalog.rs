//! What PostgreSQL's and MySQL's catalog readers share: assembling tables from rows.

use crate::introspect::stored_key;
use std::collections::BTreeMap;
use toasty_migrate::schema::{IndexDef, TableSnapshot};

pub(super) fn empty_table(name: String) -> TableSnapshot {
    TableSnapshot {
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
    }
}

/// Index rows `(table, index, unique, primary, column, descending)` in key order.
pub(super) fn add_index_rows(
    tables: &mut BTreeMap<String, TableSnapshot>,
    rows: Vec<(String, String, bool, bool, String, bool)>,
) {
    for (table, index, unique, primary, column, descending) in rows {
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        let key = stored_key(&column, descending);
        if primary {
            t.primary_key.push(key);
        } else if let Some(existing) = t.indexes.iter_mut().find(|i| i.name == index) {
            existing.columns.push(key);
        } else {
            t.indexes.push(IndexDef {
                name: index,
                columns: vec![key],
                unique,
            });
        }
    }
}
