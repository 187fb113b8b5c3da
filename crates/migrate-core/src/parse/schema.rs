//! Reading the schema vocabulary back: `TableDef { .. }`, `ColumnDef::new(..)..`,
//! `IndexDef { .. }`, `IndexColumn::new(..)..`, `ColumnType::..`, `DefaultValue::..` and
//! `ColumnPosition::..`, exactly as the generator writes them; and columns and key columns as
//! structs with every field written out, as files generated before the one-line forms have them.

use super::{Parser, path_string};
use crate::Result;
use crate::operation::ColumnPosition;
use crate::snapshot::{
    ColumnDef, DefaultValue, IndexColumn, IndexDef, IndexOp, IndexScope, TableDef,
};
use crate::types::{ColumnType, EnumType};
use syn::Expr;
use syn::spanned::Spanned;

/// A method call after `Type::new(..)`: its name and arguments.
type Call<'e> = (&'e syn::Ident, Vec<&'e Expr>);

impl Parser<'_> {
    /// The fields of `Name { a: .., b: .. }`, each exactly once, in any order.
    pub(super) fn fields<'e, const N: usize>(
        &self,
        expr: &'e Expr,
        name: &str,
        names: [&str; N],
    ) -> Result<[&'e Expr; N]> {
        let Expr::Struct(s) = expr else {
            return Err(self.unexpected(expr, &format!("`{name} {{ .. }}`")));
        };
        if path_string(&s.path) != name
            || s.qself.is_some()
            || s.rest.is_some()
            || s.dot2_token.is_some()
        {
            return Err(self.unexpected(
                expr,
                &format!("`{name} {{ .. }}` with every field written out"),
            ));
        }
        let mut found: [Option<&Expr>; N] = [None; N];
        for field in &s.fields {
            let syn::Member::Named(ident) = &field.member else {
                return Err(self.unexpected(field, "a named field"));
            };
            let Some(i) = names.iter().position(|n| ident == n) else {
                return Err(self.error(ident.span(), format!("`{name}` has no field `{ident}`")));
            };
            if found[i].replace(&field.expr).is_some() {
                return Err(self.error(ident.span(), format!("field `{ident}` is set twice")));
            }
        }
        let mut out = Vec::with_capacity(N);
        for (i, f) in found.into_iter().enumerate() {
            out.push(f.ok_or_else(|| {
                self.error(
                    s.span(),
                    format!("`{name}` is missing field `{}`", names[i]),
                )
            })?);
        }
        Ok(out
            .try_into()
            .unwrap_or_else(|_| unreachable!("exactly N fields were collected")))
    }

    pub(super) fn table_def(&self, expr: &Expr) -> Result<TableDef> {
        let [name, columns, primary_key] =
            self.fields(expr, "TableDef", ["name", "columns", "primary_key"])?;
        Ok(TableDef {
            name: self.string_into(name)?,
            columns: self.vec(columns, |e| self.column_def(e))?,
            primary_key: self.vec(primary_key, |e| self.index_column(e))?,
        })
    }

    pub(super) fn column_def(&self, expr: &Expr) -> Result<ColumnDef> {
        let column = match expr {
            Expr::Struct(_) => {
                let [name, ty, nullable, default, auto_increment] = self.fields(
                    expr,
                    "ColumnDef",
                    ["name", "ty", "nullable", "default", "auto_increment"],
                )?;
                ColumnDef {
                    name: self.string_into(name)?,
                    ty: self.column_type(ty)?,
                    nullable: self.bool(nullable)?,
                    default: self.option(default, |e| self.default_value(e))?,
                    auto_increment: self.bool(auto_increment)?,
                }
            }
            _ => {
                let expected = "`ColumnDef::new(\"<name>\", ColumnType::..)`, then \
                                `.nullable()`, `.default(..)`, `.auto_increment()` as needed";
                let ([name, ty], calls) = self.built(expr, "ColumnDef", expected)?;
                let mut column = ColumnDef::new(self.str_arg(name)?, self.column_type(ty)?);
                for (method, args) in calls {
                    column = match (method.to_string().as_str(), args.as_slice()) {
                        ("nullable", []) => column.nullable(),
                        ("default", [value]) => column.default(self.default_value(value)?),
                        ("auto_increment", []) => column.auto_increment(),
                        _ => return Err(self.unexpected_call(method, expected)),
                    };
                }
                column
            }
        };
        column.validate().map_err(|m| self.error(expr.span(), m))?;
        Ok(column)
    }

    /// `Type::new(<N arguments>)` and the method calls after it: `new`'s arguments, and each
    /// call's name and arguments in order, no name twice.
    fn built<'e, const N: usize>(
        &self,
        expr: &'e Expr,
        ty: &str,
        expected: &str,
    ) -> Result<([&'e Expr; N], Vec<Call<'e>>)> {
        let mut calls = Vec::new();
        let mut receiver = expr;
        while let Expr::MethodCall(call) = receiver {
            if call.turbofish.is_some() {
                return Err(self.unexpected(expr, expected));
            }
            calls.push((&call.method, call.args.iter().collect()));
            receiver = &call.receiver;
        }
        calls.reverse();
        let Expr::Call(new) = receiver else {
            return Err(self.unexpected(expr, expected));
        };
        let is_new = matches!(&*new.func, Expr::Path(p)
            if p.qself.is_none() && path_string(&p.path) == format!("{ty}::new"));
        let args = match <[&Expr; N]>::try_from(new.args.iter().collect::<Vec<_>>()) {
            Ok(args) if is_new => args,
            _ => return Err(self.unexpected(receiver, expected)),
        };
        for (i, (method, _)) in calls.iter().enumerate() {
            if calls[..i].iter().any(|(m, _)| m == method) {
                return Err(self.error(method.span(), format!("`.{method}(..)` is called twice")));
            }
        }
        Ok((args, calls))
    }

    fn unexpected_call(&self, method: &syn::Ident, expected: &str) -> crate::Error {
        self.error(
            method.span(),
            format!("expected {expected}, found `.{method}(..)`"),
        )
    }

    pub(super) fn column_position(&self, expr: &Expr) -> Result<ColumnPosition> {
        let expected = "`ColumnPosition::First` or `ColumnPosition::After(\"..\".into())`";
        if let Expr::Path(_) = expr {
            return match self.enum_path(expr, "ColumnPosition")?.as_str() {
                "First" => Ok(ColumnPosition::First),
                _ => Err(self.unexpected(expr, expected)),
            };
        }
        match self.variant_call(expr, "ColumnPosition") {
            Some((variant, arg)) if variant == "After" => {
                Ok(ColumnPosition::After(self.string_into(arg)?))
            }
            _ => Err(self.unexpected(expr, expected)),
        }
    }

    pub(super) fn index_def(&self, expr: &Expr) -> Result<IndexDef> {
        let [name, columns, unique] =
            self.fields(expr, "IndexDef", ["name", "columns", "unique"])?;
        Ok(IndexDef {
            name: self.string_into(name)?,
            columns: self.vec(columns, |e| self.index_column(e))?,
            unique: self.bool(unique)?,
        })
    }

    pub(super) fn index_column(&self, expr: &Expr) -> Result<IndexColumn> {
        if let Expr::Struct(_) = expr {
            let [column, op, scope] =
                self.fields(expr, "IndexColumn", ["column", "op", "scope"])?;
            return Ok(IndexColumn {
                column: self.string_into(column)?,
                op: self.index_op(op)?,
                scope: self.index_scope(scope)?,
            });
        }
        let expected = "`IndexColumn::new(\"<column>\")`, then `.op(..)`, `.scope(..)` as needed";
        let ([column], calls) = self.built(expr, "IndexColumn", expected)?;
        let mut key = IndexColumn::new(self.str_arg(column)?);
        for (method, args) in calls {
            key = match (method.to_string().as_str(), args.as_slice()) {
                ("op", [op]) => key.op(self.index_op(op)?),
                ("scope", [scope]) => key.scope(self.index_scope(scope)?),
                _ => return Err(self.unexpected_call(method, expected)),
            };
        }
        Ok(key)
    }

    fn index_op(&self, expr: &Expr) -> Result<IndexOp> {
        Ok(match self.enum_path(expr, "IndexOp")?.as_str() {
            "Eq" => IndexOp::Eq,
            "Asc" => IndexOp::Asc,
            "Desc" => IndexOp::Desc,
            _ => {
                return Err(
                    self.unexpected(expr, "`IndexOp::Eq`, `IndexOp::Asc` or `IndexOp::Desc`")
                );
            }
        })
    }

    fn index_scope(&self, expr: &Expr) -> Result<IndexScope> {
        Ok(match self.enum_path(expr, "IndexScope")?.as_str() {
            "Partition" => IndexScope::Partition,
            "Local" => IndexScope::Local,
            _ => {
                return Err(self.unexpected(expr, "`IndexScope::Partition` or `IndexScope::Local`"));
            }
        })
    }

    pub(super) fn default_value(&self, expr: &Expr) -> Result<DefaultValue> {
        let expected =
            "`DefaultValue::Bool(..)`, `Integer(..)`, `Float(..)` or `Text(\"..\".into())`";
        let (variant, arg) = self
            .variant_call(expr, "DefaultValue")
            .ok_or_else(|| self.unexpected(expr, expected))?;
        Ok(match variant.as_str() {
            "Bool" => DefaultValue::Bool(self.bool(arg)?),
            "Integer" => DefaultValue::Integer(self.signed(arg)?),
            "Float" => DefaultValue::Float(self.float(arg)?),
            "Text" => DefaultValue::Text(self.string_into(arg)?),
            _ => return Err(self.unexpected(expr, expected)),
        })
    }

    pub(super) fn column_type(&self, expr: &Expr) -> Result<ColumnType> {
        let expected = "a `ColumnType::..` variant";
        if let Expr::Path(_) = expr {
            return Ok(match self.enum_path(expr, "ColumnType")?.as_str() {
                "Boolean" => ColumnType::Boolean,
                "Text" => ColumnType::Text,
                "Uuid" => ColumnType::Uuid,
                "Blob" => ColumnType::Blob,
                "Date" => ColumnType::Date,
                "Cidr" => ColumnType::Cidr,
                "Inet" => ColumnType::Inet,
                "MacAddr" => ColumnType::MacAddr,
                "MacAddr8" => ColumnType::MacAddr8,
                "Json" => ColumnType::Json,
                "Jsonb" => ColumnType::Jsonb,
                _ => return Err(self.unexpected(expr, expected)),
            });
        }
        if matches!(expr, Expr::Struct(_)) {
            let [field] = self.fields(expr, "ColumnType::Document", ["binary"])?;
            return Ok(ColumnType::Document {
                binary: self.bool(field)?,
            });
        }
        let (variant, arg) = self
            .variant_call(expr, "ColumnType")
            .ok_or_else(|| self.unexpected(expr, expected))?;
        Ok(match variant.as_str() {
            "Integer" => ColumnType::Integer(self.unsigned(arg)?),
            "UnsignedInteger" => ColumnType::UnsignedInteger(self.unsigned(arg)?),
            "Float" => ColumnType::Float(self.unsigned(arg)?),
            "VarChar" => ColumnType::VarChar(self.unsigned(arg)?),
            "Binary" => ColumnType::Binary(self.unsigned(arg)?),
            "Timestamp" => ColumnType::Timestamp(self.unsigned(arg)?),
            "Time" => ColumnType::Time(self.unsigned(arg)?),
            "DateTime" => ColumnType::DateTime(self.unsigned(arg)?),
            "Numeric" => ColumnType::Numeric(self.option(arg, |e| match e {
                Expr::Tuple(t) if t.elems.len() == 2 => {
                    Ok((self.unsigned(&t.elems[0])?, self.unsigned(&t.elems[1])?))
                }
                _ => Err(self.unexpected(e, "`(precision, scale)`")),
            })?),
            "Custom" => ColumnType::Custom(self.string_into(arg)?),
            "List" => {
                let inner = self
                    .variant_call(arg, "Box")
                    .filter(|(f, _)| f == "new")
                    .ok_or_else(|| self.unexpected(arg, "`Box::new(ColumnType::..)`"))?;
                ColumnType::List(Box::new(self.column_type(inner.1)?))
            }
            "Enum" => {
                let [name, variants] = self.fields(arg, "EnumType", ["name", "variants"])?;
                ColumnType::Enum(EnumType {
                    name: self.option(name, |e| self.string_into(e))?,
                    variants: self.vec(variants, |e| self.string_into(e))?,
                })
            }
            _ => return Err(self.unexpected(expr, expected)),
        })
    }

    /// `Type::Variant(arg)` -> (`Variant`, `arg`).
    pub(super) fn variant_call<'e>(
        &self,
        expr: &'e Expr,
        type_name: &str,
    ) -> Option<(String, &'e Expr)> {
        let Expr::Call(call) = expr else { return None };
        let Expr::Path(p) = &*call.func else {
            return None;
        };
        let segments: Vec<_> = p.path.segments.iter().collect();
        if p.qself.is_some()
            || segments.len() != 2
            || segments[0].ident != type_name
            || call.args.len() != 1
        {
            return None;
        }
        Some((segments[1].ident.to_string(), &call.args[0]))
    }

    /// `Type::Variant` -> `Variant`.
    pub(super) fn enum_path(&self, expr: &Expr, type_name: &str) -> Result<String> {
        match expr {
            Expr::Path(p)
                if p.qself.is_none()
                    && p.path.segments.len() == 2
                    && p.path.segments[0].ident == type_name =>
            {
                Ok(p.path.segments[1].ident.to_string())
            }
            _ => Err(self.unexpected(expr, &format!("`{type_name}::..`"))),
        }
    }
}
