//! Portable column types: one variant for every storage type a Toasty database schema can carry
//! (`toasty_core::schema::db::Type`), and the rule that says which type changes can lose data.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A column's storage type, independent of any database. Each backend maps it to its own types.
///
/// In snapshot JSON a type is `{"kind": "...", "args": ...}`: `{"kind": "text"}`,
/// `{"kind": "integer", "args": 8}`, `{"kind": "numeric", "args": [10, 2]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "args", rename_all = "snake_case")]
pub enum ColumnType {
    Boolean,
    /// Signed integer of the given width in bytes (1, 2, 4 or 8).
    Integer(u8),
    /// Unsigned integer of the given width in bytes (1, 2, 4 or 8).
    UnsignedInteger(u8),
    /// Floating point number of the given width in bytes (4 or 8).
    Float(u8),
    /// Unbounded text.
    Text,
    /// Text of at most the given number of characters.
    #[serde(rename = "varchar")]
    VarChar(u64),
    Uuid,
    /// Exact decimal: `Some((precision, scale))`, or `None` for arbitrary precision.
    Numeric(Option<(u32, u32)>),
    /// Unbounded bytes.
    Blob,
    /// Fixed-size bytes.
    Binary(u8),
    /// Instant in time with the given fractional-second precision.
    Timestamp(u8),
    Date,
    /// Time of day with the given fractional-second precision.
    Time(u8),
    /// Date and time without zone, with the given fractional-second precision.
    DateTime(u8),
    Cidr,
    Inet,
    MacAddr,
    MacAddr8,
    Enum(EnumType),
    List(Box<ColumnType>),
    /// A structured document (an embedded model); `binary` is jsonb-like storage where offered.
    Document {
        binary: bool,
    },
    Json,
    Jsonb,
    /// A database-specific type name, passed through as written.
    Custom(String),
}

/// An enumerated type: its name (where the database names enum types) and its variants in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumType {
    pub name: Option<String>,
    pub variants: Vec<String>,
}

impl ColumnType {
    /// Checks the type's parameters, returning a message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ColumnType::Integer(w) | ColumnType::UnsignedInteger(w) if !matches!(w, 1..=8) => {
                Err(format!("integer width {w} is not between 1 and 8 bytes"))
            }
            ColumnType::Float(w) if !matches!(w, 4 | 8) => {
                Err(format!("float width {w} is neither 4 nor 8 bytes"))
            }
            ColumnType::VarChar(0) => Err("varchar length must be at least 1".into()),
            ColumnType::Binary(0) => Err("binary length must be at least 1".into()),
            ColumnType::Numeric(Some((p, s))) if *p == 0 || s > p => Err(format!(
                "numeric({p},{s}) needs 1 <= precision and scale <= precision"
            )),
            ColumnType::Timestamp(p) | ColumnType::Time(p) | ColumnType::DateTime(p) if *p > 9 => {
                Err(format!("fractional-second precision {p} is above 9"))
            }
            ColumnType::Enum(e) => {
                if e.variants.is_empty() {
                    return Err("enum has no variants".into());
                }
                let mut seen = std::collections::HashSet::new();
                for v in &e.variants {
                    if !seen.insert(v) {
                        return Err(format!("enum variant {v:?} appears twice"));
                    }
                }
                Ok(())
            }
            ColumnType::List(_) if self.list_depth() > MAX_LIST_NESTING => Err(format!(
                "list types are nested {} deep; at most {MAX_LIST_NESTING} are allowed",
                self.list_depth()
            )),
            ColumnType::List(elem) => elem.validate(),
            ColumnType::Custom(name) => check_custom_type(name).map_err(|why| {
                format!(
                    "custom type {name:?} is not a type name: {why} \
                     (allowed: words such as `double precision` or `public.citext`, one `(..)` \
                     of numbers, words or 'quoted' literals, and `[]` suffixes)"
                )
            }),
            _ => Ok(()),
        }
    }

    /// How many `List`s are nested at the top of this type (0 for a non-list).
    fn list_depth(&self) -> usize {
        let mut depth = 0;
        let mut ty = self;
        while let ColumnType::List(elem) = ty {
            depth += 1;
            ty = elem;
        }
        depth
    }

    /// True when every value a column of type `self` can hold is also a value of `to`, so
    /// converting the column loses nothing. Anything else counts as narrowing.
    pub fn widens_to(&self, to: &ColumnType) -> bool {
        use ColumnType::*;
        match (self, to) {
            _ if self == to => true,
            (Integer(a), Integer(b)) => a <= b,
            (UnsignedInteger(a), UnsignedInteger(b)) => a <= b,
            // An unsigned integer fits a signed one that is strictly wider.
            (UnsignedInteger(a), Integer(b)) => a < b,
            (Float(a), Float(b)) => a <= b,
            // Integers of up to 24 (f32) or 53 (f64) bits are exact in a float.
            (Integer(a) | UnsignedInteger(a), Float(b)) => {
                (*a <= 2 && *b >= 4) || (*a <= 4 && *b == 8)
            }
            (Integer(_) | UnsignedInteger(_), Numeric(None)) => true,
            (Integer(w) | UnsignedInteger(w), Numeric(Some((p, s)))) => p - s >= integer_digits(*w),
            (Numeric(Some(_)), Numeric(None)) => true,
            (Numeric(Some((p1, s1))), Numeric(Some((p2, s2)))) => s2 >= s1 && p2 - s2 >= p1 - s1,
            (VarChar(a), VarChar(b)) => a <= b,
            (VarChar(_) | Enum(_) | Uuid | Boolean, Text) => true,
            (Enum(a), Enum(b)) => a.variants.iter().all(|v| b.variants.contains(v)),
            (Binary(a), Binary(b)) => a <= b,
            (Binary(_), Blob) => true,
            (Timestamp(a), Timestamp(b)) | (Time(a), Time(b)) | (DateTime(a), DateTime(b)) => {
                a <= b
            }
            (Json, Jsonb) | (Jsonb, Json) => true,
            (Json | Jsonb | Document { .. }, Text) => true,
            (Document { .. }, Document { .. }) => true,
            (List(a), List(b)) => a.widens_to(b),
            _ => false,
        }
    }
}

