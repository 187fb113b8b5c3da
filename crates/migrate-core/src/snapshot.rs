//! `SchemaSnapshot`: the database schema as data, saved as deterministic JSON in
//! `migrations/.schema.json`, and the checks every loaded snapshot passes.

use crate::types::ColumnType;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The snapshot file format this version reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole database schema: every table with its columns, primary key and indexes.
///
/// Tables and indexes are kept sorted by name when saved; columns keep their declared order
/// (which is the order `CREATE TABLE` lists them in) but column order is not a schema change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSnapshot {
    pub format_version: u32,
    pub tables: Vec<TableSnapshot>,
}

/// One table of a [`SchemaSnapshot`]: its definition and its secondary indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSnapshot {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key columns in key order. On DynamoDB each says whether it is the partition or
    /// the sort key.
    pub primary_key: Vec<IndexColumn>,
    pub indexes: Vec<IndexDef>,
}

/// A table without its secondary indexes: what `create_table` creates. Indexes are always
/// separate `create_index` operations, so that every index is created, dropped and reverted the
/// same way whether or not its table is new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Vec<IndexColumn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// Value given to rows that do not set the column (and to existing rows when it is added).
    pub default: Option<DefaultValue>,
    pub auto_increment: bool,
}

/// A literal column default. Defaults are values, never backend expressions, so that every
/// backend (SQL and NoSQL) can apply them and bind them as parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultValue::Bool(b) => write!(f, "{b}"),
            DefaultValue::Integer(i) => write!(f, "{i}"),
            DefaultValue::Float(x) => write!(f, "{x:?}"),
            DefaultValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<IndexColumn>,
    pub unique: bool,
}

/// A column of a key or index, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexColumn {
    pub column: String,
    pub op: IndexOp,
    pub scope: IndexScope,
}

/// How a key column is compared: by equality only (a hash key), or sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexOp {
    Eq,
    Asc,
    Desc,
}

/// Whether a key column partitions the data (DynamoDB's HASH key) or orders it within a
/// partition (DynamoDB's RANGE key). SQL backends treat both alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexScope {
    Partition,
    Local,
}

impl Default for SchemaSnapshot {
    fn default() -> Self {
        SchemaSnapshot {
            format_version: FORMAT_VERSION,
            tables: Vec::new(),
        }
    }
}

impl SchemaSnapshot {
    /// A snapshot of these tables, in canonical order.
    pub fn new(tables: Vec<TableSnapshot>) -> Self {
        let mut snapshot = SchemaSnapshot {
            format_version: FORMAT_VERSION,
            tables,
        };
        snapshot.canonicalize();
        snapshot
    }

