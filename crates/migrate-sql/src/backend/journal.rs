//! `_toasty_migrations`: its DDL and every read and write of its rows, for all three dialects.

use super::{Conn, DriverError, SqlBackend};
use crate::TRACKING_TABLE;
use crate::dialect::Dialect;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::{query::query, raw_sql::raw_sql, row::Row, sql_str::AssertSqlSafe};
use std::time::Duration;
use time::OffsetDateTime;
use toasty_migrate::{
    Result,
    backend::{Journal, JournalRow},
};

/// `_toasty_migrations`, one row per migration.
impl Journal for SqlBackend {
    async fn ensure_journal(&mut self) -> Result<()> {
        if self.journal_exists {
            return Ok(());
        }
        let ddl = self.tracking_ddl();
        self.execute(&ddl).await?;
        self.journal_exists = true;
        Ok(())
    }

    async fn rows(&mut self) -> Result<Vec<JournalRow>> {
        if !self.journal_exists {
            if !self.tracking_exists().await? {
                return Ok(Vec::new());
            }
            self.journal_exists = true;
        }
        self.read_rows(None).await
    }

    async fn read_row(&mut self, version: &str) -> Result<Option<JournalRow>> {
        Ok(self.read_rows(Some(version)).await?.pop())
    }

    async fn write_row(&mut self, row: &JournalRow) -> Result<()> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let result = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => {
                let sql = format!("INSERT OR REPLACE INTO {t} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
                let at = row.applied_at.format(&time::format_description::well_known::Rfc3339).expect("a UTC time formats");
                let row = row.clone();
                s.call(move |c| c.execute(&sql, rusqlite::params![row.version, row.name, row.checksum, at, row.execution_time.as_millis() as i64, row.done as i32, row.total as i32, row.steps_checksum, row.reverting as i32]).map(|_| ()))
                    .await
                    .map_err(DriverError::from)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                query(AssertSqlSafe(format!("INSERT INTO {t} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                    ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at, execution_ms = EXCLUDED.execution_ms, \
                    statements_done = EXCLUDED.statements_done, statements_total = EXCLUDED.statements_total, statements_checksum = EXCLUDED.statements_checksum, reverting = EXCLUDED.reverting")))
                    .bind(row.version.clone()).bind(row.name.clone()).bind(row.checksum.clone()).bind(row.applied_at).bind(row.execution_time.as_millis() as i64)
                    .bind(row.done as i32).bind(row.total as i32).bind(row.steps_checksum.clone()).bind(row.reverting as i32)
                    .execute(&mut *c).await.map(|_| ()).map_err(DriverError::from)
            }
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => mysql_replace(c, &t, std::slice::from_ref(row)).await,
        };
        result.map_err(|e| self.error(e))
    }

    /// On MySQL, one `REPLACE` of every row: one commit (the others run in a transaction, where
    /// a row is no commit of its own).
    async fn write_rows(&mut self, rows: &[JournalRow]) -> Result<()> {
        #[cfg(feature = "mysql")]
        if let Conn::Mysql(c) = &mut self.conn
            && !rows.is_empty()
        {
            let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
            let result = mysql_replace(c, &t, rows).await;
            return result.map_err(|e| self.error(e));
        }
        for row in rows {
            self.write_row(row).await?;
        }
        Ok(())
    }

    async fn delete_row(&mut self, version: &str) -> Result<()> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let placeholder = if self.dialect == Dialect::Postgres {
            "$1"
        } else {
            "?"
        };
        let sql = format!("DELETE FROM {t} WHERE version = {placeholder}");
        on_conn!(&mut self.conn,
        c => query(AssertSqlSafe(sql.as_str())).bind(version).execute(&mut *c).await.map(|_| ()),
        s => {
            let owned = version.to_string();
            s.call(move |c| c.execute(&sql, [owned]).map(|_| ())).await
        })
        .map_err(|e| self.error(e))
    }
}

/// MySQL's `REPLACE` of `rows` into `table` (quoted), one statement whatever their number.
#[cfg(feature = "mysql")]
async fn mysql_replace(
    c: &mut sqlx_mysql::MySqlConnection,
    table: &str,
    rows: &[JournalRow],
) -> std::result::Result<(), DriverError> {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
    let sql = format!(
        "REPLACE INTO {table} (version, name, checksum, applied_at, execution_ms, statements_done, statements_total, statements_checksum, reverting) VALUES {values}"
    );
    let mut replace = query(AssertSqlSafe(sql));
    for row in rows {
        let at = time::PrimitiveDateTime::new(row.applied_at.date(), row.applied_at.time());
        replace = replace
            .bind(row.version.clone())
            .bind(row.name.clone())
            .bind(row.checksum.clone())
            .bind(at)
            .bind(row.execution_time.as_millis() as i64)
            .bind(row.done as i32)
            .bind(row.total as i32)
            .bind(row.steps_checksum.clone())
            .bind(row.reverting as i32);
    }
    replace
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(DriverError::from)
}