/// How deep `List` types may nest. Deeper nesting is no real schema, and every reader of types
/// (snapshot loader, migration-file parser, the generator's output) recurses once per level.
pub const MAX_LIST_NESTING: usize = 16;

/// Checks that a custom type name is a type name and nothing else, since it is written into DDL
/// as it is (a type cannot be quoted as an identifier can). The grammar: words of identifier
/// characters separated by one space or a dot (`double precision`, `public.citext`), at most one
/// parenthesised list of numbers, words or single-quoted literals without backslashes
/// (`numeric(10, 2)`, `geometry(point, 4326)`, `set('a', 'b')`), and `[]` or `[N]` suffixes.
fn check_custom_type(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 200 {
        return Err("it is longer than 200 bytes".into());
    }
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    let is_word_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let at = |i: usize, what: &str| format!("{what} at character {}", i + 1);
    let mut seen_args = false;
    // Words, separated by one space or a dot, with an optional argument list after any word.
    loop {
        if !chars.get(i).is_some_and(|&c| is_word_start(c)) {
            return Err(at(i, "expected a word"));
        }
        while chars.get(i).is_some_and(|&c| is_word(c)) {
            i += 1;
        }
        if chars.get(i) == Some(&'(') {
            if seen_args {
                return Err(at(i, "a second argument list"));
            }
            seen_args = true;
            i = custom_type_args(&chars, i + 1)?;
        }
        match chars.get(i) {
            Some(' ' | '.') if chars.get(i + 1).is_some_and(|&c| is_word_start(c)) => i += 1,
            _ => break,
        }
    }
    // Array suffixes.
    while chars.get(i) == Some(&'[') {
        i += 1;
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        if chars.get(i) != Some(&']') {
            return Err(at(i, "expected `]`"));
        }
        i += 1;
    }
    match chars.get(i) {
        None => Ok(()),
        Some(c) => Err(at(i, &format!("unexpected {c:?}"))),
    }
}

