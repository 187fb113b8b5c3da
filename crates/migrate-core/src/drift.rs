//! Drift: whether a database still has the schema its applied migrations build. The migrator
//! replays the applied migrations' `up` from empty, asks the backend how that schema reads back
//! on its database ([`Introspect::stored`]) and compares it with what the database has
//! ([`Introspect::introspect`]): tables, columns, keys, indexes, and column order where the database
//! keeps it.

use crate::Result;
use crate::backend::Introspect;
use crate::diff::detect_changes;
use crate::migrator::Migrator;
use crate::snapshot::{SchemaSnapshot, TableSnapshot};
use crate::state::{MigrationState, MigrationStatus};
use std::collections::HashMap;

/// Whether the database matches the schema its applied migrations build.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    InSync,
    /// What differs, one line each: the changes that would turn the expected schema into the
    /// database's, or columns in another order.
    Differs(Vec<String>),
    /// Not checked, and why (a migration applied part-way or missing its file, or one whose
    /// operations cannot be replayed).
    Unknown(String),
}

impl Migrator {
    /// Compares the database with the schema its applied migrations build, given `statuses` as
    /// [`status`](Migrator::status) read them (an applied migration edited since counts as its
    /// file says).
    pub async fn drift(
        &self,
        statuses: &[MigrationStatus],
        backend: &mut impl Introspect,
    ) -> Result<Drift> {
        // Unknown from the migrations alone (one partial or missing): the catalog is not read.
        let expected = match self.applied_schema(statuses)? {
            Ok(expected) => expected,
            Err(why) => return Ok(Drift::Unknown(why)),
        };
        let live = backend.introspect().await?;
        Ok(compare(&expected, &live, backend))
    }

    /// [`drift`](Self::drift) against `live`, the database's schema as `backend` read it
    /// (`Introspect::introspect`): a caller can read it while the migrations load.
    pub fn drift_of(
        &self,
        statuses: &[MigrationStatus],
        live: &SchemaSnapshot,
        backend: &impl Introspect,
    ) -> Result<Drift> {
        Ok(match self.applied_schema(statuses)? {
            Ok(expected) => compare(&expected, live, backend),
            Err(why) => Drift::Unknown(why),
        })
    }

    /// The schema the applied migrations build, or why it cannot be known.
    fn applied_schema(
        &self,
        statuses: &[MigrationStatus],
    ) -> Result<std::result::Result<SchemaSnapshot, String>> {
        for status in statuses {
            match &status.state {
                MigrationState::Missing(_) => {
                    return Ok(Err(format!("migration {} is missing", status.version)));
                }
                MigrationState::Partial(_) | MigrationState::PartlyReplaced { .. } => {
                    return Ok(Err(format!("migration {} is partial", status.version)));
                }
                _ => {}
            }
        }
        let applied =
            |s: &MigrationState| s.is_applied() || matches!(s, MigrationState::Modified { .. });
        Ok(match self.replayed(statuses, applied)? {
            (schema, None) => Ok(schema.into_snapshot()),
            (_, Some(failure)) => Err(failure),
        })
    }
}

/// `expected` (what the applied migrations build) against `live` (what `backend` read back).
fn compare(expected: &SchemaSnapshot, live: &SchemaSnapshot, backend: &impl Introspect) -> Drift {
    let expected = backend.stored(expected);
    let misordered = if backend.keeps_column_order() {
        column_order_differences(&expected, live)
    } else {
        Vec::new()
    };
    if live.is_equivalent(&expected) {
        return if misordered.is_empty() {
            Drift::InSync
        } else {
            Drift::Differs(misordered)
        };
    }
    Drift::Differs(match detect_changes(&expected, live) {
        Ok(diff) => diff.changes.iter().map(|c| c.to_string()).collect(),
        Err(e) => vec![e.to_string()],
    })
}

/// Tables whose columns are the same but in another order than the migrations build.
fn column_order_differences(expected: &SchemaSnapshot, live: &SchemaSnapshot) -> Vec<String> {
    let names =
        |t: &TableSnapshot| -> Vec<String> { t.columns.iter().map(|c| c.name.clone()).collect() };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let live: HashMap<&str, &TableSnapshot> =
        live.tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = Vec::new();
    for table in &expected.tables {
        let Some(found) = live.get(table.name.as_str()) else {
            continue;
        };
        let (built, found) = (names(table), names(found));
        if built != found && sorted(built.clone()) == sorted(found.clone()) {
            out.push(format!(
                "columns of {} are in the order ({}); the migrations build ({})",
                table.name,
                found.join(", "),
                built.join(", ")
            ));
        }
    }
    out
}
