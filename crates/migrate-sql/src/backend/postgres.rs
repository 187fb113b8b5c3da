//! PostgreSQL: introspection from the catalog and the lock (a session advisory lock).

use super::DriverError;
use super::catalog::{add_index_rows, empty_table};
use super::{Conn, SqlBackend};
use crate::dialect::Dialect;
use crate::introspect::{self, is_internal_table};
use sqlx_core::query_as::query_as;
use sqlx_core::query_scalar::query_scalar;
use sqlx_core::raw_sql::raw_sql;
use sqlx_core::row::Row;
use sqlx_postgres::PgConnection;
use std::collections::{BTreeMap, HashMap};
use toasty_migrate::{Result, schema::TableSnapshot};

/// The lock's key: one per database and schema.
const LOCK_KEY: &str =
    "hashtextextended('toasty-migrate:' || current_database() || ':' || current_schema(), 0)";

impl SqlBackend {
    /// The planner's estimate of `table`'s rows (`pg_class.reltuples`), once it has one.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn postgres_estimated_rows(&mut self, table: &str) -> Option<u64> {
        let Conn::Postgres(c) = &mut self.conn else {
            return None;
        };
        let rows: f32 = query_scalar(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind = 'r'",
        )
        .bind(table)
        .fetch_optional(&mut *c)
        .await
        .ok()
        .flatten()?;
        // -1: never vacuumed or analyzed.
        (rows >= 0.0).then_some(rows as u64)
    }

    /// Runs `sql`, a `CREATE INDEX CONCURRENTLY` of `index`, with a progress bar (when asked)
    /// fed from `pg_stat_progress_create_index` by a second connection.
    pub(super) async fn build_index(&mut self, sql: &str, index: &str) -> Result<()> {
        if !self.progress {
            return self.execute(sql).await;
        }
        let target = self.target.clone();
        let pid: i32 = match &mut self.conn {
            Conn::Postgres(c) => query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *c)
                .await
                .map_err(|e| super::driver_error(&target, e))?,
            #[allow(unreachable_patterns)]
            _ => return self.execute(sql).await,
        };
        let bar = toasty_migrate::progress::bar(true, 0, "blocks", format!("index {index}"));
        let url = self.url.clone();
        let watch = async {
            use sqlx_core::connection::Connection;
            // No bar is no reason to fail the build.
            let Ok(mut watcher) = PgConnection::connect(&url).await else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let row: Option<(String, i64, i64)> = query_as(
                    "SELECT phase, blocks_done, blocks_total \
                     FROM pg_stat_progress_create_index WHERE pid = $1",
                )
                .bind(pid)
                .fetch_optional(&mut watcher)
                .await
                .ok()
                .flatten();
                if let Some((phase, done, total)) = row {
                    bar.set_message(format!("index {index}: {phase}"));
                    bar.set_length(total.max(0) as u64);
                    bar.set_position(done.max(0) as u64);
                }
            }
        };
        let built = tokio::select! {
            built = self.execute(sql) => built,
            never = watch => never,
        };
        bar.finish_and_clear();
        built
    }

    /// Drops `index` if it is invalid: what a `CREATE INDEX CONCURRENTLY` that failed, gave up
    /// on a lock or was killed leaves behind (introspection does not show it). Concurrently,
    /// so that the table stays usable.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn drop_invalid_index(&mut self, index: &str) -> Result<()> {
        let target = self.target.clone();
        let Conn::Postgres(c) = &mut self.conn else {
            return Ok(());
        };
        let invalid: Option<bool> = query_scalar(
            "SELECT NOT ix.indisvalid FROM pg_index ix JOIN pg_class c ON c.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $1 AND n.nspname = current_schema()",
        )
        .bind(index)
        .fetch_optional(&mut *c)
        .await
        .map_err(|e| super::driver_error(&target, e))?;
        if invalid == Some(true) {
            let sql = format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                Dialect::Postgres
                    .ident(index)
                    .map_err(|m| self.unsupported(m))?
            );
            self.execute(&sql).await?;
        }
        Ok(())
    }

    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn postgres_tables(
        &mut self,
        only: Option<&str>,
    ) -> Result<Vec<TableSnapshot>> {
        let target = self.target.clone();
        let err = |e: sqlx_core::Error| super::driver_error(&target, e);
        let Conn::Postgres(c) = &mut self.conn else {
            return Ok(Vec::new());
        };
        // The enums, the columns and the indexes in one round trip: three statements sent at
        // once (the simple protocol), each row led by what it is. Index keys come as column
        // numbers, named from the columns (a third of the time of joining `pg_attribute` for
        // each key column); `int2vector`s read as text ("1 3").
        let (columns_of, indexes_of) = match only {
            Some(literal) => (
                format!(" AND c.relname = {literal}"),
                format!(" AND tc.relname = {literal}"),
            ),
            None => Default::default(),
        };
        let rows = raw_sql(sqlx_core::sql_str::AssertSqlSafe(format!(
            "SELECT 'enum', t.typname::text, e.enumlabel::text FROM pg_type t \
             JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder; \
             SELECT 'column', c.relname::text, a.attnum, a.attname::text, \
             format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
             a.attidentity <> '' \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
             AND NOT a.attisdropped{columns_of} ORDER BY c.relname, a.attnum; \
             SELECT 'index', tc.relname::text, ic.relname::text, ix.indisunique, ix.indisprimary, \
             ix.indkey::text, ix.indoption::text \
             FROM pg_index ix JOIN pg_class tc ON tc.oid = ix.indrelid \
             JOIN pg_class ic ON ic.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = tc.relnamespace \
             WHERE n.nspname = current_schema() AND ix.indisvalid{indexes_of} ORDER BY 2, 3",
        )))
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let mut enums: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut tables: BTreeMap<String, TableSnapshot> = BTreeMap::new();
        // Each column's name by its number, for the indexes' keys.
        let mut names: HashMap<(String, i16), String> = HashMap::new();
        let mut index_rows = Vec::new();
        let numbers = |text: &str| -> Vec<i16> {
            text.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        };
        for row in &rows {
            // Rows come statement by statement: every enum before the first column.
            match row.try_get::<&str, _>(0).map_err(err)? {
                "enum" => enums
                    .entry(row.try_get(1).map_err(err)?)
                    .or_default()
                    .push(row.try_get(2).map_err(err)?),
                "column" => {
                    let table: String = row.try_get(1).map_err(err)?;
                    if is_internal_table(&table) {
                        continue;
                    }
                    let column: String = row.try_get(3).map_err(err)?;
                    names.insert(
                        (table.clone(), row.try_get(2).map_err(err)?),
                        column.clone(),
                    );
                    let ty: String = row.try_get(4).map_err(err)?;
                    let ty = introspect::postgres_type(&ty, &|name: &str| enums.get(name).cloned());
                    let not_null: bool = row.try_get(5).map_err(err)?;
                    let default: Option<String> = row.try_get(6).map_err(err)?;
                    let t = tables
                        .entry(table.clone())
                        .or_insert_with(|| empty_table(table));
                    t.columns.push(introspect::column(
                        Dialect::Postgres,
                        column,
                        ty,
                        !not_null,
                        default.as_deref(),
                        row.try_get(7).map_err(err)?,
                    ));
                }
                // "index"
                _ => {
                    let table: String = row.try_get(1).map_err(err)?;
                    let index: String = row.try_get(2).map_err(err)?;
                    let (unique, primary): (bool, bool) =
                        (row.try_get(3).map_err(err)?, row.try_get(4).map_err(err)?);
                    let keys: &str = row.try_get(5).map_err(err)?;
                    let options: &str = row.try_get(6).map_err(err)?;
                    for (number, option) in numbers(keys).into_iter().zip(numbers(options)) {
                        // An expression (number 0) names no column.
                        if let Some(column) = names.get(&(table.clone(), number)) {
                            let descending = option & 1 == 1;
                            index_rows.push((
                                table.clone(),
                                index.clone(),
                                unique,
                                primary,
                                column.clone(),
                                descending,
                            ));
                        }
                    }
                }
            }
        }
        add_index_rows(&mut tables, index_rows);
        Ok(tables.into_values().collect())
    }
}

/// A simple query (one round trip; a prepared one takes two on a new connection).
pub(super) async fn try_lock(c: &mut PgConnection) -> std::result::Result<bool, DriverError> {
    raw_sql(sqlx_core::sql_str::AssertSqlSafe(format!(
        "SELECT pg_try_advisory_lock({LOCK_KEY})"
    )))
    .fetch_one(&mut *c)
    .await
    .and_then(|row| row.try_get(0))
    .map_err(DriverError::from)
}

pub(super) fn unlock_sql() -> String {
    format!("SELECT pg_advisory_unlock({LOCK_KEY})")
}