/// The arguments after a type name's `(`, from `i`; returns the position after the `)`.
fn custom_type_args(chars: &[char], mut i: usize) -> Result<usize, String> {
    let at = |i: usize, what: &str| format!("{what} at character {}", i + 1);
    let skip_spaces = |mut i: usize| {
        while chars.get(i) == Some(&' ') {
            i += 1;
        }
        i
    };
    loop {
        i = skip_spaces(i);
        match chars.get(i) {
            Some(c) if c.is_ascii_alphanumeric() || *c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
            }
            Some('\'') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                        Some('\'') => break,
                        Some('\\') => return Err(at(i, "a backslash in a literal")),
                        Some(c) if c.is_control() => {
                            return Err(at(i, "a control character in a literal"));
                        }
                        Some(_) => i += 1,
                        None => return Err("an unterminated literal".into()),
                    }
                }
                i += 1;
            }
            _ => return Err(at(i, "expected a number, a word or a 'literal'")),
        }
        i = skip_spaces(i);
        match chars.get(i) {
            Some(',') => i += 1,
            Some(')') => return Ok(i + 1),
            _ => return Err(at(i, "expected `,` or `)`")),
        }
    }
}

/// Decimal digits needed for every value of an integer `width` bytes wide.
fn integer_digits(width: u8) -> u32 {
    match width {
        1 => 3,
        2 => 5,
        3 | 4 => 10,
        _ => 20,
    }
}

