//! The `Migration` and `MigrationContext` traits that generated files implement and call, and
//! `MigrationPlan`: a migration described as data (its `up` and `down` operations), which is what
//! the generator writes, the parser reads back, dry-run prints, backends execute and the checksum
//! covers.

use crate::data::{Expr, Filter, Value};
use crate::lint::Allow;
use crate::operation::{ColumnPosition, Operation};
use crate::replay::IndexedSchema;
use crate::snapshot::{ColumnDef, IndexDef, TableDef};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;

/// A migration, as a generated file implements it. `up` and `down` describe operations through
/// the context; they do no I/O themselves.
pub trait Migration: Send + Sync {
    /// `YYYYMMDD_HHMMSS_<slug>`, unique and sortable.
    fn version(&self) -> &str;

    /// Describes the operations that apply the migration.
    fn up(&self, db: &mut dyn MigrationContext) -> Result<()>;

    /// Describes the operations that revert it, newest first.
    fn down(&self, db: &mut dyn MigrationContext) -> Result<()>;

    /// The migration this one was generated on top of (the newest in the directory then), so
    /// that two branches that each added one to the same parent are found when merged. `None`
    /// for the first migration, and for files written before parents were recorded.
    fn parent(&self) -> Option<&str> {
        None
    }

    /// The migrations a squashed migration took the place of (`toasty migrate:squash`), oldest
    /// first: a database that applied them is up to date with this one. Empty for any other.
    fn replaces(&self) -> &[&str] {
        &[]
    }

    /// The lint findings this migration allows, by code, each with the reason: `&[("code",
    /// "why it is safe here")]`. Listed by `migrate:lint` and the dry run as allowed.
    fn allow(&self) -> &[(&str, &str)] {
        &[]
    }

    /// Whether the operations and the tracking row commit in one transaction (PostgreSQL). Say
    /// `false` for statements a transaction cannot hold, such as `CREATE INDEX CONCURRENTLY`;
    /// such a migration that fails part-way is left part-way.
    fn transactional(&self) -> bool {
        true
    }

    /// Whether operations on tables that existed before this migration take the forms that
    /// keep the table usable while they run (PostgreSQL: `CREATE INDEX CONCURRENTLY`, NOT NULL
    /// through a validated check; MySQL: `ALGORITHM=INPLACE, LOCK=NONE`). Say `false` for the
    /// plain forms, faster where no application is using the tables. On PostgreSQL a migration
    /// with an online step runs without a transaction, each step recorded as it commits.
    fn online(&self) -> bool {
        true
    }
}

/// What a migration's `up` and `down` call. Every method describes one operation and returns at
/// once; the backend executes the whole description afterwards.
pub trait MigrationContext {
    /// Takes one described operation. The named methods below all come here.
    fn operation(&mut self, op: Operation) -> Result<()>;

    fn create_table(&mut self, table: TableDef) -> Result<()> {
        self.operation(Operation::CreateTable(table))
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.operation(Operation::DropTable {
            table: table.into(),
        })
    }

    fn add_column(&mut self, table: &str, column: ColumnDef) -> Result<()> {
        self.operation(Operation::AddColumn {
            table: table.into(),
            column,
            position: None,
        })
    }

    /// Adds a column at `position` rather than at the end: what a generated `down` writes to
    /// put a dropped column back where it was.
    fn add_column_at(
        &mut self,
        table: &str,
        column: ColumnDef,
        position: ColumnPosition,
    ) -> Result<()> {
        self.operation(Operation::AddColumn {
            table: table.into(),
            column,
            position: Some(position),
        })
    }

    fn drop_column(&mut self, table: &str, column: &str) -> Result<()> {
        self.operation(Operation::DropColumn {
            table: table.into(),
            column: column.into(),
        })
    }

    /// Changes column `from` (as it is now) into `to`; a different `to.name` renames it.
    fn modify_column(&mut self, table: &str, from: ColumnDef, to: ColumnDef) -> Result<()> {
        self.operation(Operation::ModifyColumn {
            table: table.into(),
            from,
            to,
        })
    }

    fn create_index(&mut self, table: &str, index: IndexDef) -> Result<()> {
        self.operation(Operation::CreateIndex {
            table: table.into(),
            index,
        })
    }

    fn drop_index(&mut self, table: &str, index: &str) -> Result<()> {
        self.operation(Operation::DropIndex {
            table: table.into(),
            index: index.into(),
        })
    }

