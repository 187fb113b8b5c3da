//! Running the migrations: [`Migrator::up`] and [`Migrator::down`] under the lock, which
//! migrations are pending and in what order, whether the applied ones are still the files on
//! disk, the destructive gate, dry runs. It lives once, here, and drives any database through
//! the narrow [`Backend`] trait.

use crate::backend::{Atomicity, Backend, Journal, JournalRow, LockRetry, Step};
use crate::execute::{Recorded, progress_row, run_in_transaction, run_journaled, write_groups};
use crate::lint::{Finding, NewTables, lint_operation};
use crate::migration::{Direction, MigrationPlan, version_name};
use crate::migrator::Migrator;
use crate::operation::Operation;
use crate::replay::IndexedSchema;
use crate::state::{AppliedMigration, MigrationState, MigrationStatus, check_history};
use crate::{Error, Result};
use std::borrow::{Borrow, Cow};
use std::ops::Range;
use std::time::Duration;

/// Options for [`Migrator::up`] and [`Migrator::down`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// At most this many migrations; all pending (up) or one (down) when `None`.
    pub count: Option<usize>,
    /// Print instead of execute.
    pub dry_run: bool,
    /// Let destructive operations run.
    pub allow_destructive: bool,
    /// How a step that gave up waiting for a lock is tried again.
    pub lock_retry: LockRetry,
    /// Plan every operation in its plain form, as if no application were using the tables
    /// (faster on an empty database): no `CREATE INDEX CONCURRENTLY`, no batched fill or
    /// validated check before NOT NULL, no `LOCK=NONE` (see [`Migration::online`](crate::migration::Migration::online)).
    pub offline: bool,
}

/// What a run did (or, dry, would do), migration by migration.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub steps: Vec<RunStep>,
}

#[derive(Debug, Clone)]
pub struct RunStep {
    pub version: String,
    pub direction: Direction,
    pub statements: Vec<String>,
    /// Operations that can lose data, described.
    pub destructive: Vec<String>,
    /// What `up` does to the database while it is in use ([`crate::lint`]); none for `down`.
    pub findings: Vec<Finding>,
    /// Whether the steps commit together with the tracking row, or one by one.
    pub atomicity: Atomicity,
    /// `None` for a dry run.
    pub execution_time: Option<Duration>,
}

impl Migrator {
    /// Applies pending migrations, oldest first, under the lock.
    ///
    /// Refuses, before running anything, when an applied migration's file was edited or removed,
    /// or when a migration to run has a destructive operation and `allow_destructive` is off.
    pub async fn up(&self, backend: &mut impl Backend, options: &RunOptions) -> Result<RunReport> {
        let run = Self::run_while_loading(backend, async { Ok(self) }, options, Direction::Up);
        Ok(run.await?.1)
    }

    /// Reverts the newest applied migrations (one unless `count` says more), newest first.
    pub async fn down(
        &self,
        backend: &mut impl Backend,
        options: &RunOptions,
    ) -> Result<RunReport> {
        let run = Self::run_while_loading(backend, async { Ok(self) }, options, Direction::Down);
        Ok(run.await?.1)
    }

    /// [`up`](Self::up) (or [`down`](Self::down)) of a migrator still being loaded: the lock is
    /// taken and the tracking rows are read before `loading` is awaited, so that a caller
    /// reading the migration files on another thread (a spawned task) does both at once. The
    /// tracking table is created only once `loading` has succeeded, so a mistake in the files
    /// leaves the database as it was; the lock is released whatever happens, and a failed
    /// load's error is the one returned, before a lock that could not be taken.
    pub async fn run_while_loading<M: Borrow<Migrator>>(
        backend: &mut impl Backend,
        loading: impl Future<Output = Result<M>>,
        options: &RunOptions,
        direction: Direction,
    ) -> Result<(M, RunReport)> {
        if !options.dry_run
            && let Err(e) = backend.lock().await
        {
            // A mistake in the files is said before a lock another runner held too long.
            loading.await?;
            return Err(e);
        }
        let result = async {
            let rows = backend.applied().await?;
            let loaded = loading.await?;
            if !options.dry_run {
                backend.ensure_journal().await?;
            }
            let migrator = loaded.borrow();
            let report = match direction {
                Direction::Up => migrator.up_locked(backend, rows, options).await?,
                Direction::Down => migrator.down_locked(backend, rows, options).await?,
            };
            Ok((loaded, report))
        };
        let result = result.await;
        unlock(backend, options.dry_run, result).await
    }

