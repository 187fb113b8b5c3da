//! Reading a live database back into a `SchemaSnapshot`, and what a snapshot looks like once a
//! dialect has stored it (`stored_snapshot`), so the two can be compared.
//!
//! The parsing of type names and default expressions is here as pure functions; the queries are
//! in `backend`.

use crate::dialect::Dialect;
use toasty_migrate::schema::{
    ColumnDef, ColumnType, DefaultValue, EnumType, IndexColumn, IndexOp, IndexScope, SchemaSnapshot,
};

/// Tables that are never part of an application's schema.
pub fn is_internal_table(name: &str) -> bool {
    name == crate::TRACKING_TABLE
        || name == "__toasty_migrations"
        || name == crate::ddl::REBUILD_TABLE
        || name.starts_with("sqlite_")
}

/// `snapshot` as `dialect` stores it: types it does not tell apart collapse to the one it reports,
/// index columns lose the partition/sort distinction SQL does not keep, and ascending is equality.
pub fn stored_snapshot(dialect: Dialect, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
    let mut stored = snapshot.clone();
    for table in &mut stored.tables {
        for column in &mut table.columns {
            column.ty = dialect.stored_type(&column.ty, column.auto_increment);
            column.default = column.default.take().map(|d| stored_default(&column.ty, d));
        }
        let keys = table
            .primary_key
            .iter_mut()
            .chain(table.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()));
        for key in keys {
            *key = stored_key(&key.column, key.op == IndexOp::Desc);
        }
    }
    stored
}

/// A key column as introspection reads it.
pub fn stored_key(column: &str, descending: bool) -> IndexColumn {
    IndexColumn {
        column: column.to_string(),
        op: if descending {
            IndexOp::Desc
        } else {
            IndexOp::Eq
        },
        scope: IndexScope::Partition,
    }
}

/// A default as it reads back for a column of type `ty`.
fn stored_default(ty: &ColumnType, default: DefaultValue) -> DefaultValue {
    match (ty, default) {
        (ColumnType::Float(_), DefaultValue::Integer(i)) => DefaultValue::Float(i as f64),
        (_, d) => d,
    }
}

/// Parses a default expression as the server reports it (`'a''b'::text`, `42`, `'-1'::integer`,
/// `TRUE`, `1`) for a column of type `ty`. `None` for an expression that is not a literal.
pub fn parse_default(dialect: Dialect, ty: &ColumnType, expr: &str) -> Option<DefaultValue> {
    let mut text = expr.trim();
    // PostgreSQL: `'x'::character varying`, `'-1'::integer`.
    if let Some(i) = text.rfind("::")
        && !text[i..].contains('\'')
    {
        text = &text[..i];
    }
    let text = text.trim().trim_start_matches('(').trim_end_matches(')');
    let literal = if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        Some(unquote(dialect, &text[1..text.len() - 1]))
    } else {
        None
    };
    let raw = literal.clone().unwrap_or_else(|| text.to_string());
    if raw.eq_ignore_ascii_case("null") && literal.is_none() {
        return None;
    }
    match ty {
        ColumnType::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "t" => Some(DefaultValue::Bool(true)),
            "false" | "0" | "f" => Some(DefaultValue::Bool(false)),
            _ => None,
        },
        ColumnType::Integer(_) | ColumnType::UnsignedInteger(_) => {
            raw.parse().ok().map(DefaultValue::Integer)
        }
        ColumnType::Float(_) => raw.parse().ok().map(DefaultValue::Float),
        _ => match literal {
            Some(s) => Some(DefaultValue::Text(s)),
            // MySQL 8 reports string defaults without quotes.
            None if !raw.is_empty() => Some(DefaultValue::Text(raw)),
            None => None,
        },
    }
}

/// The text of a quoted literal's body as the server wrote it: `''` is a quote everywhere;
/// MariaDB also escapes with backslashes (`\n`, `\\`, `\'`...), which PostgreSQL (standard
/// strings) and SQLite do not.
fn unquote(dialect: Dialect, body: &str) -> String {
    let body = body.replace("''", "'");
    if dialect != Dialect::Mysql {
        return body;
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('Z') => out.push('\u{1a}'),
            // `\%` and `\_` keep their backslash in MySQL.
            Some(c @ ('%' | '_')) => {
                out.push('\\');
                out.push(c);
            }
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
    }
    out
}

