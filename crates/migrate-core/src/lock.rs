//! Waiting for the migration lock, once for every backend: a backend says whether it could take
//! its lock right now ([`Lock::try_lock`]); [`wait_for_lock`] polls with a backoff that
//! doubles from 10 ms to 500 ms, and gives up with [`Error::LockTimeout`] after the backend's
//! timeout. A lock a dead runner held must come free by itself (the database ends its session,
//! or its lease expires); that is the backend's part.

use crate::backend::Lock;
use crate::{Error, Result};
use std::time::{Duration, Instant};

/// Takes `lock`, polling while another runner holds it, up to its timeout. `target` names the
/// database in the timeout error.
pub(crate) async fn wait_for_lock<L: Lock>(lock: &mut L, target: &str) -> Result<()> {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        if lock.try_lock().await? {
            return Ok(());
        }
        if start.elapsed() >= lock.lock_timeout() {
            return Err(Error::LockTimeout {
                target: target.to_string(),
                waited_secs: start.elapsed().as_secs(),
            });
        }
        lock.pause(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
    }
}