impl SqlBackend {
    /// One round trip: the table's name is ours, written as a literal rather than bound (a
    /// bound value needs a prepared statement, two round trips on a new connection).
    async fn tracking_exists(&mut self) -> Result<bool> {
        let name = self.dialect.string_literal(TRACKING_TABLE);
        let sql = match self.dialect {
            Dialect::Sqlite => {
                format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = {name}")
            }
            Dialect::Postgres => format!(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = {name}"
            ),
            Dialect::Mysql => format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND table_name = {name}"
            ),
        };
        let count: i64 = on_conn!(&mut self.conn,
            c => raw_sql(AssertSqlSafe(sql)).fetch_one(&mut *c).await.and_then(|row| row.try_get(0)),
            s => s.call(move |c| c.query_row(&sql, [], |r| r.get(0))).await)
        .map_err(|e| self.error(e))?;
        Ok(count > 0)
    }

    fn tracking_ddl(&self) -> String {
        let (version, text, time) = match self.dialect {
            Dialect::Sqlite => ("TEXT", "TEXT", "TEXT"),
            Dialect::Postgres => ("VARCHAR(255)", "TEXT", "TIMESTAMPTZ"),
            Dialect::Mysql => ("VARCHAR(191)", "TEXT", "DATETIME(6)"),
        };
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n    version {version} NOT NULL PRIMARY KEY,\n    name {text} NOT NULL,\n    \
             checksum {text} NOT NULL,\n    applied_at {time} NOT NULL,\n    execution_ms BIGINT NOT NULL,\n    \
             statements_done INTEGER NOT NULL,\n    statements_total INTEGER NOT NULL,\n    statements_checksum {text} NOT NULL,\n    \
             reverting INTEGER NOT NULL DEFAULT 0\n)"
        )
    }

    /// The tracking rows, oldest version first; only `version`'s if given.
    async fn read_rows(&mut self, version: Option<&str>) -> Result<Vec<JournalRow>> {
        let t = self.dialect.ident(TRACKING_TABLE).expect("a valid name");
        let filter = match (version, self.dialect) {
            (None, _) => "",
            (Some(_), Dialect::Postgres) => " WHERE version = $1",
            (Some(_), _) => " WHERE version = ?",
        };
        let sql = format!(
            "SELECT version, name, checksum, applied_at, execution_ms, statements_done, \
             statements_total, statements_checksum, reverting FROM {t}{filter} ORDER BY version"
        );
        type Fields = (String, String, String, i64, i32, i32, String, i32);
        // Every column but the time (3), read alike by each driver's `get`; a value of the wrong
        // type is the driver's error, not a panic.
        macro_rules! fields {
            ($row:expr, $get:ident) => {
                (
                    $row.$get(0)?,
                    $row.$get(1)?,
                    $row.$get(2)?,
                    $row.$get(4)?,
                    $row.$get(5)?,
                    $row.$get(6)?,
                    $row.$get(7)?,
                    $row.$get(8)?,
                )
            };
        }
        let version = version.map(str::to_string);
        let rows: Vec<(Fields, OffsetDateTime)> = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(s) => s
                .call(move |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let params: Vec<String> = version.into_iter().collect();
                    stmt.query_map(rusqlite::params_from_iter(params), |r| {
                        let at: String = r.get(3)?;
                        let at = OffsetDateTime::parse(
                            &at,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                3,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                        Ok((fields!(r, get), at))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .await
                .map_err(DriverError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => match version {
                None => raw_sql(AssertSqlSafe(sql)).fetch_all(&mut *c).await,
                Some(v) => query(AssertSqlSafe(sql)).bind(v).fetch_all(&mut *c).await,
            }
            .and_then(|rows| {
                rows.iter()
                    .map(|r| Ok((fields!(r, try_get), r.try_get::<OffsetDateTime, _>(3)?)))
                    .collect()
            })
            .map_err(DriverError::from),
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => match version {
                None => raw_sql(AssertSqlSafe(sql)).fetch_all(&mut *c).await,
                Some(v) => query(AssertSqlSafe(sql)).bind(v).fetch_all(&mut *c).await,
            }
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        let at: time::PrimitiveDateTime = r.try_get(3)?;
                        Ok((fields!(r, try_get), at.assume_utc()))
                    })
                    .collect()
            })
            .map_err(DriverError::from),
        }
        .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(
                |((version, name, checksum, ms, done, total, steps_checksum, reverting), at)| {
                    JournalRow {
                        version,
                        name,
                        checksum,
                        applied_at: at,
                        execution_time: Duration::from_millis(ms.max(0) as u64),
                        done: done.max(0) as usize,
                        total: total.max(0) as usize,
                        steps_checksum,
                        reverting: reverting != 0,
                    }
                },
            )
            .collect())
    }
}
