//! From operations to the SQL statements that perform them, per dialect. Pure functions: the
//! only input besides the operation is, for SQLite's copy-table rebuild, the table as it is now.

use crate::dialect::{Dialect, DialectError};
use toasty_migrate::schema::{
    ColumnDef, ColumnPosition, ColumnType, DefaultValue, IndexColumn, IndexDef, IndexOp, Operation,
    TableDef, TableSnapshot,
};

/// The name SQLite's rebuild builds the new table under before renaming it into place.
pub const REBUILD_TABLE: &str = "_toasty_migrate_rebuild";

/// What ALTER TABLE on SQLite cannot do, so that the table is rebuilt.
pub(crate) fn sqlite_rebuild_reason(op: &Operation) -> Option<&'static str> {
    match op {
        Operation::ModifyColumn { from, to, .. } => {
            let rename_only = ColumnDef {
                name: to.name.clone(),
                ..from.clone()
            } == *to;
            (!rename_only).then_some("change a column")
        }
        Operation::AddColumn { column, .. } if !column.nullable && column.default.is_none() => {
            Some("add a NOT NULL column without a default")
        }
        Operation::AddColumn {
            position: Some(_), ..
        } => Some("add a column elsewhere than at the end"),
        _ => None,
    }
}

/// Refuses what this dialect cannot do as written: a name it would cut or reject (see
/// [`Dialect::check_name`]), a type it cannot store. Pure, so that a run checks every operation
/// before it executes any.
pub fn check(dialect: Dialect, op: &Operation) -> Result<(), DialectError> {
    let name = |role: &str, name: &str| {
        dialect
            .check_name(name)
            .map_err(|why| format!("{role} name {name:?} {why}"))
    };
    let column = |c: &ColumnDef| -> Result<(), DialectError> {
        name("column", &c.name)?;
        if let ColumnType::Enum(e) = &c.ty
            && let Some(type_name) = &e.name
            && dialect == Dialect::Postgres
        {
            name("enum type", type_name)?;
        }
        dialect
            .column_type(&c.ty, c.auto_increment)
            .map(|_| ())
            .map_err(|why| format!("column {:?}: {why}", c.name))
    };
    if let Some(table) = op.table() {
        name("table", table)?;
    }
    match op {
        Operation::CreateTable(def) => def.columns.iter().try_for_each(column),
        Operation::AddColumn { column: c, .. } => column(c),
        Operation::ModifyColumn { from, to, .. } => {
            name("column", &from.name)?;
            column(to)
        }
        Operation::DropColumn { column, .. } => name("column", column),
        Operation::CreateIndex { index, .. } => {
            name("index", &index.name)?;
            index
                .columns
                .iter()
                .try_for_each(|c| name("column", &c.column))
        }
        Operation::DropIndex { index, .. } => name("index", index),
        // Data steps name tables and columns the schema already has (checked when replayed).
        Operation::DropTable { .. }
        | Operation::Raw { .. }
        | Operation::InsertRows { .. }
        | Operation::UpdateRows { .. }
        | Operation::DeleteRows { .. }
        | Operation::Irreversible { .. } => Ok(()),
    }
}

/// The name of the check that PostgreSQL validates, without an exclusive lock, before a column
/// becomes NOT NULL (which then needs no scan); dropped once the column is.
pub const NOT_NULL_CHECK: &str = "_toasty_migrate_not_null";

/// Whether `op`, planned `online`, takes PostgreSQL forms that a transaction cannot hold
/// (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`) or that must not keep their locks
/// until the migration commits (the check validated before NOT NULL): its migration then runs
/// journaled, each statement committing on its own.
pub fn outside_transaction(dialect: Dialect, op: &Operation, online: bool) -> bool {
    online
        && dialect == Dialect::Postgres
        && match op {
            Operation::CreateIndex { .. } | Operation::DropIndex { .. } => true,
            Operation::ModifyColumn { from, to, .. } => from.nullable && !to.nullable,
            _ => false,
        }
}

