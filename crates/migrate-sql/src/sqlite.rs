//! The SQLite connection: rusqlite (the SQLite Toasty's driver links), its blocking calls moved
//! off the async runtime's threads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The file a `sqlite:<path>` or `sqlite://<path>` URL names (`:memory:` for memory; empty if
/// none), without a query string such as `?mode=rwc`, which is ignored.
pub(crate) fn path_of(url: &str) -> &str {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or_default()
}

/// One SQLite connection, shared with the blocking thread that runs each call.
#[derive(Clone)]
pub(crate) struct SqliteConn {
    inner: Arc<Mutex<rusqlite::Connection>>,
}

impl SqliteConn {
    /// Opens the database `url` names (see [`path_of`]; the caller refuses an empty path). A
    /// missing file is created only if `create`; otherwise it reads as the empty database it
    /// would be (an empty one in memory), so that `status` and dry runs show everything pending
    /// and leave no file behind a mistyped path.
    pub async fn open(
        url: &str,
        busy_timeout: Duration,
        create: bool,
    ) -> rusqlite::Result<SqliteConn> {
        let path = path_of(url).to_string();
        let missing = path != ":memory:" && !std::path::Path::new(&path).exists();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = if path == ":memory:" || (missing && !create) {
                rusqlite::Connection::open_in_memory()?
            } else if create {
                rusqlite::Connection::open(&path)?
            } else {
                // Without SQLITE_OPEN_CREATE: a file removed since the check is not recreated.
                use rusqlite::OpenFlags;
                rusqlite::Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_URI
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?
            };
            conn.busy_timeout(busy_timeout)?;
            // Opening reads nothing; the first statement reads and parses the whole schema.
            // Doing it here finds a file that is not a database at connect, and lets the
            // parse (milliseconds for 1,000 tables) overlap with the caller's loading of files.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok::<_, rusqlite::Error>(conn)
        })
        .await
        .expect("the SQLite open task does not panic")?;
        Ok(SqliteConn {
            inner: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> rusqlite::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .expect("a SQLite call does not panic")
    }
}