/// Lenient spelling for hand-written migrations, as in `ty: "String".into()`: Rust type names
/// (`String`, `i64`, `u32`, `f64`, `bool`, `Uuid`, `Vec<u8>`) and the usual SQL names (`text`,
/// `varchar(255)`, `bigint`, ...). Any other name is kept as a [`ColumnType::Custom`] type.
impl From<&str> for ColumnType {
    fn from(name: &str) -> Self {
        let trimmed = name.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (base, arg) = match lower.split_once('(') {
            Some((base, rest)) => (base.trim(), rest.strip_suffix(')').map(str::trim)),
            None => (lower.as_str(), None),
        };
        let num = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
        match (base, arg) {
            ("string" | "text", None) => ColumnType::Text,
            ("bool" | "boolean", None) => ColumnType::Boolean,
            ("i8" | "tinyint", None) => ColumnType::Integer(1),
            ("i16" | "smallint", None) => ColumnType::Integer(2),
            ("i32" | "int" | "integer", None) => ColumnType::Integer(4),
            ("i64" | "bigint", None) => ColumnType::Integer(8),
            ("u8", None) => ColumnType::UnsignedInteger(1),
            ("u16", None) => ColumnType::UnsignedInteger(2),
            ("u32", None) => ColumnType::UnsignedInteger(4),
            ("u64", None) => ColumnType::UnsignedInteger(8),
            ("f32" | "real", None) => ColumnType::Float(4),
            ("f64" | "double", None) => ColumnType::Float(8),
            ("uuid", None) => ColumnType::Uuid,
            ("vec<u8>" | "bytes" | "blob", None) => ColumnType::Blob,
            ("date", None) => ColumnType::Date,
            ("json", None) => ColumnType::Json,
            ("jsonb", None) => ColumnType::Jsonb,
            ("numeric" | "decimal", None) => ColumnType::Numeric(None),
            ("varchar", Some(n)) => match num(Some(n)) {
                Some(n) => ColumnType::VarChar(n),
                None => ColumnType::Custom(trimmed.to_string()),
            },
            _ => ColumnType::Custom(trimmed.to_string()),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ColumnType::*;
        match self {
            Boolean => f.write_str("boolean"),
            Integer(w) => write!(f, "integer({w})"),
            UnsignedInteger(w) => write!(f, "unsigned integer({w})"),
            Float(w) => write!(f, "float({w})"),
            Text => f.write_str("text"),
            VarChar(n) => write!(f, "varchar({n})"),
            Uuid => f.write_str("uuid"),
            Numeric(None) => f.write_str("numeric"),
            Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            Blob => f.write_str("blob"),
            Binary(n) => write!(f, "binary({n})"),
            Timestamp(p) => write!(f, "timestamp({p})"),
            Date => f.write_str("date"),
            Time(p) => write!(f, "time({p})"),
            DateTime(p) => write!(f, "datetime({p})"),
            Cidr => f.write_str("cidr"),
            Inet => f.write_str("inet"),
            MacAddr => f.write_str("macaddr"),
            MacAddr8 => f.write_str("macaddr8"),
            Enum(e) => write!(f, "enum({})", e.variants.join("|")),
            List(elem) => write!(f, "list<{elem}>"),
            Document { binary: false } => f.write_str("document"),
            Document { binary: true } => f.write_str("document(binary)"),
            Json => f.write_str("json"),
            Jsonb => f.write_str("jsonb"),
            Custom(name) => write!(f, "custom({name})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ColumnType::*;
    use super::*;

    #[test]
    fn widening_and_narrowing() {
        assert!(Integer(4).widens_to(&Integer(8)));
        assert!(!Integer(8).widens_to(&Integer(4)));
        assert!(
            !Integer(4).widens_to(&UnsignedInteger(8)),
            "negative values are lost"
        );
        assert!(UnsignedInteger(4).widens_to(&Integer(8)));
        assert!(!UnsignedInteger(4).widens_to(&Integer(4)));
        assert!(VarChar(10).widens_to(&VarChar(255)));
        assert!(!VarChar(255).widens_to(&VarChar(10)));
        assert!(VarChar(255).widens_to(&Text));
        assert!(!Text.widens_to(&VarChar(255)));
        assert!(!Text.widens_to(&Integer(8)));
        assert!(Integer(4).widens_to(&Numeric(Some((10, 0)))));
        assert!(!Integer(8).widens_to(&Numeric(Some((10, 0)))));
        assert!(Numeric(Some((10, 2))).widens_to(&Numeric(Some((12, 2)))));
        assert!(!Numeric(Some((10, 2))).widens_to(&Numeric(Some((10, 3)))));
        assert!(Timestamp(3).widens_to(&Timestamp(6)));
        assert!(!Timestamp(6).widens_to(&Timestamp(0)));
        let ab = Enum(EnumType {
            name: None,
            variants: vec!["a".into(), "b".into()],
        });
        let a = Enum(EnumType {
            name: None,
            variants: vec!["a".into()],
        });
        assert!(a.widens_to(&ab));
        assert!(!ab.widens_to(&a));
        assert!(List(Box::new(Integer(2))).widens_to(&List(Box::new(Integer(4)))));
    }

    #[test]
    fn lenient_names() {
        assert_eq!(ColumnType::from("String"), Text);
        assert_eq!(ColumnType::from("i64"), Integer(8));
        assert_eq!(ColumnType::from("VARCHAR(255)"), VarChar(255));
        assert_eq!(ColumnType::from("citext"), Custom("citext".into()));
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(Integer(16).validate().unwrap_err().contains("16"));
        assert!(Float(2).validate().is_err());
        assert!(Numeric(Some((2, 3))).validate().is_err());
        assert!(Integer(8).validate().is_ok());
    }

    #[test]
    fn custom_types_are_type_names_and_nothing_else() {
        for ok in [
            "citext",
            "double precision",
            "public.citext",
            "character varying(10)",
            "numeric(10, 2)",
            "timestamp(3) with time zone",
            "set('a', 'b''c')",
            "int[]",
            "text[3][]",
            "geometry(point,4326)",
        ] {
            assert_eq!(Custom(ok.into()).validate(), Ok(()), "{ok}");
        }
        for bad in [
            "",
            " text",
            "text ",
            "text); DROP TABLE victim; CREATE TABLE pwned (a int",
            "text -- comment",
            "text/* */",
            "int(1)(2)",
            "enum('a\\', 'b')",
            "enum('a",
            "text;",
            "text\nnot null",
            "a  b",
            "1abc",
            "int[",
            "varchar(\"x\")",
        ] {
            let err = Custom(bad.into()).validate().unwrap_err();
            assert!(err.contains("is not a type name"), "{bad}: {err}");
        }
    }

    #[test]
    fn list_nesting_is_bounded() {
        let mut ty = Integer(4);
        for _ in 0..MAX_LIST_NESTING {
            ty = List(Box::new(ty));
        }
        assert_eq!(ty.validate(), Ok(()));
        let err = List(Box::new(ty)).validate().unwrap_err();
        assert!(err.contains("nested 17 deep"), "{err}");
    }
}
