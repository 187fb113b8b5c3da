//! The NoSQL backends' lint rule ([`toasty_migrate::lint`]): which operations rewrite every
//! item or document of a table in use. Neither database locks the table for it, but the writes
//! cost: on DynamoDB one write per item against the table's capacity, on MongoDB one
//! server-side update over the whole collection.

use toasty_migrate::lint::{Finding, Level};
use toasty_migrate::schema::{ColumnDef, Operation, TableSnapshot};

/// A finding for an operation that writes every record of `table`, if `op` is one: a column
/// added with a default (filled in), a column dropped (removed), or a column renamed or
/// converted (`converts` says whether a type change rewrites the stored value here).
pub(crate) fn rewrite(
    code: &'static str,
    op: &Operation,
    table: &TableSnapshot,
    records: &str,
    converts: impl Fn(&ColumnDef, &ColumnDef) -> bool,
) -> Option<Finding> {
    let what = match op {
        Operation::AddColumn { column, .. } if column.default.is_some() => {
            "fills the new column in"
        }
        Operation::DropColumn { .. } => "removes the column from",
        Operation::ModifyColumn { from, to, .. } if from.name != to.name => "renames the column in",
        Operation::ModifyColumn { from, to, .. } if converts(from, to) => "converts the column in",
        _ => return None,
    };
    Some(Finding::new(
        code,
        Level::Warning,
        op,
        format!("{what} every {records} of {}: one write each", table.name),
        "run it when the write load (and, on DynamoDB, the capacity it uses) is acceptable; a \
         killed run resumes where it stopped",
    ))
}