    pub fn table(&self, name: &str) -> Option<&TableSnapshot> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Sorts tables and indexes by name. Column order is left as declared.
    pub fn canonicalize(&mut self) {
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        for table in &mut self.tables {
            table.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }

    /// Whether tables and indexes are sorted by name, as [`canonicalize`](Self::canonicalize)
    /// leaves them.
    fn is_canonical(&self) -> bool {
        self.tables.is_sorted_by(|a, b| a.name <= b.name)
            && self
                .tables
                .iter()
                .all(|t| t.indexes.is_sorted_by(|a, b| a.name <= b.name))
    }

    /// True when both describe the same schema: same tables, columns, keys and indexes,
    /// whatever order the tables, indexes and columns are listed in.
    pub fn is_equivalent(&self, other: &SchemaSnapshot) -> bool {
        fn normal(s: &SchemaSnapshot) -> SchemaSnapshot {
            let mut s = s.clone();
            s.canonicalize();
            for table in &mut s.tables {
                table.columns.sort_by(|a, b| a.name.cmp(&b.name));
            }
            s
        }
        normal(self) == normal(other)
    }

    /// Checks everything serde cannot: supported format version, unique names, keys and indexes
    /// on existing columns, type parameters. `origin` names the file in errors.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let invalid = |json_path: String, message: String| Error::InvalidSnapshot {
            origin: origin.to_string(),
            json_path,
            message,
        };
        if self.format_version != FORMAT_VERSION {
            return Err(invalid(
                "format_version".into(),
                format!(
                    "unknown snapshot format version {} (this toasty-migrate reads version {FORMAT_VERSION})",
                    self.format_version
                ),
            ));
        }
        let mut table_names = HashSet::new();
        let mut index_names = HashSet::new();
        for (ti, table) in self.tables.iter().enumerate() {
            let at = |rest: &str| format!("tables[{ti}]{rest}");
            check_identifier(&table.name).map_err(|m| invalid(at(".name"), m))?;
            if !table_names.insert(table.name.as_str()) {
                return Err(invalid(
                    at(".name"),
                    format!("duplicate table name {:?}", table.name),
                ));
            }
            if table.columns.is_empty() {
                return Err(invalid(
                    at(".columns"),
                    format!("table {:?} has no columns", table.name),
                ));
            }
            let mut column_names = HashSet::new();
            for (ci, column) in table.columns.iter().enumerate() {
                let at = |rest: &str| at(&format!(".columns[{ci}]{rest}"));
                check_identifier(&column.name).map_err(|m| invalid(at(".name"), m))?;
                if !column_names.insert(column.name.as_str()) {
                    return Err(invalid(
                        at(".name"),
                        format!(
                            "duplicate column name {:?} in table {:?}",
                            column.name, table.name
                        ),
                    ));
                }
                column.validate().map_err(|m| invalid(at(""), m))?;
            }
            if table.primary_key.is_empty() {
                return Err(invalid(
                    at(".primary_key"),
                    format!("table {:?} has no primary key", table.name),
                ));
            }
            check_key_columns(table, &table.primary_key)
                .map_err(|(i, m)| invalid(at(&format!(".primary_key[{i}]")), m))?;
            for (i, key) in table.primary_key.iter().enumerate() {
                if table.column(&key.column).is_some_and(|c| c.nullable) {
                    return Err(invalid(
                        at(&format!(".primary_key[{i}]")),
                        format!("primary key column {:?} is nullable", key.column),
                    ));
                }
            }
            for (ii, index) in table.indexes.iter().enumerate() {
                let at = |rest: &str| at(&format!(".indexes[{ii}]{rest}"));
                check_identifier(&index.name).map_err(|m| invalid(at(".name"), m))?;
                if !index_names.insert(index.name.as_str()) {
                    return Err(invalid(
                        at(".name"),
                        format!(
                            "duplicate index name {:?} (index names are unique across the schema)",
                            index.name
                        ),
                    ));
                }
                if index.columns.is_empty() {
                    return Err(invalid(
                        at(".columns"),
                        format!("index {:?} has no columns", index.name),
                    ));
                }
                check_key_columns(table, &index.columns)
                    .map_err(|(i, m)| invalid(at(&format!(".columns[{i}]")), m))?;
            }
        }
        Ok(())
    }
}

impl TableSnapshot {
    /// A table whose primary key is its first column.
    pub fn keyed_by_first_column(
        name: impl Into<String>,
        columns: Vec<ColumnDef>,
        indexes: Vec<IndexDef>,
    ) -> Self {
        TableSnapshot {
            name: name.into(),
            primary_key: vec![IndexColumn::new(columns[0].name.clone())],
            columns,
            indexes,
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The table without its indexes.
    pub fn def(&self) -> TableDef {
        TableDef {
            name: self.name.clone(),
            columns: self.columns.clone(),
            primary_key: self.primary_key.clone(),
        }
    }
}

impl TableDef {
    /// The table with no indexes yet.
    pub fn into_snapshot(self) -> TableSnapshot {
        TableSnapshot {
            name: self.name,
            columns: self.columns,
            primary_key: self.primary_key,
            indexes: Vec::new(),
        }
    }
}

impl ColumnDef {
    /// A NOT NULL column without default or auto-increment, which [`nullable`](Self::nullable),
    /// [`default`](Self::default) and [`auto_increment`](Self::auto_increment) change: the one
    /// line a migration file writes a column as,
    /// `ColumnDef::new("email", ColumnType::Text).nullable()`.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        ColumnDef {
            name: name.into(),
            ty,
            nullable: false,
            default: None,
            auto_increment: false,
        }
    }