    async fn up_locked(
        &self,
        backend: &mut impl Backend,
        rows: Vec<AppliedMigration>,
        options: &RunOptions,
    ) -> Result<RunReport> {
        let states = self.adopt_squashes(backend, rows, options.dry_run).await?;
        check_history(&states)?;
        if let Some(status) = states
            .iter()
            .find(|s| matches!(&s.state, MigrationState::Partial(a) if a.reverting))
        {
            return Err(Error::Migration {
                version: status.version.clone(),
                message:
                    "it was interrupted while being reverted; run down again to finish reverting it"
                        .into(),
            });
        }
        let todo: Vec<&MigrationStatus> = states
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    MigrationState::Pending | MigrationState::Partial(_)
                )
            })
            .take(options.count.unwrap_or(usize::MAX))
            .collect();
        if todo.is_empty() {
            return Ok(RunReport::default());
        }
        let pending: Vec<bool> = todo
            .iter()
            .map(|s| s.state == MigrationState::Pending)
            .collect();
        let todo = todo
            .iter()
            .map(|s| self.plan(&s.version))
            .collect::<Result<Vec<_>>>()?;
        // A part-applied migration resumes with the steps planned from before it.
        let (live, _) = self.replayed(&states, MigrationState::is_applied)?;
        self.execute(backend, &todo, &pending, live, Direction::Up, options)
            .await
    }

    async fn down_locked(
        &self,
        backend: &mut impl Backend,
        rows: Vec<AppliedMigration>,
        options: &RunOptions,
    ) -> Result<RunReport> {
        let states = self.adopt_squashes(backend, rows, options.dry_run).await?;
        check_history(&states)?;
        let todo: Vec<&MigrationStatus> = states
            .iter()
            .rev()
            .filter(|s| s.state.is_applied() || matches!(s.state, MigrationState::Partial(_)))
            .take(options.count.unwrap_or(1))
            .collect();
        if todo.is_empty() {
            return Ok(RunReport::default());
        }
        let todo = todo
            .iter()
            .map(|s| self.plan(&s.version))
            .collect::<Result<Vec<_>>>()?;
        // Reverting drops what the migration added; that is what `down` is for, not a gate.
        let options = RunOptions {
            allow_destructive: true,
            ..options.clone()
        };
        let (live, _) = self.replayed(&states, |s| {
            s.is_applied() || matches!(s, MigrationState::Partial(_))
        })?;
        let pending = vec![false; todo.len()];
        self.execute(backend, &todo, &pending, live, Direction::Down, &options)
            .await
    }

    /// Where each migration stands given its tracking `rows`, after recording each squashed
    /// migration this database applied as the migrations it replaces in their place: its row
    /// written first, then theirs deleted, so that a run interrupted in between still finds the
    /// squash applied. A dry run records nothing.
    async fn adopt_squashes(
        &self,
        backend: &mut impl Journal,
        rows: Vec<AppliedMigration>,
        dry_run: bool,
    ) -> Result<Vec<MigrationStatus>> {
        let states = self.index.states(rows.clone());
        if dry_run {
            return Ok(states);
        }
        let mut adopted = false;
        for head in self.index.heads.iter().filter(|h| !h.replaces.is_empty()) {
            let state = states.iter().find(|s| s.version == head.version);
            match state.map(|s| &s.state) {
                Some(MigrationState::AppliedAsReplaced(replaced)) => {
                    let last = replaced.last().expect("a squash replaces some");
                    backend
                        .write_row(&JournalRow {
                            version: head.version.clone(),
                            name: version_name(&head.version).to_string(),
                            checksum: head.checksum.clone(),
                            applied_at: last.applied_at,
                            execution_time: replaced.iter().map(|r| r.execution_time).sum(),
                            done: 0,
                            total: 0,
                            steps_checksum: String::new(),
                            reverting: false,
                        })
                        .await?;
                }
                Some(MigrationState::Applied(_)) => {}
                _ => continue,
            }
            for row in rows.iter().filter(|r| head.replaces.contains(&r.version)) {
                backend.delete_row(&row.version).await?;
                adopted = true;
            }
        }
        Ok(match adopted {
            true => self.index.states(backend.applied().await?),
            false => states,
        })
    }

    /// Checks every operation of `todo`, plans every step from `live` (the schema before the
    /// first), then (unless dry) gates destructive operations and runs each migration the way
    /// the backend keeps it with its tracking row. `pending` says which of `todo` have no
    /// tracking row (read under the lock).
    async fn execute<B: Backend>(
        &self,
        backend: &mut B,
        todo: &[&MigrationPlan],
        pending: &[bool],
        mut live: IndexedSchema,
        direction: Direction,
        options: &RunOptions,
    ) -> Result<RunReport> {
        let target = backend.target();
        let refused = |plan: &MigrationPlan, message: String| Error::Migration {
            version: plan.version.clone(),
            message: format!("cannot run on {target}: {message}"),
        };
        if direction == Direction::Down
            && let Some((plan, reason)) = todo
                .iter()
                .find_map(|plan| plan.irreversible().map(|reason| (plan, reason)))
        {
            return Err(Error::Migration {
                version: plan.version.clone(),
                message: format!("it is irreversible ({reason}); nothing was reverted"),
            });
        }
        let mut operations = Vec::with_capacity(todo.len());
        let mut planned = Vec::with_capacity(todo.len());
        let mut findings = Vec::with_capacity(todo.len());
        let mut atomicities = Vec::with_capacity(todo.len());
        for plan in todo {
            let ops = match direction {
                Direction::Up => Cow::Borrowed(plan.up.as_slice()),
                Direction::Down => plan.down_with_inserts_reverted(&live),
            };
            // `down` runs after the deletes that revert `up`'s inserts.
            let written_from = ops.len() - plan.operations(direction).len();
            // Tables this migration creates are empty while it runs: not linted, and no online
            // forms for them.
            let mut new = NewTables::default();
            let mut steps = Vec::new();
            let mut plan_findings = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                backend.check(op).map_err(|m| refused(plan, m))?;
                // A data step must fit the schema as its migration finds it (it leaves the
                // schema as it is): its rows and values are checked here, before anything runs.
                if op.is_data() {
                    live.apply(op).map_err(|e| {
                        let place = i
                            .checked_sub(written_from)
                            .and_then(|i| plan.place(direction, i));
                        match place {
                            Some(place) => refused(plan, format!("{place}: {e}")),
                            None => refused(plan, e.to_string()),
                        }
                    })?;
                }
                let existing = new.existing(op, &live);
                if let (Direction::Up, Some(table)) = (direction, existing) {
                    plan_findings.extend(lint_operation(
                        plan,
                        op,
                        table,
                        !options.offline,
                        &|op, table, online| backend.lint(op, table, online),
                    ));
                }
                let online = !options.offline && plan.online && existing.is_some();
                let table = op.table().and_then(|t| live.table(t));
                steps.extend(backend.plan(op, table, online)?);
                new.record(op);
                // Any other operation that does not fit is left out of `live`: a raw statement
                // cannot be replayed, and a change that does not fit fails when it runs.
                if !op.is_data() {
                    let _ = live.apply(op);
                }
            }
            findings.push(plan_findings);
            let atomicity = backend.atomicity(plan, &steps)?;
            // A journaled step interrupted after it committed runs again on resume.
            if atomicity == Atomicity::Journal {
                for op in ops.iter() {
                    if let Operation::UpdateRows { set, .. } = op {
                        crate::data::check_repeatable(set).map_err(|why| {
                            refused(
                                plan,
                                format!(
                                    "`{op}` could run twice if interrupted ({why}); \
                                     write it to a new column instead"
                                ),
                            )
                        })?;
                    }
                }
            }
            operations.push(ops);
            planned.push(steps);
            atomicities.push(atomicity);
        }
        // The size of each table a finding is about, so that a reviewer sees what it costs.
        let mut sizes = std::collections::HashMap::new();
        for finding in findings.iter_mut().flatten() {
            if let Some(table) = &finding.table {
                if !sizes.contains_key(table) {
                    sizes.insert(table.clone(), backend.estimated_rows(table).await);
                }
                finding.rows = sizes[table];
            }
        }
        let mut report = RunReport::default();
        for ((((plan, steps), ops), findings), &atomicity) in todo
            .iter()
            .zip(&planned)
            .zip(&operations)
            .zip(findings)
            .zip(&atomicities)
        {
            report.steps.push(RunStep {
                version: plan.version.clone(),
                direction,
                statements: steps.iter().flat_map(Step::describe).collect(),
                destructive: ops
                    .iter()
                    .filter(|op| op.is_destructive())
                    .map(|op| op.to_string())
                    .collect(),
                findings,
                atomicity,
                execution_time: None,
            });
        }
        // A dry run executes nothing: it shows every step, the destructive ones marked, so that
        // a person can decide to allow them.
        if options.dry_run {
            return Ok(report);
        }
        if !options.allow_destructive {
            let blocked: Vec<String> = report
                .steps
                .iter()
                .flat_map(|s| {
                    s.destructive
                        .iter()
                        .map(move |d| format!("{}: {d}", s.version))
                })
                .collect();
            if !blocked.is_empty() {
                return Err(Error::DestructiveNotAllowed {
                    operations: blocked,
                });
            }
        }
        // Each group's rows are written together (`write_groups`): its pending journaled
        // members' starting rows in one write, unless the group before wrote them with its end.
        let groups = write_groups(backend, direction, &operations, &planned, &atomicities);
        let starts = |i: usize| {
            direction == Direction::Up && atomicities[i] == Atomicity::Journal && pending[i]
        };
        let starting_rows = |group: &Range<usize>| -> Vec<JournalRow> {
            group
                .clone()
                .filter(|&i| starts(i))
                .map(|i| {
                    let keys: Vec<Vec<u8>> = planned[i].iter().map(Step::key).collect();
                    let checksum = self.index.checksum(&todo[i].version);
                    progress_row(todo[i], &checksum, &keys, 0, Duration::ZERO, false)
                })
                .collect()
        };
        let mut carried = false;
        for (g, group) in groups.iter().enumerate() {
            if !carried {
                let rows = starting_rows(group);
                if !rows.is_empty() {
                    backend.write_rows(&rows).await?;
                }
            }
            let mut finished = Vec::new();
            for i in group.clone() {
                let recorded = if starts(i) {
                    Recorded::Started
                } else {
                    Recorded::Unknown
                };
                match self
                    .run_one(
                        backend,
                        todo[i],
                        &planned[i],
                        atomicities[i],
                        direction,
                        recorded,
                        options,
                    )
                    .await
                {
                    Ok((elapsed, row)) => {
                        report.steps[i].execution_time = Some(elapsed);
                        finished.extend(row);
                    }
                    Err(e) => {
                        // What the group did is recorded; its members that never ran are not
                        // left "started". If these writes fail too, the run's error is still
                        // the one to report, and a resumed run asks the database.
                        if !finished.is_empty() {
                            let _ = backend.write_rows(&finished).await;
                        }
                        for later in (i + 1..group.end).filter(|&j| starts(j)) {
                            let _ = backend.delete_row(&todo[later].version).await;
                        }
                        return Err(e);
                    }
                }
            }
            // One write ends this group and starts the next.
            let next = groups.get(g + 1).map(starting_rows).unwrap_or_default();
            carried = !next.is_empty();
            finished.extend(next);
            if !finished.is_empty() {
                backend.write_rows(&finished).await?;
            }
        }
        Ok(report)
    }

    /// Runs one migration's `steps` the way its `atomicity` says. A step that gave up waiting
    /// for a lock runs again after a pause (a journaled run resumes at it), so the
    /// application's queries queued behind it run meanwhile. Returns how long it took and, for
    /// a journaled `up`, its finished row, not yet written.
    #[allow(clippy::too_many_arguments)]
    async fn run_one<B: Backend>(
        &self,
        backend: &mut B,
        plan: &MigrationPlan,
        steps: &[B::Step],
        atomicity: Atomicity,
        direction: Direction,
        mut recorded: Recorded,
        options: &RunOptions,
    ) -> Result<(Duration, Option<JournalRow>)> {
        let checksum = self.index.checksum(&plan.version);
        let mut attempt = 0;
        loop {
            // Boxed: a backend's step futures are large (the AWS SDK's), and the run's future
            // would otherwise hold them inline, on the caller's stack.
            let run = match atomicity {
                Atomicity::Transaction => Box::pin(run_in_transaction(
                    backend, plan, steps, direction, &checksum,
                ))
                .await
                .map(|elapsed| (elapsed, None)),
                Atomicity::Journal => {
                    Box::pin(run_journaled(
                        backend, plan, steps, direction, &checksum, recorded,
                    ))
                    .await
                }
            };
            match run {
                Err(e) if backend.lock_timed_out(&e) => {
                    if attempt == options.lock_retry.attempts {
                        return Err(gave_up_on_lock(backend, attempt + 1, e).await);
                    }
                    backend
                        .pause(options.lock_retry.pause_before(attempt))
                        .await;
                    attempt += 1;
                    // The journal holds what the run that gave up left: read it.
                    recorded = Recorded::Unknown;
                }
                other => return other,
            }
        }
    }
}

