//! Where each migration stands on a database: the tracking rows read against the migration
//! files (applied, pending, edited since, missing, part-applied, applied as the migrations a
//! squash or rebase replaced), and the history problems that stop every run.

use crate::check::Lineage;
use crate::migration::MigrationPlan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use time::OffsetDateTime;

/// A row of `_toasty_migrations`: one applied migration.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedMigration {
    pub version: String,
    pub name: String,
    pub checksum: String,
    pub applied_at: OffsetDateTime,
    pub execution_time: Duration,
    /// Set while a migration is part-way applied on a journaled database (MySQL, MongoDB,
    /// DynamoDB; steps journaled one by one): steps done of the total. `None` once complete.
    pub progress: Option<(u32, u32)>,
    /// With `progress`: the interrupted run was reverting the migration (`down`), and
    /// `progress` counts its down steps.
    pub reverting: bool,
}

/// Where one migration stands.
#[derive(Debug, Clone, PartialEq)]
pub enum MigrationState {
    Pending,
    Applied(AppliedMigration),
    /// Applied, but the file has been edited since: its checksum differs.
    Modified {
        applied: AppliedMigration,
        file_checksum: String,
    },
    /// Applied, and no file has its version any more.
    Missing(AppliedMigration),
    /// Started but not finished (a journaled database): the next run resumes it.
    Partial(AppliedMigration),
    /// A squashed migration this database applied as every migration it replaces, one by one
    /// (their rows, oldest first): up to date. The next `up` or `down` records it in their place.
    AppliedAsReplaced(Vec<AppliedMigration>),
    /// A squashed migration of whose replaced migrations this database applied only some: it
    /// cannot go on without their files (see [`Error::PartlySquashed`]).
    PartlyReplaced {
        applied: Vec<AppliedMigration>,
        missing: Vec<String>,
    },
}

impl MigrationState {
    /// Applied as its file says: by its own row, or as the migrations it replaces.
    pub fn is_applied(&self) -> bool {
        matches!(
            self,
            MigrationState::Applied(_) | MigrationState::AppliedAsReplaced(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStatus {
    pub version: String,
    pub state: MigrationState,
}

/// What the migrator knows of a migration before reading its operations: enough to tell
/// applied, pending and edited migrations apart and to see where the history forks. A caller
/// that keeps it (the CLI's parse cache) builds a [`Migrator`](crate::run::Migrator) that
/// reads no operation when there is nothing to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHead {
    pub version: String,
    /// The plan's [`checksum`](MigrationPlan::checksum).
    pub checksum: String,
    /// See [`MigrationPlan::parent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// See [`MigrationPlan::replaces`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
}

impl PlanHead {
    /// The head of `plan`, whose checksum is `checksum`.
    pub fn of(plan: &MigrationPlan, checksum: String) -> PlanHead {
        PlanHead {
            version: plan.version.clone(),
            checksum,
            parent: plan.parent.clone(),
            replaces: plan.replaces.clone(),
        }
    }

    pub(crate) fn lineage(&self) -> Lineage<'_> {
        (&self.version, self.parent.as_deref(), &self.replaces)
    }
}

/// Each migration's head, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MigrationIndex {
    pub(crate) heads: Vec<PlanHead>,
}

impl MigrationIndex {
    pub(crate) fn states(&self, applied: Vec<AppliedMigration>) -> Vec<MigrationStatus> {
        let mut applied: HashMap<String, AppliedMigration> = applied
            .into_iter()
            .map(|a| (a.version.clone(), a))
            .collect();
        // The rows of replaced migrations belong to the squash that took their place (once it
        // has a row of its own, they are leftovers the next run deletes).
        let replaced_rows: Vec<Vec<AppliedMigration>> = self
            .heads
            .iter()
            .map(|h| {
                h.replaces
                    .iter()
                    .filter_map(|v| applied.remove(v))
                    .collect()
            })
            .collect();
        let mut states: BTreeMap<String, MigrationState> = BTreeMap::new();
        for (head, rows) in self.heads.iter().zip(replaced_rows) {
            let PlanHead {
                version,
                checksum,
                replaces,
                ..
            } = head;
            let state = match applied.remove(version) {
                None if rows.is_empty() => MigrationState::Pending,
                None if rows.len() == replaces.len()
                    && rows.iter().all(|r| r.progress.is_none()) =>
                {
                    MigrationState::AppliedAsReplaced(rows)
                }
                None => MigrationState::PartlyReplaced {
                    missing: replaces
                        .iter()
                        .filter(|v| {
                            !rows
                                .iter()
                                .any(|r| r.version == **v && r.progress.is_none())
                        })
                        .cloned()
                        .collect(),
                    applied: rows,
                },
                Some(a) if a.progress.is_some() => MigrationState::Partial(a),
                Some(a) if a.checksum == *checksum => MigrationState::Applied(a),
                Some(a) => MigrationState::Modified {
                    applied: a,
                    file_checksum: checksum.clone(),
                },
            };
            states.insert(version.clone(), state);
        }
        for (version, a) in applied {
            states.insert(version, MigrationState::Missing(a));
        }
        states
            .into_iter()
            .map(|(version, state)| MigrationStatus { version, state })
            .collect()
    }

    pub(crate) fn checksum(&self, version: &str) -> String {
        let i = self
            .heads
            .binary_search_by(|h| h.version.as_str().cmp(version))
            .expect("a known migration");
        self.heads[i].checksum.clone()
    }
}

/// An applied migration whose file changed or went missing stops every run: the database's
/// history and the files no longer agree.
pub(crate) fn check_history(states: &[MigrationStatus]) -> Result<()> {
    for status in states {
        match &status.state {
            MigrationState::Modified {
                applied,
                file_checksum,
            } => {
                return Err(Error::ChecksumMismatch {
                    version: status.version.clone(),
                    applied: applied.checksum.clone(),
                    file: file_checksum.clone(),
                });
            }
            MigrationState::Missing(_) => {
                return Err(Error::MissingMigration {
                    version: status.version.clone(),
                });
            }
            MigrationState::PartlyReplaced { missing, .. } => {
                return Err(Error::PartlySquashed {
                    version: status.version.clone(),
                    missing: missing.clone(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}
