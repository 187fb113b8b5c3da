//! SQLite: introspection from `sqlite_master` and the pragma table-valued functions, and
//! the lock (`BEGIN IMMEDIATE` for the whole run).

use super::DriverError;
use super::{Conn, SqlBackend};
use crate::dialect::Dialect;
use crate::introspect::{self, is_internal_table, stored_key};
use crate::sqlite::SqliteConn;
use std::time::Duration;
use toasty_migrate::{
    Result,
    schema::{IndexDef, TableSnapshot},
};

impl SqlBackend {
    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn sqlite_tables(&mut self, only: Option<&str>) -> Result<Vec<TableSnapshot>> {
        let Conn::Sqlite(s) = &self.conn else {
            return Ok(Vec::new());
        };
        let filter = match only {
            Some(literal) => format!("m.type = 'table' AND m.name = {literal}"),
            None => "m.type = 'table'".to_string(),
        };
        // One trip to the blocking pool, three queries, whatever the number of tables.
        let raw = s
            .call(move |c| read_sqlite_tables(c, &filter))
            .await
            .map_err(|e| self.error(e))?;
        raw.into_iter()
            .map(|(name, raw)| self.sqlite_snapshot(&name, raw))
            .collect::<Result<Vec<_>>>()
    }

    fn sqlite_snapshot(&self, name: &str, raw: RawSqliteTable) -> Result<TableSnapshot> {
        let autoincrement = raw.sql.to_ascii_uppercase().contains("AUTOINCREMENT");
        let mut columns = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (column, declared, not_null, default, pk_position) in raw.columns {
            let quoted = Dialect::Sqlite
                .ident(&column)
                .map_err(|m| self.unsupported(m))?;
            let mut ty = introspect::sqlite_type(&declared);
            if let Some(variants) = introspect::sqlite_enum_variants(&raw.sql, &quoted) {
                ty = toasty_migrate::schema::ColumnType::Enum(toasty_migrate::schema::EnumType {
                    name: None,
                    variants,
                });
            }
            if pk_position > 0 {
                pk.push((pk_position, column.clone()));
            }
            let auto = autoincrement && pk_position > 0;
            columns.push(introspect::column(
                Dialect::Sqlite,
                column,
                ty,
                !not_null,
                default.as_deref(),
                auto,
            ));
        }
        pk.sort();
        let indexes = raw
            .indexes
            .into_iter()
            .map(|(index, unique, keys)| IndexDef {
                name: index,
                columns: keys.iter().map(|(c, desc)| stored_key(c, *desc)).collect(),
                unique,
            })
            .collect();
        Ok(TableSnapshot {
            name: name.to_string(),
            columns,
            primary_key: pk.into_iter().map(|(_, c)| stored_key(&c, false)).collect(),
            indexes,
        })
    }
}

/// Begins the run-long write transaction that is the lock, without waiting; `false` if another
/// connection writes.
pub(super) async fn try_lock(
    s: &SqliteConn,
    busy_timeout: Duration,
) -> std::result::Result<bool, DriverError> {
    s.call(move |c| {
        c.busy_timeout(Duration::ZERO)?;
        let begun = c.execute_batch("BEGIN IMMEDIATE");
        c.busy_timeout(busy_timeout)?;
        match begun {
            Ok(()) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(DriverError::from)
}

/// (name, unique, [(column, descending)]) of a SQLite index.
type RawSqliteIndex = (String, bool, Vec<(String, bool)>);

/// A SQLite table as its pragmas give it.
struct RawSqliteTable {
    sql: String,
    /// (name, declared type, NOT NULL, default expression, position in the primary key or 0)
    columns: Vec<(String, String, bool, Option<String>, i64)>,
    /// The indexes `CREATE INDEX` made.
    indexes: Vec<RawSqliteIndex>,
}

/// Every SQLite table `filter` (on `sqlite_master m`) keeps, with its columns and `CREATE
/// INDEX` indexes, in three queries whatever the number of tables (the pragma table-valued
/// functions joined to `sqlite_master`), internal tables left out.
fn read_sqlite_tables(
    c: &rusqlite::Connection,
    filter: &str,
) -> rusqlite::Result<Vec<(String, RawSqliteTable)>> {
    let mut tables: std::collections::BTreeMap<String, RawSqliteTable> =
        std::collections::BTreeMap::new();
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, m.sql FROM sqlite_master m WHERE {filter}"
    ))?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (name, sql) = row?;
        if !is_internal_table(&name) {
            tables.insert(
                name,
                RawSqliteTable {
                    sql,
                    columns: Vec::new(),
                    indexes: Vec::new(),
                },
            );
        }
    }
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE {filter} ORDER BY m.name, p.cid"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get::<_, i64>(3)? != 0,
                r.get(4)?,
                r.get(5)?,
            ),
        ))
    })?;
    for row in rows {
        let (table, column) = row?;
        if let Some(t) = tables.get_mut(&table) {
            t.columns.push(column);
        }
    }
    // Only indexes made by CREATE INDEX (origin 'c'): not the primary key's, not UNIQUE constraints'.
    // Only tables with such an index are asked (their `sqlite_master` rows have SQL; automatic
    // indexes have none): a pragma call per table costs 1.5 ms at 1,000 tables.
    let mut stmt = c.prepare(&format!(
        "SELECT m.name, il.name, il.\"unique\", ii.name, ii.\"desc\" \
         FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) ii \
         WHERE {filter} AND il.origin = 'c' AND ii.key = 1 \
         AND m.name IN (SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL) \
         ORDER BY m.name, il.name, ii.seqno"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)? == 1,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)? == 1,
        ))
    })?;
    for row in rows {
        let (table, index, unique, column, desc) = row?;
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        match t.indexes.last_mut() {
            Some((name, _, keys)) if *name == index => keys.push((column, desc)),
            _ => t.indexes.push((index, unique, vec![(column, desc)])),
        }
    }
    Ok(tables.into_iter().collect())
}
