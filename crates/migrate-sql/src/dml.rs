//! From data steps (insert, update, delete rows) to SQL with bound parameters, per dialect. Pure:
//! the input is the step and the table as it is when the step runs; every value is a parameter,
//! every name quoted.
//!
//! Updates and deletes run in batches of keys (keyset pagination: each batch is "the next
//! `batch_size` matching keys from where the last one ended"), so no single statement holds its
//! locks over the whole table. The key is the primary key (a row value when it has several
//! columns) on PostgreSQL and MySQL, and the `rowid` on SQLite, which every table Toasty or we
//! create has, whatever its key's type. A key type that cannot be read back and bound again
//! exactly ([`batch_key`]) gets one statement.

use crate::dialect::{Dialect, DialectError};
use toasty_migrate::data::{Expr, Filter, Row, Value};
use toasty_migrate::schema::{ColumnType, TableSnapshot};

/// The condition every row meets.
const ALL: &str = "1 = 1";

/// Rows per `INSERT` statement: well under every dialect's limit on parameters.
const INSERT_CHUNK: usize = 500;

/// One statement and its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub binds: Vec<Value>,
}

/// A data step as SQL: one statement, or one repeated batch by batch.
#[derive(Debug, Clone, PartialEq)]
pub enum DataStatement {
    Once(Statement),
    /// Batch after batch, each from a key (its first row's) up to the next batch's: `first_key`
    /// gives the first matching key; `next_start`, given a batch's first key as its last
    /// parameters, the key `batch_size` matching rows on, where the next batch starts (none:
    /// this batch is the last); `batch` runs from a first key up to, not including, the next;
    /// `last_batch` from a first key on. A key is read as text (SQLite's `rowid` as an integer)
    /// and bound back through its columns' types.
    Batched {
        first_key: Statement,
        next_start: Statement,
        batch: Statement,
        last_batch: Statement,
        batch_size: usize,
    },
}

/// Which part of the keys a batched statement covers.
#[derive(Clone, Copy)]
enum Range {
    /// From a first key up to, not including, the next batch's: two keys' parameters.
    Between,
    /// From a first key on: one key's parameters.
    From,
}

struct Render<'a> {
    dialect: Dialect,
    table: &'a TableSnapshot,
    binds: Vec<Value>,
}

