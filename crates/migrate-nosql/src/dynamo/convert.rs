//! Stored values under a column type change: how Toasty's DynamoDB driver stores each column
//! type, and one value converted from one column type's form to another's, or the reason it has
//! no such form. Pure functions, so every pair is tested without a server.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use toasty_migrate::schema::ColumnType;

/// The DynamoDB attribute type a column's values are stored as (Toasty's `Value::to_ddb`):
/// booleans as BOOL, integers and floats as N, bytes as B, everything else (text, decimals,
/// UUIDs, times, enums) as its string form in S.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    Bool,
    Number,
    String,
    Binary,
    /// Lists and documents: converted by no rule here.
    Other,
}

impl Stored {
    pub(crate) fn of(ty: &ColumnType) -> Stored {
        use ColumnType::*;
        match ty {
            Boolean => Stored::Bool,
            Integer(_) | UnsignedInteger(_) | Float(_) => Stored::Number,
            Blob | Binary(_) => Stored::Binary,
            List(_) | Document { .. } => Stored::Other,
            _ => Stored::String,
        }
    }

    fn of_value(value: &AttributeValue) -> Stored {
        match value {
            AttributeValue::Bool(_) => Stored::Bool,
            AttributeValue::N(_) => Stored::Number,
            AttributeValue::S(_) => Stored::String,
            AttributeValue::B(_) => Stored::Binary,
            _ => Stored::Other,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Stored::Bool => "a boolean",
            Stored::Number => "a number",
            Stored::String => "a string",
            Stored::Binary => "bytes",
            Stored::Other => "a list or map",
        }
    }
}

/// `value` in the form a column of type `to` stores: `Ok(None)` when it already is (nothing to
/// write: the same representation, or an item an earlier run converted), `Ok(Some(new))` for the
/// converted value, `Err(why)` when it has no such form or does not fit `to`. NULL stays NULL.
pub(crate) fn convert(
    value: &AttributeValue,
    to: &ColumnType,
) -> Result<Option<AttributeValue>, String> {
    if let AttributeValue::Null(_) = value {
        return Ok(None);
    }
    let (have, want) = (Stored::of_value(value), Stored::of(to));
    let converted = match (value, want) {
        _ if have == want => None,
        (AttributeValue::N(n), Stored::String) => Some(AttributeValue::S(n.clone())),
        (AttributeValue::S(s), Stored::Number) => Some(AttributeValue::N(s.trim().to_string())),
        (AttributeValue::Bool(b), Stored::Number) => {
            Some(AttributeValue::N(if *b { "1" } else { "0" }.into()))
        }
        (AttributeValue::N(n), Stored::Bool) => Some(AttributeValue::Bool(
            n.parse::<f64>()
                .map_err(|_| format!("{n} is not a number"))?
                != 0.0,
        )),
        (AttributeValue::Bool(b), Stored::String) => Some(AttributeValue::S(b.to_string())),
        (AttributeValue::S(s), Stored::Bool) => Some(AttributeValue::Bool(
            match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "1" => true,
                "false" | "f" | "0" => false,
                _ => return Err(format!("{s:?} is not a boolean (true/false, 1/0)")),
            },
        )),
        (AttributeValue::B(b), Stored::String) => Some(AttributeValue::S(
            String::from_utf8(b.as_ref().to_vec())
                .map_err(|_| "the bytes are not UTF-8 text".to_string())?,
        )),
        (AttributeValue::S(s), Stored::Binary) => {
            Some(AttributeValue::B(Blob::new(s.as_bytes().to_vec())))
        }
        _ => {
            return Err(format!(
                "{} has no form as {} ({to})",
                have.describe(),
                want.describe()
            ));
        }
    };
    fits(converted.as_ref().unwrap_or(value), to)?;
    Ok(converted)
}

