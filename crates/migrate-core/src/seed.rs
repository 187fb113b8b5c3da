//! Seed data: rows a database should hold (lookup tables, demo data), kept in JSON files beside
//! the migrations, one file per named set (`seeds/default.json`, `seeds/demo.json`), and applied
//! idempotently: each row is inserted, updated by primary key, or left as it is.
//!
//! ```json
//! [
//!   { "table": "roles", "rows": [ { "id": 1, "name": "admin" }, { "id": 2, "name": "user" } ] }
//! ]
//! ```
//!
//! Tables are seeded in the order the file lists them (parents before the rows that refer to
//! them). Every row is checked against the schema the applied migrations build before anything
//! is written, with the same checks as a data step.

use crate::backend::Backend;
use crate::data::{self, Expr, Filter, Row, Value};
use crate::migrator::Migrator;
use crate::operation::Operation;
use crate::snapshot::TableSnapshot;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// One seed file: its rows, table by table, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedSet {
    pub name: String,
    pub path: PathBuf,
    pub tables: Vec<SeedTable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedTable {
    pub table: String,
    pub rows: Vec<Row>,
}

/// What seeding did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedCount {
    pub table: String,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl SeedSet {
    /// Reads the set `name` from `dir` (`<dir>/<name>.json`).
    pub fn load(dir: impl AsRef<Path>, name: &str) -> Result<SeedSet> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::InvalidName {
                name: name.into(),
                message: "a seed set is named with letters, digits, `_` and `-`".into(),
            });
        }
        let path = dir.as_ref().join(format!("{name}.json"));
        let text = crate::fs::read_text(&path, |line, column| {
            seed_error(
                &path,
                "",
                format!("not UTF-8 text (line {line}, column {column})"),
            )
        })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| seed_error(&path, "", format!("not JSON: {e}")))?;
        let tables = parse_tables(&path, &json)?;
        Ok(SeedSet {
            name: name.into(),
            path,
            tables,
        })
    }
}

fn seed_error(path: &Path, json_path: &str, message: String) -> Error {
    Error::Seed {
        path: path.to_path_buf(),
        json_path: if json_path.is_empty() {
            "$".into()
        } else {
            json_path.into()
        },
        message,
    }
}

fn parse_tables(path: &Path, json: &serde_json::Value) -> Result<Vec<SeedTable>> {
    let shape = "a list of { \"table\": NAME, \"rows\": [ { COLUMN: VALUE, ... }, ... ] }";
    let fail = |at: &str, message: String| seed_error(path, at, message);
    let list = json
        .as_array()
        .ok_or_else(|| fail("", format!("expected {shape}")))?;
    let mut tables = Vec::with_capacity(list.len());
    for (t, entry) in list.iter().enumerate() {
        let at = format!("[{t}]");
        let object = entry
            .as_object()
            .ok_or_else(|| fail(&at, format!("expected {shape}")))?;
        if let Some(key) = object.keys().find(|k| *k != "table" && *k != "rows") {
            return Err(fail(
                &at,
                format!("unknown field {key:?} (expected \"table\" and \"rows\")"),
            ));
        }
        let table = object
            .get("table")
            .and_then(|v| v.as_str())
            .ok_or_else(|| fail(&at, "no \"table\" name".into()))?;
        let rows = object
            .get("rows")
            .and_then(|v| v.as_array())
            .ok_or_else(|| fail(&at, "no \"rows\" list".into()))?;
        let mut parsed = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            let at = format!("[{t}].rows[{r}]");
            let object = row
                .as_object()
                .ok_or_else(|| fail(&at, "expected a row: { COLUMN: VALUE, ... }".into()))?;
            let mut values = Vec::with_capacity(object.len());
            for (column, value) in object {
                values.push((
                    column.clone(),
                    json_value(value).map_err(|m| fail(&format!("{at}.{column}"), m))?,
                ));
            }
            parsed.push(values);
        }
        tables.push(SeedTable {
            table: table.into(),
            rows: parsed,
        });
    }
    Ok(tables)
}