    /// Data step: inserts `rows`, each `(column, value)` pairs. Reverting the migration deletes
    /// them by primary key without a word in `down`.
    fn insert_rows(&mut self, table: &str, rows: Vec<Vec<(&str, Value)>>) -> Result<()> {
        self.operation(Operation::InsertRows {
            table: table.into(),
            rows: rows
                .into_iter()
                .map(|row| row.into_iter().map(|(c, v)| (c.to_string(), v)).collect())
                .collect(),
        })
    }

    /// Data step: sets each `(column, expression)` of `set` in the rows `filter` matches.
    fn update_rows(&mut self, table: &str, set: Vec<(&str, Expr)>, filter: Filter) -> Result<()> {
        self.operation(Operation::UpdateRows {
            table: table.into(),
            set: set.into_iter().map(|(c, e)| (c.to_string(), e)).collect(),
            filter,
        })
    }

    /// Data step: deletes the rows `filter` matches.
    fn delete_rows(&mut self, table: &str, filter: Filter) -> Result<()> {
        self.operation(Operation::DeleteRows {
            table: table.into(),
            filter,
        })
    }

    /// In `down`: the migration cannot be reverted, and why; `down` refuses it before doing
    /// anything.
    fn irreversible(&mut self, reason: &str) -> Result<()> {
        self.operation(Operation::Irreversible {
            reason: reason.into(),
        })
    }

    /// Escape hatch: a statement passed to the backend as written.
    fn raw(&mut self, statement: &str) -> Result<()> {
        self.operation(Operation::Raw {
            statement: statement.into(),
        })
    }
}

/// A context that records what it is told, refusing a column definition a snapshot would refuse
/// (so a hand-written custom type reaches no database unchecked).
#[derive(Debug, Default)]
pub struct RecordingContext {
    pub operations: Vec<Operation>,
}

impl MigrationContext for RecordingContext {
    fn operation(&mut self, op: Operation) -> Result<()> {
        op.validate().map_err(|message| Error::Apply {
            operation: op.to_string(),
            message,
        })?;
        self.operations.push(op);
        Ok(())
    }
}

/// A migration as data: version, and its `up` and `down` operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationPlan {
    pub version: String,
    pub up: Vec<Operation>,
    pub down: Vec<Operation>,
    /// See [`Migration::transactional`].
    pub transactional: bool,
    /// See [`Migration::online`]. Not covered by the checksum: it changes how the steps hold
    /// their locks, not the schema they leave.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub online: bool,
    /// See [`Migration::parent`]. Not covered by the checksum: where a migration sits in the
    /// history is not what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// See [`Migration::replaces`]. Not covered by the checksum either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    /// See [`Migration::allow`]. Not covered by the checksum: it changes no step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Allow>,
    /// The file a parsed plan was read from and the line of each operation, so that a problem
    /// found later (a data step that does not fit the schema) names its place. `None` for a
    /// plan built in code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Where a parsed plan's operations are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub path: std::path::PathBuf,
    /// The line of each of `up`'s operations, then of each of `down`'s.
    pub up: Vec<usize>,
    pub down: Vec<usize>,
}

/// Two plans are equal when they do the same. Where one was written is not compared: a parsed
/// plan equals the same plan built in code (and the checksum never covers it either).
impl PartialEq for MigrationPlan {
    fn eq(&self, other: &MigrationPlan) -> bool {
        self.version == other.version
            && self.parent == other.parent
            && self.replaces == other.replaces
            && self.allow == other.allow
            && self.up == other.up
            && self.down == other.down
            && self.transactional == other.transactional
            && self.online == other.online
    }
}

fn yes() -> bool {
    true
}

impl MigrationPlan {
    /// `file:line` of operation `index` of `direction`, where the plan was parsed from a file.
    pub fn place(&self, direction: Direction, index: usize) -> Option<String> {
        let source = self.source.as_ref()?;
        let lines = match direction {
            Direction::Up => &source.up,
            Direction::Down => &source.down,
        };
        Some(format!("{}:{}", source.path.display(), lines.get(index)?))
    }
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
}

impl MigrationPlan {
    /// A migration of these operations, as a generated file has it: in a transaction, online,
    /// with no parent recorded, replacing nothing, allowing nothing.
    pub fn new(version: impl Into<String>, up: Vec<Operation>, down: Vec<Operation>) -> Self {
        MigrationPlan {
            version: version.into(),
            up,
            down,
            transactional: true,
            online: true,
            parent: None,
            replaces: Vec::new(),
            allow: Vec::new(),
            source: None,
        }
    }

