//! Data steps as MongoDB commands, pure: inserts as one `insert` command, updates as a
//! server-side pipeline `update` (`updateMany`), deletes as a `delete` (`deleteMany`). Filters
//! keep SQL's meaning: a missing field is null, and `ne` matches neither.

use super::commands::bson_type;
use mongodb::bson::{Bson, Document, doc};
use toasty_migrate::data::{Expr, Filter, Row, Value};
use toasty_migrate::schema::{ColumnType, TableSnapshot};

/// `value` as the collection's validator wants it for a field of type `ty`.
pub(super) fn value_bson(value: &Value, ty: Option<&ColumnType>) -> Result<Bson, String> {
    let bson = ty.map(bson_type);
    Ok(match (value, bson) {
        (Value::Null, _) => Bson::Null,
        (Value::Bool(b), _) => Bson::Boolean(*b),
        (Value::Integer(i), Some("int")) => Bson::Int32(
            i32::try_from(*i).map_err(|_| format!("{i} does not fit a 32-bit integer field"))?,
        ),
        (Value::Integer(i), Some("double")) => Bson::Double(*i as f64),
        (Value::Integer(i), _) => Bson::Int64(*i),
        (Value::Float(f), _) => Bson::Double(*f),
        (Value::Text(s), Some("date")) => {
            let instant = if s.len() == 10 {
                format!("{s}T00:00:00Z")
            } else {
                s.clone()
            };
            Bson::DateTime(
                mongodb::bson::DateTime::parse_rfc3339_str(&instant)
                    .map_err(|e| format!("{s:?} is not an RFC 3339 date or time: {e}"))?,
            )
        }
        (Value::Text(s), Some("decimal")) => Bson::Decimal128(
            s.parse()
                .map_err(|e| format!("{s:?} is not a decimal number: {e}"))?,
        ),
        (Value::Text(s), _) => Bson::String(s.clone()),
    })
}

fn field_type<'t>(table: &'t TableSnapshot, column: &str) -> Option<&'t ColumnType> {
    table.column(column).map(|c| &c.ty)
}

/// `{ insert: <collection>, documents: [...] }`. A column a row leaves out gets its default
/// here, as SQL's server would give it: MongoDB keeps no defaults.
pub(super) fn insert(table: &TableSnapshot, rows: &[Row]) -> Result<Document, String> {
    let documents = rows
        .iter()
        .map(|row| {
            let mut document = row
                .iter()
                .map(|(c, v)| Ok((c.clone(), value_bson(v, field_type(table, c))?)))
                .collect::<Result<Document, String>>()?;
            for column in &table.columns {
                if !document.contains_key(&column.name)
                    && column.default.is_some()
                    && let Some(value) = super::commands::fill(column)
                {
                    document.insert(column.name.clone(), value);
                }
            }
            Ok(Bson::Document(document))
        })
        .collect::<Result<Vec<Bson>, String>>()?;
    Ok(doc! { "insert": &table.name, "documents": documents, "ordered": true })
}

/// A pipeline `update` of every document `filter` matches.
pub(super) fn update(
    table: &TableSnapshot,
    set: &[(String, Expr)],
    filter: &Filter,
) -> Result<Document, String> {
    let mut fields = Document::new();
    for (column, value) in set {
        let mut e = expr(value)?;
        if let Expr::Value(v) = value {
            e = doc! { "$literal": value_bson(v, field_type(table, column))? }.into();
        }
        fields.insert(column.clone(), e);
    }
    Ok(doc! {
        "update": &table.name,
        "updates": [ { "q": query(table, filter)?, "u": [ { "$set": fields } ], "multi": true } ],
    })
}

/// A `delete` of every document `filter` matches.
pub(super) fn delete(table: &TableSnapshot, filter: &Filter) -> Result<Document, String> {
    Ok(doc! {
        "delete": &table.name,
        "deletes": [ { "q": query(table, filter)?, "limit": 0 } ],
    })
}