impl Render<'_> {
    fn q(&self, name: &str) -> Result<String, DialectError> {
        self.dialect.ident(name)
    }

    /// A parameter; on PostgreSQL cast to `ty` (its parameters are typed, and a text parameter
    /// does not turn into a UUID, a date or an enum by itself).
    fn param(&mut self, value: &Value, ty: Option<&ColumnType>) -> Result<String, DialectError> {
        self.binds.push(value.clone());
        let n = self.binds.len();
        Ok(match self.dialect {
            Dialect::Postgres => {
                let ty = match ty {
                    Some(ty) => self.dialect.column_type(ty, false)?,
                    None => value_type(value).into(),
                };
                format!("CAST(${n} AS {ty})")
            }
            Dialect::Sqlite | Dialect::Mysql => "?".into(),
        })
    }

    fn column_type(&self, column: &str) -> Option<ColumnType> {
        self.table.column(column).map(|c| c.ty.clone())
    }

    fn expr(&mut self, expr: &Expr) -> Result<String, DialectError> {
        let list = |r: &mut Self, es: &[Expr]| -> Result<Vec<String>, DialectError> {
            es.iter().map(|e| r.expr(e)).collect()
        };
        Ok(match expr {
            Expr::Value(v) => self.param(v, None)?,
            Expr::Column(c) => self.q(c)?,
            Expr::Coalesce(es) => format!("COALESCE({})", list(self, es)?.join(", ")),
            Expr::Lower(e) => format!("LOWER({})", self.expr(e)?),
            Expr::Upper(e) => format!("UPPER({})", self.expr(e)?),
            Expr::Concat(es) => match self.dialect {
                Dialect::Mysql => format!("CONCAT({})", list(self, es)?.join(", ")),
                _ => format!("({})", list(self, es)?.join(" || ")),
            },
            Expr::Cast(e, ty) => {
                let e = self.expr(e)?;
                format!("CAST({e} AS {})", self.cast_type(ty)?)
            }
        })
    }

    /// MySQL casts only to a few type names; the others name the column type.
    fn cast_type(&self, ty: &ColumnType) -> Result<String, DialectError> {
        match (self.dialect, ty) {
            (Dialect::Mysql, ColumnType::Integer(_)) => Ok("SIGNED".into()),
            (Dialect::Mysql, ColumnType::UnsignedInteger(_)) => Ok("UNSIGNED".into()),
            (Dialect::Mysql, ColumnType::Float(_)) => Ok("DOUBLE".into()),
            (Dialect::Mysql, ColumnType::Numeric(_)) => self.dialect.column_type(ty, false),
            (Dialect::Mysql, _) => Ok("CHAR".into()),
            (Dialect::Sqlite, ColumnType::Integer(_) | ColumnType::UnsignedInteger(_)) => {
                Ok("INTEGER".into())
            }
            (Dialect::Sqlite, ColumnType::Float(_)) => Ok("REAL".into()),
            (Dialect::Sqlite, _) => Ok("TEXT".into()),
            (Dialect::Postgres, _) => self.dialect.column_type(ty, false),
        }
    }

    fn filter(&mut self, filter: &Filter) -> Result<String, DialectError> {
        let join = |r: &mut Self, fs: &[Filter], op: &str| -> Result<String, DialectError> {
            let parts: Vec<String> = fs.iter().map(|f| r.filter(f)).collect::<Result<_, _>>()?;
            Ok(format!("({})", parts.join(op)))
        };
        Ok(match filter {
            Filter::All => ALL.into(),
            Filter::Eq(c, v) => {
                let ty = self.column_type(c);
                format!("{} = {}", self.q(c)?, self.param(v, ty.as_ref())?)
            }
            Filter::Ne(c, v) => {
                let ty = self.column_type(c);
                format!("{} <> {}", self.q(c)?, self.param(v, ty.as_ref())?)
            }
            Filter::IsNull(c) => format!("{} IS NULL", self.q(c)?),
            Filter::IsNotNull(c) => format!("{} IS NOT NULL", self.q(c)?),
            Filter::In(c, vs) => {
                let ty = self.column_type(c);
                let params: Vec<String> = vs
                    .iter()
                    .map(|v| self.param(v, ty.as_ref()))
                    .collect::<Result<_, _>>()?;
                format!("{} IN ({})", self.q(c)?, params.join(", "))
            }
            Filter::And(fs) => join(self, fs, " AND ")?,
            Filter::Or(fs) => join(self, fs, " OR ")?,
        })
    }

    /// What `column` is set to: `expr`, on PostgreSQL cast to the column's type.
    fn assigned(&mut self, column: &str, expr: &Expr) -> Result<String, DialectError> {
        let value = self.expr(expr)?;
        Ok(match (self.dialect, self.column_type(column)) {
            (Dialect::Postgres, Some(ty)) => {
                format!("CAST({value} AS {})", self.dialect.column_type(&ty, false)?)
            }
            _ => value,
        })
    }

    fn finish(self, sql: String) -> Statement {
        Statement {
            sql,
            binds: self.binds,
        }
    }
}

/// The PostgreSQL type of a parameter that sets no column.
fn value_type(value: &Value) -> &'static str {
    match value {
        Value::Null | Value::Text(_) => "TEXT",
        Value::Bool(_) => "BOOLEAN",
        Value::Integer(_) => "BIGINT",
        Value::Float(_) => "DOUBLE PRECISION",
    }
}

fn render(dialect: Dialect, table: &TableSnapshot) -> Render<'_> {
    Render {
        dialect,
        table,
        binds: Vec::new(),
    }
}

