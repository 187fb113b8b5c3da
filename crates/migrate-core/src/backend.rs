//! What a database implements for the migrator: four narrow traits, each one job, and
//! [`Backend`], which is all four and a name for messages.
//!
//! - [`Executor`]: turns an operation into steps, purely, from the schema as the earlier
//!   operations leave it ([`Executor::plan`]), and performs one step. The same steps are what a
//!   dry run prints ([`Step::describe`]) and what runs. It also says how a migration's steps
//!   and its tracking row are kept together ([`Atomicity`]).
//! - [`Journal`]: the tracking rows (`_toasty_migrations`): read, write, delete.
//! - [`Lock`]: take without waiting, release; waiting with a backoff and the timeout live once, in
//!   the core ([`Backend::lock`]).
//! - [`Introspect`]: the schema as the database has it, for drift.
//!
//! Everything else (which migrations run, in what order, resuming, checksums, the destructive
//! gate, dry runs) is the core's: [`crate::run::Migrator`].

pub use crate::execute::JournalRow;
pub use crate::redact::{redact, redact_in};

use crate::data::Filter;
use crate::lint::Finding;
use crate::migration::MigrationPlan;
use crate::operation::Operation;
use crate::snapshot::{SchemaSnapshot, TableSnapshot};
use crate::state::AppliedMigration;
use crate::{Error, Result};
use std::time::Duration;

/// One unit of work that commits on its own: a statement, a command, an API call sequence.
pub trait Step: Send + Sync {
    /// What a dry run prints for this step, one line each: its statement, or the calls it makes.
    fn describe(&self) -> Vec<String>;

    /// What must not change under a half-done migration: its bytes go into the journal's
    /// checksum of the steps done. (A statement's text; an operation's JSON.)
    fn key(&self) -> Vec<u8>;
}

/// A statement is its own description and key.
impl Step for String {
    fn describe(&self) -> Vec<String> {
        vec![self.clone()]
    }

    fn key(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

/// How a migration's steps and its tracking row are kept together on a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atomicity {
    /// All steps and the row in one transaction (PostgreSQL, SQLite): all or nothing.
    Transaction,
    /// Each step commits on its own (MySQL's DDL, MongoDB, DynamoDB, a PostgreSQL migration that
    /// opts out of the transaction): the row records progress after each step.
    Journal,
}

/// Plans and performs steps.
pub trait Executor: Send {
    type Step: Step;

    /// Refuses an operation this database cannot carry out as written (a name over its length
    /// limit or with a character it refuses, a type it cannot store), saying what and why. The
    /// migrator asks it of every operation of a run before any runs.
    fn check(&self, op: &Operation) -> std::result::Result<(), String>;

    /// The steps that carry out `op` on a database where `op`'s table is `table` (as the
    /// migrations before it, and the operations before it in its migration, leave it; `None`
    /// when it does not exist yet, or `op` names no table). Only its own table, so that
    /// planning a migration costs the size of what it touches, never the whole schema's. Pure:
    /// a dry run and a run plan the same steps.
    ///
    /// `online`: `op`'s table existed before its migration, so an application may be using it,
    /// and neither the run nor the migration opted out ([`Migration::online`]): take the form
    /// that keeps the table readable and writable while it runs, where this database has one.
    ///
    /// [`Migration::online`]: crate::Migration::online
    fn plan(
        &self,
        op: &Operation,
        table: Option<&TableSnapshot>,
        online: bool,
    ) -> Result<Vec<Self::Step>>;

    /// Performs one step. Performing a step again after it took effect must be harmless or
    /// refused, never wrong: a run killed between a step and its record repeats it.
    fn perform(&mut self, step: &Self::Step) -> impl Future<Output = Result<()>> + Send;

    /// Whether `step`, which the journal does not record as done, took effect anyway: a server
    /// can finish a statement after the runner that sent it died, and a run does not record
    /// after a step this tells for ([`tells_effect`](Self::tells_effect)). Asked on resume of
    /// each step not recorded, in order, until one did not; those that did are recorded and
    /// skipped. By default, never.
    fn took_effect(&mut self, step: &Self::Step) -> impl Future<Output = Result<bool>> + Send {
        let _ = step;
        async { Ok(false) }
    }

    /// Whether [`took_effect`](Self::took_effect) tells for `step`: then a journaled run need
    /// not record its progress right after it, as a resumed run asks instead (MySQL's DDL: a
    /// commit fewer per statement). By default, it does not.
    fn tells_effect(&self, step: &Self::Step) -> bool {
        let _ = step;
        false
    }

