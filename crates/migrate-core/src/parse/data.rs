//! Reading data steps back: values (`Value::..`), expressions (`col(..)`, `lower(..)`, ...) and
//! filters (`eq(..)`, `and(vec![..])`, ...), exactly as the generator writes them.

use super::Parser;
use crate::Result;
use crate::data::{Expr, Filter, Row, Value};
use syn::Expr as Syn;

impl Parser<'_> {
    /// `vec![vec![("column", Value::..), ..], ..]`.
    pub(super) fn rows(&self, expr: &Syn) -> Result<Vec<Row>> {
        self.vec(expr, |row| {
            self.vec(row, |pair| {
                let (column, value) = self.pair(pair)?;
                Ok((self.str_arg(column)?, self.value(value)?))
            })
        })
    }

    /// `vec![("column", <expression>), ..]`.
    pub(super) fn assignments(&self, expr: &Syn) -> Result<Vec<(String, Expr)>> {
        self.vec(expr, |pair| {
            let (column, value) = self.pair(pair)?;
            Ok((self.str_arg(column)?, self.expr(value)?))
        })
    }

    fn pair<'e>(&self, expr: &'e Syn) -> Result<(&'e Syn, &'e Syn)> {
        match expr {
            Syn::Tuple(t) if t.elems.len() == 2 => Ok((&t.elems[0], &t.elems[1])),
            _ => Err(self.unexpected(expr, "`(\"column\", ..)`")),
        }
    }

    pub(super) fn value(&self, expr: &Syn) -> Result<Value> {
        let expected =
            "`Value::Null`, `Value::Bool(..)`, `Integer(..)`, `Float(..)` or `Text(\"..\".into())`";
        if let Syn::Path(p) = expr
            && super::path_string(&p.path) == "Value::Null"
        {
            return Ok(Value::Null);
        }
        let (variant, arg) = self
            .variant_call(expr, "Value")
            .ok_or_else(|| self.unexpected(expr, expected))?;
        Ok(match variant.as_str() {
            "Bool" => Value::Bool(self.bool(arg)?),
            "Integer" => Value::Integer(self.signed(arg)?),
            "Float" => Value::Float(self.float(arg)?),
            "Text" => Value::Text(self.string_into(arg)?),
            _ => return Err(self.unexpected(expr, expected)),
        })
    }

    /// A call `name(args..)` of one of the data helpers.
    fn helper<'e>(&self, expr: &'e Syn, expected: &str) -> Result<(String, Vec<&'e Syn>)> {
        let Syn::Call(call) = expr else {
            return Err(self.unexpected(expr, expected));
        };
        let Syn::Path(p) = &*call.func else {
            return Err(self.unexpected(expr, expected));
        };
        let Some(name) = p.path.get_ident() else {
            return Err(self.unexpected(expr, expected));
        };
        Ok((name.to_string(), call.args.iter().collect()))
    }

    fn arity(&self, expr: &Syn, name: &str, args: &[&Syn], n: usize) -> Result<()> {
        if args.len() == n {
            return Ok(());
        }
        Err(self.unexpected(expr, &format!("`{name}` with {n} argument(s)")))
    }

    pub(super) fn expr(&self, expr: &Syn) -> Result<Expr> {
        let expected = "`col(..)`, `lit(..)`, `lower(..)`, `upper(..)`, `coalesce(vec![..])`, `concat(vec![..])` or `cast(.., ColumnType::..)`";
        let (name, args) = self.helper(expr, expected)?;
        let n = match name.as_str() {
            "col" | "lit" | "lower" | "upper" | "coalesce" | "concat" => 1,
            "cast" => 2,
            _ => return Err(self.unexpected(expr, expected)),
        };
        self.arity(expr, &name, &args, n)?;
        Ok(match name.as_str() {
            "col" => Expr::Column(self.str_arg(args[0])?),
            "lit" => Expr::Value(self.value(args[0])?),
            "lower" => Expr::Lower(Box::new(self.expr(args[0])?)),
            "upper" => Expr::Upper(Box::new(self.expr(args[0])?)),
            "coalesce" => Expr::Coalesce(self.vec(args[0], |e| self.expr(e))?),
            "concat" => Expr::Concat(self.vec(args[0], |e| self.expr(e))?),
            _ => Expr::Cast(Box::new(self.expr(args[0])?), self.column_type(args[1])?),
        })
    }

    pub(super) fn filter(&self, expr: &Syn) -> Result<Filter> {
        let expected = "`all()`, `eq(..)`, `ne(..)`, `is_null(..)`, `is_not_null(..)`, `is_in(..)`, `and(vec![..])` or `or(vec![..])`";
        let (name, args) = self.helper(expr, expected)?;
        let n = match name.as_str() {
            "all" => 0,
            "is_null" | "is_not_null" | "and" | "or" => 1,
            "eq" | "ne" | "is_in" => 2,
            _ => return Err(self.unexpected(expr, expected)),
        };
        self.arity(expr, &name, &args, n)?;
        Ok(match name.as_str() {
            "all" => Filter::All,
            "eq" => Filter::Eq(self.str_arg(args[0])?, self.value(args[1])?),
            "ne" => Filter::Ne(self.str_arg(args[0])?, self.value(args[1])?),
            "is_null" => Filter::IsNull(self.str_arg(args[0])?),
            "is_not_null" => Filter::IsNotNull(self.str_arg(args[0])?),
            "is_in" => Filter::In(
                self.str_arg(args[0])?,
                self.vec(args[1], |v| self.value(v))?,
            ),
            "and" => Filter::And(self.vec(args[0], |f| self.filter(f))?),
            _ => Filter::Or(self.vec(args[0], |f| self.filter(f))?),
        })
    }
}
