//! Executing one migration, once for every backend, in the way its [`Atomicity`] says:
//!
//! - [`run_in_transaction`]: its steps and its tracking row commit together or not at all
//!   (PostgreSQL, SQLite).
//! - [`run_journaled`]: where a database commits each change on its own (MySQL's DDL, MongoDB,
//!   DynamoDB, a PostgreSQL migration that opts out of the transaction), step by step, the
//!   tracking row recording after each step how many are done and a checksum of them. A run that
//!   was interrupted resumes at the first step not done (skipping it if the backend finds it
//!   took effect after all), and refuses if the steps done have changed since. A run whose first
//!   step fails took no effect, so its row goes back to what it was.
//!
//! The steps come planned ([`crate::Migrator`] plans every migration of a run before any runs);
//! a backend only performs them and keeps its rows ([`Executor`], [`Journal`]).
//!
//! [`Atomicity`]: crate::backend::Atomicity

use crate::backend::{Atomicity, Executor, Journal, Step};
use crate::migration::{Direction, MigrationPlan};
use crate::operation::Operation;
use crate::state::AppliedMigration;
use crate::{Error, Result};
use std::collections::HashSet;
use std::ops::Range;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// A tracking row as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRow {
    pub version: String,
    pub name: String,
    pub checksum: String,
    pub applied_at: OffsetDateTime,
    pub execution_time: Duration,
    /// Steps done, of `total`. A finished `up` has all done; a `down` deletes its row when done.
    pub done: usize,
    pub total: usize,
    /// A SHA-256 over the keys ([`Step::key`](crate::backend::Step::key)) of the steps done.
    pub steps_checksum: String,
    /// The run this row records is reverting the migration (its steps are `down`'s).
    pub reverting: bool,
}

impl From<JournalRow> for AppliedMigration {
    fn from(row: JournalRow) -> Self {
        // A reverting row counts down steps; it is unfinished even at 0 done.
        let unfinished = row.done < row.total || row.reverting;
        AppliedMigration {
            version: row.version,
            name: row.name,
            checksum: row.checksum,
            applied_at: row.applied_at,
            execution_time: row.execution_time,
            progress: unfinished.then_some((row.done as u32, row.total as u32)),
            reverting: row.reverting,
        }
    }
}

/// Runs `steps` (`plan` in `direction`) in one transaction with the tracking row: `up` writes
/// the row complete, `down` deletes it; any failure rolls all of it back.
pub(crate) async fn run_in_transaction<B: Executor + Journal>(
    backend: &mut B,
    plan: &MigrationPlan,
    steps: &[B::Step],
    direction: Direction,
    checksum: &str,
) -> Result<Duration> {
    backend.begin().await?;
    let run = async {
        let start = Instant::now();
        for step in steps {
            backend.perform(step).await?;
        }
        match direction {
            // The transaction makes the steps one: there is no progress to keep.
            Direction::Up => {
                backend
                    .write_row(&JournalRow {
                        version: plan.version.clone(),
                        name: plan.name().to_string(),
                        checksum: checksum.to_string(),
                        applied_at: OffsetDateTime::now_utc(),
                        execution_time: start.elapsed(),
                        done: steps.len(),
                        total: steps.len(),
                        steps_checksum: String::new(),
                        reverting: false,
                    })
                    .await?
            }
            Direction::Down => backend.delete_row(&plan.version).await?,
        }
        Ok(start.elapsed())
    };
    match run.await {
        Ok(elapsed) => {
            backend.commit().await?;
            Ok(elapsed)
        }
        Err(e) => {
            // The failure matters; a failed rollback leaves the connection to be dropped.
            let _ = backend.rollback().await;
            Err(e)
        }
    }
}

/// The hash a tracking row keeps of the steps done: SHA-256 over each step's key.
pub(crate) fn steps_checksum<S: AsRef<[u8]>>(steps: impl IntoIterator<Item = S>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for step in steps {
        hasher.update(step.as_ref());
        hasher.update([0]);
    }
    crate::migration::to_hex(&hasher.finalize())
}

/// What the journal holds for a migration as its journaled run begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Not known: the run reads its row.
    Unknown,
    /// Its starting row: the migration was pending, and the runner wrote the row before the
    /// run, with others ([`write_groups`]).
    Started,
}

/// At most this many migrations share their rows' writes: a run resumed after a crash asks the
/// database about each step of each instead (a catalog read), so more would make recovery slow
/// for little gain (32 already take 97% of the writes out of a long run).
const MOST_SHARING: usize = 32;

