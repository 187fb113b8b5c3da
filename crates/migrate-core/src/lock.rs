//! Waiting for the migration lock, once for every backend: a backend says whether it could take
//! its lock right now ([`PolledLock::try_lock`]); [`wait_for_lock`] polls with a backoff that
//! doubles from 10 ms to 500 ms, and gives up with [`Error::LockTimeout`] after the backend's
//! timeout. A lock a dead runner held must come free by itself (the database ends its session,
//! or its lease expires); that is the backend's part.

use crate::{Error, Result};
use std::time::{Duration, Instant};

/// A lock that can be tried without waiting.
pub trait PolledLock: Send {
    /// Takes the lock if it is free (or already ours); `false` if another runner holds it.
    fn try_lock(&mut self) -> impl Future<Output = Result<bool>> + Send;

    /// How long to wait for another runner before giving up.
    fn lock_timeout(&self) -> Duration;

    /// Waits `duration` on the backend's runtime (the core has none).
    fn pause(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// Takes `lock`, polling while another runner holds it, up to its timeout. `target` names the
/// database in the timeout error.
pub async fn wait_for_lock<L: PolledLock>(lock: &mut L, target: &str) -> Result<()> {
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
