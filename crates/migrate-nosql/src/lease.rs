//! The lease both NoSQL backends lock with: a record naming its holder and when it expires,
//! taken by one conditional write, taken over once expired. A runner renews it every third of its
//! length from the moment it takes it until it releases it, on a task of its own
//! ([`Renewal`]), so that neither a long operation nor a slow stretch between operations lets it
//! expire under a live runner; a dead runner's expires soon. Each operation also checks, and
//! renews while it runs ([`holding`]), that the lease is still its own.

use std::future::Future;
use std::time::Duration;
use toasty_migrate::{Error, Result};

/// How long a lease lasts unrenewed: how long a dead runner's lock blocks the next runner.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// Who holds a lease: this process, and when the backend was made (two backends in one process
/// are two runners).
pub(crate) fn holder_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

/// Renews a lease on a task of its own until dropped. A renewal that finds the lease taken by
/// another runner (ours expired) stops; the runner's next operation finds that out and stops too.
pub(crate) struct Renewal(tokio::task::JoinHandle<()>);

impl Renewal {
    pub(crate) fn start<R, RF, E>(lease: Duration, renew: R) -> Renewal
    where
        R: Fn() -> RF + Send + 'static,
        RF: Future<Output = std::result::Result<bool, E>> + Send,
    {
        Renewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                // A failed write is tried again at the next tick.
                if matches!(renew().await, Ok(false)) {
                    return;
                }
            }
        }))
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` while renewing the lease (`renew` returns whether we still hold it) every third
/// of `lease`. A lease found taken by another runner (ours expired: the process stalled for
/// longer than the lease) stops the work with an error rather than let two runners write.
pub(crate) async fn holding<T, R, RF>(
    target: &str,
    lease: Duration,
    renew: R,
    work: impl Future<Output = Result<T>>,
) -> Result<T>
where
    R: Fn() -> RF,
    RF: Future<Output = Result<bool>>,
{
    let lost = || {
        Error::backend(
            target,
            "lost the migration lock: another runner took over the lease",
        )
    };
    if !renew().await? {
        return Err(lost());
    }
    let heartbeat = async {
        loop {
            tokio::time::sleep(lease / 3).await;
            if !renew().await? {
                return Err(lost());
            }
        }
    };
    tokio::select! {
        done = work => done,
        failed = heartbeat => failed,
    }
}