    /// The column, nullable.
    pub fn nullable(self) -> Self {
        ColumnDef {
            nullable: true,
            ..self
        }
    }

    /// The column, with this default.
    pub fn default(self, value: DefaultValue) -> Self {
        ColumnDef {
            default: Some(value),
            ..self
        }
    }

    /// The column, auto-incremented.
    pub fn auto_increment(self) -> Self {
        ColumnDef {
            auto_increment: true,
            ..self
        }
    }

    /// Checks the type, and that the default and auto-increment fit it.
    pub fn validate(&self) -> Result<(), String> {
        self.ty
            .validate()
            .map_err(|m| format!("column {:?}: {m}", self.name))?;
        if self.auto_increment
            && !matches!(
                self.ty,
                ColumnType::Integer(_) | ColumnType::UnsignedInteger(_)
            )
        {
            return Err(format!(
                "column {:?}: auto_increment needs an integer type, not {}",
                self.name, self.ty
            ));
        }
        if let Some(DefaultValue::Float(f)) = &self.default
            && !f.is_finite()
        {
            return Err(format!(
                "column {:?}: default {f} is not a finite number",
                self.name
            ));
        }
        Ok(())
    }
}

impl IndexDef {
    /// An index on `columns`, each compared by equality.
    pub fn new(name: impl Into<String>, columns: &[&str], unique: bool) -> Self {
        IndexDef {
            name: name.into(),
            columns: columns.iter().map(|c| IndexColumn::new(*c)).collect(),
            unique,
        }
    }
}

impl IndexColumn {
    /// A key column compared by equality, partitioning (the only kind SQL has), which
    /// [`op`](Self::op) and [`scope`](Self::scope) change.
    pub fn new(column: impl Into<String>) -> Self {
        IndexColumn {
            column: column.into(),
            op: IndexOp::Eq,
            scope: IndexScope::Partition,
        }
    }

    /// The key column, compared so.
    pub fn op(self, op: IndexOp) -> Self {
        IndexColumn { op, ..self }
    }

    /// The key column, with this scope.
    pub fn scope(self, scope: IndexScope) -> Self {
        IndexColumn { scope, ..self }
    }
}

fn check_identifier(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("name is empty".into())
    } else if name.contains('\0') {
        Err(format!("name {name:?} contains a NUL character"))
    } else {
        Ok(())
    }
}

fn check_key_columns(
    table: &TableSnapshot,
    columns: &[IndexColumn],
) -> Result<(), (usize, String)> {
    let mut seen = HashSet::new();
    for (i, key) in columns.iter().enumerate() {
        if table.column(&key.column).is_none() {
            return Err((
                i,
                format!(
                    "column {:?} does not exist in table {:?}",
                    key.column, table.name
                ),
            ));
        }
        if !seen.insert(key.column.as_str()) {
            return Err((i, format!("column {:?} is listed twice", key.column)));
        }
    }
    Ok(())
}

/// Renders a snapshot as its canonical JSON: sorted, a line for each table's field and for
/// each column, key column and index (so that a change to one shows as that line in a diff),
/// ending with a newline. The same schema always gives the same bytes.
pub fn snapshot_to_json(snapshot: &SchemaSnapshot) -> String {
    let canonical = match snapshot.is_canonical() {
        true => std::borrow::Cow::Borrowed(snapshot),
        false => {
            let mut canonical = snapshot.clone();
            canonical.canonicalize();
            std::borrow::Cow::Owned(canonical)
        }
    };
    let mut json = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut json, LinePerItem::default());
    canonical
        .serialize(&mut serializer)
        .expect("a snapshot always serializes");
    json.push(b'\n');
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// serde_json's pretty layout down to the items of a table's lists; each item on one line.
#[derive(Default)]
struct LinePerItem {
    /// How deep the values being written are: 1 in the snapshot, 4 in a table's lists.
    depth: usize,
    has_value: bool,
}

impl LinePerItem {
    /// The level whose values are written on one line: a column's, key column's or index's.
    const INLINE: usize = 5;

