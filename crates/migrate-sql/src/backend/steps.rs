//! The SQL steps ([`SqlStep`]): what each operation becomes on a dialect (DDL statements, the
//! batched statements of a data step, SQLite's rebuild copy, the batched fill before a NOT NULL),
//! and how the backend performs them, tells whether an interrupted one took effect, and counts
//! the rows a data step touches.

use super::SqlBackend;
use super::effect::Effect;
use crate::ddl;
use crate::dialect::Dialect;
use crate::dml::{self, DataStatement, Statement};
use toasty_migrate::data::{Expr, Filter, Value, is_null, key_filter};
use toasty_migrate::lint::Finding;
use toasty_migrate::schema::TableSnapshot;
use toasty_migrate::{
    Error, Result,
    backend::{Atomicity, Executor, Step},
    files::MigrationPlan,
    schema::Operation,
};

/// One step of SQL: a DDL statement and what it leaves in the schema once done, or a data step
/// with its bound parameters.
pub enum SqlStep {
    Ddl {
        sql: String,
        effect: Option<Effect>,
        /// PostgreSQL's online forms ([`ddl::outside_transaction`]): the migration runs
        /// journaled, and an index build first drops what an interrupted one left.
        outside_transaction: bool,
    },
    Data {
        statement: DataStatement,
        /// For an insert: the count of its rows by key, and how many it inserts, so that a
        /// resumed run can tell whether an interrupted insert committed.
        inserted: Option<(Statement, i64)>,
    },
}

impl Step for SqlStep {
    fn describe(&self) -> Vec<String> {
        let bound = |s: &Statement| {
            let values: Vec<String> = s.binds.iter().map(|v| v.to_string()).collect();
            match values.is_empty() {
                true => s.sql.clone(),
                false => format!("{} /* parameters: {} */", s.sql, values.join(", ")),
            }
        };
        match self {
            SqlStep::Ddl { sql, .. } => vec![sql.clone()],
            SqlStep::Data {
                statement: DataStatement::Once(s),
                ..
            } => vec![bound(s)],
            SqlStep::Data {
                statement:
                    DataStatement::Batched {
                        first_key,
                        next_start,
                        batch,
                        last_batch,
                        batch_size,
                    },
                ..
            } => vec![
                format!(
                    "/* in batches of {batch_size} keys; the first key: */ {}",
                    bound(first_key)
                ),
                format!("/* where the next batch starts: */ {}", bound(next_start)),
                format!("/* each batch: */ {}", bound(batch)),
                format!("/* the last: */ {}", bound(last_batch)),
            ],
        }
    }

    fn key(&self) -> Vec<u8> {
        match self {
            SqlStep::Ddl { sql, .. } => sql.as_bytes().to_vec(),
            SqlStep::Data { statement, .. } => format!("{statement:?}").into_bytes(),
        }
    }
}

/// SQL runs statements: PostgreSQL's and MySQL's need nothing but the operation; SQLite's
/// copy-table rebuilds copy the table as `live` has it.
impl Executor for SqlBackend {
    type Step = SqlStep;

    fn check(&self, op: &Operation) -> std::result::Result<(), String> {
        ddl::check(self.dialect, op)
    }

    fn lint(&self, op: &Operation, table: &TableSnapshot, online: bool) -> Vec<Finding> {
        crate::lint::findings(self.dialect, op, table, online)
    }

    fn lock_timed_out(&self, err: &Error) -> bool {
        self.gave_up_on_lock(err)
    }

    async fn lock_holders(&mut self) -> Vec<String> {
        self.open_transactions().await
    }

    fn plan(
        &self,
        op: &Operation,
        table: Option<&TableSnapshot>,
        online: bool,
    ) -> Result<Vec<SqlStep>> {
        let data_table =
            || table.ok_or_else(|| self.unsupported(format!("the table of `{op}` does not exist")));
        let data = |statement| SqlStep::Data {
            statement,
            inserted: None,
        };
        let planned = match op {
            Operation::InsertRows { rows, .. } => {
                let t = data_table()?;
                Some(dml::insert(self.dialect, t, rows).and_then(|chunks| {
                    chunks
                        .into_iter()
                        .map(|(statement, rows)| {
                            let present = dml::count(self.dialect, t, &key_filter(t, rows))?;
                            Ok(SqlStep::Data {
                                statement: DataStatement::Once(statement),
                                inserted: Some((present, rows.len() as i64)),
                            })
                        })
                        .collect()
                }))
            }
            Operation::UpdateRows { set, filter, .. } => Some(
                dml::update(self.dialect, data_table()?, set, filter, self.batch_size)
                    .map(|s| vec![data(s)]),
            ),
            Operation::DeleteRows { filter, .. } => Some(
                dml::delete(self.dialect, data_table()?, filter, self.batch_size)
                    .map(|s| vec![data(s)]),
            ),
            _ => None,
        };
        if let Some(steps) = planned {
            return steps.map_err(|m| self.unsupported(m));
        }
        let mut steps = Vec::new();
        if let Some((column, value)) = ddl::batched_fill(self.dialect, op, online) {
            let set = [(column.to_string(), Expr::Value(Value::from(&value)))];
            let fill = dml::update(
                self.dialect,
                data_table()?,
                &set,
                &is_null(column),
                self.batch_size,
            )
            .map_err(|m| self.unsupported(m))?;
            steps.push(data(fill));
        }
        let statements =
            ddl::statements(self.dialect, op, table, online).map_err(|m| self.unsupported(m))?;
        let count = statements.len();
        let outside_transaction = ddl::outside_transaction(self.dialect, op, online);
        // SQLite's rebuild copies the rows in batches, as a data step does, for its progress.
        // Ten times a data step's: the rebuild holds the write lock throughout anyway, so the
        // batches only pace the bar, and fewer cost less (BENCHMARKS.md).
        let copy = match (self.dialect, table) {
            (Dialect::Sqlite, Some(live)) if ddl::sqlite_rebuild_reason(op).is_some() => {
                let (targets, sources) =
                    ddl::sqlite_rebuild_copy(live, op).map_err(|m| self.unsupported(m))?;
                let (into, rows) = (ddl::REBUILD_TABLE, self.batch_size.saturating_mul(10));
                let copy = dml::copy(self.dialect, live, into, &targets, &sources, rows)
                    .map_err(|m| self.unsupported(m))?;
                Some(data(copy))
            }
            _ => None,
        };
        let first = steps.len();
        steps.extend(
            statements
                .into_iter()
                .enumerate()
                .map(|(position, sql)| SqlStep::Ddl {
                    sql,
                    effect: Effect::of(op, position, count),
                    outside_transaction,
                }),
        );
        if let Some(copy) = copy {
            steps[first + ddl::SQLITE_REBUILD_COPY] = copy;
        }
        Ok(steps)
    }