/// `INSERT`s of `rows`, each with the rows it inserts: consecutive rows that give the same
/// columns share a statement, up to [`INSERT_CHUNK`] rows each.
pub fn insert<'r>(
    dialect: Dialect,
    table: &TableSnapshot,
    rows: &'r [Row],
) -> Result<Vec<(Statement, &'r [Row])>, DialectError> {
    let mut out = Vec::new();
    let columns_of = |row: &Row| -> Vec<String> { row.iter().map(|(c, _)| c.clone()).collect() };
    let mut start = 0;
    while start < rows.len() {
        let columns = columns_of(&rows[start]);
        let end = (start..rows.len())
            .take(INSERT_CHUNK)
            .take_while(|&i| columns_of(&rows[i]) == columns)
            .last()
            .map_or(start + 1, |i| i + 1);
        let mut r = render(dialect, table);
        let names: Vec<String> = columns.iter().map(|c| r.q(c)).collect::<Result<_, _>>()?;
        let mut tuples = Vec::new();
        for row in &rows[start..end] {
            let params: Vec<String> = row
                .iter()
                .map(|(c, v)| {
                    let ty = r.column_type(c);
                    r.param(v, ty.as_ref())
                })
                .collect::<Result<_, _>>()?;
            tuples.push(format!("({})", params.join(", ")));
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            r.q(&table.name)?,
            names.join(", "),
            tuples.join(", ")
        );
        out.push((r.finish(sql), &rows[start..end]));
        start = end;
    }
    Ok(out)
}

/// `SELECT COUNT(*)` of the rows `filter` matches.
pub fn count(
    dialect: Dialect,
    table: &TableSnapshot,
    filter: &Filter,
) -> Result<Statement, DialectError> {
    let mut r = render(dialect, table);
    let condition = r.filter(filter)?;
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {condition}",
        r.q(&table.name)?
    );
    Ok(r.finish(sql))
}

/// The columns batches walk, with their types: the `rowid` on SQLite; elsewhere the primary key,
/// if each of its columns reads back as text that binds back to the same value.
fn batch_key(dialect: Dialect, table: &TableSnapshot) -> Option<Vec<(String, ColumnType)>> {
    if dialect == Dialect::Sqlite {
        return Some(vec![("rowid".into(), ColumnType::Integer(8))]);
    }
    use ColumnType::*;
    let exact_as_text = |ty: &ColumnType| match ty {
        Integer(_) | UnsignedInteger(_) | Text | VarChar(_) | Uuid | Date | DateTime(_)
        | Timestamp(_) | Numeric(_) => true,
        // PostgreSQL's text form of bytes is their hex, which a cast reads back.
        Blob | Binary(_) => dialect == Dialect::Postgres,
        _ => false,
    };
    table
        .primary_key
        .iter()
        .map(|key| {
            let column = table.column(&key.column)?;
            exact_as_text(&column.ty).then(|| (column.name.clone(), column.ty.clone()))
        })
        .collect::<Option<Vec<_>>>()
        .filter(|key| !key.is_empty())
}

