//! The [`Migrator`]: the migrations of one project, given as plans or as heads whose plans are
//! read when a run or a drift check first needs them, and what it tells from them without a
//! database (status from tracking rows, forks, the schema a set of them builds). Running them is
//! `runner.rs`.

use crate::check::fork_lines;
use crate::cores::on_every_core;
use crate::migration::{Migration, MigrationPlan};
use crate::replay::{IndexedSchema, replay};
use crate::state::{AppliedMigration, MigrationIndex, MigrationState, MigrationStatus, PlanHead};
use crate::{Error, Result};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Each plan's [`checksum`](MigrationPlan::checksum), in order, computed on every core.
pub fn checksums(plans: &[MigrationPlan]) -> Vec<String> {
    on_every_core(plans, 256, MigrationPlan::checksum)
}

/// The migrations of one project, oldest first.
#[derive(Debug, Clone)]
pub struct Migrator {
    pub(crate) index: MigrationIndex,
    plans: Plans,
}

/// A migrator's plans: given, or read when a run first needs their operations.
#[derive(Clone)]
enum Plans {
    Given(Vec<MigrationPlan>),
    Deferred {
        read: Arc<ReadPlans>,
        plans: OnceLock<Vec<MigrationPlan>>,
    },
}

/// Reads the plans of a migrator built from heads ([`Migrator::from_heads`]).
type ReadPlans = dyn Fn() -> Result<Vec<MigrationPlan>> + Send + Sync;

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plans::Given(plans) => f.debug_tuple("Given").field(plans).finish(),
            Plans::Deferred { plans, .. } => f.debug_tuple("Deferred").field(plans).finish(),
        }
    }
}

impl Migrator {
    /// The migrations of a directory, parsed from their files. Only reads.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "migrations directory not found",
                ),
            ));
        }
        Ok(Self::from_plans(crate::load::parse_migration_dir(dir)?))
    }

    /// Compiled migrations (the generated `migrations::migrations()`), for embedding.
    pub fn from_migrations(migrations: &[Box<dyn Migration>]) -> Result<Self> {
        let plans = migrations
            .iter()
            .map(|m| MigrationPlan::describe(m.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_plans(plans))
    }

    pub fn from_plans(plans: Vec<MigrationPlan>) -> Self {
        let checksums = checksums(&plans);
        Self::from_checksummed(plans.into_iter().zip(checksums).collect())
    }

    /// [`from_plans`](Self::from_plans) given each plan's [`checksum`](MigrationPlan::checksum),
    /// computed before.
    pub fn from_checksummed(mut plans: Vec<(MigrationPlan, String)>) -> Self {
        plans.sort_by(|a, b| a.0.version.cmp(&b.0.version));
        let heads = plans
            .iter()
            .map(|(plan, checksum)| PlanHead::of(plan, checksum.clone()))
            .collect();
        Migrator {
            index: MigrationIndex { heads },
            plans: Plans::Given(plans.into_iter().map(|(plan, _)| plan).collect()),
        }
    }

    /// The migrations `heads` describe, whose plans `read` gives (in any order) when a run, a
    /// drift check or [`migrations`](Self::migrations) first needs them: `status` alone, or an
    /// `up` with nothing pending, reads no operation. The CLI keeps heads and plans in its parse
    /// cache: decoding a thousand plans was a fifth of a no-op `up` (BENCHMARKS.md). `read` must
    /// give a plan of each head's version with the head's checksum.
    pub fn from_heads(
        mut heads: Vec<PlanHead>,
        read: impl Fn() -> Result<Vec<MigrationPlan>> + Send + Sync + 'static,
    ) -> Self {
        heads.sort_by(|a, b| a.version.cmp(&b.version));
        Migrator {
            index: MigrationIndex { heads },
            plans: Plans::Deferred {
                read: Arc::new(read),
                plans: OnceLock::new(),
            },
        }
    }

    /// Each migration's version, checksum and place in the history, oldest first.
    pub fn heads(&self) -> &[PlanHead] {
        &self.index.heads
    }

    /// Every migration's plan, oldest first; read now if the migrator was built from heads.
    pub fn migrations(&self) -> Result<&[MigrationPlan]> {
        let (read, cell) = match &self.plans {
            Plans::Given(plans) => return Ok(plans),
            Plans::Deferred { read, plans } => (read, plans),
        };
        if let Some(plans) = cell.get() {
            return Ok(plans);
        }
        let mut plans = read()?;
        plans.sort_by(|a, b| a.version.cmp(&b.version));
        let heads = &self.index.heads;
        if let Some(at) = (0..heads.len().max(plans.len()))
            .find(|&i| plans.get(i).map(|p| &p.version) != heads.get(i).map(|h| &h.version))
        {
            let version = heads
                .get(at)
                .map_or_else(|| plans[at].version.clone(), |h| h.version.clone());
            return Err(Error::Migration {
                version,
                message: "the plans read for the migrations do not match their heads here \
                          (did the migration files change while they were read?)"
                    .into(),
            });
        }
        Ok(cell.get_or_init(|| plans))
    }

    /// Where the history forks ([`files::forks`](crate::files::forks)), from the heads alone.
    pub fn forks(&self) -> Vec<String> {
        fork_lines(
            &self
                .index
                .heads
                .iter()
                .map(PlanHead::lineage)
                .collect::<Vec<_>>(),
        )
    }

    /// Every known migration and every tracking row, by version.
    pub async fn status(
        &self,
        backend: &mut impl crate::backend::Journal,
    ) -> Result<Vec<MigrationStatus>> {
        Ok(self.status_of(backend.applied().await?))
    }

    /// [`status`](Self::status) from tracking rows already read (`Journal::applied`): a caller
    /// can read them while the migrations load.
    pub fn status_of(&self, applied: Vec<AppliedMigration>) -> Vec<MigrationStatus> {
        self.index.states(applied)
    }

    /// The plan of a known migration's `version`.
    pub(crate) fn plan(&self, version: &str) -> Result<&MigrationPlan> {
        let plans = self.migrations()?;
        let at = plans
            .binary_search_by(|p| p.version.as_str().cmp(version))
            .expect("a known migration");
        Ok(&plans[at])
    }

    /// The schema the migrations in `states` that `counts` leave, replayed from their files in
    /// version order: what a database with exactly those applied has. Also the first operation
    /// that did not replay, described (a raw statement cannot be; the others are replayed past
    /// it).
    pub(crate) fn replayed(
        &self,
        states: &[MigrationStatus],
        counts: impl Fn(&MigrationState) -> bool,
    ) -> Result<(IndexedSchema, Option<String>)> {
        let plans = states
            .iter()
            .filter(|s| counts(&s.state))
            .map(|s| self.plan(&s.version))
            .collect::<Result<Vec<_>>>()?;
        let (schema, failure) = replay(plans);
        let failure = failure.map(|f| {
            format!(
                "migration {} has an operation that cannot be replayed (`{}`)",
                f.plan.version, f.plan.up[f.index]
            )
        });
        Ok((schema, failure))
    }
}
