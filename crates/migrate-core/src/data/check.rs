//! Data steps checked against a table as the schema has it when they run: values that fit
//! their columns, expressions whose kinds fit, filters on columns that exist, and whether a
//! journaled update may run twice.

use super::{Expr, Filter, Row, Value};
use crate::snapshot::{ColumnDef, TableSnapshot};
use crate::types::ColumnType;
use std::fmt;

/// The kinds of value an expression yields, for type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Integer,
    Float,
    Text,
}

impl Kind {
    fn of_type(ty: &ColumnType) -> Option<Kind> {
        use ColumnType::*;
        Some(match ty {
            Boolean => Kind::Bool,
            Integer(_) | UnsignedInteger(_) => Kind::Integer,
            Float(_) => Kind::Float,
            Text | VarChar(_) | Uuid | Numeric(_) | Timestamp(_) | Date | Time(_) | DateTime(_)
            | Enum(_) => Kind::Text,
            _ => return None,
        })
    }

    fn of_value(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Integer(_) => Kind::Integer,
            Value::Float(_) => Kind::Float,
            Value::Text(_) => Kind::Text,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Integer => "an integer",
            Kind::Float => "a float",
            Kind::Text => "text",
        })
    }
}

fn column<'t>(table: &'t TableSnapshot, name: &str) -> Result<&'t ColumnDef, String> {
    table
        .column(name)
        .ok_or_else(|| format!("column {name:?} does not exist in table {:?}", table.name))
}