/// Where `op`, planned `online`, makes a column of a table in use NOT NULL without changing its
/// type (PostgreSQL, MySQL): the column (as it is before `op`) and the value its NULLs get, to
/// fill in batches (a data step, [`crate::dml::update`]) before the statements, rather than by
/// one `UPDATE` whose row locks would stay until it ends. Each batch commits: on PostgreSQL the
/// migration runs outside a transaction ([`outside_transaction`]), MySQL commits DDL anyway.
pub fn batched_fill(
    dialect: Dialect,
    op: &Operation,
    online: bool,
) -> Option<(&str, DefaultValue)> {
    match op {
        Operation::ModifyColumn { from, to, .. }
            if online
                && dialect != Dialect::Sqlite
                && from.ty == to.ty
                && from.nullable
                && !to.nullable =>
        {
            let value = to.default.clone();
            Some((
                &from.name,
                value.unwrap_or_else(|| dialect.fill_value(&to.ty)),
            ))
        }
        _ => None,
    }
}

/// Whether MySQL/MariaDB can build `index` on `table` in place without blocking writes
/// (`ALGORITHM=INPLACE, LOCK=NONE`): not a unique index whose key may be longer than InnoDB's
/// 3072 bytes, which MariaDB enforces through a hash column, built by copying the table.
pub(crate) fn mysql_builds_in_place(index: &IndexDef, table: &TableSnapshot) -> bool {
    if !index.unique {
        return true;
    }
    let mut bytes = 0u64;
    for key in &index.columns {
        let Some(column) = table.column(&key.column) else {
            return false;
        };
        bytes += match &column.ty {
            // utf8mb4: four bytes a character.
            ColumnType::VarChar(n) => n.saturating_mul(4),
            ColumnType::Text
            | ColumnType::Blob
            | ColumnType::Json
            | ColumnType::Jsonb
            | ColumnType::Document { .. }
            | ColumnType::List(_)
            | ColumnType::Custom(_) => return false,
            _ => 16,
        };
    }
    bytes <= 3072
}