/// The migrations of a run, in order, grouped where a group's rows are written together: its
/// members' starting rows in one write before the first runs, their finished rows in one write
/// after the last (with the next group's starting rows). On a database that commits each
/// change on its own, a write of the journal is a commit: a group of many saves as many.
///
/// Migrations share only where that is sound: journaled `up` runs, every step of which the
/// backend can tell the effect of ([`Executor::tells_effect`]), since a run resumed after a
/// crash in the group finds its members "started" and asks the database step by step; and no
/// two of which touch the same table, so that one's effect cannot hide another's. And only on
/// tables the run itself created (with no raw statement since, which may fill any): those are
/// empty, so no member runs long on data while the ones before it wait to be recorded. A run over a database in use (its tables there before
/// the run) records each migration as it ends, as before; a run that builds a database from
/// its first migration shares. Every other migration is a group of its own.
pub(crate) fn write_groups<B: Executor>(
    backend: &B,
    direction: Direction,
    operations: &[impl AsRef<[Operation]>],
    steps: &[Vec<B::Step>],
    atomicities: &[Atomicity],
) -> Vec<Range<usize>> {
    let mut created = HashSet::new();
    let shares: Vec<bool> = operations
        .iter()
        .enumerate()
        .map(|(i, ops)| {
            // Each operation in order: a table counts as created from its `CreateTable` on,
            // until a raw statement, which may fill any table.
            let on_created = ops.as_ref().iter().fold(true, |all, op| {
                match op {
                    Operation::CreateTable(def) => {
                        created.insert(def.name.as_str());
                    }
                    Operation::Raw { .. } => created.clear(),
                    _ => {}
                }
                all && op.table().is_some_and(|t| created.contains(t))
            });
            on_created
                && direction == Direction::Up
                && atomicities[i] == Atomicity::Journal
                && steps[i].iter().all(|step| backend.tells_effect(step))
        })
        .collect();
    let mut groups = Vec::new();
    let mut start = 0;
    let mut tables = HashSet::new();
    for (i, ops) in operations.iter().enumerate() {
        let mut touched = ops.as_ref().iter().filter_map(Operation::table);
        let joins = i - start < MOST_SHARING
            && shares[start]
            && shares[i]
            && touched.all(|t| !tables.contains(t));
        if i > start && !joins {
            groups.push(start..i);
            start = i;
            tables.clear();
        }
        tables.extend(ops.as_ref().iter().filter_map(Operation::table));
    }
    if start < operations.len() {
        groups.push(start..operations.len());
    }
    groups
}

/// The row of `plan` with `done` of its steps (`keys`) done.
pub(crate) fn progress_row(
    plan: &MigrationPlan,
    checksum: &str,
    keys: &[Vec<u8>],
    done: usize,
    elapsed: Duration,
    reverting: bool,
) -> JournalRow {
    JournalRow {
        version: plan.version.clone(),
        name: plan.name().to_string(),
        checksum: checksum.to_string(),
        applied_at: OffsetDateTime::now_utc(),
        execution_time: elapsed,
        done,
        total: keys.len(),
        steps_checksum: steps_checksum(&keys[..done]),
        reverting,
    }
}

/// Runs `steps` (`plan` in `direction`) one by one, recording progress as it goes: after each
/// step whose effect the backend cannot tell ([`Executor::tells_effect`]); at the end `down`
/// deletes the row, and `up` returns it complete for the caller to write, with other rows in
/// one write ([`write_groups`]). Resumes a run of the same direction that was interrupted.
/// Returns how long it took.
pub(crate) async fn run_journaled<B: Executor + Journal>(
    backend: &mut B,
    plan: &MigrationPlan,
    steps: &[B::Step],
    direction: Direction,
    checksum: &str,
    recorded: Recorded,
) -> Result<(Duration, Option<JournalRow>)> {
    let start = Instant::now();
    let keys: Vec<Vec<u8>> = steps.iter().map(Step::key).collect();
    let reverting = direction == Direction::Down;
    let row = |done: usize, elapsed: Duration| {
        progress_row(plan, checksum, &keys, done, elapsed, reverting)
    };
    let previous = match recorded {
        Recorded::Unknown => backend.read_row(&plan.version).await?,
        Recorded::Started => None,
    };
    // A row of this direction's unfinished run is resumed; anything else starts afresh (a
    // complete row being reverted starts its down run).
    let mut done = match &previous {
        Some(row) if row.reverting == reverting => resume_at(plan, row, &keys)?,
        _ => {
            if recorded != Recorded::Started {
                backend.write_row(&row(0, Duration::ZERO)).await?;
            }
            0
        }
    };
    let fresh = previous.as_ref().is_none_or(|p| p.reverting != reverting);
    // How many steps the row says are done.
    let mut in_row = done;
    // The runner that was interrupted may have been killed after the server took steps the
    // journal does not record: the server says which.
    if !fresh {
        while done < steps.len() && backend.took_effect(&steps[done]).await? {
            done += 1;
        }
        if done > in_row {
            backend.write_row(&row(done, start.elapsed())).await?;
            in_row = done;
        }
    }
    while done < steps.len() {
        if let Err(e) = backend.perform(&steps[done]).await {
            // The first step of a fresh run failed: nothing took effect, so nothing is
            // recorded (a row saying "0 done" would have `down` revert steps never done).
            if fresh && done == 0 {
                match &previous {
                    Some(previous) => backend.write_row(previous).await?,
                    None => backend.delete_row(&plan.version).await?,
                }
            } else if done > in_row {
                // Known here, so said (the resumed run would ask): if this write fails too,
                // the step's failure is still the one to report.
                let _ = backend.write_row(&row(done, start.elapsed())).await;
            }
            return Err(e);
        }
        done += 1;
        if done < steps.len() && !backend.tells_effect(&steps[done - 1]) {
            backend.write_row(&row(done, start.elapsed())).await?;
            in_row = done;
        }
    }
    if reverting {
        backend.delete_row(&plan.version).await?;
        return Ok((start.elapsed(), None));
    }
    Ok((start.elapsed(), Some(row(done, start.elapsed()))))
}

