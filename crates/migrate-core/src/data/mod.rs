//! Data steps: the small, portable vocabulary a migration uses to change rows (insert, update,
//! delete) on every backend. Values are literals, expressions a handful of functions, filters a
//! few comparisons joined by and/or: enough for backfills and lookup rows, and little enough that
//! each backend executes it natively (bound SQL, server-side MongoDB updates, DynamoDB
//! conditional writes) and the parser reads it back without compiling the file.
//!
//! Every value is checked against the schema as of its migration ([`check_insert`],
//! [`check_update`], [`check_filter`]) when the migration is replayed, before anything runs.

mod check;

pub use check::{
    check_filter, check_insert, check_repeatable, check_row, check_update, check_value,
};

use crate::snapshot::{DefaultValue, TableSnapshot};
use crate::types::ColumnType;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A literal: what a row holds or a filter compares with. Text also carries the values of
/// columns that databases take as text (UUIDs, dates and times, decimals, enum variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

/// A column's default is a literal like any other.
impl From<&DefaultValue> for Value {
    fn from(value: &DefaultValue) -> Value {
        match value {
            DefaultValue::Bool(b) => Value::Bool(*b),
            DefaultValue::Integer(i) => Value::Integer(*i),
            DefaultValue::Float(f) => Value::Float(*f),
            DefaultValue::Text(s) => Value::Text(s.clone()),
        }
    }
}

/// One row to insert: `(column, value)` pairs, each column once.
pub type Row = Vec<(String, Value)>;

/// What an updated column is set to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Value(Value),
    /// Another column of the same row, as it was before the update.
    Column(String),
    /// The first of these that is not null.
    Coalesce(Vec<Expr>),
    Lower(Box<Expr>),
    Upper(Box<Expr>),
    /// Texts joined; null if any is null (as SQL's `||`).
    Concat(Vec<Expr>),
    /// The value converted to another type, as `ModifyColumn` converts a column.
    Cast(Box<Expr>, ColumnType),
}

/// Which rows an update or delete touches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    All,
    Eq(String, Value),
    Ne(String, Value),
    IsNull(String),
    IsNotNull(String),
    In(String, Vec<Value>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// `column`, as an expression.
pub fn col(column: &str) -> Expr {
    Expr::Column(column.into())
}

/// A literal, as an expression.
pub fn lit(value: Value) -> Expr {
    Expr::Value(value)
}

pub fn lower(expr: Expr) -> Expr {
    Expr::Lower(Box::new(expr))
}

pub fn upper(expr: Expr) -> Expr {
    Expr::Upper(Box::new(expr))
}

pub fn coalesce(exprs: Vec<Expr>) -> Expr {
    Expr::Coalesce(exprs)
}

pub fn concat(exprs: Vec<Expr>) -> Expr {
    Expr::Concat(exprs)
}

pub fn cast(expr: Expr, ty: ColumnType) -> Expr {
    Expr::Cast(Box::new(expr), ty)
}

/// Every row.
pub fn all() -> Filter {
    Filter::All
}

pub fn eq(column: &str, value: Value) -> Filter {
    Filter::Eq(column.into(), value)
}

pub fn ne(column: &str, value: Value) -> Filter {
    Filter::Ne(column.into(), value)
}

pub fn is_null(column: &str) -> Filter {
    Filter::IsNull(column.into())
}

pub fn is_not_null(column: &str) -> Filter {
    Filter::IsNotNull(column.into())
}

pub fn is_in(column: &str, values: Vec<Value>) -> Filter {
    Filter::In(column.into(), values)
}

pub fn and(filters: Vec<Filter>) -> Filter {
    Filter::And(filters)
}

pub fn or(filters: Vec<Filter>) -> Filter {
    Filter::Or(filters)
}

/// The filter that matches exactly `rows` by their primary key: what reverts their insert.
pub fn key_filter(table: &TableSnapshot, rows: &[Row]) -> Filter {
    let key_of = |row: &Row| -> Vec<(String, Value)> {
        table
            .primary_key
            .iter()
            .filter_map(|k| row.iter().find(|(name, _)| name == &k.column).cloned())
            .collect()
    };
    if let [key] = table.primary_key.as_slice() {
        let values = rows
            .iter()
            .filter_map(|row| key_of(row).pop().map(|(_, v)| v))
            .collect();
        return Filter::In(key.column.clone(), values);
    }
    Filter::Or(
        rows.iter()
            .map(|row| {
                Filter::And(
                    key_of(row)
                        .into_iter()
                        .map(|(name, value)| Filter::Eq(name, value))
                        .collect(),
                )
            })
            .collect(),
    )
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => write!(f, "{s:?}"),
        }
    }
}

fn join<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Value(v) => write!(f, "{v}"),
            Expr::Column(c) => f.write_str(c),
            Expr::Coalesce(es) => write!(f, "coalesce({})", join(es, ", ")),
            Expr::Lower(e) => write!(f, "lower({e})"),
            Expr::Upper(e) => write!(f, "upper({e})"),
            Expr::Concat(es) => write!(f, "concat({})", join(es, ", ")),
            Expr::Cast(e, ty) => write!(f, "cast({e} as {ty})"),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::All => f.write_str("all rows"),
            Filter::Eq(c, v) => write!(f, "{c} = {v}"),
            Filter::Ne(c, v) => write!(f, "{c} != {v}"),
            Filter::IsNull(c) => write!(f, "{c} is null"),
            Filter::IsNotNull(c) => write!(f, "{c} is not null"),
            Filter::In(c, vs) => write!(f, "{c} in ({})", join(vs, ", ")),
            Filter::And(fs) => write!(f, "({})", join(fs, " and ")),
            Filter::Or(fs) => write!(f, "({})", join(fs, " or ")),
        }
    }
}