/// The statements for one operation. `live` is the table as it is now, required by SQLite's
/// copy-table rebuild and MySQL's online index builds. `online`: the table may be in use (see
/// `Executor::plan`), so take the forms that keep it readable and writable where there are.
pub fn statements(
    dialect: Dialect,
    op: &Operation,
    live: Option<&TableSnapshot>,
    online: bool,
) -> Result<Vec<String>, DialectError> {
    let q = |name: &str| dialect.ident(name);
    check(dialect, op)?;
    if let (Dialect::Sqlite, Some(_)) = (dialect, sqlite_rebuild_reason(op)) {
        let live = live.ok_or_else(|| format!("the table of `{op}` does not exist"))?;
        return sqlite_rebuild(live, op);
    }
    let mut out = Vec::new();
    match op {
        Operation::CreateTable(def) => {
            for column in &def.columns {
                out.extend(ensure_enum_type(dialect, &column.ty, None)?);
            }
            out.push(create_table(dialect, def, &def.name)?);
        }
        Operation::DropTable { table } => out.push(format!("DROP TABLE {}", q(table)?)),
        Operation::AddColumn {
            table,
            column,
            position,
        } => {
            out.extend(ensure_enum_type(dialect, &column.ty, None)?);
            let t = q(table)?;
            // MySQL can place the column; PostgreSQL always adds it at the end (it has no way
            // to reorder columns), which drift comparison there ignores.
            let place = match (dialect, position) {
                (Dialect::Mysql, Some(ColumnPosition::First)) => " FIRST".to_string(),
                (Dialect::Mysql, Some(ColumnPosition::After(after))) => {
                    format!(" AFTER {}", q(after)?)
                }
                _ => String::new(),
            };
            // Asked for, so that the server refuses rather than copies the table where it
            // cannot (MySQL 8.0.12+ and MariaDB 10.3+ add a last column instantly).
            let place = match (dialect, online, position) {
                (Dialect::Mysql, true, None) => place + ", ALGORITHM=INSTANT",
                _ => place,
            };
            if column.nullable || column.default.is_some() {
                out.push(format!(
                    "ALTER TABLE {t} ADD COLUMN {}{place}",
                    column_def(dialect, column, false)?
                ));
            } else {
                // Rows that already exist get the type's zero, then the default goes again: the
                // schema ends exactly as asked, with no default it did not ask for.
                let filled = column_def(dialect, column, false)?
                    + " DEFAULT "
                    + &dialect.fill_literal(&column.ty);
                out.push(format!("ALTER TABLE {t} ADD COLUMN {filled}{place}"));
                out.push(format!(
                    "ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT",
                    q(&column.name)?
                ));
            }
        }
        Operation::DropColumn { table, column } => {
            out.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                q(table)?,
                q(column)?
            ));
        }
        Operation::ModifyColumn { table, from, to } => match dialect {
            Dialect::Postgres => out.extend(postgres_modify(table, from, to, online)?),
            Dialect::Mysql => {
                let t = q(table)?;
                // Online, a column that keeps its type is filled in batches first, and rebuilt
                // in place with writes let through, or refused by the server rather than copied.
                let in_place = match batched_fill(dialect, op, online) {
                    Some(_) => ", ALGORITHM=INPLACE, LOCK=NONE",
                    None if from.nullable && !to.nullable => {
                        out.push(fill_nulls(dialect, table, &from.name, to)?);
                        ""
                    }
                    None => "",
                };
                out.push(format!(
                    "ALTER TABLE {t} CHANGE COLUMN {} {}{in_place}",
                    q(&from.name)?,
                    column_def(dialect, to, false)?
                ));
            }
            // Only a rename gets here; everything else rebuilds.
            Dialect::Sqlite => out.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                q(table)?,
                q(&from.name)?,
                q(&to.name)?
            )),
        },
        Operation::CreateIndex { table, index } => {
            let concurrently = outside_transaction(dialect, op, online);
            let mut sql = create_index(dialect, table, index, concurrently)?;
            if online
                && dialect == Dialect::Mysql
                && live.is_some_and(|t| mysql_builds_in_place(index, t))
            {
                // Refused by the server, rather than quietly copying, where it cannot.
                sql.push_str(" ALGORITHM=INPLACE LOCK=NONE");
            }
            out.push(sql);
        }
        Operation::DropIndex { table, index } => out.push(match dialect {
            Dialect::Mysql => format!("DROP INDEX {} ON {}", q(index)?, q(table)?),
            Dialect::Postgres if outside_transaction(dialect, op, online) => {
                format!("DROP INDEX CONCURRENTLY IF EXISTS {}", q(index)?)
            }
            Dialect::Postgres | Dialect::Sqlite => format!("DROP INDEX {}", q(index)?),
        }),
        Operation::Raw { statement } => out.push(statement.clone()),
        Operation::InsertRows { .. }
        | Operation::UpdateRows { .. }
        | Operation::DeleteRows { .. } => {
            return Err(format!("`{op}` is a data step: see `dml`, not DDL"));
        }
        Operation::Irreversible { .. } => {}
    }
    Ok(out)
}

/// `CREATE TABLE`, laid out as toasty-sql lays it out.
fn create_table(dialect: Dialect, def: &TableDef, name: &str) -> Result<String, DialectError> {
    // SQLite can autoincrement only an `INTEGER PRIMARY KEY` column, declared on the column.
    let inline_pk = dialect == Dialect::Sqlite && def.columns.iter().any(|c| c.auto_increment);
    if inline_pk
        && (def.primary_key.len() != 1
            || !def
                .columns
                .iter()
                .any(|c| c.auto_increment && c.name == def.primary_key[0].column))
    {
        return Err(format!(
            "table {:?}: SQLite can auto-increment only a single-column primary key",
            def.name
        ));
    }
    let mut parts = Vec::new();
    for column in &def.columns {
        parts.push(column_def(dialect, column, inline_pk)?);
    }
    if !inline_pk {
        parts.push(format!(
            "PRIMARY KEY ({})",
            key_columns(dialect, &def.primary_key)?
        ));
    }
    let body: Vec<String> = parts.iter().map(|p| format!("\n    {p}")).collect();
    Ok(format!(
        "CREATE TABLE {} ({}\n)",
        dialect.ident(name)?,
        body.join(",")
    ))
}