/// Where an interrupted run resumes: after the steps `recorded` says are done, if they are still
/// the steps now. Refuses otherwise: the file changed under a half-done migration.
fn resume_at(plan: &MigrationPlan, recorded: &JournalRow, keys: &[Vec<u8>]) -> Result<usize> {
    let already = recorded.done;
    if already > keys.len() || steps_checksum(&keys[..already]) != recorded.steps_checksum {
        return Err(Error::Migration {
            version: plan.version.clone(),
            message: format!(
                "{already} of its steps were run before it was interrupted, and they have changed since; \
                 restore the file as it was to resume"
            ),
        });
    }
    Ok(already)
}

#[cfg(test)]
mod tests {
    //! The executor's decisions over an in-memory journal: resuming, refusing changed steps,
    //! and recording nothing for a run none of whose steps took effect. The backends run the
    //! same code against real databases in their own tests.
    use super::*;
    use crate::backend::Atomicity;
    use crate::operation::Operation;
    use crate::snapshot::TableSnapshot;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Memory {
        rows: BTreeMap<String, JournalRow>,
        performed: Vec<String>,
        /// Steps that fail when performed.
        failing: Vec<String>,
        /// Steps the database did though no journal says so.
        took_effect: Vec<String>,
        /// Steps whose effect `took_effect` tells.
        tells: Vec<String>,
        /// Writes to the journal (`write_rows` is one).
        writes: usize,
    }

    impl Executor for Memory {
        type Step = String;

        fn check(&self, _: &Operation) -> std::result::Result<(), String> {
            Ok(())
        }

        fn plan(&self, op: &Operation, _: Option<&TableSnapshot>, _: bool) -> Result<Vec<String>> {
            Ok(vec![op.to_string()])
        }

        async fn perform(&mut self, step: &String) -> Result<()> {
            if self.failing.contains(step) {
                return Err(Error::backend("memory", format!("{step} failed")));
            }
            self.performed.push(step.clone());
            Ok(())
        }

        async fn took_effect(&mut self, step: &String) -> Result<bool> {
            Ok(self.took_effect.contains(step))
        }

        fn tells_effect(&self, step: &String) -> bool {
            self.tells.contains(step)
        }

        async fn count_rows(
            &mut self,
            _: &crate::snapshot::TableSnapshot,
            _: &crate::data::Filter,
        ) -> Result<u64> {
            Ok(0)
        }

        fn atomicity(&self, _: &MigrationPlan, _: &[String]) -> Result<Atomicity> {
            Ok(Atomicity::Journal)
        }
    }

    impl Journal for Memory {
        async fn ensure_journal(&mut self) -> Result<()> {
            Ok(())
        }

        async fn rows(&mut self) -> Result<Vec<JournalRow>> {
            Ok(self.rows.values().cloned().collect())
        }

        async fn read_row(&mut self, version: &str) -> Result<Option<JournalRow>> {
            Ok(self.rows.get(version).cloned())
        }

        async fn write_row(&mut self, row: &JournalRow) -> Result<()> {
            self.rows.insert(row.version.clone(), row.clone());
            self.writes += 1;
            Ok(())
        }

