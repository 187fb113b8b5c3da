//! Lint: what a migration does to a database in use that its correctness does not show. A
//! migration that is right can still block the application: an index build that stops writes,
//! a table rewritten or scanned under an exclusive lock, a unique index the existing rows break,
//! a change that loses data. Each finding has a stable code, a one-line reason and the safe
//! alternative; a migration allows one visibly, with its reason (`fn allow` in the file).
//!
//! Only operations on tables that existed before the migration are judged: a table the
//! migration creates is empty while it runs. The rules every database shares live here; each
//! backend adds its own through [`Executor::lint`](crate::backend::Executor::lint).

use crate::migration::MigrationPlan;
use crate::operation::Operation;
use crate::replay::IndexedSchema;
use crate::snapshot::{SchemaSnapshot, TableSnapshot};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// How much a finding matters: an error fails `toasty migrate:lint` unless allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// One thing a migration's operation does to a database in use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable, for allowing it: `destructive`, `pg-index-blocks-writes`...
    pub code: &'static str,
    pub level: Level,
    /// The operation, as the dry run lists it.
    pub operation: String,
    /// What it does, in one line.
    pub reason: String,
    /// What to do instead.
    pub instead: String,
    /// The reason the migration gives for allowing it, if it does.
    pub allowed: Option<String>,
    /// The table the operation changes.
    pub table: Option<String>,
    /// About how many rows (items, documents) the table holds, where the database says
    /// ([`Executor::estimated_rows`](crate::backend::Executor::estimated_rows)): filled in by
    /// a run's lint, not by one with no database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

impl Finding {
    /// A finding about `op`; the backends' rules build theirs with it.
    pub fn new(
        code: &'static str,
        level: Level,
        op: &Operation,
        reason: impl Into<String>,
        instead: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            level,
            operation: op.to_string(),
            reason: reason.into(),
            instead: instead.into(),
            allowed: None,
            table: op.table().map(str::to_string),
            rows: None,
        }
    }

    /// An error the migration does not allow: what fails `migrate:lint`.
    pub fn blocks(&self) -> bool {
        self.level == Level::Error && self.allowed.is_none()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(
            f,
            "{level}[{}] `{}`: {}",
            self.code, self.operation, self.reason
        )?;
        if let Some(rows) = self.rows {
            write!(f, " (the table holds about {rows})")?;
        }
        match &self.allowed {
            Some(why) => write!(f, " (allowed: {why})"),
            None => write!(f, "; instead: {}", self.instead),
        }
    }
}

/// A code a migration allows, and why: `fn allow` in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allow {
    pub code: String,
    pub reason: String,
}

/// The tables a migration has created so far, so that an operation on one is told from one on a
/// table that existed before the migration (which an application may be using, and holds
/// rows): what lint judges and what the runner plans online.
#[derive(Default)]
pub(crate) struct NewTables(HashSet<String>);

impl NewTables {
    /// `op`'s table in `live`, if it existed before the migration.
    pub(crate) fn existing<'a>(
        &self,
        op: &Operation,
        live: &'a IndexedSchema,
    ) -> Option<&'a TableSnapshot> {
        let name = op.table()?;
        (!self.0.contains(name)).then(|| live.table(name))?
    }

    /// Notes a table `op` creates.
    pub(crate) fn record(&mut self, op: &Operation) {
        if let Operation::CreateTable(def) = op {
            self.0.insert(def.name.clone());
        }
    }
}

/// A backend's rules: [`Executor::lint`](crate::backend::Executor::lint).
pub type Rules<'a> = &'a dyn Fn(&Operation, &TableSnapshot, bool) -> Vec<Finding>;

/// The findings of `plan`'s `up` on a database whose schema is `before` (what the migrations
/// before it build), run `online` (unless the migration opts out): the shared rules, then
/// `backend`'s, for each operation on a table that existed before the migration; each marked
/// allowed where the migration allows its code.
pub fn lint_plan(
    plan: &MigrationPlan,
    before: &SchemaSnapshot,
    online: bool,
    backend: Rules,
) -> Vec<Finding> {
    // Only the tables the migration names: a change to a few tables of a large schema is
    // linted in the time those take.
    let named: HashSet<&str> = plan.up.iter().filter_map(Operation::table).collect();
    let tables = before
        .tables
        .iter()
        .filter(|t| named.contains(t.name.as_str()))
        .cloned()
        .collect();
    let mut live = IndexedSchema::from(SchemaSnapshot::new(tables));
    lint_replaying(plan, &mut live, online, backend)
}

