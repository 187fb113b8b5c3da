//! What differs between SQL dialects at the level of single tokens: identifier quoting, literals,
//! type names (following toasty-sql 0.11's serializer, so that our tables are Toasty's tables),
//! and what each server reports back for a type.

use toasty_migrate::schema::{ColumnDef, ColumnType, DefaultValue, EnumType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

/// A message for an identifier or type this dialect cannot express.
pub type DialectError = String;

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mysql => "MySQL",
        }
    }

    /// Refuses a name this server would reject or, worse, silently change: PostgreSQL cuts names
    /// to 63 bytes (so a longer table is created under another name); MySQL allows 64
    /// characters, only from Unicode's Basic Multilingual Plane, and no trailing space. The
    /// message completes "name ...".
    pub fn check_name(self, name: &str) -> Result<(), DialectError> {
        if name.is_empty() {
            return Err("is empty".into());
        }
        if name.contains('\0') {
            return Err("contains a NUL character".into());
        }
        match self {
            Dialect::Postgres if name.len() > 63 => Err(format!(
                "is {} bytes long; PostgreSQL allows at most 63 and would silently cut it",
                name.len()
            )),
            Dialect::Mysql if name.chars().count() > 64 => Err(format!(
                "is {} characters long; MySQL allows at most 64",
                name.chars().count()
            )),
            Dialect::Mysql if name.ends_with(' ') => {
                Err("ends with a space, which MySQL does not allow".into())
            }
            Dialect::Mysql => match name.chars().find(|&c| c > '\u{FFFF}') {
                Some(c) => Err(format!(
                    "contains {c:?} (U+{:X}), outside the Basic Multilingual Plane that MySQL \
                     identifiers are limited to",
                    c as u32
                )),
                None => Ok(()),
            },
            Dialect::Sqlite | Dialect::Postgres => Ok(()),
        }
    }

    /// `name` quoted as an identifier: `"a""b"` (SQLite, PostgreSQL) or `` `a``b` `` (MySQL).
    pub fn ident(self, name: &str) -> Result<String, DialectError> {
        self.check_name(name)
            .map_err(|why| format!("identifier {name:?} {why}"))?;
        Ok(match self {
            Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        })
    }

    /// A string literal. Only DDL needs this (a `DEFAULT` cannot be a bound parameter); every
    /// value in a query is bound.
    pub fn string_literal(self, value: &str) -> String {
        let escaped = value.replace('\'', "''");
        match self {
            // MySQL treats a backslash as an escape character inside literals by default.
            Dialect::Mysql => format!("'{}'", escaped.replace('\\', "\\\\")),
            Dialect::Sqlite | Dialect::Postgres => format!("'{escaped}'"),
        }
    }

    pub fn default_literal(self, value: &DefaultValue) -> String {
        match value {
            DefaultValue::Bool(true) => "TRUE".into(),
            DefaultValue::Bool(false) => "FALSE".into(),
            DefaultValue::Integer(i) => i.to_string(),
            DefaultValue::Float(f) => format!("{f:?}"),
            DefaultValue::Text(s) => self.string_literal(s),
        }
    }

    /// The column type's SQL. `auto_increment` matters on SQLite, where only `INTEGER PRIMARY
    /// KEY` can autoincrement.
    pub fn column_type(
        self,
        ty: &ColumnType,
        auto_increment: bool,
    ) -> Result<String, DialectError> {
        use ColumnType::*;
        use Dialect::*;
        let unsupported = || Err(format!("type {ty} is not supported on {}", self.name()));
        Ok(match (self, ty) {
            (Sqlite, _) if auto_increment => "INTEGER".into(),
            (_, Boolean) => "BOOLEAN".into(),
            (_, Integer(1..=2)) => "SMALLINT".into(),
            (_, Integer(3..=4)) => "INTEGER".into(),
            (_, Integer(_)) => "BIGINT".into(),
            (Mysql, UnsignedInteger(1)) => "TINYINT UNSIGNED".into(),
            (Mysql, UnsignedInteger(2)) => "SMALLINT UNSIGNED".into(),
            (Mysql, UnsignedInteger(3..=4)) => "INT UNSIGNED".into(),
            (Mysql, UnsignedInteger(_)) => "BIGINT UNSIGNED".into(),
            (Postgres, UnsignedInteger(1)) => "SMALLINT".into(),
            (Postgres, UnsignedInteger(2)) => "INTEGER".into(),
            (Postgres, UnsignedInteger(_)) => "BIGINT".into(),
            (Sqlite, UnsignedInteger(_)) => "INTEGER".into(),
            (Sqlite, Float(_)) => "REAL".into(),
            (Postgres, Float(4)) => "REAL".into(),
            (Postgres, Float(_)) => "DOUBLE PRECISION".into(),
            (Mysql, Float(4)) => "FLOAT".into(),
            (Mysql, Float(_)) => "DOUBLE".into(),
            (_, Text) => "TEXT".into(),
            (_, VarChar(n)) => format!("VARCHAR({n})"),
            (Postgres | Sqlite, Uuid) => "UUID".into(),
            (Mysql, Uuid) => "UUID".into(),
            (Postgres | Sqlite, Numeric(None)) => "NUMERIC".into(),
            (Mysql, Numeric(None)) => {
                return Err(
                    "MySQL has no arbitrary-precision NUMERIC; give a precision and scale".into(),
                );
            }
            (Postgres | Sqlite, Numeric(Some((p, s)))) => format!("NUMERIC({p}, {s})"),
            (Mysql, Numeric(Some((p, s)))) => format!("DECIMAL({p}, {s})"),
            (Postgres, Blob | Binary(_)) => "BYTEA".into(),
            (Mysql | Sqlite, Blob) => "BLOB".into(),
            (Mysql | Sqlite, Binary(n)) => format!("BINARY({n})"),
            (Postgres, Timestamp(p)) => format!("TIMESTAMPTZ({p})"),
            (Mysql | Sqlite, Timestamp(p)) => format!("TIMESTAMP({p})"),
            (_, Date) => "DATE".into(),
            (_, Time(p)) => format!("TIME({p})"),
            (Postgres, DateTime(p)) => format!("TIMESTAMP({p})"),
            (Mysql | Sqlite, DateTime(p)) => format!("DATETIME({p})"),
            (Postgres, Cidr) => "CIDR".into(),
            (Postgres, Inet) => "INET".into(),
            (Postgres, MacAddr) => "MACADDR".into(),
            (Postgres, MacAddr8) => "MACADDR8".into(),
            (Mysql | Sqlite, Cidr | Inet | MacAddr | MacAddr8) => return unsupported(),
            (
                Postgres,
                Enum(EnumType {
                    name: Some(name), ..
                }),
            ) => self.ident(name)?,
            (Postgres, Enum(EnumType { name: None, .. })) => {
                return Err("PostgreSQL enum columns need a type name".into());
            }
            (Mysql, Enum(e)) => {
                let variants: Vec<String> =
                    e.variants.iter().map(|v| self.string_literal(v)).collect();
                format!("ENUM({})", variants.join(", "))
            }
            // SQLite stores an enum as TEXT restricted by a CHECK constraint (see `ddl`).
            (Sqlite, Enum(_)) => "TEXT".into(),
            (Postgres, List(elem)) => format!("{}[]", self.column_type(elem, false)?),
            (Mysql, List(_)) => "JSON".into(),
            (Sqlite, List(_)) => "TEXT".into(),
            (Postgres, Document { binary: true }) => "JSONB".into(),
            (Postgres, Document { binary: false }) => "JSON".into(),
            (Mysql, Document { .. }) => "JSON".into(),
            (Sqlite, Document { .. }) => "TEXT".into(),
            (Postgres | Mysql, Json) => "JSON".into(),
            (Sqlite, Json) => "JSON".into(),
            (Postgres, Jsonb) => "JSONB".into(),
            (Mysql | Sqlite, Jsonb) => return unsupported(),
            (_, Custom(name)) => name.clone(),
        })
    }

    /// The value an existing row gets when a NOT NULL column without a default is added (or a
    /// nullable column becomes NOT NULL): the type's zero, as a value a data step binds (on
    /// PostgreSQL through a cast to the column's type). It is temporary: no default is left.
    pub fn fill_value(self, ty: &ColumnType) -> DefaultValue {
        use ColumnType::*;
        let text = |s: &str| DefaultValue::Text(s.into());
        match ty {
            Boolean => DefaultValue::Bool(false),
            Integer(_) | UnsignedInteger(_) | Float(_) | Numeric(_) => DefaultValue::Integer(0),
            Text | VarChar(_) | Custom(_) | Blob | Binary(_) => text(""),
            Uuid => text("00000000-0000-0000-0000-000000000000"),
            Timestamp(_) | DateTime(_) => text("1970-01-01 00:00:00"),
            Date => text("1970-01-01"),
            Time(_) => text("00:00:00"),
            Cidr | Inet => text("0.0.0.0/0"),
            MacAddr => text("00:00:00:00:00:00"),
            MacAddr8 => text("00:00:00:00:00:00:00:00"),
            Enum(e) => text(&e.variants[0]),
            List(_) => text(if self == Dialect::Postgres {
                "{}"
            } else {
                "[]"
            }),
            Document { .. } | Json | Jsonb => text("{}"),
        }
    }

    /// [`fill_value`](Self::fill_value) as a literal, for DDL (bytes as a byte literal).
    pub fn fill_literal(self, ty: &ColumnType) -> String {
        match (self, ty) {
            (Dialect::Postgres, ColumnType::Blob | ColumnType::Binary(_)) => "'\\x'::bytea".into(),
            (_, ColumnType::Blob | ColumnType::Binary(_)) => "X''".into(),
            _ => self.default_literal(&self.fill_value(ty)),
        }
    }

    /// What the rows of `column` hold where they had nothing (NULL, or no such column yet) once
    /// it is NOT NULL, as a literal: its default, else its type's zero.
    pub fn fill_literal_for(self, column: &ColumnDef) -> String {
        match &column.default {
            Some(default) => self.default_literal(default),
            None => self.fill_literal(&column.ty),
        }
    }

    /// The type as this server reports it back: types the dialect stores alike read back as one.
    /// Introspection of a column created with `ty` equals this, which is what tests compare.
    pub fn stored_type(self, ty: &ColumnType, auto_increment: bool) -> ColumnType {
        use ColumnType::*;
        use Dialect::*;
        match (self, ty) {
            (Sqlite, _) if auto_increment => Integer(4),
            (_, Integer(1..=2)) => Integer(2),
            (_, Integer(3..=4)) => Integer(4),
            (_, Integer(_)) => Integer(8),
            (Mysql, UnsignedInteger(3..=4)) => UnsignedInteger(4),
            (Mysql, UnsignedInteger(5..=8)) => UnsignedInteger(8),
            (Postgres, UnsignedInteger(1)) => Integer(2),
            (Postgres, UnsignedInteger(2)) => Integer(4),
            (Postgres, UnsignedInteger(_)) => Integer(8),
            (Sqlite, UnsignedInteger(_)) => Integer(4),
            (Sqlite, Float(_)) => Float(8),
            (Postgres, Binary(_)) => Blob,
            (Mysql, Enum(e)) => Enum(EnumType {
                name: None,
                variants: e.variants.clone(),
            }),
            (Sqlite, Enum(e)) => Enum(EnumType {
                name: None,
                variants: e.variants.clone(),
            }),
            (Postgres, List(elem)) => List(Box::new(self.stored_type(elem, false))),
            (Mysql, List(_) | Document { .. }) => Json,
            (Sqlite, List(_) | Document { .. }) => Text,
            (Postgres, Document { binary: true }) => Jsonb,
            (Postgres, Document { binary: false }) => Json,
            (_, other) => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect::*;

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        assert_eq!(Postgres.ident("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(
            Sqlite.ident("x; DROP TABLE y").unwrap(),
            "\"x; DROP TABLE y\""
        );
        assert_eq!(Mysql.ident("a`b").unwrap(), "`a``b`");
        assert!(Postgres.ident("a\0b").is_err());
        assert!(Mysql.ident("").is_err());
    }

    #[test]
    fn names_the_server_would_cut_or_refuse_are_refused() {
        let n63 = "a".repeat(63);
        assert!(Postgres.check_name(&n63).is_ok());
        let err = Postgres.check_name(&format!("{n63}b")).unwrap_err();
        assert!(
            err.contains("64 bytes long; PostgreSQL allows at most 63"),
            "{err}"
        );
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        assert!(Postgres.check_name(&"é".repeat(32)).is_err());
        assert!(Mysql.check_name(&"é".repeat(64)).is_ok());
        assert!(Mysql.check_name(&"a".repeat(65)).is_err());
        assert!(
            Mysql
                .check_name("name ")
                .unwrap_err()
                .contains("ends with a space")
        );
        assert!(Mysql.check_name("emoji😀").unwrap_err().contains("U+1F600"));
        assert!(Sqlite.check_name(&"a".repeat(1000)).is_ok());
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(Postgres.string_literal("it's"), "'it''s'");
        assert_eq!(Mysql.string_literal("a\\'b"), "'a\\\\''b'");
    }
}
