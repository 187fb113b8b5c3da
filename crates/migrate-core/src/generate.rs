//! `MigrationGenerator`: from a diff to a migration file, plus the `mod.rs` that lists every
//! migration and the `.schema.json` that records the schema as of the newest migration.
//!
//! The Rust is built with `quote` and laid out by `prettyplease`; [`crate::parse`] reads exactly
//! this vocabulary back.

use crate::data::{Expr, Filter, Value};
use crate::diff::SchemaDiff;
use crate::migration::{MigrationPlan, is_version};
use crate::operation::{ColumnPosition, Operation};
use crate::snapshot::{
    ColumnDef, DefaultValue, IndexColumn, IndexDef, IndexOp, IndexScope, SchemaSnapshot, TableDef,
    load_snapshot, snapshot_to_json,
};
use crate::types::ColumnType;
use crate::{Error, Result};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::path::{Path, PathBuf};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The timestamp part of a version.
const STAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]_[hour][minute][second]");

/// File name of the snapshot that records the schema as of the newest migration.
pub const SCHEMA_FILE: &str = ".schema.json";
/// File name of the module that lists every migration.
pub const MOD_FILE: &str = "mod.rs";

/// Writes migration files into one directory.
#[derive(Debug, Clone)]
pub struct MigrationGenerator {
    dir: PathBuf,
    now: Option<OffsetDateTime>,
}

impl MigrationGenerator {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        MigrationGenerator {
            dir: dir.into(),
            now: None,
        }
    }

    /// Uses a fixed time for versions instead of the clock (reproducible output, tests).
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The migration for `diff`, versioned `YYYYMMDD_HHMMSS_<slug of message>` in UTC (one second
    /// after the newest migration in the directory if the clock is not past it). Its `down`
    /// undoes `up` exactly, in reverse order. An empty diff is [`Error::NoChanges`].
    pub fn generate(&self, diff: &SchemaDiff, message: &str) -> Result<MigrationPlan> {
        if diff.is_empty() {
            return Err(Error::NoChanges);
        }
        let mut plan = MigrationPlan::from_diff(self.version(message)?, diff);
        plan.parent = list_versions(&self.dir)?.pop();
        Ok(plan)
    }

    /// A migration with nothing in it yet, versioned as [`generate`](Self::generate) does, for a
    /// person (or a caller) to fill with data steps: `toasty migrate:new`.
    pub fn empty(&self, message: &str) -> Result<MigrationPlan> {
        Ok(MigrationPlan {
            version: self.version(message)?,
            up: Vec::new(),
            down: Vec::new(),
            transactional: true,
            parent: list_versions(&self.dir)?.pop(),
            replaces: Vec::new(),
            allow: Vec::new(),
            source: None,
        })
    }

    fn version(&self, message: &str) -> Result<String> {
        let slug = slugify(message)?;
        Ok(self.version_after(&slug, list_versions(&self.dir)?.last().map(String::as_str)))
    }

    /// `<now>_<slug>`, or one second after `after`'s timestamp if the clock is not past it: two
    /// migrations made within one second (or with the clock set back) still sort in the order
    /// they were made.
    pub(crate) fn version_after(&self, slug: &str, after: Option<&str>) -> String {
        let mut now = self
            .now
            .unwrap_or_else(OffsetDateTime::now_utc)
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond");
        if let Some(last) = after
            && let Ok(last) = PrimitiveDateTime::parse(&last[..15], STAMP)
            && now <= last.assume_utc()
        {
            now = last.assume_utc() + time::Duration::SECOND;
        }
        let stamp = now.format(STAMP).expect("a UTC time always formats");
        format!("{stamp}_{slug}")
    }

    /// Writes `<dir>/<version>.rs`, regenerates `<dir>/mod.rs` and updates `<dir>/.schema.json`
    /// (the previous one with the migration's `up` replayed on it). Returns the file's path.
    ///
    /// Everything is checked and rendered before the first byte is written, so a migration that
    /// does not fit the recorded schema, or a version that is not newer than the last one, leaves
    /// the directory as it was.
    pub fn write_migration_file(&self, plan: &MigrationPlan) -> Result<PathBuf> {
        let path = self.dir.join(format!("{}.rs", plan.version));
        if path.exists() {
            return Err(Error::MigrationExists { path });
        }
        let mut versions = list_versions(&self.dir)?;
        if let Some(last) = versions.last()
            && last.as_str() >= plan.version.as_str()
        {
            return Err(Error::InvalidName {
                name: plan.version.clone(),
                message: format!(
                    "it must sort after the newest migration {last} (is the clock behind?)"
                ),
            });
        }

        let schema_path = self.dir.join(SCHEMA_FILE);
        let mut schema = if schema_path.exists() {
            load_snapshot(&schema_path)?
        } else {
            SchemaSnapshot::default()
        };
        for op in &plan.up {
            schema.apply(op)?;
        }
        schema.validate("<schema after the new migration>")?;

        let source = render_migration(plan);
        versions.push(plan.version.clone());
        let module = render_mod(&versions);

        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mod_path = self.dir.join(MOD_FILE);
        let old_mod = std::fs::read(&mod_path).ok();
        crate::fs::write_atomic(&path, source.as_bytes())?;
        let rest = crate::fs::write_atomic(&mod_path, module.as_bytes()).and_then(|()| {
            crate::fs::write_atomic(&schema_path, snapshot_to_json(&schema).as_bytes())
        });
        if let Err(err) = rest {
            // Put the directory back as it was: no migration file without its listing.
            let _ = std::fs::remove_file(&path);
            if let Some(old_mod) = old_mod {
                let _ = crate::fs::write_atomic(&mod_path, &old_mod);
            }
            return Err(err);
        }
        Ok(path)
    }
}