fn json_value(value: &serde_json::Value) -> std::result::Result<Value, String> {
    use serde_json::Value as J;
    Ok(match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(f)) if n.is_f64() => Value::Float(f),
            _ => return Err(format!("{n} does not fit a 64-bit integer")),
        },
        J::String(s) => Value::Text(s.clone()),
        J::Array(_) | J::Object(_) => {
            return Err("a list or object; seed values are null, booleans, numbers or text".into());
        }
    })
}

impl Migrator {
    /// Applies `sets` in order to a database that has every migration applied: each row is
    /// inserted if its primary key is new, updated if it differs, and otherwise left alone, so
    /// running it again changes nothing. Every row is checked against the schema first; a row
    /// that does not fit stops the seeding before anything is written.
    pub async fn seed(
        &self,
        backend: &mut impl Backend,
        sets: &[SeedSet],
    ) -> Result<Vec<SeedCount>> {
        let statuses = self.status(backend).await?;
        if let Some(s) = statuses.iter().find(|s| !s.state.is_applied()) {
            return Err(Error::Migration {
                version: s.version.clone(),
                message: "is not applied as its file says (see migrate:status); seeds are checked \
                          against the schema the migrations build, so run migrate:up first"
                    .into(),
            });
        }
        let (schema, _) = self.replayed(&statuses, |_| true)?;
        for set in sets {
            for (t, seeded) in set.tables.iter().enumerate() {
                let table = schema.table(&seeded.table).ok_or_else(|| {
                    seed_error(
                        &set.path,
                        &format!("[{t}].table"),
                        format!("table {:?} does not exist", seeded.table),
                    )
                })?;
                for (r, row) in seeded.rows.iter().enumerate() {
                    data::check_row(table, row)
                        .map_err(|m| seed_error(&set.path, &format!("[{t}].rows[{r}]"), m))?;
                }
            }
        }
        crate::runner::lock(backend).await?;
        let result = seed_locked(backend, &schema, sets).await;
        crate::runner::unlock(backend, false, result).await
    }
}

async fn seed_locked(
    backend: &mut impl Backend,
    schema: &crate::replay::IndexedSchema,
    sets: &[SeedSet],
) -> Result<Vec<SeedCount>> {
    let mut counts: Vec<SeedCount> = Vec::new();
    for set in sets {
        for seeded in &set.tables {
            let table = schema.table(&seeded.table).expect("checked above");
            let at = match counts.iter().position(|c| c.table == seeded.table) {
                Some(at) => at,
                None => {
                    counts.push(SeedCount {
                        table: seeded.table.clone(),
                        ..SeedCount::default()
                    });
                    counts.len() - 1
                }
            };
            for row in &seeded.rows {
                let op = match row_state(backend, table, row).await? {
                    RowState::AsSeeded => {
                        counts[at].unchanged += 1;
                        continue;
                    }
                    RowState::Differs => {
                        counts[at].updated += 1;
                        Operation::UpdateRows {
                            table: table.name.clone(),
                            set: row
                                .iter()
                                .filter(|(c, _)| !table.primary_key.iter().any(|k| &k.column == c))
                                .map(|(c, v)| (c.clone(), Expr::Value(v.clone())))
                                .collect(),
                            filter: data::key_filter(table, std::slice::from_ref(row)),
                        }
                    }
                    RowState::Absent => {
                        counts[at].inserted += 1;
                        Operation::InsertRows {
                            table: table.name.clone(),
                            rows: vec![row.clone()],
                        }
                    }
                };
                for step in backend.plan(&op, Some(table), false)? {
                    backend.perform(&step).await?;
                }
            }
        }
    }
    Ok(counts)
}

enum RowState {
    Absent,
    Differs,
    AsSeeded,
}

async fn row_state(
    backend: &mut impl Backend,
    table: &TableSnapshot,
    row: &Row,
) -> Result<RowState> {
    let key = data::key_filter(table, std::slice::from_ref(row));
    let same: Vec<Filter> = row
        .iter()
        .map(|(c, v)| match v {
            Value::Null => Filter::IsNull(c.clone()),
            v => Filter::Eq(c.clone(), v.clone()),
        })
        .collect();
    if backend.count_rows(table, &Filter::And(same)).await? > 0 {
        return Ok(RowState::AsSeeded);
    }
    Ok(match backend.count_rows(table, &key).await? {
        0 => RowState::Absent,
        _ => RowState::Differs,
    })
}