    /// How many rows of `table` `filter` matches: what seeding asks to tell a row to insert from
    /// one to update and from one already as seeded.
    fn count_rows(
        &mut self,
        table: &TableSnapshot,
        filter: &Filter,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Whether `err`, from `perform`, says the step gave up waiting for a lock another session
    /// held (PostgreSQL's `lock_timeout`, MySQL's lock wait timeout): nothing of the step took
    /// effect, and the runner tries it again after a pause ([`LockRetry`]), so that the
    /// application's queries queued behind the step run meanwhile. By default, never.
    fn lock_timed_out(&self, err: &Error) -> bool {
        let _ = err;
        false
    }

    /// Who may hold the lock a step gave up on, for the error a run ends with when the retries
    /// run out: one line each (a session, its state, for how long, its last statement). By
    /// default, nothing known.
    fn lock_holders(&mut self) -> impl Future<Output = Vec<String>> + Send {
        async { Vec::new() }
    }

    /// What `op` does to `table`, which existed before its migration, while an application
    /// uses it, planned `online` or not (see [`plan`](Self::plan)): this database's lint
    /// findings, beyond the rules every database shares ([`crate::lint`]). Pure, like `plan`.
    /// By default, none.
    fn lint(&self, op: &Operation, table: &TableSnapshot, online: bool) -> Vec<Finding> {
        let _ = (op, table, online);
        Vec::new()
    }

    /// About how many rows (items, documents) `table` holds, from the database's statistics
    /// and without a scan: what the lint findings on it quote, so that a reviewer sees the
    /// size of a rewrite (on DynamoDB, its writes). By default, not known.
    fn estimated_rows(&mut self, table: &str) -> impl Future<Output = Option<u64>> + Send {
        let _ = table;
        async { None }
    }

    /// How `plan`, planned into `steps`, runs here, or why it cannot (a migration asking for
    /// what this database cannot do). A step a transaction cannot hold (PostgreSQL's
    /// `CREATE INDEX CONCURRENTLY`) makes its migration journaled.
    fn atomicity(&self, plan: &MigrationPlan, steps: &[Self::Step]) -> Result<Atomicity>;

    /// Begins the transaction of a migration whose [`Atomicity`] is `Transaction`.
    fn begin(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Err(no_transactions()) }
    }

    fn commit(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Err(no_transactions()) }
    }

    /// Undoes everything since `begin`. Called after a failure, whose error is the one reported.
    fn rollback(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Err(no_transactions()) }
    }
}

/// What a backend that never answers [`Atomicity::Transaction`] says if asked to begin one.
fn no_transactions() -> Error {
    Error::Unsupported {
        target: String::new(),
        message: "this database runs migrations without transactions".into(),
    }
}

/// How a step that gave up waiting for a lock ([`Executor::lock_timed_out`]) is tried again:
/// up to `attempts` more times, pausing `pause` before the first and twice as long before each
/// next, so the whole wait is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRetry {
    pub attempts: u32,
    pub pause: Duration,
}

impl Default for LockRetry {
    /// Five more attempts, 0.5 s to 8 s apart: under 16 s of pauses.
    fn default() -> Self {
        LockRetry {
            attempts: 5,
            pause: Duration::from_millis(500),
        }
    }
}

impl LockRetry {
    /// The pause before retry `n` (0 for the first).
    pub fn pause_before(&self, n: u32) -> Duration {
        self.pause.saturating_mul(1 << n.min(16))
    }
}

/// The tracking rows, one per applied (or part-applied) migration.
pub trait Journal: Send {
    /// Creates the tracking store (`_toasty_migrations`) if it does not exist.
    fn ensure_journal(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// Every row, oldest version first; none if the tracking store does not exist.
    fn rows(&mut self) -> impl Future<Output = Result<Vec<JournalRow>>> + Send;

    fn read_row(
        &mut self,
        version: &str,
    ) -> impl Future<Output = Result<Option<JournalRow>>> + Send;

    /// Inserts or replaces the row of `row.version`.
    fn write_row(&mut self, row: &JournalRow) -> impl Future<Output = Result<()>> + Send;

    /// Inserts or replaces these rows, in one write where the database can (a migration's end
    /// and the next one's start: one commit where each commits on its own). By default, one
    /// after the other.
    fn write_rows(&mut self, rows: &[JournalRow]) -> impl Future<Output = Result<()>> + Send {
        async move {
            for row in rows {
                self.write_row(row).await?;
            }
            Ok(())
        }
    }

    fn delete_row(&mut self, version: &str) -> impl Future<Output = Result<()>> + Send;

    /// Every applied migration, oldest first.
    fn applied(&mut self) -> impl Future<Output = Result<Vec<AppliedMigration>>> + Send {
        async {
            let rows = self.rows().await?;
            Ok(rows.into_iter().map(AppliedMigration::from).collect())
        }
    }
}

/// The migration lock. A runner that dies must not hold it forever: the database ends its
/// session, or its lease expires.
pub trait Lock: Send {
    /// Takes the lock if it is free (or already ours); `false` if another runner holds it.
    fn try_lock(&mut self) -> impl Future<Output = Result<bool>> + Send;

    fn unlock(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// How long to wait for another runner before giving up.
    fn lock_timeout(&self) -> Duration;

    /// Waits `duration` on the backend's runtime (the core has none).
    fn pause(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The schema as the database has it.
pub trait Introspect: Send {
    /// The application's tables as they are in the database now.
    fn introspect(&mut self) -> impl Future<Output = Result<SchemaSnapshot>> + Send;

    /// `snapshot` as this database keeps it (what it cannot tell apart collapsed: SQLite's
    /// integer widths, MySQL's enum names, ...), to compare with [`introspect`](Self::introspect).
    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot;

    /// Whether the database keeps columns in the order migrations put them (PostgreSQL cannot
    /// put a column back in its place, so order is not compared there).
    fn keeps_column_order(&self) -> bool;
}

/// A database the migrator can drive.
pub trait Backend: Executor + Journal + Lock + Introspect {
    /// Where the backend points, for messages, without any password.
    fn target(&self) -> String;

    /// Takes the migration lock, polling while another runner holds it, up to
    /// [`Lock::lock_timeout`].
    fn lock(&mut self) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sized,
    {
        async {
            let target = self.target();
            crate::lock::wait_for_lock(self, &target).await
        }
    }
}