/// Whether a value in `to`'s form is one `to` can hold: integers in range, text within its
/// length, an enum's variant, a number that parses.
fn fits(value: &AttributeValue, to: &ColumnType) -> Result<(), String> {
    match (value, to) {
        (AttributeValue::N(n), ColumnType::Integer(bytes)) => {
            let max = (1i128 << (u32::from(*bytes) * 8 - 1)) - 1;
            match n.parse::<i128>() {
                Ok(i) if (-max - 1..=max).contains(&i) => Ok(()),
                Ok(_) => Err(format!("{n} does not fit {to}")),
                Err(_) => Err(format!("{n:?} is not an integer")),
            }
        }
        (AttributeValue::N(n), ColumnType::UnsignedInteger(bytes)) => {
            let max = (1u128 << (u32::from(*bytes) * 8)) - 1;
            match n.parse::<u128>() {
                Ok(i) if i <= max => Ok(()),
                Ok(_) => Err(format!("{n} does not fit {to}")),
                Err(_) => Err(format!("{n:?} is not an unsigned integer")),
            }
        }
        (AttributeValue::N(n), ColumnType::Float(_)) => match n.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(()),
            _ => Err(format!("{n:?} is not a number")),
        },
        (AttributeValue::S(s), ColumnType::VarChar(max)) if s.chars().count() as u64 > *max => {
            Err(format!("{s:?} is longer than {max} characters"))
        }
        (AttributeValue::S(s), ColumnType::Enum(e)) if !e.variants.contains(s) => {
            Err(format!("{s:?} is not one of {:?}", e.variants))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::schema::EnumType;

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn bytes(v: &[u8]) -> aws_sdk_dynamodb::primitives::Blob {
        aws_sdk_dynamodb::primitives::Blob::new(v)
    }

    #[test]
    fn values_convert_between_stored_forms() {
        use ColumnType::*;
        let b = |v| AttributeValue::Bool(v);
        let cases: Vec<(AttributeValue, ColumnType, Option<AttributeValue>)> = vec![
            (n("42"), Text, Some(s("42"))),
            (n("-3.5"), VarChar(10), Some(s("-3.5"))),
            (s(" 42 "), Integer(8), Some(n("42"))),
            (s("2.5"), Float(8), Some(n("2.5"))),
            (b(true), Integer(4), Some(n("1"))),
            (n("0"), Boolean, Some(b(false))),
            (n("7"), Boolean, Some(b(true))),
            (b(false), Text, Some(s("false"))),
            (s("TRUE"), Boolean, Some(b(true))),
            (s("0"), Boolean, Some(b(false))),
            (
                s("hé"),
                Blob,
                Some(AttributeValue::B(bytes("hé".as_bytes()))),
            ),
            (
                AttributeValue::B(bytes("ok".as_bytes())),
                Text,
                Some(s("ok")),
            ),
            // Already in the target's form: nothing to write (a re-run, or a widening).
            (n("42"), Integer(8), None),
            (s("42"), Text, None),
            (AttributeValue::Null(true), Integer(8), None),
        ];
        for (value, to, want) in cases {
            assert_eq!(
                convert(&value, &to).as_ref(),
                Ok(&want),
                "{value:?} -> {to}"
            );
        }
    }

    #[test]
    fn a_value_without_a_form_or_that_does_not_fit_is_refused_with_the_reason() {
        use ColumnType::*;
        let cases: Vec<(AttributeValue, ColumnType, &str)> = vec![
            (s("ann"), Integer(8), "\"ann\" is not an integer"),
            (s("1.5"), Integer(8), "\"1.5\" is not an integer"),
            (n("300"), Integer(1), "300 does not fit"),
            (
                n("-1"),
                UnsignedInteger(4),
                "\"-1\" is not an unsigned integer",
            ),
            (n("70000"), UnsignedInteger(2), "70000 does not fit"),
            (s("maybe"), Boolean, "\"maybe\" is not a boolean"),
            (s("abcdef"), VarChar(3), "longer than 3 characters"),
            (n("12345"), VarChar(3), "longer than 3 characters"),
            (n("1"), Blob, "a number has no form as bytes"),
            (AttributeValue::B(bytes(&[0xff])), Text, "not UTF-8"),
            (
                s("purple"),
                Enum(EnumType {
                    name: None,
                    variants: vec!["red".into()],
                }),
                "\"purple\" is not one of [\"red\"]",
            ),
        ];
        for (value, to, want) in cases {
            let err = convert(&value, &to).unwrap_err();
            assert!(err.contains(want), "{value:?} -> {to}: {err}");
        }
    }
}