        async fn write_rows(&mut self, rows: &[JournalRow]) -> Result<()> {
            for row in rows {
                self.rows.insert(row.version.clone(), row.clone());
            }
            self.writes += 1;
            Ok(())
        }

        async fn delete_row(&mut self, version: &str) -> Result<()> {
            self.rows.remove(version);
            Ok(())
        }
    }

    fn plan() -> MigrationPlan {
        let drop = |t: &str| Operation::DropTable { table: t.into() };
        MigrationPlan {
            transactional: false,
            ..MigrationPlan::new(
                "20250101_000000_three",
                vec![drop("a"), drop("b"), drop("c")],
                vec![drop("x"), drop("y")],
            )
        }
    }

    fn run(memory: &mut Memory, direction: Direction) -> Result<Duration> {
        run_plan(memory, &plan(), direction)
    }

    fn run_plan(
        memory: &mut Memory,
        plan: &MigrationPlan,
        direction: Direction,
    ) -> Result<Duration> {
        let steps: Vec<String> = plan
            .operations(direction)
            .iter()
            .flat_map(|op| memory.plan(op, None, false).unwrap())
            .collect();
        // As the runner does: the finished row is written after the run.
        let (elapsed, finished) = block_on(run_journaled(
            memory,
            plan,
            &steps,
            direction,
            "sum",
            Recorded::Unknown,
        ))?;
        if let Some(row) = finished {
            block_on(memory.write_row(&row))?;
        }
        Ok(elapsed)
    }

    /// A minimal executor for these tests: the futures here never wait.
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[test]
    fn up_records_each_step_and_down_deletes_the_row() {
        let mut memory = Memory::default();
        run(&mut memory, Direction::Up).unwrap();
        let row = &memory.rows["20250101_000000_three"];
        assert_eq!((row.done, row.total, row.reverting), (3, 3, false));
        assert_eq!(AppliedMigration::from(row.clone()).progress, None);
        run(&mut memory, Direction::Down).unwrap();
        assert!(memory.rows.is_empty());
        assert_eq!(memory.performed.len(), 5);
    }

    #[test]
    fn an_interrupted_run_resumes_at_the_first_step_not_done() {
        let mut memory = Memory {
            failing: vec!["drop table b".into()],
            ..Memory::default()
        };
        assert!(run(&mut memory, Direction::Up).is_err());
        let row = memory.rows["20250101_000000_three"].clone();
        assert_eq!((row.done, row.total), (1, 3));
        assert_eq!(AppliedMigration::from(row).progress, Some((1, 3)));
        memory.failing.clear();
        run(&mut memory, Direction::Up).unwrap();
        assert_eq!(
            memory.performed,
            ["drop table a", "drop table b", "drop table c"]
        );
    }

    #[test]
    fn changed_steps_under_a_half_done_run_are_refused() {
        let mut memory = Memory {
            failing: vec!["drop table b".into()],
            ..Memory::default()
        };
        assert!(run(&mut memory, Direction::Up).is_err());
        let mut edited = plan();
        edited.up[0] = Operation::DropTable { table: "z".into() };
        memory.failing.clear();
        let err = run_plan(&mut memory, &edited, Direction::Up)
            .unwrap_err()
            .to_string();
        assert!(err.contains("they have changed since"), "{err}");
    }

    #[test]
    fn a_first_step_that_fails_records_nothing() {
        // Up: no row is left behind.
        let mut memory = Memory {
            failing: vec!["drop table a".into()],
            ..Memory::default()
        };
        assert!(run(&mut memory, Direction::Up).is_err());
        assert!(memory.rows.is_empty());
        // Down: the applied row stays as it was, not "reverting, 0 done".
        memory.failing = vec!["drop table x".into()];
        run(&mut memory, Direction::Up).unwrap();
        let applied = memory.rows["20250101_000000_three"].clone();
        assert!(run(&mut memory, Direction::Down).is_err());
        assert_eq!(memory.rows["20250101_000000_three"], applied);
    }

    #[test]
    fn a_resumed_step_the_database_already_took_is_skipped() {
        let mut memory = Memory {
            failing: vec!["drop table b".into()],
            ..Memory::default()
        };
        assert!(run(&mut memory, Direction::Up).is_err());
        // The server finished `b` after its runner died; running it again would fail.
        memory.took_effect = vec!["drop table b".into()];
        run(&mut memory, Direction::Up).unwrap();
        assert_eq!(memory.performed, ["drop table a", "drop table c"]);
        let row = &memory.rows["20250101_000000_three"];
        assert_eq!((row.done, row.total), (3, 3));
    }