/// `UPDATE` of the rows `filter` matches, in batches of keys.
pub fn update(
    dialect: Dialect,
    table: &TableSnapshot,
    set: &[(String, Expr)],
    filter: &Filter,
    batch_size: usize,
) -> Result<DataStatement, DialectError> {
    // On MySQL, whose batches commit one by one: only rows the update changes, so that a row
    // set already (by a run interrupted after its batch committed) is neither written again nor
    // counted in a batch, and a resumed run picks up at the rows still to do. (Elsewhere a
    // migration's batches commit together, and the comparison would cost 20-40%: BENCHMARKS.md.)
    let condition = |r: &mut Render| -> Result<String, DialectError> {
        let filter = r.filter(filter)?;
        if dialect != Dialect::Mysql {
            return Ok(filter);
        }
        let mut changed = Vec::new();
        for (column, expr) in set {
            let value = r.assigned(column, expr)?;
            let column = r.q(column)?;
            // Null-safe, and byte for byte: MySQL's usual collations call 'A' and 'a' equal.
            changed.push(format!(
                "NOT (CAST({column} AS BINARY) <=> CAST({value} AS BINARY))"
            ));
        }
        let changed = match changed.len() {
            1 => changed.remove(0),
            _ => format!("({})", changed.join(" OR ")),
        };
        Ok(and(&filter, &changed))
    };
    let statement = |range: Option<Range>| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let mut assignments = Vec::new();
        for (column, expr) in set {
            let value = r.assigned(column, expr)?;
            assignments.push(format!("{} = {value}", r.q(column)?));
        }
        let mut condition = condition(&mut r)?;
        if let Some(range) = range {
            condition = and(&condition, &r.key_range(range)?);
        }
        let sql = format!(
            "UPDATE {} SET {} WHERE {condition}",
            r.q(&table.name)?,
            assignments.join(", ")
        );
        Ok(r.finish(sql))
    };
    batched(dialect, table, condition, batch_size, statement)
}

/// `DELETE` of the rows `filter` matches, in batches of keys.
pub fn delete(
    dialect: Dialect,
    table: &TableSnapshot,
    filter: &Filter,
    batch_size: usize,
) -> Result<DataStatement, DialectError> {
    let condition = |r: &mut Render| r.filter(filter);
    let statement = |range: Option<Range>| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let mut condition = condition(&mut r)?;
        if let Some(range) = range {
            condition = and(&condition, &r.key_range(range)?);
        }
        let sql = format!("DELETE FROM {} WHERE {condition}", r.q(&table.name)?);
        Ok(r.finish(sql))
    };
    batched(dialect, table, condition, batch_size, statement)
}

/// SQLite's rebuild copy, `INSERT INTO <into> (<targets>) SELECT <sources> FROM <table>`, in
/// batches of `table`'s `rowid` like a data step, so that a long rebuild shows its progress.
pub fn copy(
    dialect: Dialect,
    table: &TableSnapshot,
    into: &str,
    targets: &[String],
    sources: &[String],
    batch_size: usize,
) -> Result<DataStatement, DialectError> {
    let statement = |range: Option<Range>| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let condition = match range {
            Some(range) => r.key_range(range)?,
            None => ALL.into(),
        };
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} WHERE {condition}",
            r.q(into)?,
            targets.join(", "),
            sources.join(", "),
            r.q(&table.name)?
        );
        Ok(r.finish(sql))
    };
    batched(dialect, table, |_| Ok(ALL.into()), batch_size, statement)
}

/// Both conditions, leaving out the one every row meets.
fn and(a: &str, b: &str) -> String {
    match (a, b) {
        (ALL, _) => b.into(),
        (_, ALL) => a.into(),
        _ => format!("{a} AND {b}"),
    }
}

impl Render<'_> {
    /// The batch key's columns, quoted. `rowid` (SQLite's) is left bare, so that it names the
    /// row id even beside a column called so.
    fn key_columns(&self) -> Result<Vec<String>, DialectError> {
        let key = batch_key(self.dialect, self.table).expect("batched only with a key");
        let names: Vec<String> = key
            .iter()
            .map(|(c, _)| match (self.dialect, c.as_str()) {
                (Dialect::Sqlite, "rowid") => Ok(c.clone()),
                _ => self.q(c),
            })
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    /// Placeholders for one key the runner binds after the statement's own parameters (and
    /// `skip` more): text, cast to each column's type.
    fn key_params(&self, skip: usize) -> Result<String, DialectError> {
        let key = batch_key(self.dialect, self.table).expect("batched only with a key");
        let first = self.binds.len() + skip;
        let params: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| match self.dialect {
                Dialect::Postgres => Ok(format!(
                    "CAST(${} AS {})",
                    first + i + 1,
                    self.dialect.column_type(ty, false)?
                )),
                Dialect::Mysql => Ok(format!("CAST(? AS {})", self.cast_type(ty)?)),
                Dialect::Sqlite => Ok("?".into()),
            })
            .collect::<Result<_, DialectError>>()?;
        Ok(tuple(params))
    }

    /// The keys of one batch, whose bounds the runner binds after the statement's parameters.
    fn key_range(&mut self, range: Range) -> Result<String, DialectError> {
        let columns = self.key_columns()?;
        let width = columns.len();
        let key = tuple(columns);
        let from = format!("{key} >= {}", self.key_params(0)?);
        Ok(match range {
            Range::From => from,
            Range::Between => format!("{from} AND {key} < {}", self.key_params(width)?),
        })
    }

    /// The batch key as the runner reads it back: SQLite's `rowid`, the others' key as text.
    fn key_selected(&self) -> Result<String, DialectError> {
        let text = match self.dialect {
            Dialect::Sqlite => return Ok("rowid".into()),
            Dialect::Mysql => "CHAR",
            Dialect::Postgres => "TEXT",
        };
        let columns: Vec<String> = self
            .key_columns()?
            .iter()
            .map(|c| format!("CAST({c} AS {text})"))
            .collect();
        Ok(columns.join(", "))
    }
}