/// The findings of each of `plans` (a directory's, in order) from the `skip`-th on, each
/// against the schema the ones before it build: a history linted with no database.
pub fn lint_history<'p>(
    plans: &'p [MigrationPlan],
    skip: usize,
    online: bool,
    backend: Rules,
) -> Vec<(&'p MigrationPlan, Vec<Finding>)> {
    let (mut live, _) = crate::replay::replay(&plans[..skip.min(plans.len())]);
    plans
        .iter()
        .skip(skip)
        .map(|plan| (plan, lint_replaying(plan, &mut live, online, backend)))
        .collect()
}

/// [`lint_plan`] on `live`, which it leaves as `plan` does.
fn lint_replaying(
    plan: &MigrationPlan,
    live: &mut IndexedSchema,
    online: bool,
    backend: Rules,
) -> Vec<Finding> {
    let mut new = NewTables::default();
    let mut findings = Vec::new();
    for op in &plan.up {
        if let Some(table) = new.existing(op, live) {
            findings.extend(lint_operation(plan, op, table, online, backend));
        }
        new.record(op);
        // An operation that does not replay is the runner's (or `migrate:check`'s) to report,
        // not lint's.
        let _ = live.apply(op);
    }
    findings
}

/// The findings of `op`, one of `plan`'s, on `table`, which existed before `plan`: the shared
/// rules, then `backend`'s; each marked allowed where the migration allows its code.
pub(crate) fn lint_operation(
    plan: &MigrationPlan,
    op: &Operation,
    table: &TableSnapshot,
    online: bool,
    backend: Rules,
) -> Vec<Finding> {
    let mut findings = shared(op, table);
    findings.extend(backend(op, table, online && plan.online));
    for finding in &mut findings {
        finding.allowed = plan
            .allow
            .iter()
            .find(|a| a.code == finding.code)
            .map(|a| a.reason.clone());
    }
    findings
}

/// The rules every database shares.
fn shared(op: &Operation, table: &TableSnapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    if op.is_destructive() {
        out.push(Finding::new(
            "destructive",
            Level::Error,
            op,
            "can lose data that exists in the table",
            "keep the data (a rename, or a copy made by a data step first), or allow it here",
        ));
    }
    if let Operation::AddColumn { column, .. } = op
        && !column.nullable
        && column.default.is_none()
    {
        out.push(Finding::new(
            "not-null-without-default",
            Level::Error,
            op,
            format!(
                "fails if {} has rows: they have no value for it",
                table.name
            ),
            "give it a default, or add it nullable, fill it (a data step), then make it NOT NULL",
        ));
    }
    if let Operation::CreateIndex { index, .. } = op
        && index.unique
    {
        out.push(Finding::new(
            "unique-index-on-data",
            Level::Warning,
            op,
            format!("fails if rows of {} already repeat a value", table.name),
            "remove the duplicates first (a data step), or add the index while the table is new",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ColumnDef, IndexDef};
    use crate::types::ColumnType;

    #[test]
    fn only_tables_that_existed_are_judged_and_allows_are_kept() {
        let users = TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(8)),
                ColumnDef::new("email", ColumnType::Text),
            ],
            vec![],
        );
        let before = SchemaSnapshot::new(vec![users.clone()]);
        let posts = TableSnapshot {
            name: "posts".into(),
            ..users.clone()
        };
        let unique = |table: &str| Operation::CreateIndex {
            table: table.into(),
            index: IndexDef::new(format!("{table}_email"), &["email"], true),
        };
        let up = vec![
            Operation::CreateTable(posts.def()),
            unique("posts"),
            unique("users"),
            Operation::DropColumn {
                table: "users".into(),
                column: "email".into(),
            },
        ];
        let mut plan = MigrationPlan {
            allow: vec![Allow {
                code: "destructive".into(),
                reason: "nobody reads it".into(),
            }],
            ..MigrationPlan::new("20250101_000000_x", up, vec![])
        };
        let findings = lint_plan(&plan, &before, true, &|_, _, _| Vec::new());
        let codes: Vec<(&str, bool)> = findings.iter().map(|f| (f.code, f.blocks())).collect();
        assert_eq!(
            codes,
            [("unique-index-on-data", false), ("destructive", false)],
            "posts is new; the drop is allowed"
        );
        assert_eq!(
            findings[1].to_string(),
            "error[destructive] `drop column users.email`: can lose data that exists in the table (allowed: nobody reads it)"
        );
        plan.allow.clear();
        assert!(lint_plan(&plan, &before, true, &|_, _, _| Vec::new())[1].blocks());
    }
}