    /// The migration that applies `diff` (`up`) and reverts it (`down`: each change undone,
    /// newest first), in a transaction.
    pub fn from_diff(version: impl Into<String>, diff: &crate::diff::SchemaDiff) -> Self {
        MigrationPlan::new(version, diff.up_operations(), diff.down_operations())
    }

    /// Describes a compiled migration by running its `up` and `down` against recording contexts.
    pub fn describe(migration: &dyn Migration) -> Result<Self> {
        let version = migration.version().to_string();
        let record =
            |run: &dyn Fn(&mut dyn MigrationContext) -> Result<()>| -> Result<Vec<Operation>> {
                let mut ctx = RecordingContext::default();
                run(&mut ctx).map_err(|e| Error::Migration {
                    version: version.clone(),
                    message: e.to_string(),
                })?;
                Ok(ctx.operations)
            };
        let up = record(&|db| migration.up(db))?;
        let down = record(&|db| migration.down(db))?;
        Ok(MigrationPlan {
            version,
            up,
            down,
            transactional: migration.transactional(),
            online: migration.online(),
            parent: migration.parent().map(str::to_string),
            replaces: migration.replaces().iter().map(|v| v.to_string()).collect(),
            allow: migration
                .allow()
                .iter()
                .map(|(code, reason)| Allow {
                    code: code.to_string(),
                    reason: reason.to_string(),
                })
                .collect(),
            source: None,
        })
    }

    /// The part of the version after `YYYYMMDD_HHMMSS_`: the message the migration was made with.
    pub fn name(&self) -> &str {
        version_name(&self.version)
    }

    /// Its version, recorded parent and the versions it replaces: where it sits in the history.
    pub(crate) fn lineage(&self) -> crate::check::Lineage<'_> {
        (&self.version, self.parent.as_deref(), &self.replaces)
    }

    /// Why the migration cannot be reverted, if its `down` says so.
    pub fn irreversible(&self) -> Option<&str> {
        self.down.iter().find_map(|op| match op {
            Operation::Irreversible { reason } => Some(reason.as_str()),
            _ => None,
        })
    }

    /// What reverting runs, from `live` (the schema the migration left): first a delete by
    /// primary key of the rows each insert of `up` added, newest first, then `down` as written.
    pub fn down_with_inserts_reverted(&self, live: &IndexedSchema) -> Cow<'_, [Operation]> {
        let reverted: Vec<Operation> = self
            .up
            .iter()
            .rev()
            .filter_map(|op| match op {
                Operation::InsertRows { table, rows } => Some(Operation::DeleteRows {
                    table: table.clone(),
                    filter: crate::data::key_filter(live.table(table)?, rows),
                }),
                _ => None,
            })
            .collect();
        if reverted.is_empty() {
            return Cow::Borrowed(&self.down);
        }
        Cow::Owned(
            reverted
                .into_iter()
                .chain(self.down.iter().cloned())
                .collect(),
        )
    }

    /// The operations as written in the file.
    pub fn operations(&self, direction: Direction) -> &[Operation] {
        match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        }
    }

    /// SHA-256 (hex) over the operations, not the file's bytes: reformatting a migration file or
    /// changing its line endings keeps the checksum, changing what it does changes it.
    pub fn checksum(&self) -> String {
        #[derive(Serialize)]
        struct Checksummed<'a> {
            up: &'a [Operation],
            down: &'a [Operation],
            // Only when off, so that the usual migration's checksum covers its operations alone.
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            non_transactional: bool,
        }
        let bytes = serde_json::to_vec(&Checksummed {
            up: &self.up,
            down: &self.down,
            non_transactional: !self.transactional,
        })
        .expect("operations always serialize");
        let digest = Sha256::digest(&bytes);
        to_hex(&digest)
    }
}

impl fmt::Display for MigrationPlan {
    /// A readable listing for reviews and dry runs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "migration {}", self.version)?;
        for (label, ops) in [("up", &self.up), ("down", &self.down)] {
            writeln!(f, "  {label}:")?;
            for op in ops {
                writeln!(f, "    {op}")?;
            }
        }
        Ok(())
    }
}

/// The name part of a version (`20250117_120000_add_user_email` -> `add_user_email`).
pub fn version_name(version: &str) -> &str {
    // `YYYYMMDD_HHMMSS_` is 16 bytes of ASCII.
    version
        .get(16..)
        .filter(|_| is_version(version))
        .unwrap_or(version)
}

/// True for `YYYYMMDD_HHMMSS_<slug>` with a non-empty slug of `[a-z0-9_]`.
pub fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'_'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'_'
        && b[16..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Lowercase hexadecimal, as checksums are written.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    hex
}
