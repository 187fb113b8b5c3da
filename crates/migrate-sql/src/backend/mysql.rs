//! MySQL/MariaDB: introspection from `information_schema`, and the lock (a named lock).

use super::DriverError;
use super::catalog::{add_index_rows, empty_table};
use super::{Conn, SqlBackend};
use crate::dialect::Dialect;
use crate::introspect::{self, is_internal_table};
use sqlx_core::query_scalar::query_scalar;
use sqlx_core::raw_sql::raw_sql;
use sqlx_core::row::Row;
use sqlx_mysql::MySqlConnection;
use std::collections::BTreeMap;
use toasty_migrate::{Result, schema::TableSnapshot};

/// The lock's name: one per database.
const LOCK_NAME: &str = "CONCAT('toasty-migrate:', SHA1(DATABASE()))";

impl SqlBackend {
    /// InnoDB's estimate of `table`'s rows (`information_schema.TABLES`), if it has one.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn mysql_estimated_rows(&mut self, table: &str) -> Option<u64> {
        let Conn::Mysql(c) = &mut self.conn else {
            return None;
        };
        query_scalar::<_, Option<u64>>(
            "SELECT TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(table)
        .fetch_optional(&mut *c)
        .await
        .ok()
        .flatten()
        .flatten()
    }

    // Irrefutable when this is the only backend built.
    #[allow(irrefutable_let_patterns)]
    pub(super) async fn mysql_tables(&mut self, only: Option<&str>) -> Result<Vec<TableSnapshot>> {
        let target = self.target.clone();
        let err = |e: sqlx_core::Error| super::driver_error(&target, e);
        let Conn::Mysql(c) = &mut self.conn else {
            return Ok(Vec::new());
        };
        // The columns and the indexes in one round trip: two statements sent at once (a text
        // query), each row led by what it is. information_schema's columns are of various
        // binary/text types across versions: CAST them so they decode as strings everywhere.
        // With a table named, the server opens that table alone.
        let of = only
            .map(|literal| format!(" AND TABLE_NAME = {literal}"))
            .unwrap_or_default();
        let rows = raw_sql(sqlx_core::sql_str::AssertSqlSafe(format!(
            "SELECT 'column', CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR), \
             CAST(EXTRA AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE(){of} \
             ORDER BY TABLE_NAME, ORDINAL_POSITION; \
             SELECT 'index', CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), \
             CAST(NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR), CAST(COLLATION AS CHAR) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE(){of} \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        )))
        .fetch_all(&mut *c)
        .await
        .map_err(err)?;
        let mut tables: BTreeMap<String, TableSnapshot> = BTreeMap::new();
        let mut index_rows = Vec::new();
        for row in &rows {
            let table: String = row.try_get(1).map_err(err)?;
            // Rows come statement by statement: every column before the first index.
            if row.try_get::<&str, _>(0).map_err(err)? == "index" {
                let index: String = row.try_get(2).map_err(err)?;
                let non_unique: i64 = row.try_get(3).map_err(err)?;
                let collation: Option<String> = row.try_get(5).map_err(err)?;
                index_rows.push((
                    table,
                    index.clone(),
                    non_unique == 0,
                    index == "PRIMARY",
                    row.try_get(4).map_err(err)?,
                    collation.as_deref() == Some("D"),
                ));
                continue;
            }
            if is_internal_table(&table) {
                continue;
            }
            let ty: String = row.try_get(3).map_err(err)?;
            let nullable: String = row.try_get(4).map_err(err)?;
            let default: Option<String> = row.try_get(5).map_err(err)?;
            let extra: String = row.try_get(6).map_err(err)?;
            let t = tables
                .entry(table.clone())
                .or_insert_with(|| empty_table(table));
            t.columns.push(introspect::column(
                Dialect::Mysql,
                row.try_get(2).map_err(err)?,
                introspect::mysql_type(&ty),
                nullable == "YES",
                default.as_deref(),
                extra.to_ascii_lowercase().contains("auto_increment"),
            ));
        }
        add_index_rows(&mut tables, index_rows);
        Ok(tables.into_values().collect())
    }
}

/// A text query (one round trip; a prepared one takes two on a new connection).
pub(super) async fn try_lock(c: &mut MySqlConnection) -> std::result::Result<bool, DriverError> {
    raw_sql(sqlx_core::sql_str::AssertSqlSafe(format!(
        "SELECT GET_LOCK({LOCK_NAME}, 0)"
    )))
    .fetch_one(&mut *c)
    .await
    .and_then(|row| row.try_get::<Option<i64>, _>(0))
    .map(|locked| locked == Some(1))
    .map_err(DriverError::from)
}

pub(super) fn unlock_sql() -> String {
    format!("SELECT RELEASE_LOCK({LOCK_NAME})")
}