/// A SQLite declared type (as `CREATE TABLE` wrote it).
pub fn sqlite_type(declared: &str) -> ColumnType {
    let upper = declared.trim().to_ascii_uppercase();
    let (base, args) = split_args(&upper);
    match (base.as_str(), args.as_slice()) {
        ("BOOLEAN", []) => ColumnType::Boolean,
        ("SMALLINT", []) => ColumnType::Integer(2),
        ("INTEGER", []) => ColumnType::Integer(4),
        ("BIGINT", []) => ColumnType::Integer(8),
        ("REAL", []) => ColumnType::Float(8),
        ("TEXT", []) => ColumnType::Text,
        ("VARCHAR", [n]) => ColumnType::VarChar(*n as u64),
        ("UUID", []) => ColumnType::Uuid,
        ("NUMERIC", []) => ColumnType::Numeric(None),
        ("NUMERIC", [p, s]) => ColumnType::Numeric(Some((*p, *s))),
        ("BLOB", []) => ColumnType::Blob,
        ("BINARY", [n]) => ColumnType::Binary(*n as u8),
        ("TIMESTAMP", [p]) => ColumnType::Timestamp(*p as u8),
        ("DATE", []) => ColumnType::Date,
        ("TIME", [p]) => ColumnType::Time(*p as u8),
        ("DATETIME", [p]) => ColumnType::DateTime(*p as u8),
        ("JSON", []) => ColumnType::Json,
        _ => ColumnType::Custom(declared.trim().to_string()),
    }
}

/// The variants of the `CHECK ("col" IN ('a', 'b'))` that SQLite enum columns carry, read from
/// the table's `CREATE TABLE` text.
pub fn sqlite_enum_variants(create_sql: &str, quoted_column: &str) -> Option<Vec<String>> {
    let start =
        create_sql.find(&format!("CHECK ({quoted_column} IN ("))? + quoted_column.len() + 12;
    let mut variants = Vec::new();
    let mut chars = create_sql[start..].chars().peekable();
    loop {
        match chars.next()? {
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        '\'' => break,
                        c => value.push(c),
                    }
                }
                variants.push(value);
            }
            ',' | ' ' => {}
            ')' => return Some(variants),
            _ => return None,
        }
    }
}

/// A PostgreSQL type as `format_type` prints it (`character varying(255)`,
/// `timestamp(6) with time zone`, `text[]`). `enum_variants` looks up a user-defined type.
pub fn postgres_type(
    formatted: &str,
    enum_variants: &dyn Fn(&str) -> Option<Vec<String>>,
) -> ColumnType {
    let text = formatted.trim();
    if let Some(elem) = text.strip_suffix("[]") {
        return ColumnType::List(Box::new(postgres_type(elem, enum_variants)));
    }
    let (base, args) = split_args(text);
    let precision = |default: u8| args.first().map(|p| *p as u8).unwrap_or(default);
    match base.as_str() {
        "boolean" => ColumnType::Boolean,
        "smallint" => ColumnType::Integer(2),
        "integer" => ColumnType::Integer(4),
        "bigint" => ColumnType::Integer(8),
        "real" => ColumnType::Float(4),
        "double precision" => ColumnType::Float(8),
        "text" => ColumnType::Text,
        "character varying" if args.len() == 1 => ColumnType::VarChar(args[0] as u64),
        "uuid" => ColumnType::Uuid,
        "numeric" if args.is_empty() => ColumnType::Numeric(None),
        "numeric" if args.len() == 2 => ColumnType::Numeric(Some((args[0], args[1]))),
        "bytea" => ColumnType::Blob,
        "timestamp with time zone" => ColumnType::Timestamp(precision(6)),
        "timestamp without time zone" => ColumnType::DateTime(precision(6)),
        "time without time zone" => ColumnType::Time(precision(6)),
        "date" => ColumnType::Date,
        "cidr" => ColumnType::Cidr,
        "inet" => ColumnType::Inet,
        "macaddr" => ColumnType::MacAddr,
        "macaddr8" => ColumnType::MacAddr8,
        "json" => ColumnType::Json,
        "jsonb" => ColumnType::Jsonb,
        other => {
            let name = other.trim_matches('"').replace("\"\"", "\"");
            match enum_variants(&name) {
                Some(variants) => ColumnType::Enum(EnumType {
                    name: Some(name),
                    variants,
                }),
                None => ColumnType::Custom(text.to_string()),
            }
        }
    }
}