    async fn perform(&mut self, step: &SqlStep) -> Result<()> {
        self.prepare_session().await?;
        match step {
            #[cfg(feature = "postgres")]
            SqlStep::Ddl {
                sql,
                effect: Some(Effect::IndexExists { index, .. }),
                outside_transaction: true,
            } => {
                // A killed or failed CREATE INDEX CONCURRENTLY leaves an invalid index by
                // the name, which the build would trip over.
                self.drop_invalid_index(index).await?;
                self.build_index(sql, index).await
            }
            SqlStep::Ddl { sql, .. } => self.execute(sql).await,
            SqlStep::Data { statement, .. } => self.run_data(statement).await,
        }
    }

    /// MySQL finishes a DDL statement whose client died; the schema says whether it did.
    fn tells_effect(&self, step: &SqlStep) -> bool {
        matches!(
            step,
            SqlStep::Ddl {
                effect: Some(_),
                ..
            } | SqlStep::Data {
                inserted: Some(_),
                ..
            }
        )
    }

    async fn took_effect(&mut self, step: &SqlStep) -> Result<bool> {
        match step {
            SqlStep::Ddl {
                effect: Some(effect),
                ..
            } => Ok(effect.shown_by(&self.read_schema(Some(effect.table())).await?)),
            // An insert is all or nothing (one statement); its rows say whether it committed.
            SqlStep::Data {
                inserted: Some((present, rows)),
                ..
            } => Ok(self.count(present).await? == *rows),
            _ => Ok(false),
        }
    }

    async fn estimated_rows(&mut self, table: &str) -> Option<u64> {
        match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => self.postgres_estimated_rows(table).await,
            #[cfg(feature = "mysql")]
            Dialect::Mysql => self.mysql_estimated_rows(table).await,
            // SQLite keeps no count but in `sqlite_stat1`, after an ANALYZE.
            _ => {
                let _ = table;
                None
            }
        }
    }

    async fn count_rows(&mut self, table: &TableSnapshot, filter: &Filter) -> Result<u64> {
        let statement = dml::count(self.dialect, table, filter).map_err(|m| self.unsupported(m))?;
        Ok(self.count(&statement).await? as u64)
    }

    fn atomicity(&self, plan: &MigrationPlan, steps: &[SqlStep]) -> Result<Atomicity> {
        let online = steps.iter().any(|s| {
            matches!(
                s,
                SqlStep::Ddl {
                    outside_transaction: true,
                    ..
                }
            )
        });
        match (self.dialect, plan.transactional && !online) {
            (Dialect::Sqlite | Dialect::Postgres, true) => Ok(Atomicity::Transaction),
            // Each statement commits on its own, so its progress is kept.
            (Dialect::Postgres, false) => Ok(Atomicity::Journal),
            (Dialect::Sqlite, false) => Err(self.unsupported(format!(
                "migration {}: SQLite runs every migration inside the run's transaction (its lock); \
                 it cannot opt out",
                plan.version
            ))),
            // MySQL's DDL commits statement by statement whatever the migration says.
            (Dialect::Mysql, _) => Ok(Atomicity::Journal),
        }
    }

    /// SQLite nests a savepoint per migration in the run-long `BEGIN IMMEDIATE` that is its lock.
    async fn begin(&mut self) -> Result<()> {
        // Outside the transaction: a rollback would undo a `SET` sent in it.
        self.prepare_session().await?;
        self.execute(match self.dialect {
            Dialect::Sqlite => "SAVEPOINT toasty_migration",
            _ => "BEGIN",
        })
        .await
    }

    async fn commit(&mut self) -> Result<()> {
        self.execute(match self.dialect {
            Dialect::Sqlite => "RELEASE toasty_migration",
            _ => "COMMIT",
        })
        .await
    }

    async fn rollback(&mut self) -> Result<()> {
        self.execute(match self.dialect {
            Dialect::Sqlite => "ROLLBACK TO toasty_migration; RELEASE toasty_migration",
            _ => "ROLLBACK",
        })
        .await
    }
}