/// The query document for `filter`.
pub(super) fn query(table: &TableSnapshot, filter: &Filter) -> Result<Document, String> {
    let value = |c: &str, v: &Value| value_bson(v, field_type(table, c));
    let list = |fs: &[Filter]| -> Result<Vec<Document>, String> {
        fs.iter().map(|f| query(table, f)).collect()
    };
    Ok(match filter {
        Filter::All => Document::new(),
        Filter::Eq(c, v) => doc! { c: value(c, v)? },
        Filter::Ne(c, v) => {
            doc! { "$and": [ { c: { "$ne": value(c, v)? } }, { c: { "$ne": Bson::Null } } ] }
        }
        // `null` matches a missing field too.
        Filter::IsNull(c) => doc! { c: Bson::Null },
        Filter::IsNotNull(c) => doc! { c: { "$ne": Bson::Null } },
        Filter::In(c, vs) => {
            let vs = vs
                .iter()
                .map(|v| value(c, v))
                .collect::<Result<Vec<_>, _>>()?;
            doc! { c: { "$in": vs } }
        }
        Filter::And(fs) => doc! { "$and": list(fs)? },
        Filter::Or(fs) => doc! { "$or": list(fs)? },
    })
}

/// The aggregation expression for `e`, null where SQL's is null.
fn expr(e: &Expr) -> Result<Bson, String> {
    // A missing field reads as null, and a function of null is null (MongoDB's `$toLower` of
    // null is "").
    let null_or = |input: Bson, then: Bson| -> Bson {
        doc! { "$cond": [ { "$eq": [ { "$ifNull": [ input, Bson::Null ] }, Bson::Null ] }, Bson::Null, then ] }.into()
    };
    Ok(match e {
        Expr::Value(v) => doc! { "$literal": value_bson(v, None)? }.into(),
        Expr::Column(c) => Bson::String(format!("${c}")),
        Expr::Coalesce(es) => {
            let mut out = Bson::Null;
            for e in es.iter().rev() {
                out = doc! { "$ifNull": [ expr(e)?, out ] }.into();
            }
            out
        }
        Expr::Lower(inner) => {
            let input = expr(inner)?;
            null_or(input.clone(), doc! { "$toLower": input }.into())
        }
        Expr::Upper(inner) => {
            let input = expr(inner)?;
            null_or(input.clone(), doc! { "$toUpper": input }.into())
        }
        Expr::Concat(es) => {
            let parts = es
                .iter()
                .map(expr)
                .collect::<Result<Vec<_>, _>>()?;
            doc! { "$concat": parts }.into()
        }
        // No `onError`: a value that does not convert fails the update, as in SQL.
        Expr::Cast(inner, ty) => {
            doc! { "$convert": { "input": expr(inner)?, "to": bson_type(ty), "onNull": Bson::Null } }.into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::data::{col, eq, is_null, lower, ne};
    use toasty_migrate::schema::ColumnDef;

    fn users() -> TableSnapshot {
        TableSnapshot::keyed_by_first_column(
            "users",
            vec![
                ColumnDef::new("id", ColumnType::Integer(4)),
                ColumnDef::new("email", ColumnType::Text),
                ColumnDef::new("born", ColumnType::Date),
            ],
            vec![],
        )
    }

    #[test]
    fn values_take_the_fields_bson_type() {
        let rows = vec![vec![
            ("id".to_string(), Value::Integer(7)),
            ("born".to_string(), Value::Text("2000-02-29".into())),
        ]];
        let cmd = insert(&users(), &rows).unwrap();
        let doc = cmd.get_array("documents").unwrap()[0]
            .as_document()
            .unwrap()
            .clone();
        assert_eq!(doc.get("id"), Some(&Bson::Int32(7)));
        assert!(matches!(doc.get("born"), Some(Bson::DateTime(_))));
        let too_big = vec![vec![("id".to_string(), Value::Integer(1 << 40))]];
        assert!(insert(&users(), &too_big).unwrap_err().contains("32-bit"));
    }

    #[test]
    fn filters_keep_sqls_meaning_of_null() {
        assert_eq!(
            query(&users(), &ne("email", Value::Text("a".into()))).unwrap(),
            doc! { "$and": [ { "email": { "$ne": "a" } }, { "email": { "$ne": Bson::Null } } ] }
        );
        assert_eq!(
            query(&users(), &is_null("email")).unwrap(),
            doc! { "email": Bson::Null }
        );
        let cmd = update(
            &users(),
            &[("email".into(), lower(col("email")))],
            &eq("id", Value::Integer(1)),
        )
        .unwrap();
        assert_eq!(
            cmd.get_array("updates").unwrap()[0]
                .as_document()
                .unwrap()
                .get_document("q")
                .unwrap(),
            &doc! { "id": 1 }
        );
    }
}
