//! From data steps (insert, update, delete rows) to SQL with bound parameters, per dialect. Pure:
//! the input is the step and the table as it is when the step runs; every value is a parameter,
//! every name quoted.
//!
//! Updates and deletes of a table keyed by one integer column run in batches of keys (keyset
//! pagination: each batch is "the next `batch_size` matching keys after the last one done"), so
//! no single statement holds its locks over the whole table; other tables get one statement.

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
    /// Run `batch` over each successive range of keys: `next_bound` (its last parameter is the
    /// key the previous batch ended at) gives the `batch_size`-th next matching key, or none for
    /// the last batch; `batch` takes the previous bound and that bound (the last batch: the
    /// previous bound and the table's largest key).
    Batched {
        next_bound: Statement,
        batch: Statement,
        batch_size: usize,
    },
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

/// The single integer key column batches walk, if the table has one.
fn batch_key(table: &TableSnapshot) -> Option<&str> {
    match table.primary_key.as_slice() {
        [key] => table
            .column(&key.column)
            .filter(|c| {
                matches!(
                    c.ty,
                    ColumnType::Integer(_) | ColumnType::UnsignedInteger(_)
                )
            })
            .map(|c| c.name.as_str()),
        _ => None,
    }
}

/// `UPDATE` of the rows `filter` matches, batched by key where the table allows.
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
        Ok(match filter.as_str() {
            ALL => changed,
            _ => format!("{filter} AND {changed}"),
        })
    };
    let statement = |range: bool| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let mut assignments = Vec::new();
        for (column, expr) in set {
            let value = r.assigned(column, expr)?;
            assignments.push(format!("{} = {value}", r.q(column)?));
        }
        let mut condition = condition(&mut r)?;
        if range {
            condition = r.key_range(&condition)?;
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

/// `DELETE` of the rows `filter` matches, batched by key where the table allows.
pub fn delete(
    dialect: Dialect,
    table: &TableSnapshot,
    filter: &Filter,
    batch_size: usize,
) -> Result<DataStatement, DialectError> {
    let condition = |r: &mut Render| r.filter(filter);
    let statement = |range: bool| -> Result<Statement, DialectError> {
        let mut r = render(dialect, table);
        let mut condition = condition(&mut r)?;
        if range {
            condition = r.key_range(&condition)?;
        }
        let sql = format!("DELETE FROM {} WHERE {condition}", r.q(&table.name)?);
        Ok(r.finish(sql))
    };
    batched(dialect, table, condition, batch_size, statement)
}

impl Render<'_> {
    /// `condition` narrowed to the keys after the first bound and up to the second, which the
    /// runner binds after the statement's own parameters.
    fn key_range(&mut self, condition: &str) -> Result<String, DialectError> {
        let key = self.q(batch_key(self.table).expect("batched only with a key"))?;
        let (low, high) = match self.dialect {
            Dialect::Postgres => {
                let n = self.binds.len();
                (format!("${}", n + 1), format!("${}", n + 2))
            }
            _ => ("?".into(), "?".into()),
        };
        let range = format!("{key} > {low} AND {key} <= {high}");
        Ok(match condition {
            ALL => range,
            _ => format!("{condition} AND {range}"),
        })
    }
}

/// The statement, run batch by batch where the table has an integer key: `condition` renders
/// which rows the statement touches, for the query that finds where each batch ends.
fn batched(
    dialect: Dialect,
    table: &TableSnapshot,
    condition: impl Fn(&mut Render) -> Result<String, DialectError>,
    batch_size: usize,
    statement: impl Fn(bool) -> Result<Statement, DialectError>,
) -> Result<DataStatement, DialectError> {
    let Some(key) = batch_key(table) else {
        return Ok(DataStatement::Once(statement(false)?));
    };
    let mut r = render(dialect, table);
    let condition = condition(&mut r)?;
    let key = r.q(key)?;
    let after = match dialect {
        Dialect::Postgres => format!("${}", r.binds.len() + 1),
        _ => "?".into(),
    };
    let condition = match condition.as_str() {
        ALL => format!("{key} > {after}"),
        _ => format!("{condition} AND {key} > {after}"),
    };
    // The key `batch_size` matching rows on: where this batch ends.
    let sql = format!(
        "SELECT {key} FROM {} WHERE {condition} ORDER BY {key} LIMIT 1 OFFSET {}",
        r.q(&table.name)?,
        batch_size.max(1) - 1
    );
    Ok(DataStatement::Batched {
        next_bound: r.finish(sql),
        batch: statement(true)?,
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
    fn updates_walk_the_integer_key_in_batches() {
        let set = vec![("email".to_string(), lower(col("email")))];
        let DataStatement::Batched {
            next_bound, batch, ..
        } = update(
            Dialect::Sqlite,
            &users(),
            &set,
            &eq("email", Value::Text("A".into())),
            100,
        )
        .unwrap()
        else {
            panic!("an integer key batches");
        };
        assert_eq!(
            next_bound.sql,
            r#"SELECT "id" FROM "users" WHERE "email" = ? AND "id" > ? ORDER BY "id" LIMIT 1 OFFSET 99"#
        );
        assert_eq!(
            batch.sql,
            r#"UPDATE "users" SET "email" = LOWER("email") WHERE "email" = ? AND "id" > ? AND "id" <= ?"#
        );
        // On MySQL, rows already as the update leaves them are skipped: a resumed run starts at
        // the rest.
        let DataStatement::Batched { batch, .. } =
            update(Dialect::Mysql, &users(), &set, &all(), 100).unwrap()
        else {
            panic!("batched");
        };
        assert_eq!(
            batch.sql,
            "UPDATE `users` SET `email` = LOWER(`email`) WHERE NOT (CAST(`email` AS BINARY) <=> CAST(LOWER(`email`) AS BINARY)) AND `id` > ? AND `id` <= ?"
        );
        let pg = delete(Dialect::Postgres, &users(), &is_null("email"), 10).unwrap();
        let DataStatement::Batched { batch, .. } = pg else {
            panic!("batched");
        };
        assert_eq!(
            batch.sql,
            r#"DELETE FROM "users" WHERE "email" IS NULL AND "id" > $1 AND "id" <= $2"#
        );
    }
}