    fn separate(
        &self,
        out: &mut (impl std::io::Write + ?Sized),
        first: bool,
    ) -> std::io::Result<()> {
        if self.depth >= Self::INLINE {
            return out.write_all(if first { b"" } else { b", " });
        }
        out.write_all(if first { b"" } else { b"," })?;
        new_line(out, self.depth)
    }

    fn open(
        &mut self,
        out: &mut (impl std::io::Write + ?Sized),
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close(
        &mut self,
        out: &mut (impl std::io::Write + ?Sized),
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value && self.depth + 1 < Self::INLINE {
            new_line(out, self.depth)?;
        }
        out.write_all(bracket)
    }
}

/// A line break, then two spaces for each level of `depth`.
fn new_line(out: &mut (impl std::io::Write + ?Sized), depth: usize) -> std::io::Result<()> {
    out.write_all(b"\n")?;
    (0..depth).try_for_each(|_| out.write_all(b"  "))
}

impl serde_json::ser::Formatter for LinePerItem {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separate(out, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.separate(out, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
    ) -> std::io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Parses and validates snapshot JSON; `origin` names the source in errors.
pub fn snapshot_from_json(json: &str, origin: &Path) -> Result<SchemaSnapshot> {
    // Fast path without path tracking; a failure is parsed again to say where it failed.
    let snapshot = match serde_json::from_str::<SchemaSnapshot>(json) {
        Ok(snapshot) => snapshot,
        Err(first) => return Err(locate_format_error(json, origin, first)),
    };
    snapshot.validate(&origin.display().to_string())?;
    Ok(snapshot)
}

/// The error for JSON that does not parse as a snapshot, with its JSON path and line.
fn locate_format_error(json: &str, origin: &Path, first: serde_json::Error) -> Error {
    let mut de = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, SchemaSnapshot>(&mut de) {
        // Trailing characters after the snapshot.
        Ok(_) => format_error(origin, ".".into(), de.end().err().unwrap_or(first)),
        Err(err) => {
            // A snapshot from a newer toasty-migrate may have another shape: say so rather than
            // name the first field that differs.
            #[derive(Deserialize)]
            struct VersionOnly {
                format_version: u32,
            }
            if let Ok(v) = serde_json::from_str::<VersionOnly>(json)
                && v.format_version != FORMAT_VERSION
            {
                return Error::InvalidSnapshot {
                    origin: origin.display().to_string(),
                    json_path: "format_version".into(),
                    message: format!(
                        "unknown snapshot format version {} (this toasty-migrate reads version {FORMAT_VERSION})",
                        v.format_version
                    ),
                };
            }
            let json_path = err.path().to_string();
            format_error(origin, json_path, err.into_inner())
        }
    }
}

fn format_error(origin: &Path, json_path: String, inner: serde_json::Error) -> Error {
    let (line, column) = (inner.line(), inner.column());
    // serde_json appends the position, which the error reports on its own.
    let message = inner.to_string();
    let message = message
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&message)
        .to_string();
    Error::SnapshotFormat {
        path: origin.to_path_buf(),
        json_path,
        line,
        column,
        message,
    }
}

/// Writes `snapshot` to `path` as canonical JSON (see [`snapshot_to_json`]), atomically: the
/// file is either the old one or the new one, never half written.
pub fn save_snapshot(snapshot: &SchemaSnapshot, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    snapshot.validate("<snapshot being saved>")?;
    crate::fs::write_atomic(path, snapshot_to_json(snapshot).as_bytes())
}

/// Reads and validates a snapshot file. Errors name the file and the JSON path (and line) at fault.
pub fn load_snapshot(path: impl AsRef<Path>) -> Result<SchemaSnapshot> {
    let path = path.as_ref();
    let json = crate::fs::read_text(path, |line, column| Error::SnapshotFormat {
        path: path.to_path_buf(),
        json_path: ".".into(),
        line,
        column,
        message: "not UTF-8 text (a snapshot is JSON, which is UTF-8)".into(),
    })?;
    snapshot_from_json(&json, path)
}