/// Versions of the migration files in `dir`, sorted; an absent directory has none.
pub fn list_versions(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".rs")) else {
            continue;
        };
        if is_version(stem) {
            versions.push(stem.to_string());
        }
    }
    versions.sort();
    Ok(versions)
}

/// `"Add user email!"` -> `add_user_email`.
pub(crate) fn slugify(message: &str) -> Result<String> {
    let mut slug = String::new();
    for c in message.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    let slug: String = slug.chars().take(64).collect();
    let slug = slug.trim_end_matches('_').to_string();
    if slug.is_empty() {
        return Err(Error::InvalidName {
            name: message.to_string(),
            message: "a migration message needs at least one letter or digit".into(),
        });
    }
    Ok(slug)
}

/// The Rust source of a migration file.
pub fn render_migration(plan: &MigrationPlan) -> String {
    let version = plan.version.as_str();
    let ty = format_ident!("Migration_{}", version);
    let doc = format!(" Migration `{version}`, generated by toasty-migrate.");
    let doc2 =
        " `toasty migrate:up` reads this file back; keep edits to the same calls and literals.";
    let up = plan.up.iter().map(render_operation);
    let down = plan.down.iter().map(render_operation);
    let parent = plan.parent.as_deref().map(|parent| {
        quote! {
            fn parent(&self) -> Option<&str> {
                Some(#parent)
            }
        }
    });
    let replaces = (!plan.replaces.is_empty()).then(|| {
        let versions = plan.replaces.iter();
        quote! {
            fn replaces(&self) -> &[&str] {
                &[#(#versions),*]
            }
        }
    });
    let allow = (!plan.allow.is_empty()).then(|| {
        let pairs = plan.allow.iter().map(|a| {
            let (code, reason) = (&a.code, &a.reason);
            quote! { (#code, #reason) }
        });
        quote! {
            fn allow(&self) -> &[(&str, &str)] {
                &[#(#pairs),*]
            }
        }
    });
    let transactional = (!plan.transactional).then(|| {
        quote! {
            fn transactional(&self) -> bool {
                false
            }
        }
    });
    let file = quote! {
        #![doc = #doc]
        #![doc = ""]
        #![doc = #doc2]
        use toasty_migrate::prelude::*;

        #[allow(non_camel_case_types)]
        pub struct #ty;

        impl Migration for #ty {
            fn version(&self) -> &str {
                #version
            }

            #parent

            #replaces

            #allow

            fn up(&self, db: &mut dyn MigrationContext) -> Result<()> {
                #(#up)*
                Ok(())
            }

            fn down(&self, db: &mut dyn MigrationContext) -> Result<()> {
                #(#down)*
                Ok(())
            }

            #transactional
        }
    };
    pretty(file)
}

/// The Rust source of `mod.rs` for these versions (sorted).
pub fn render_mod(versions: &[String]) -> String {
    let modules: Vec<_> = versions.iter().map(|v| format_ident!("m{}", v)).collect();
    let types: Vec<_> = versions
        .iter()
        .map(|v| format_ident!("Migration_{}", v))
        .collect();
    let files: Vec<_> = versions.iter().map(|v| format!("{v}.rs")).collect();
    let file = quote! {
        #![doc = " Every migration in this directory, oldest first."]
        #![doc = ""]
        #![doc = " Regenerated by `toasty migrate:generate`; do not edit."]

        #(
            #[path = #files]
            mod #modules;
        )*

        /// Every migration, oldest first, for `toasty_migrate` to apply at start-up.
        pub fn migrations() -> Vec<Box<dyn toasty_migrate::Migration>> {
            vec![#(Box::new(#modules::#types)),*]
        }
    };
    pretty(file)
}

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("generated code is valid Rust");
    prettyplease::unparse(&file)
}

fn render_operation(op: &Operation) -> TokenStream {
    match op {
        Operation::CreateTable(def) => {
            let def = render_table(def);
            quote! { db.create_table(#def)?; }
        }
        Operation::DropTable { table } => quote! { db.drop_table(#table)?; },
        Operation::AddColumn {
            table,
            column,
            position,
        } => {
            let column = render_column(column);
            match position {
                None => quote! { db.add_column(#table, #column)?; },
                Some(ColumnPosition::First) => {
                    quote! { db.add_column_at(#table, #column, ColumnPosition::First)?; }
                }
                Some(ColumnPosition::After(after)) => quote! {
                    db.add_column_at(#table, #column, ColumnPosition::After(#after.into()))?;
                },
            }
        }
        Operation::DropColumn { table, column } => quote! { db.drop_column(#table, #column)?; },
        Operation::ModifyColumn { table, from, to } => {
            let from = render_column(from);
            let to = render_column(to);
            quote! { db.modify_column(#table, #from, #to)?; }
        }
        Operation::CreateIndex { table, index } => {
            let index = render_index(index);
            quote! { db.create_index(#table, #index)?; }
        }
        Operation::DropIndex { table, index } => quote! { db.drop_index(#table, #index)?; },
        Operation::Raw { statement } => quote! { db.raw(#statement)?; },
        Operation::InsertRows { table, rows } => {
            let rows = rows.iter().map(|row| {
                let pairs = row.iter().map(|(c, v)| {
                    let v = render_value(v);
                    quote!((#c, #v))
                });
                quote!(vec![#(#pairs),*])
            });
            quote! { db.insert_rows(#table, vec![#(#rows),*])?; }
        }
        Operation::UpdateRows { table, set, filter } => {
            let set = set.iter().map(|(c, e)| {
                let e = render_expr(e);
                quote!((#c, #e))
            });
            let filter = render_filter(filter);
            quote! { db.update_rows(#table, vec![#(#set),*], #filter)?; }
        }
        Operation::DeleteRows { table, filter } => {
            let filter = render_filter(filter);
            quote! { db.delete_rows(#table, #filter)?; }
        }
        Operation::Irreversible { reason } => quote! { db.irreversible(#reason)?; },
    }
}

fn render_value(v: &Value) -> TokenStream {
    match v {
        Value::Null => quote!(Value::Null),
        Value::Bool(b) => quote!(Value::Bool(#b)),
        Value::Integer(i) => {
            let lit = Literal::i64_unsuffixed(*i);
            quote!(Value::Integer(#lit))
        }
        Value::Float(f) => {
            let lit = Literal::f64_unsuffixed(*f);
            quote!(Value::Float(#lit))
        }
        Value::Text(s) => quote!(Value::Text(#s.into())),
    }
}

fn render_expr(e: &Expr) -> TokenStream {
    let list = |es: &[Expr]| {
        let es = es.iter().map(render_expr);
        quote!(vec![#(#es),*])
    };
    match e {
        Expr::Value(v) => {
            let v = render_value(v);
            quote!(lit(#v))
        }
        Expr::Column(c) => quote!(col(#c)),
        Expr::Coalesce(es) => {
            let es = list(es);
            quote!(coalesce(#es))
        }
        Expr::Lower(e) => {
            let e = render_expr(e);
            quote!(lower(#e))
        }
        Expr::Upper(e) => {
            let e = render_expr(e);
            quote!(upper(#e))
        }
        Expr::Concat(es) => {
            let es = list(es);
            quote!(concat(#es))
        }
        Expr::Cast(e, ty) => {
            let e = render_expr(e);
            let ty = render_type(ty);
            quote!(cast(#e, #ty))
        }
    }
}

fn render_filter(f: &Filter) -> TokenStream {
    let list = |fs: &[Filter]| {
        let fs = fs.iter().map(render_filter);
        quote!(vec![#(#fs),*])
    };
    match f {
        Filter::All => quote!(all()),
        Filter::Eq(c, v) => {
            let v = render_value(v);
            quote!(eq(#c, #v))
        }
        Filter::Ne(c, v) => {
            let v = render_value(v);
            quote!(ne(#c, #v))
        }
        Filter::IsNull(c) => quote!(is_null(#c)),
        Filter::IsNotNull(c) => quote!(is_not_null(#c)),
        Filter::In(c, vs) => {
            let vs = vs.iter().map(render_value);
            quote!(is_in(#c, vec![#(#vs),*]))
        }
        Filter::And(fs) => {
            let fs = list(fs);
            quote!(and(#fs))
        }
        Filter::Or(fs) => {
            let fs = list(fs);
            quote!(or(#fs))
        }
    }
}

fn render_table(def: &TableDef) -> TokenStream {
    let name = &def.name;
    let columns = def.columns.iter().map(render_column);
    let key = def.primary_key.iter().map(render_key);
    quote! {
        TableDef {
            name: #name.into(),
            columns: vec![#(#columns),*],
            primary_key: vec![#(#key),*],
        }
    }
}

fn render_column(c: &ColumnDef) -> TokenStream {
    let name = &c.name;
    let ty = render_type(&c.ty);
    let nullable = c.nullable;
    let auto_increment = c.auto_increment;
    let default = match &c.default {
        None => quote!(None),
        Some(d) => {
            let d = render_default(d);
            quote!(Some(#d))
        }
    };
    quote! {
        ColumnDef {
            name: #name.into(),
            ty: #ty,
            nullable: #nullable,
            default: #default,
            auto_increment: #auto_increment,
        }
    }
}

fn render_default(d: &DefaultValue) -> TokenStream {
    match d {
        DefaultValue::Bool(b) => quote!(DefaultValue::Bool(#b)),
        DefaultValue::Integer(i) => {
            let lit = Literal::i64_unsuffixed(*i);
            quote!(DefaultValue::Integer(#lit))
        }
        DefaultValue::Float(f) => {
            let lit = Literal::f64_unsuffixed(*f);
            quote!(DefaultValue::Float(#lit))
        }
        DefaultValue::Text(s) => quote!(DefaultValue::Text(#s.into())),
    }
}

fn render_type(ty: &ColumnType) -> TokenStream {
    let n8 = |n: u8| Literal::u8_unsuffixed(n);
    match ty {
        ColumnType::Boolean => quote!(ColumnType::Boolean),
        ColumnType::Integer(w) => {
            let w = n8(*w);
            quote!(ColumnType::Integer(#w))
        }
        ColumnType::UnsignedInteger(w) => {
            let w = n8(*w);
            quote!(ColumnType::UnsignedInteger(#w))
        }
        ColumnType::Float(w) => {
            let w = n8(*w);
            quote!(ColumnType::Float(#w))
        }
        ColumnType::Text => quote!(ColumnType::Text),
        ColumnType::VarChar(n) => {
            let n = Literal::u64_unsuffixed(*n);
            quote!(ColumnType::VarChar(#n))
        }
        ColumnType::Uuid => quote!(ColumnType::Uuid),
        ColumnType::Numeric(None) => quote!(ColumnType::Numeric(None)),
        ColumnType::Numeric(Some((p, s))) => {
            let p = Literal::u32_unsuffixed(*p);
            let s = Literal::u32_unsuffixed(*s);
            quote!(ColumnType::Numeric(Some((#p, #s))))
        }
        ColumnType::Blob => quote!(ColumnType::Blob),
        ColumnType::Binary(n) => {
            let n = n8(*n);
            quote!(ColumnType::Binary(#n))
        }
        ColumnType::Timestamp(p) => {
            let p = n8(*p);
            quote!(ColumnType::Timestamp(#p))
        }
        ColumnType::Date => quote!(ColumnType::Date),
        ColumnType::Time(p) => {
            let p = n8(*p);
            quote!(ColumnType::Time(#p))
        }
        ColumnType::DateTime(p) => {
            let p = n8(*p);
            quote!(ColumnType::DateTime(#p))
        }
        ColumnType::Cidr => quote!(ColumnType::Cidr),
        ColumnType::Inet => quote!(ColumnType::Inet),
        ColumnType::MacAddr => quote!(ColumnType::MacAddr),
        ColumnType::MacAddr8 => quote!(ColumnType::MacAddr8),
        ColumnType::Enum(e) => {
            let name = match &e.name {
                None => quote!(None),
                Some(n) => quote!(Some(#n.into())),
            };
            let variants = &e.variants;
            quote!(ColumnType::Enum(EnumType { name: #name, variants: vec![#(#variants.into()),*] }))
        }
        ColumnType::List(elem) => {
            let elem = render_type(elem);
            quote!(ColumnType::List(Box::new(#elem)))
        }
        ColumnType::Document { binary } => quote!(ColumnType::Document { binary: #binary }),
        ColumnType::Json => quote!(ColumnType::Json),
        ColumnType::Jsonb => quote!(ColumnType::Jsonb),
        ColumnType::Custom(name) => quote!(ColumnType::Custom(#name.into())),
    }
}

fn render_index(index: &IndexDef) -> TokenStream {
    let name = &index.name;
    let columns = index.columns.iter().map(render_key);
    let unique = index.unique;
    quote! {
        IndexDef {
            name: #name.into(),
            columns: vec![#(#columns),*],
            unique: #unique,
        }
    }
}

fn render_key(key: &IndexColumn) -> TokenStream {
    let column = &key.column;
    let op = match key.op {
        IndexOp::Eq => quote!(IndexOp::Eq),
        IndexOp::Asc => quote!(IndexOp::Asc),
        IndexOp::Desc => quote!(IndexOp::Desc),
    };
    let scope = match key.scope {
        IndexScope::Partition => quote!(IndexScope::Partition),
        IndexScope::Local => quote!(IndexScope::Local),
    };
    quote!(IndexColumn { column: #column.into(), op: #op, scope: #scope })
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs() {
        assert_eq!(
            slugify("Add user email field").unwrap(),
            "add_user_email_field"
        );
        assert_eq!(
            slugify("  drop 'users'; DROP TABLE x -- ").unwrap(),
            "drop_users_drop_table_x"
        );
        assert!(slugify("!!!").is_err());
    }
}
