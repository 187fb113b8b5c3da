//! Running data steps: statements with bound parameters, and the batch loop of a batched update
//! or delete (see [`crate::dml`]).

use super::{Conn, DriverError, SqlBackend};
use crate::dml::{DataStatement, Statement};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::{query::query, query_scalar::query_scalar, sql_str::AssertSqlSafe};
use toasty_migrate::Result;
use toasty_migrate::data::Value;

/// Binds each value to a sqlx query, in order.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! bind_values {
    ($q:expr, $values:expr) => {{
        let mut q = $q;
        for value in $values {
            q = match value {
                Value::Null => q.bind(None::<String>),
                Value::Bool(b) => q.bind(*b),
                Value::Integer(i) => q.bind(*i),
                Value::Float(f) => q.bind(*f),
                Value::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }};
}

#[cfg(feature = "sqlite")]
fn sqlite_values(values: &[Value]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    values
        .iter()
        .map(|value| match value {
            Value::Null => V::Null,
            Value::Bool(b) => V::Integer(i64::from(*b)),
            Value::Integer(i) => V::Integer(*i),
            Value::Float(f) => V::Real(*f),
            Value::Text(s) => V::Text(s.clone()),
        })
        .collect()
}

impl SqlBackend {
    /// Runs a data step: its one statement, or batch after batch until the keys run out.
    pub(super) async fn run_data(&mut self, data: &DataStatement) -> Result<()> {
        match data {
            DataStatement::Once(statement) => self.run_bound(statement, &[]).await,
            DataStatement::Batched {
                first_key,
                next_start,
                batch,
                last_batch,
                batch_size,
            } => {
                let Some(mut start) = self.key(first_key, &[]).await? else {
                    return Ok(());
                };
                let bar = toasty_migrate::progress::counter(
                    self.progress,
                    "batches",
                    format!("{batch_size} rows a batch"),
                );
                loop {
                    let Some(next) = self.key(next_start, &start).await? else {
                        let last = self.run_bound(last_batch, &start).await;
                        bar.finish_and_clear();
                        return last;
                    };
                    let range: Vec<Value> = start.iter().chain(&next).cloned().collect();
                    self.run_bound(batch, &range).await?;
                    bar.inc(1);
                    start = next;
                }
            }
        }
    }

    /// Executes `statement` with its parameters, then `extra`.
    async fn run_bound(&mut self, statement: &Statement, extra: &[Value]) -> Result<()> {
        let values: Vec<Value> = statement.binds.iter().chain(extra).cloned().collect();
        let sql = statement.sql.clone();
        let result = on_conn!(&mut self.conn,
        c => bind_values!(query(AssertSqlSafe(sql.clone())), &values).execute(&mut *c).await.map(|_| ()),
        s => {
            let (sql, values) = (sql.clone(), sqlite_values(&values));
            s.call(move |c| c.execute(&sql, rusqlite::params_from_iter(values)).map(|_| ())).await
        });
        result.map_err(|e| self.in_statement(e, &statement.sql))
    }

    /// The key `statement` finds, given `bound` after its own parameters (see
    /// [`DataStatement::Batched`]); `None` where no row matches.
    async fn key(&mut self, statement: &Statement, bound: &[Value]) -> Result<Option<Vec<Value>>> {
        let values: Vec<Value> = statement.binds.iter().chain(bound).cloned().collect();
        let sql = statement.sql.clone();
        let result = on_conn!(&mut self.conn,
        c => {
            use sqlx_core::row::Row;
            match bind_values!(query(AssertSqlSafe(sql.clone())), &values).fetch_optional(&mut *c).await {
                Ok(Some(row)) => (0..row.len())
                    .map(|i| row.try_get::<String, _>(i).map(Value::Text))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        },
        s => {
            let (sql, values) = (sql.clone(), sqlite_values(&values));
            s.call(move |c| {
                use rusqlite::OptionalExtension;
                c.query_row(&sql, rusqlite::params_from_iter(values), |r| r.get::<_, i64>(0))
                    .optional()
                    .map(|rowid| rowid.map(|k| vec![Value::Integer(k)]))
            })
            .await
        });
        result.map_err(|e| self.in_statement(e, &statement.sql))
    }

    /// The count a `SELECT COUNT(*)` gives.
    pub(super) async fn count(&mut self, statement: &Statement) -> Result<i64> {
        let values = statement.binds.clone();
        let sql = statement.sql.clone();
        let result = on_conn!(&mut self.conn,
        c => bind_values!(query_scalar::<_, i64>(AssertSqlSafe(sql.clone())), &values).fetch_one(&mut *c).await,
        s => {
            let (sql, values) = (sql.clone(), sqlite_values(&values));
            s.call(move |c| c.query_row(&sql, rusqlite::params_from_iter(values), |r| r.get::<_, i64>(0))).await
        });
        result.map_err(|e| self.in_statement(e, &statement.sql))
    }

    fn in_statement(&self, e: DriverError, sql: &str) -> toasty_migrate::Error {
        toasty_migrate::Error::driver(
            &self.target,
            format!("{}\n  in: {sql}", e.message),
            e.source,
        )
    }
}