/// `"name" TYPE [NOT NULL] [DEFAULT ..] [auto-increment] [CHECK]`.
fn column_def(
    dialect: Dialect,
    column: &ColumnDef,
    inline_pk: bool,
) -> Result<String, DialectError> {
    let name = dialect.ident(&column.name)?;
    let mut sql = format!(
        "{name} {}",
        dialect.column_type(&column.ty, column.auto_increment)?
    );
    if !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = &column.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&dialect.default_literal(default));
    }
    if column.auto_increment {
        sql.push_str(match dialect {
            Dialect::Postgres => " GENERATED BY DEFAULT AS IDENTITY",
            Dialect::Mysql => " AUTO_INCREMENT",
            Dialect::Sqlite if inline_pk => " PRIMARY KEY AUTOINCREMENT",
            Dialect::Sqlite => {
                return Err(format!(
                    "column {:?}: SQLite can auto-increment only the primary key",
                    column.name
                ));
            }
        });
    }
    if let (Dialect::Sqlite, ColumnType::Enum(e)) = (dialect, &column.ty) {
        // As toasty-sql does: TEXT restricted to the variants.
        let variants: Vec<String> = e
            .variants
            .iter()
            .map(|v| dialect.string_literal(v))
            .collect();
        sql.push_str(&format!(" CHECK ({name} IN ({}))", variants.join(", ")));
    }
    Ok(sql)
}

fn key_columns(dialect: Dialect, columns: &[IndexColumn]) -> Result<String, DialectError> {
    let parts = columns
        .iter()
        .map(|c| {
            let name = dialect.ident(&c.column)?;
            Ok(match c.op {
                IndexOp::Desc => format!("{name} DESC"),
                IndexOp::Eq | IndexOp::Asc => name,
            })
        })
        .collect::<Result<Vec<_>, DialectError>>()?;
    Ok(parts.join(", "))
}

fn create_index(
    dialect: Dialect,
    table: &str,
    index: &IndexDef,
    concurrently: bool,
) -> Result<String, DialectError> {
    let unique = if index.unique { "UNIQUE " } else { "" };
    let concurrently = if concurrently { "CONCURRENTLY " } else { "" };
    Ok(format!(
        "CREATE {unique}INDEX {concurrently}{} ON {} ({})",
        dialect.ident(&index.name)?,
        dialect.ident(table)?,
        key_columns(dialect, &index.columns)?
    ))
}

/// PostgreSQL names its enum types: the type is created with the first column that uses it, and
/// variants a later definition adds are added to it (`ADD VALUE IF NOT EXISTS`, appended in
/// order). PostgreSQL cannot remove a variant, so a definition without one is refused.
fn ensure_enum_type(
    dialect: Dialect,
    ty: &ColumnType,
    previous: Option<&ColumnType>,
) -> Result<Vec<String>, DialectError> {
    let e = match (dialect, ty) {
        (Dialect::Postgres, ColumnType::Enum(e)) => e,
        (Dialect::Postgres, ColumnType::List(elem)) => {
            let previous = match previous {
                Some(ColumnType::List(p)) => Some(p.as_ref()),
                _ => None,
            };
            return ensure_enum_type(dialect, elem, previous);
        }
        _ => return Ok(Vec::new()),
    };
    let name = e
        .name
        .as_deref()
        .ok_or("PostgreSQL enum columns need a type name")?;
    if let Some(ColumnType::Enum(old)) = previous
        && old.name == e.name
        && let Some(gone) = old.variants.iter().find(|v| !e.variants.contains(v))
    {
        return Err(format!(
            "enum type {name:?}: PostgreSQL cannot remove the variant {gone:?}; use a new type name"
        ));
    }
    let variants: Vec<String> = e
        .variants
        .iter()
        .map(|v| dialect.string_literal(v))
        .collect();
    let type_name = dialect.ident(name)?;
    let create = format!("CREATE TYPE {type_name} AS ENUM ({})", variants.join(", "));
    if create.contains("$toasty$") {
        return Err(format!("enum type {name:?} contains the text `$toasty$`"));
    }
    let mut out = vec![format!(
        "DO $toasty$ BEGIN {create}; EXCEPTION WHEN duplicate_object THEN NULL; END $toasty$"
    )];
    // An existing type (from an earlier column, or left by a dropped table) gets what it lacks.
    out.extend(
        variants
            .iter()
            .map(|v| format!("ALTER TYPE {type_name} ADD VALUE IF NOT EXISTS {v}")),
    );
    Ok(out)
}