/// Whether `value` fits `column`: its type (range, length, format, variant) and NOT NULL.
pub fn check_value(column: &ColumnDef, value: &Value) -> Result<(), String> {
    let name = &column.name;
    let Some(kind) = Kind::of_type(&column.ty) else {
        return Err(format!(
            "column {name:?} is {}: data steps cannot set values of that type yet",
            column.ty
        ));
    };
    let fail = |why: String| Err(format!("column {name:?} ({}): {why}", column.ty));
    match value {
        Value::Null if column.nullable => Ok(()),
        Value::Null => fail("is NOT NULL; the value is null".into()),
        // An integer is a float's value too, as JSON has it.
        Value::Integer(_) if kind == Kind::Float => Ok(()),
        v if Kind::of_value(v) != kind => fail(format!("expected {kind}, found {value}")),
        Value::Integer(i) => match &column.ty {
            ColumnType::Integer(bytes) => {
                let bits = u32::from(*bytes) * 8;
                let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
                let i = i128::from(*i);
                if i < min || i > max {
                    return fail(format!("{i} is out of range {min}..={max}"));
                }
                Ok(())
            }
            ColumnType::UnsignedInteger(bytes) => {
                let bits = u32::from(*bytes) * 8;
                let max = (1i128 << bits) - 1;
                if *i < 0 || i128::from(*i) > max {
                    return fail(format!("{i} is out of range 0..={max}"));
                }
                Ok(())
            }
            _ => Ok(()),
        },
        Value::Text(s) => match &column.ty {
            ColumnType::VarChar(max) if s.chars().count() as u64 > *max => fail(format!(
                "{} characters, longer than {max}",
                s.chars().count()
            )),
            ColumnType::Enum(e) if !e.variants.contains(s) => fail(format!(
                "{s:?} is not one of its variants ({})",
                e.variants.join(", ")
            )),
            ColumnType::Uuid if !is_uuid(s) => fail(format!("{s:?} is not a UUID")),
            ColumnType::Numeric(_) if s.parse::<f64>().is_err() => {
                fail(format!("{s:?} is not a decimal number"))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

fn is_uuid(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && [8, 13, 18, 23]
            .iter()
            .all(|&i| s.len() == 36 && s.as_bytes()[i] == b'-')
}

/// Checks rows to insert into `table`: known columns, each once, values that fit, every NOT NULL
/// column without a default given, and the primary key given (even a generated one: reverting
/// the migration deletes the rows by it).
pub fn check_insert(table: &TableSnapshot, rows: &[Row]) -> Result<(), String> {
    if rows.is_empty() {
        return Err("no rows to insert".into());
    }
    for (i, row) in rows.iter().enumerate() {
        check_row(table, row).map_err(|why| format!("row {}: {why}", i + 1))?;
    }
    Ok(())
}

/// Checks one row to write into `table` (see [`check_insert`]).
pub fn check_row(table: &TableSnapshot, row: &Row) -> Result<(), String> {
    for (n, (name, value)) in row.iter().enumerate() {
        if row[..n].iter().any(|(other, _)| other == name) {
            return Err(format!("column {name:?} is given twice"));
        }
        check_value(column(table, name)?, value)?;
    }
    for key in &table.primary_key {
        if !row.iter().any(|(name, _)| name == &key.column) {
            return Err(format!(
                "the primary key column {:?} is not given (an insert is reverted by its key)",
                key.column
            ));
        }
    }
    for c in &table.columns {
        let given = row.iter().any(|(name, _)| name == &c.name);
        let needed = !c.nullable && c.default.is_none() && !c.auto_increment;
        if !given && needed {
            return Err(format!(
                "column {:?} is NOT NULL and has no default: give it a value",
                c.name
            ));
        }
    }
    Ok(())
}

/// Checks an update of `table`: known columns, each set once, expressions whose values fit, and
/// the filter.
pub fn check_update(
    table: &TableSnapshot,
    set: &[(String, Expr)],
    filter: &Filter,
) -> Result<(), String> {
    if set.is_empty() {
        return Err("no column to set".into());
    }
    for (n, (name, expr)) in set.iter().enumerate() {
        if set[..n].iter().any(|(other, _)| other == name) {
            return Err(format!("column {name:?} is set twice"));
        }
        let target = column(table, name)?;
        if table.primary_key.iter().any(|k| &k.column == name) {
            return Err(format!(
                "column {name:?} is part of the primary key, which a data step does not change"
            ));
        }
        if let Expr::Value(value) = expr {
            check_value(target, value)?;
            continue;
        }
        let kind = check_expr(table, expr).map_err(|why| format!("column {name:?}: {why}"))?;
        let want = Kind::of_type(&target.ty).ok_or_else(|| {
            format!(
                "column {name:?} is {}: data steps cannot set values of that type yet",
                target.ty
            )
        })?;
        let fits =
            kind == want || kind == Kind::Null || (kind == Kind::Integer && want == Kind::Float);
        if !fits {
            return Err(format!(
                "column {name:?} ({}): expected {want}, the expression gives {kind}",
                target.ty
            ));
        }
        if kind == Kind::Null && !target.nullable {
            return Err(format!("column {name:?} is NOT NULL; the value is null"));
        }
    }
    check_filter(table, filter)
}

/// The kind of value `expr` yields over a row of `table`.
fn check_expr(table: &TableSnapshot, expr: &Expr) -> Result<Kind, String> {
    let text = |e: &Expr, what: &str| -> Result<Kind, String> {
        match check_expr(table, e)? {
            Kind::Text | Kind::Null => Ok(Kind::Text),
            other => Err(format!("{what} takes text, found {other}")),
        }
    };
    match expr {
        Expr::Value(v) => Ok(Kind::of_value(v)),
        Expr::Column(name) => {
            let c = column(table, name)?;
            Kind::of_type(&c.ty).ok_or_else(|| {
                format!("column {name:?} is {}: data steps cannot read it yet", c.ty)
            })
        }
        Expr::Lower(e) => text(e, "lower"),
        Expr::Upper(e) => text(e, "upper"),
        Expr::Concat(es) => {
            if es.is_empty() {
                return Err("concat of nothing".into());
            }
            es.iter().try_for_each(|e| text(e, "concat").map(|_| ()))?;
            Ok(Kind::Text)
        }
        Expr::Coalesce(es) => {
            let mut kind = Kind::Null;
            for e in es {
                match (kind, check_expr(table, e)?) {
                    (_, Kind::Null) => {}
                    (Kind::Null, k) => kind = k,
                    (a, b) if a == b => {}
                    (a, b) => return Err(format!("coalesce of {a} and {b}")),
                }
            }
            Ok(kind)
        }
        Expr::Cast(e, ty) => {
            let from = check_expr(table, e)?;
            let to = Kind::of_type(ty)
                .filter(|k| *k != Kind::Bool)
                .ok_or_else(|| format!("cannot cast to {ty}"))?;
            if from == Kind::Bool {
                return Err("cannot cast a boolean".into());
            }
            Ok(to)
        }
    }
}

/// Whether running the update twice leaves what running it once does, so that a journaled
/// backend may run it again after an interruption: no expression reads another column the
/// update sets (`a = b, b = a` swaps back), and none appends to the column it sets
/// (`a = concat(a, "!")` grows). `lower`, `upper`, `coalesce` and `cast` of a column give the same
/// value when applied again.
pub fn check_repeatable(set: &[(String, Expr)]) -> Result<(), String> {
    fn reads<'e>(expr: &'e Expr, in_concat: bool, out: &mut Vec<(&'e str, bool)>) {
        match expr {
            Expr::Value(_) => {}
            Expr::Column(c) => out.push((c, in_concat)),
            Expr::Lower(e) | Expr::Upper(e) | Expr::Cast(e, _) => reads(e, in_concat, out),
            Expr::Coalesce(es) => es.iter().for_each(|e| reads(e, in_concat, out)),
            Expr::Concat(es) => es.iter().for_each(|e| reads(e, true, out)),
        }
    }
    for (target, expr) in set {
        let mut read = Vec::new();
        reads(expr, false, &mut read);
        for (column, in_concat) in read {
            let is_set = set.iter().any(|(c, _)| c == column);
            if column != target && is_set {
                return Err(format!(
                    "column {target:?} is set from {column:?}, which the same update sets"
                ));
            }
            if column == target && in_concat {
                return Err(format!("column {target:?} is set from a concat of itself"));
            }
        }
    }
    Ok(())
}

/// Checks a filter over `table`: known columns, compared with values that fit them.
pub fn check_filter(table: &TableSnapshot, filter: &Filter) -> Result<(), String> {
    let compared = |name: &str, value: &Value| -> Result<(), String> {
        let c = column(table, name).map_err(|why| format!("filter: {why}"))?;
        if *value == Value::Null {
            return Err(format!(
                "filter on {name:?}: compare with null through is_null / is_not_null"
            ));
        }
        // Nullability is the column's, not the comparison's.
        let as_nullable = ColumnDef {
            nullable: true,
            ..c.clone()
        };
        check_value(&as_nullable, value).map_err(|why| format!("filter: {why}"))
    };
    match filter {
        Filter::All => Ok(()),
        Filter::Eq(name, value) | Filter::Ne(name, value) => compared(name, value),
        Filter::IsNull(name) | Filter::IsNotNull(name) => column(table, name)
            .map(|_| ())
            .map_err(|why| format!("filter: {why}")),
        Filter::In(name, values) => {
            if values.is_empty() {
                return Err(format!("filter on {name:?}: `in` an empty list"));
            }
            values.iter().try_for_each(|v| compared(name, v))
        }
        Filter::And(filters) | Filter::Or(filters) => {
            if filters.is_empty() {
                return Err("filter: `and`/`or` of nothing".into());
            }
            filters.iter().try_for_each(|f| check_filter(table, f))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::*;
    use crate::snapshot::IndexDef;
    use crate::types::EnumType;

    fn users() -> TableSnapshot {
        let mut email = ColumnDef::new("email", ColumnType::VarChar(5));
        email.nullable = true;
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(2)),
                ColumnDef::new("name", ColumnType::Text),
                email,
                ColumnDef::new(
                    "role",
                    ColumnType::Enum(EnumType {
                        name: None,
                        variants: vec!["admin".into(), "user".into()],
                    }),
                ),
            ],
            Vec::<IndexDef>::new(),
        )
    }

    fn row(pairs: &[(&str, Value)]) -> Row {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn a_row_that_fits_is_accepted() {
        let ok = row(&[
            ("id", Value::Integer(1)),
            ("name", text("Ann")),
            ("role", text("admin")),
        ]);
        check_insert(&users(), &[ok]).unwrap();
    }

    #[test]
    fn each_misfit_names_the_row_and_the_column() {
        let base = [
            ("id", Value::Integer(1)),
            ("name", text("Ann")),
            ("role", text("user")),
        ];
        let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
            (
                vec![("name", Value::Integer(5))],
                "column \"name\" (text): expected text, found 5",
            ),
            (
                vec![("name", Value::Null)],
                "column \"name\" (text): is NOT NULL",
            ),
            (
                vec![("id", Value::Integer(40_000))],
                "40000 is out of range -32768..=32767",
            ),
            (
                vec![("email", text("toolong"))],
                "7 characters, longer than 5",
            ),
            (
                vec![("role", text("root"))],
                "\"root\" is not one of its variants (admin, user)",
            ),
            (
                vec![("nope", text("x"))],
                "column \"nope\" does not exist in table \"users\"",
            ),
        ];
        for (changes, expected) in cases {
            let mut r = row(&base);
            for (name, value) in changes {
                match r.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value,
                    None => r.push((name.to_string(), value)),
                }
            }
            let good = row(&base);
            let err = check_insert(&users(), &[good, r]).unwrap_err();
            assert!(err.starts_with("row 2: "), "{err}");
            assert!(err.contains(expected), "{err} / {expected}");
        }
        let missing = row(&[("id", Value::Integer(1)), ("role", text("user"))]);
        let err = check_insert(&users(), &[missing]).unwrap_err();
        assert!(
            err.contains("column \"name\" is NOT NULL and has no default"),
            "{err}"
        );
        let keyless = row(&[("name", text("x")), ("role", text("user"))]);
        let err = check_insert(&users(), &[keyless]).unwrap_err();
        assert!(
            err.contains("primary key column \"id\" is not given"),
            "{err}"
        );
    }

    #[test]
    fn updates_are_typed_through_their_expressions() {
        let t = users();
        check_update(
            &t,
            &[("name".into(), lower(col("name")))],
            &is_not_null("email"),
        )
        .unwrap();
        check_update(
            &t,
            &[(
                "email".into(),
                coalesce(vec![col("email"), lit(text("none"))]),
            )],
            &and(vec![
                eq("role", text("user")),
                is_in("id", vec![Value::Integer(1)]),
            ]),
        )
        .unwrap();
        check_update(
            &t,
            &[("name".into(), cast(col("id"), ColumnType::Text))],
            &all(),
        )
        .unwrap();

        let err = check_update(&t, &[("id".into(), lit(Value::Integer(2)))], &all()).unwrap_err();
        assert!(err.contains("primary key"), "{err}");
        let err = check_update(&t, &[("name".into(), col("id"))], &all()).unwrap_err();
        assert!(
            err.contains("expected text, the expression gives an integer"),
            "{err}"
        );
        let err = check_update(&t, &[("name".into(), lower(col("id")))], &all()).unwrap_err();
        assert!(err.contains("lower takes text, found an integer"), "{err}");
        let err = check_update(
            &t,
            &[("name".into(), col("name"))],
            &eq("missing", Value::Integer(1)),
        )
        .unwrap_err();
        assert!(
            err.contains("filter: column \"missing\" does not exist"),
            "{err}"
        );
        let err = check_filter(&t, &eq("id", text("one"))).unwrap_err();
        assert!(err.contains("expected an integer"), "{err}");
        let err = check_filter(&t, &eq("email", Value::Null)).unwrap_err();
        assert!(err.contains("is_null"), "{err}");
    }

    #[test]
    fn an_update_that_would_change_again_when_repeated_is_named() {
        let set = |pairs: Vec<(&str, Expr)>| -> Vec<(String, Expr)> {
            pairs.into_iter().map(|(c, e)| (c.to_string(), e)).collect()
        };
        check_repeatable(&set(vec![("email", lower(col("email")))])).unwrap();
        check_repeatable(&set(vec![("a", coalesce(vec![col("a"), col("b")]))])).unwrap();
        let err = check_repeatable(&set(vec![("a", col("b")), ("b", col("a"))])).unwrap_err();
        assert!(err.contains("which the same update sets"), "{err}");
        let grows = set(vec![(
            "a",
            concat(vec![col("a"), lit(Value::Text("!".into()))]),
        )]);
        assert!(
            check_repeatable(&grows)
                .unwrap_err()
                .contains("concat of itself")
        );
    }

    #[test]
    fn inserted_rows_are_matched_by_their_key() {
        let rows = [
            row(&[("id", Value::Integer(1))]),
            row(&[("id", Value::Integer(2))]),
        ];
        assert_eq!(
            key_filter(&users(), &rows),
            is_in("id", vec![Value::Integer(1), Value::Integer(2)])
        );
        assert_eq!(key_filter(&users(), &rows).to_string(), "id in (1, 2)");
    }
}