    #[test]
    fn steps_the_database_can_tell_are_recorded_only_at_the_end() {
        let all = ["drop table a", "drop table b", "drop table c"].map(String::from);
        let mut memory = Memory {
            tells: all.to_vec(),
            ..Memory::default()
        };
        run(&mut memory, Direction::Up).unwrap();
        // The starting row and the finished one.
        assert_eq!(memory.writes, 2);

        let mut memory = Memory {
            tells: all.to_vec(),
            failing: vec!["drop table c".into()],
            ..Memory::default()
        };
        assert!(run(&mut memory, Direction::Up).is_err());
        // A failure is known: the row says what ran.
        assert_eq!(memory.rows["20250101_000000_three"].done, 2);
        // A runner killed after `b` left "0 done": the resumed run asks the database about
        // each step in turn.
        memory.rows.get_mut("20250101_000000_three").unwrap().done = 0;
        memory
            .rows
            .get_mut("20250101_000000_three")
            .unwrap()
            .steps_checksum = steps_checksum(std::iter::empty::<&[u8]>());
        memory.failing.clear();
        memory.took_effect = vec!["drop table a".into(), "drop table b".into()];
        run(&mut memory, Direction::Up).unwrap();
        assert_eq!(
            memory.performed,
            ["drop table a", "drop table b", "drop table c"]
        );
        assert_eq!(memory.rows["20250101_000000_three"].done, 3);
    }

    /// One migration per operation given: `+t` creates table `t`, `-t` drops it, `!` is a raw
    /// statement; `tells` says whether the backend tells the effect of their steps.
    fn groups_of(
        migrations: &[&str],
        tells: bool,
        direction: Direction,
        atomicity: Atomicity,
    ) -> Vec<Range<usize>> {
        use crate::snapshot::ColumnDef;
        use crate::types::ColumnType;
        let operations: Vec<Vec<Operation>> = migrations
            .iter()
            .map(|m| {
                let table = m[1..].to_string();
                vec![match &m[..1] {
                    "+" => Operation::CreateTable(
                        TableSnapshot::keyed_by_first_column(
                            table,
                            vec![ColumnDef::new("id", ColumnType::Integer(8))],
                            vec![],
                        )
                        .def(),
                    ),
                    "-" => Operation::DropTable { table },
                    _ => Operation::Raw {
                        statement: "SELECT 1".into(),
                    },
                }]
            })
            .collect();
        let steps: Vec<Vec<String>> = operations
            .iter()
            .map(|ops| ops.iter().map(|op| op.to_string()).collect())
            .collect();
        let memory = Memory {
            tells: if tells { steps.concat() } else { Vec::new() },
            ..Memory::default()
        };
        write_groups(
            &memory,
            direction,
            &operations,
            &steps,
            &vec![atomicity; migrations.len()],
        )
    }

    #[test]
    fn migrations_share_their_writes_only_where_a_resumed_run_can_tell_what_they_did() {
        use Atomicity::{Journal, Transaction};
        use Direction::{Down, Up};
        assert_eq!(
            groups_of(&["+a", "+b", "+c"], true, Up, Journal),
            vec![0..3]
        );
        // A table touched again starts a new group: the second could hide the first's effect.
        assert_eq!(
            groups_of(&["+a", "+b", "-a", "+c"], true, Up, Journal),
            [0..2, 2..4]
        );
        // A table there before the run may hold data: a migration on it is recorded on its own.
        assert_eq!(
            groups_of(&["+a", "-old", "+b", "+c"], true, Up, Journal),
            [0..1, 1..2, 2..4]
        );
        // So may any table after a raw statement (`!`), which may have filled it.
        assert_eq!(
            groups_of(&["+a", "+b", "!", "-a", "-b"], true, Up, Journal),
            [0..2, 2..3, 3..4, 4..5]
        );
        // Steps whose effect is not told, `down`, and transactions: each migration on its own.
        for (tells, direction, atomicity) in [
            (false, Up, Journal),
            (true, Down, Journal),
            (true, Up, Transaction),
        ] {
            assert_eq!(
                groups_of(&["+a", "+b"], tells, direction, atomicity),
                [0..1, 1..2]
            );
        }
        assert_eq!(groups_of(&[], true, Up, Journal), []);
        // At most `MOST_SHARING` to a group, so that a resumed run asks about that many at most.
        let many: Vec<String> = (0..MOST_SHARING + 3).map(|i| format!("+t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            groups_of(&many, true, Up, Journal),
            [0..MOST_SHARING, MOST_SHARING..MOST_SHARING + 3]
        );
    }
}