/// One name or placeholder as it is, several as a row value.
fn tuple(mut parts: Vec<String>) -> String {
    match parts.len() {
        1 => parts.remove(0),
        _ => format!("({})", parts.join(", ")),
    }
}

/// The statement, run batch by batch where the table has a key to walk: `condition` renders
/// which rows the statement touches, for the queries that find where each batch starts.
fn batched(
    dialect: Dialect,
    table: &TableSnapshot,
    condition: impl Fn(&mut Render) -> Result<String, DialectError>,
    batch_size: usize,
    statement: impl Fn(Option<Range>) -> Result<Statement, DialectError>,
) -> Result<DataStatement, DialectError> {
    if batch_key(dialect, table).is_none() {
        return Ok(DataStatement::Once(statement(None)?));
    }
    // The matching key `offset` rows on from the condition's first (or from a bound).
    let find = |from_bound: bool, offset: usize| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let mut condition = condition(&mut r)?;
        if from_bound {
            condition = and(&condition, &r.key_range(Range::From)?);
        }
        // Qualified: on PostgreSQL a bare name would sort by the selected text (`CAST("id" AS
        // TEXT)` is named `id`), which orders "10" before "9".
        let table_name = r.q(&table.name)?;
        let order = r
            .key_columns()?
            .iter()
            .map(|c| format!("{table_name}.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {order} LIMIT 1 OFFSET {offset}",
            r.key_selected()?,
            r.q(&table.name)?,
        );
        Ok(r.finish(sql))
    };
    let batch_size = batch_size.max(1);
    Ok(DataStatement::Batched {
        first_key: find(false, 0)?,
        next_start: find(true, batch_size)?,
        batch: statement(Some(Range::Between))?,
        last_batch: statement(Some(Range::From))?,
        batch_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::data::{all, col, eq, is_null, lower};
    use toasty_migrate::schema::{ColumnDef, IndexDef};

    fn users() -> TableSnapshot {
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("email", ColumnType::Text),
                ColumnDef::new("uid", ColumnType::Uuid),
            ],
            Vec::<IndexDef>::new(),
        )
    }

    #[test]
    fn values_are_parameters_cast_on_postgres() {
        let rows = vec![vec![
            ("id".to_string(), Value::Integer(1)),
            (
                "uid".to_string(),
                Value::Text("x'); DROP TABLE users; --".into()),
            ),
        ]];
        let pg = insert(Dialect::Postgres, &users(), &rows).unwrap();
        assert_eq!(
            pg[0].0.sql,
            r#"INSERT INTO "users" ("id", "uid") VALUES (CAST($1 AS BIGINT), CAST($2 AS UUID))"#
        );
        assert_eq!(pg[0].0.binds.len(), 2);
        let my = insert(Dialect::Mysql, &users(), &rows).unwrap();
        assert_eq!(
            my[0].0.sql,
            "INSERT INTO `users` (`id`, `uid`) VALUES (?, ?)"
        );
    }

    #[test]
    fn updates_and_deletes_walk_the_key_in_batches() {
        let set = vec![("email".to_string(), lower(col("email")))];
        let filter = eq("email", Value::Text("A".into()));
        let DataStatement::Batched {
            first_key,
            next_start,
            batch,
            last_batch,
            ..
        } = update(Dialect::Sqlite, &users(), &set, &filter, 100).unwrap()
        else {
            panic!("SQLite batches by rowid");
        };
        assert_eq!(
            first_key.sql,
            r#"SELECT rowid FROM "users" WHERE "email" = ? ORDER BY "users".rowid LIMIT 1 OFFSET 0"#
        );
        assert_eq!(
            next_start.sql,
            r#"SELECT rowid FROM "users" WHERE "email" = ? AND rowid >= ? ORDER BY "users".rowid LIMIT 1 OFFSET 100"#
        );
        assert_eq!(
            batch.sql,
            r#"UPDATE "users" SET "email" = LOWER("email") WHERE "email" = ? AND rowid >= ? AND rowid < ?"#
        );
        assert_eq!(
            last_batch.sql,
            r#"UPDATE "users" SET "email" = LOWER("email") WHERE "email" = ? AND rowid >= ?"#
        );
        // On MySQL, rows already as the update leaves them are skipped: a resumed run starts at
        // the rest. Keys come back as text and are bound through their type.
        let DataStatement::Batched { batch, .. } =
            update(Dialect::Mysql, &users(), &set, &all(), 100).unwrap()
        else {
            panic!("batched");
        };
        assert_eq!(
            batch.sql,
            "UPDATE `users` SET `email` = LOWER(`email`) WHERE NOT (CAST(`email` AS BINARY) <=> CAST(LOWER(`email`) AS BINARY)) AND `id` >= CAST(? AS SIGNED) AND `id` < CAST(? AS SIGNED)"
        );
        let pg = delete(Dialect::Postgres, &users(), &is_null("email"), 10).unwrap();
        let DataStatement::Batched {
            next_start, batch, ..
        } = pg
        else {
            panic!("batched");
        };
        assert_eq!(
            next_start.sql,
            r#"SELECT CAST("id" AS TEXT) FROM "users" WHERE "email" IS NULL AND "id" >= CAST($1 AS BIGINT) ORDER BY "users"."id" LIMIT 1 OFFSET 10"#
        );
        assert_eq!(
            batch.sql,
            r#"DELETE FROM "users" WHERE "email" IS NULL AND "id" >= CAST($1 AS BIGINT) AND "id" < CAST($2 AS BIGINT)"#
        );
    }

    #[test]
    fn a_composite_key_is_walked_as_a_row_value() {
        let table = TableSnapshot {
            primary_key: vec![
                toasty_migrate::schema::IndexColumn::new("email"),
                toasty_migrate::schema::IndexColumn::new("uid"),
            ],
            ..users()
        };
        let DataStatement::Batched { batch, .. } =
            delete(Dialect::Postgres, &table, &eq("id", Value::Integer(7)), 10).unwrap()
        else {
            panic!("batched");
        };
        assert_eq!(
            batch.sql,
            r#"DELETE FROM "users" WHERE "id" = CAST($1 AS BIGINT) AND ("email", "uid") >= (CAST($2 AS TEXT), CAST($3 AS UUID)) AND ("email", "uid") < (CAST($4 AS TEXT), CAST($5 AS UUID))"#
        );
        // A key that does not read back as text exactly: one statement.
        let floats = TableSnapshot::keyed_by_first_column(
            "points",
            vec![ColumnDef::new("x", ColumnType::Float(8))],
            Vec::<IndexDef>::new(),
        );
        assert!(matches!(
            delete(Dialect::Mysql, &floats, &all(), 10).unwrap(),
            DataStatement::Once(_)
        ));
    }
}