/// Before a column becomes NOT NULL: rows holding NULL get what `to` fills them with.
fn fill_nulls(
    dialect: Dialect,
    table: &str,
    column: &str,
    to: &ColumnDef,
) -> Result<String, DialectError> {
    let value = dialect.fill_literal_for(to);
    let c = dialect.ident(column)?;
    Ok(format!(
        "UPDATE {} SET {c} = {value} WHERE {c} IS NULL",
        dialect.ident(table)?
    ))
}

fn postgres_modify(
    table: &str,
    from: &ColumnDef,
    to: &ColumnDef,
    online: bool,
) -> Result<Vec<String>, DialectError> {
    let d = Dialect::Postgres;
    let t = d.ident(table)?;
    let mut out = Vec::new();
    let c = d.ident(&to.name)?;
    if from.name != to.name {
        out.push(format!(
            "ALTER TABLE {t} RENAME COLUMN {} TO {c}",
            d.ident(&from.name)?
        ));
    }
    let old_type = d.column_type(&from.ty, from.auto_increment)?;
    let new_type = d.column_type(&to.ty, to.auto_increment)?;
    if from.default.is_some() && from.default != to.default {
        // A default of the old type may not convert; it is set again below.
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT"));
    }
    if from.ty != to.ty {
        out.extend(ensure_enum_type(d, &to.ty, Some(&from.ty))?);
    }
    // The same SQL type (an enum type that only gained variants) needs no conversion.
    if old_type != new_type {
        // Through text, so that any type with a text form converts (enums, uuids, numbers).
        let using = match (&from.ty, &to.ty) {
            (ColumnType::Enum(_), _) | (_, ColumnType::Enum(_)) => format!("{c}::text::{new_type}"),
            _ => format!("{c}::{new_type}"),
        };
        out.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} TYPE {new_type} USING {using}"
        ));
    }
    if from.nullable && !to.nullable {
        // Online, a column that keeps its type is filled in batches first (`batched_fill`).
        if !(online && from.ty == to.ty) {
            out.push(fill_nulls(d, table, &to.name, to)?);
        }
        if online {
            // SET NOT NULL scans the table under an ACCESS EXCLUSIVE lock unless a validated
            // check already proves it; VALIDATE scans holding a lock that lets reads and writes
            // through. The first statement can run again after an interrupted run.
            let check = d.ident(NOT_NULL_CHECK)?;
            out.push(format!(
                "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}, \
                 ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID"
            ));
            out.push(format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"));
            out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"));
            out.push(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"));
        } else {
            out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"));
        }
    } else if !from.nullable && to.nullable {
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"));
    }
    if from.default != to.default
        && let Some(default) = &to.default
    {
        out.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {}",
            d.default_literal(default)
        ));
    }
    if from.auto_increment != to.auto_increment {
        let action = if to.auto_increment {
            "ADD GENERATED BY DEFAULT AS IDENTITY"
        } else {
            "DROP IDENTITY"
        };
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} {action}"));
    }
    Ok(out)
}