/// A MySQL/MariaDB `COLUMN_TYPE` (`bigint(20) unsigned`, `varchar(255)`, `enum('a','b')`).
pub fn mysql_type(column_type: &str) -> ColumnType {
    let lower = column_type.trim().to_ascii_lowercase();
    if lower.starts_with("enum(") {
        let inner = &column_type.trim()[5..column_type.trim().len() - 1];
        // Reuse the SQLite CHECK reader: it reads a list of quoted strings up to `)`.
        let variants =
            sqlite_enum_variants(&format!("CHECK (x IN ({inner}))"), "x").unwrap_or_default();
        return ColumnType::Enum(EnumType {
            name: None,
            variants,
        });
    }
    let unsigned = lower.ends_with(" unsigned");
    let lower = lower.trim_end_matches(" unsigned");
    let (base, args) = split_args(lower);
    let int = |w: u8| {
        if unsigned {
            ColumnType::UnsignedInteger(w)
        } else {
            ColumnType::Integer(w)
        }
    };
    match (base.as_str(), args.as_slice()) {
        ("tinyint", [1]) if !unsigned => ColumnType::Boolean,
        ("tinyint", _) => int(1),
        ("smallint", _) => int(2),
        ("int", _) => int(4),
        ("bigint", _) => int(8),
        ("float", _) => ColumnType::Float(4),
        ("double", _) => ColumnType::Float(8),
        ("text", []) => ColumnType::Text,
        ("varchar", [n]) => ColumnType::VarChar(*n as u64),
        ("uuid", []) => ColumnType::Uuid,
        ("decimal", [p, s]) => ColumnType::Numeric(Some((*p, *s))),
        ("blob", []) => ColumnType::Blob,
        ("binary", [n]) => ColumnType::Binary(*n as u8),
        ("timestamp", [p]) => ColumnType::Timestamp(*p as u8),
        ("timestamp", []) => ColumnType::Timestamp(0),
        ("date", []) => ColumnType::Date,
        ("time", [p]) => ColumnType::Time(*p as u8),
        ("time", []) => ColumnType::Time(0),
        ("datetime", [p]) => ColumnType::DateTime(*p as u8),
        ("datetime", []) => ColumnType::DateTime(0),
        // MariaDB's JSON is LONGTEXT with a json_valid check; nothing else here makes LONGTEXT.
        ("json" | "longtext", []) => ColumnType::Json,
        _ => ColumnType::Custom(column_type.trim().to_string()),
    }
}

/// `name(1, 2)` -> (`name`, [1, 2]); `timestamp(6) with time zone` -> (`timestamp with time zone`, [6]).
fn split_args(text: &str) -> (String, Vec<u32>) {
    let parsed = text.find('(').and_then(|open| {
        let close = text[open..].find(')')? + open;
        let args: Option<Vec<u32>> = text[open + 1..close]
            .split(',')
            .map(|a| a.trim().parse().ok())
            .collect();
        let base = text[..open].trim_end();
        let rest = text[close + 1..].trim();
        let name = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base} {rest}")
        };
        Some((name, args?))
    });
    parsed.unwrap_or_else(|| (text.to_string(), Vec::new()))
}

/// A column read from the database.
pub fn column(
    dialect: Dialect,
    name: String,
    ty: ColumnType,
    nullable: bool,
    default: Option<&str>,
    auto_increment: bool,
) -> ColumnDef {
    let default = default.and_then(|d| parse_default(dialect, &ty, d));
    ColumnDef {
        name,
        ty,
        nullable,
        default,
        auto_increment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_back() {
        let none = |_: &str| None;
        assert_eq!(
            postgres_type("character varying(255)", &none),
            ColumnType::VarChar(255)
        );
        assert_eq!(
            postgres_type("timestamp(3) with time zone", &none),
            ColumnType::Timestamp(3)
        );
        assert_eq!(
            postgres_type("timestamp with time zone", &none),
            ColumnType::Timestamp(6)
        );
        assert_eq!(
            postgres_type("numeric(10,2)", &none),
            ColumnType::Numeric(Some((10, 2)))
        );
        assert_eq!(
            postgres_type("text[]", &none),
            ColumnType::List(Box::new(ColumnType::Text))
        );
        assert_eq!(
            mysql_type("bigint(20) unsigned"),
            ColumnType::UnsignedInteger(8)
        );
        assert_eq!(mysql_type("tinyint(1)"), ColumnType::Boolean);
        assert_eq!(
            mysql_type("enum('a','it''s')"),
            ColumnType::Enum(EnumType {
                name: None,
                variants: vec!["a".into(), "it's".into()]
            })
        );
        assert_eq!(
            sqlite_type("NUMERIC(10, 2)"),
            ColumnType::Numeric(Some((10, 2)))
        );
    }

    #[test]
    fn defaults_read_back() {
        assert_eq!(
            parse_default(Dialect::Postgres, &ColumnType::Text, "'it''s'::text"),
            Some(DefaultValue::Text("it's".into()))
        );
        assert_eq!(
            parse_default(Dialect::Postgres, &ColumnType::Integer(4), "'-5'::integer"),
            Some(DefaultValue::Integer(-5))
        );
        assert_eq!(
            parse_default(Dialect::Mysql, &ColumnType::Boolean, "1"),
            Some(DefaultValue::Bool(true))
        );
        assert_eq!(
            parse_default(Dialect::Mysql, &ColumnType::Text, "NULL"),
            None
        );
        assert_eq!(
            parse_default(Dialect::Sqlite, &ColumnType::Float(8), "1e300"),
            Some(DefaultValue::Float(1e300))
        );
        // MariaDB escapes a newline and a backslash; PostgreSQL and SQLite keep both as written.
        assert_eq!(
            parse_default(Dialect::Mysql, &ColumnType::Text, "'a\\nb\tc\\'d\\\\e'"),
            Some(DefaultValue::Text("a\nb\tc'd\\e".into()))
        );
        assert_eq!(
            parse_default(Dialect::Postgres, &ColumnType::Text, "'a\\\\b\nc'::text"),
            Some(DefaultValue::Text("a\\\\b\nc".into()))
        );
    }
}
