//! Statements that wait for a lock the application holds: each waits at most the statement
//! lock timeout (PostgreSQL's `lock_timeout`, MySQL's `lock_wait_timeout` and
//! `innodb_lock_wait_timeout`), so that the application's queries queued behind it are not
//! held for long; the core retries a step that gave up ([`toasty_migrate::backend::LockRetry`]).
//! SQLite has one writer and no such wait.

use super::SqlBackend;
use std::time::Duration;
use toasty_migrate::{Error, Result};

/// How long a statement waits for a lock before giving up, unless set.
pub const DEFAULT_STATEMENT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

impl SqlBackend {
    /// How long each statement of a step waits for a lock another session holds before giving
    /// up, to be retried (default 2 s); `None` waits as long as the server's own settings say.
    /// MySQL counts in whole seconds (at least 1). Sent before the next step, not now.
    pub fn set_statement_lock_timeout(&mut self, timeout: Option<Duration>) {
        self.statement_lock_timeout = timeout;
    }

    /// Sends what the steps' statements need of the session and it does not have yet: the
    /// statement lock timeout and, on PostgreSQL, the check for a dead client. Called before
    /// the first step and at each transaction's start, not on connecting: a `status` or an
    /// `up` with nothing to run sends none of it (a round trip each).
    pub(super) async fn prepare_session(&mut self) -> Result<()> {
        // A runner killed during a long statement: PostgreSQL 14+ then notices the closed
        // connection within a second and ends the session, releasing the lock, instead of
        // holding it until the statement finishes. Older servers lack the setting, and are
        // left as they are.
        if !self.session_prepared && self.dialect == crate::Dialect::Postgres {
            let _ = self
                .execute("SET client_connection_check_interval = '1s'")
                .await;
        }
        self.session_prepared = true;
        if self.session_lock_timeout != self.statement_lock_timeout
            && let Some(assignments) = self.lock_timeout_assignments(self.statement_lock_timeout)
        {
            self.execute(&format!("SET {assignments}")).await?;
        }
        self.session_lock_timeout = self.statement_lock_timeout;
        Ok(())
    }

    /// What a `SET` assigns for [`set_statement_lock_timeout`](Self::set_statement_lock_timeout);
    /// `None` where there is nothing to set (SQLite).
    pub(super) fn lock_timeout_assignments(&self, timeout: Option<Duration>) -> Option<String> {
        match self.dialect {
            crate::Dialect::Postgres => {
                let ms = timeout.map_or(0, |t| t.as_millis().max(1));
                Some(format!("lock_timeout = {ms}"))
            }
            crate::Dialect::Mysql => {
                // The servers' defaults: a year for metadata locks, 50 s for rows.
                let (metadata, rows) = match timeout {
                    Some(t) => (t.as_secs().max(1), t.as_secs().max(1)),
                    None => (31_536_000, 50),
                };
                Some(format!(
                    "SESSION lock_wait_timeout = {metadata}, innodb_lock_wait_timeout = {rows}"
                ))
            }
            crate::Dialect::Sqlite => None,
        }
    }

    /// Whether `err` is a statement that gave up waiting for a lock: PostgreSQL's
    /// `lock_not_available` (55P03), MySQL's lock wait timeout (1205).
    pub(super) fn gave_up_on_lock(&self, err: &Error) -> bool {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        if let Error::Backend {
            source: Some(source),
            ..
        } = err
            && let Some(sqlx_core::error::Error::Database(db)) =
                source.downcast_ref::<sqlx_core::error::Error>()
        {
            return match self.dialect {
                crate::Dialect::Postgres => db.code().as_deref() == Some("55P03"),
                #[cfg(feature = "mysql")]
                crate::Dialect::Mysql => db
                    .try_downcast_ref::<sqlx_mysql::MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == 1205),
                _ => false,
            };
        }
        let _ = err;
        false
    }

    /// The other sessions with an open transaction, oldest first: who may hold the lock.
    pub(super) async fn open_transactions(&mut self) -> Vec<String> {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        use sqlx_core::{query_scalar::query_scalar, sql_str::AssertSqlSafe};
        let found = match &mut self.conn {
            #[cfg(feature = "postgres")]
            super::Conn::Postgres(c) => query_scalar::<_, String>(AssertSqlSafe(
                "SELECT 'pid ' || pid || ', ' || COALESCE(state, '?') || ' for ' || \
                 EXTRACT(EPOCH FROM now() - xact_start)::bigint || ' s: ' || left(query, 120) \
                 FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND xact_start IS NOT NULL \
                 ORDER BY xact_start LIMIT 5",
            ))
            .fetch_all(&mut *c)
            .await
            .ok(),
            #[cfg(feature = "mysql")]
            super::Conn::Mysql(c) => query_scalar::<_, String>(AssertSqlSafe(
                "SELECT CONCAT('id ', p.ID, ', ', p.COMMAND, ' for ', p.TIME, ' s: ', \
                 LEFT(COALESCE(t.trx_query, p.INFO, '(idle in transaction)'), 120)) \
                 FROM information_schema.INNODB_TRX t \
                 JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
                 WHERE p.ID <> CONNECTION_ID() ORDER BY t.trx_started LIMIT 5",
            ))
            .fetch_all(&mut *c)
            .await
            .ok(),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        found.unwrap_or_default()
    }
}