/// SQLite's copy-table rebuild: create the new table, copy every row, drop the old one, rename
/// the new one into place, recreate the indexes. Runs inside the migration's transaction.
fn sqlite_rebuild(live: &TableSnapshot, op: &Operation) -> Result<Vec<String>, DialectError> {
    let d = Dialect::Sqlite;
    let (def, indexes, (targets, sources)) = sqlite_rebuilt(live, op)?;
    let table = d.ident(&live.name)?;
    let rebuild = d.ident(REBUILD_TABLE)?;
    let mut out = vec![
        create_table(d, &def, REBUILD_TABLE)?,
        format!(
            "INSERT INTO {rebuild} ({}) SELECT {} FROM {table}",
            targets.join(", "),
            sources.join(", ")
        ),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {rebuild} RENAME TO {table}"),
    ];
    for index in &indexes {
        out.push(create_index(d, &live.name, index, false)?);
    }
    Ok(out)
}

/// The place of the copy among [`sqlite_rebuild`]'s statements: the backend runs it in batches
/// of the old table's `rowid` (a data step), so that a long rebuild shows its progress.
pub const SQLITE_REBUILD_COPY: usize = 1;

/// The copy of SQLite's rebuild of `live` for `op`: the new table's columns, quoted, and the
/// expression over the old table that fills each.
pub fn sqlite_rebuild_copy(
    live: &TableSnapshot,
    op: &Operation,
) -> Result<(Vec<String>, Vec<String>), DialectError> {
    Ok(sqlite_rebuilt(live, op)?.2)
}

/// The rebuilt table, its indexes, and its copy (see [`sqlite_rebuild_copy`]).
#[allow(clippy::type_complexity)]
fn sqlite_rebuilt(
    live: &TableSnapshot,
    op: &Operation,
) -> Result<(TableDef, Vec<IndexDef>, (Vec<String>, Vec<String>)), DialectError> {
    let d = Dialect::Sqlite;
    let mut columns = live.columns.clone();
    let mut primary_key = live.primary_key.clone();
    let mut indexes = live.indexes.clone();
    // (new column, expression over the old table) for the copy.
    let mut copy: Vec<(String, String)> = Vec::new();
    match op {
        Operation::ModifyColumn { from, to, .. } => {
            let i = columns
                .iter()
                .position(|c| c.name == from.name)
                .ok_or_else(|| format!("table {:?} has no column {:?}", live.name, from.name))?;
            columns[i] = to.clone();
            let keys = primary_key
                .iter_mut()
                .chain(indexes.iter_mut().flat_map(|x| x.columns.iter_mut()));
            for key in keys.filter(|k| k.column == from.name) {
                key.column = to.name.clone();
            }
            for (j, c) in live.columns.iter().enumerate() {
                let source = d.ident(&c.name)?;
                let expr = if j == i && from.nullable && !to.nullable {
                    format!("COALESCE({source}, {})", d.fill_literal_for(to))
                } else {
                    source
                };
                copy.push((columns[j].name.clone(), expr));
            }
        }
        Operation::AddColumn {
            column, position, ..
        } => {
            for c in &live.columns {
                copy.push((c.name.clone(), d.ident(&c.name)?));
            }
            // Rows that exist get the default, else NULL where allowed, else the type's zero.
            let value = match (&column.default, column.nullable) {
                (None, true) => "NULL".into(),
                _ => d.fill_literal_for(column),
            };
            copy.push((column.name.clone(), value));
            let at = ColumnPosition::index_in(position.as_ref(), &columns)
                .map_err(|m| format!("table {:?}: {m}", live.name))?;
            columns.insert(at, column.clone());
        }
        other => return Err(format!("`{other}` does not rebuild a table")),
    }
    let def = TableDef {
        name: live.name.clone(),
        columns,
        primary_key,
    };
    let targets: Vec<String> = copy
        .iter()
        .map(|(c, _)| d.ident(c))
        .collect::<Result<_, _>>()?;
    let sources: Vec<String> = copy.into_iter().map(|(_, e)| e).collect();
    Ok((def, indexes, (targets, sources)))
}