/// The error a run ends with when a step gave up waiting for a lock `attempts` times: the
/// last one, with the sessions that may hold the lock.
async fn gave_up_on_lock<B: Backend>(backend: &mut B, attempts: u32, last: Error) -> Error {
    let holders = backend.lock_holders().await;
    let held = match holders.is_empty() {
        true => String::new(),
        false => format!("; open transactions: {}", holders.join("; ")),
    };
    Error::driver(
        backend.target(),
        format!(
            "gave up after {attempts} attempts: a lock the migration needs is held by another \
             session{held}"
        ),
        last,
    )
}

/// Takes the lock and makes sure the tracking store exists (a baseline, a seed; `up` and `down`
/// create it only once their migrations have loaded, in `run_while_loading`).
pub(crate) async fn lock(backend: &mut impl Backend) -> Result<()> {
    backend.lock().await?;
    if let Err(e) = backend.ensure_journal().await {
        let _ = backend.unlock().await;
        return Err(e);
    }
    Ok(())
}

/// Releases the lock whatever happened; the run's own error comes first.
pub(crate) async fn unlock<T>(
    backend: &mut impl Backend,
    dry_run: bool,
    result: Result<T>,
) -> Result<T> {
    if dry_run {
        return result;
    }
    let unlocked = backend.unlock().await;
    let value = result?;
    unlocked?;
    Ok(value)
}
