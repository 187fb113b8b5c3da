//! Reads a generated migration file back into a [`MigrationPlan`] without compiling it.
//!
//! It accepts exactly the vocabulary [`crate::generate`] writes: `use` items, the unit struct, the
//! `Migration` impl with `version`, `up` and `down`, whose bodies are `db.<method>(<literals>)?;`
//! calls ending in `Ok(())`. Anything else is an error naming the file, line and construct.

mod bodies;
mod data;
mod schema;

use crate::cores::on_every_core;
use crate::lint::Allow;
use crate::migration::{MigrationPlan, Source};
use crate::nesting::MAX_FILE_NESTING;
use crate::operation::Operation;
use crate::{Error, Result};
use proc_macro2::{LineColumn, Span, TokenStream};
use quote::ToTokens;
use std::path::{Path, PathBuf};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ImplItem, Item, Lit, Stmt, Token};

/// Reads and parses the migration file at `path`.
pub fn parse_migration_file(path: impl AsRef<Path>) -> Result<MigrationPlan> {
    let path = path.as_ref();
    let source = crate::fs::read_text(path, |line, column| not_utf8(path, line, column))?;
    parse_migration(&source, path)
}

/// The error for a migration file with a byte that is not UTF-8 at `line`, `column`.
pub(crate) fn not_utf8(path: &Path, line: usize, column: usize) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message: "not UTF-8 text (Rust source is UTF-8)".into(),
    }
}

/// Parses migration source; `path` names it in errors, and its file stem must be the version.
pub fn parse_migration(source: &str, path: &Path) -> Result<MigrationPlan> {
    Parser::new(path).file(source)
}

/// Parses one step as a migration file writes it, `db.<operation>(...)` (the `?;` may be left
/// out): what `toasty migrate:generate --data` appends. `origin` names it in errors.
pub fn parse_step(source: &str, origin: &str) -> Result<Operation> {
    let origin = PathBuf::from(origin);
    let parser = Parser::new(&origin);
    let body = source.trim().trim_end_matches(';').trim_end();
    let body = body.strip_suffix('?').unwrap_or(body);
    let tokens: TokenStream = format!("{body}?;")
        .parse()
        .map_err(|e: proc_macro2::LexError| {
            parser.error(e.span(), format!("not valid Rust: {e}"))
        })?;
    if let Some(span) = crate::nesting::too_deep(&tokens) {
        return Err(parser.error(
            span,
            format!("nested deeper than {MAX_FILE_NESTING} levels"),
        ));
    }
    let stmt: Stmt =
        syn::parse2(tokens).map_err(|e| parser.error(e.span(), format!("not valid Rust: {e}")))?;
    parser.call(&stmt)
}

/// Reads one text: a whole file, or one statement of a body cut out of it ([`bodies`]).
#[derive(Clone, Copy)]
struct Parser<'p> {
    path: &'p Path,
    /// Where the text starts in the file: spans count from the text's start.
    origin: LineColumn,
}

type Args = Punctuated<Expr, Token![,]>;

impl<'p> Parser<'p> {
    fn new(path: &'p Path) -> Self {
        Parser {
            path,
            origin: LineColumn { line: 1, column: 0 },
        }
    }

    /// Where `span` is in the file.
    fn place(&self, span: Span) -> LineColumn {
        let start = span.start();
        LineColumn {
            line: self.origin.line + start.line - 1,
            column: match start.line {
                1 => self.origin.column + start.column,
                _ => start.column,
            },
        }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> Error {
        let at = self.place(span);
        Error::Parse {
            path: self.path.to_path_buf(),
            line: at.line,
            column: at.column + 1,
            message: message.into(),
        }
    }

    fn unexpected(&self, node: &dyn ToTokens, expected: &str) -> Error {
        let tokens = node.to_token_stream();
        let span = tokens_span(&tokens);
        // Quote the construct as written; fall back to its tokens.
        let mut text = span.source_text().unwrap_or_else(|| tokens.to_string());
        if let Some(first_line) = text.lines().next()
            && first_line.len() < text.len()
        {
            text = format!("{first_line} ...");
        }
        if text.chars().count() > 80 {
            text = text.chars().take(77).collect::<String>() + "...";
        }
        self.error(span, format!("expected {expected}, found `{text}`"))
    }

    /// The tokens of `source`, refused when they nest too deep for syn.
    fn tokens(&self, source: &str) -> Result<TokenStream> {
        let tokens: TokenStream = source.parse().map_err(|e: proc_macro2::LexError| {
            self.error(e.span(), format!("not valid Rust: {e}"))
        })?;
        if let Some(span) = crate::nesting::too_deep(&tokens) {
            return Err(self.error(
                span,
                format!(
                    "nested deeper than {MAX_FILE_NESTING} levels (brackets, `<..>` or operators); \
                     no generated migration nests this deep"
                ),
            ));
        }
        Ok(tokens)
    }

    fn file(&self, source: &str) -> Result<MigrationPlan> {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        // syn reads the file without its `up` and `down` bodies, then each body's statements
        // one by one, so that no syntax tree of the whole file is ever built.
        let cut = bodies::cut(source);
        let file: syn::File = syn::parse2(self.tokens(&cut.skeleton)?)
            .map_err(|e| self.error(e.span(), format!("not valid Rust: {e}")))?;
        let bodies = Bodies { source, cut };
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let type_name = format!("Migration_{stem}");
        let mut seen_struct = false;
        let mut plan = None;
        for item in &file.items {
            match item {
                Item::Use(_) => {}
                Item::Struct(s)
                    if s.ident == type_name && matches!(s.fields, syn::Fields::Unit) =>
                {
                    seen_struct = true;
                }
                Item::Impl(imp) if plan.is_none() => {
                    plan = Some(self.migration_impl(imp, &type_name, &stem, &bodies)?)
                }
                other => {
                    return Err(self.unexpected(
                        other,
                        &format!("only `use` items, `pub struct {type_name};` and `impl Migration for {type_name}`"),
                    ));
                }
            }
        }
        if !seen_struct {
            return Err(self.error(
                Span::call_site(),
                format!("no `pub struct {type_name};` in the file"),
            ));
        }
        plan.ok_or_else(|| {
            self.error(
                Span::call_site(),
                format!("no `impl Migration for {type_name}` in the file"),
            )
        })
    }

    fn migration_impl(
        &self,
        imp: &syn::ItemImpl,
        type_name: &str,
        stem: &str,
        bodies: &Bodies,
    ) -> Result<MigrationPlan> {
        let is_migration = imp
            .trait_
            .as_ref()
            .is_some_and(|(bang, path, _)| bang.is_none() && path.is_ident("Migration"));
        let self_ok = matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident(type_name));
        if !is_migration || !self_ok || !imp.generics.params.is_empty() {
            return Err(self.unexpected(&imp.self_ty, &format!("`impl Migration for {type_name}`")));
        }
        let (mut version, mut up, mut down, mut transactional) = (None, None, None, None);
        let (mut parent, mut replaces, mut allow, mut online) = (None, None, None, None);
        for item in &imp.items {
            let ImplItem::Fn(f) = item else {
                return Err(self.unexpected(item, "`fn version`, `fn up` or `fn down`"));
            };
            match f.sig.ident.to_string().as_str() {
                "version" if version.is_none() => {
                    let [Stmt::Expr(Expr::Lit(lit), None)] = f.block.stmts.as_slice() else {
                        return Err(
                            self.unexpected(&f.block, "a string literal as the body of `version`")
                        );
                    };
                    let v = self.string_lit(&lit.lit)?;
                    if v != stem {
                        return Err(self.error(
                            lit.span(),
                            format!("version {v:?} does not match the file name {stem:?}"),
                        ));
                    }
                    version = Some(v);
                }
                "transactional" if transactional.is_none() => {
                    let [Stmt::Expr(body, None)] = f.block.stmts.as_slice() else {
                        return Err(self.unexpected(
                            &f.block,
                            "`true` or `false` as the body of `transactional`",
                        ));
                    };
                    transactional = Some(self.bool(body)?);
                }
                "online" if online.is_none() => {
                    let [Stmt::Expr(body, None)] = f.block.stmts.as_slice() else {
                        return Err(
                            self.unexpected(&f.block, "`true` or `false` as the body of `online`")
                        );
                    };
                    online = Some(self.bool(body)?);
                }
                "parent" if parent.is_none() => {
                    let [Stmt::Expr(body, None)] = f.block.stmts.as_slice() else {
                        return Err(self.unexpected(
                            &f.block,
                            "`Some(\"<version>\")` as the body of `parent`",
                        ));
                    };
                    parent = Some(self.option(body, |e| self.str_arg(e))?);
                }
                "replaces" if replaces.is_none() => {
                    let expected = "`&[\"<version>\", ..]` as the body of `replaces`";
                    let [Stmt::Expr(Expr::Reference(r), None)] = f.block.stmts.as_slice() else {
                        return Err(self.unexpected(&f.block, expected));
                    };
                    let Expr::Array(versions) = &*r.expr else {
                        return Err(self.unexpected(&r.expr, expected));
                    };
                    replaces = Some(
                        versions
                            .elems
                            .iter()
                            .map(|e| self.str_arg(e))
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                "allow" if allow.is_none() => {
                    let expected = "`&[(\"<code>\", \"<reason>\"), ..]` as the body of `allow`";
                    let [Stmt::Expr(Expr::Reference(r), None)] = f.block.stmts.as_slice() else {
                        return Err(self.unexpected(&f.block, expected));
                    };
                    let Expr::Array(pairs) = &*r.expr else {
                        return Err(self.unexpected(&r.expr, expected));
                    };
                    let mut allows = Vec::new();
                    for pair in &pairs.elems {
                        let Expr::Tuple(t) = pair else {
                            return Err(self.unexpected(pair, expected));
                        };
                        let [code, reason] = [t.elems.first(), t.elems.get(1)];
                        let (Some(code), Some(reason), 2) = (code, reason, t.elems.len()) else {
                            return Err(self.unexpected(pair, expected));
                        };
                        allows.push(Allow {
                            code: self.str_arg(code)?,
                            reason: self.str_arg(reason)?,
                        });
                    }
                    allow = Some(allows);
                }
                "up" if up.is_none() => up = Some(self.body(&f.block, bodies)?),
                "down" if down.is_none() => down = Some(self.body(&f.block, bodies)?),
                _ => {
                    return Err(
                        self.unexpected(&f.sig, "one each of `fn version`, `fn up`, `fn down` and optionally `fn parent`, `fn replaces`, `fn allow`, `fn transactional` and `fn online`")
                    );
                }
            }
        }
        let missing = |name: &str| self.error(imp.span(), format!("the impl has no `fn {name}`"));
        let (up, up_lines): (Vec<_>, Vec<_>) = up.ok_or_else(|| missing("up"))?.into_iter().unzip();
        let (down, down_lines): (Vec<_>, Vec<_>) =
            down.ok_or_else(|| missing("down"))?.into_iter().unzip();
        Ok(MigrationPlan {
            version: version.ok_or_else(|| missing("version"))?,
            up,
            down,
            transactional: transactional.unwrap_or(true),
            online: online.unwrap_or(true),
            parent: parent.flatten(),
            replaces: replaces.unwrap_or_default(),
            allow: allow.unwrap_or_default(),
            source: Some(Source {
                path: self.path.to_path_buf(),
                up: up_lines,
                down: down_lines,
            }),
        })
    }

    /// The operations of a body, each with its line: its statements read from the text cut
    /// out of the file, on every core for a body of thousands (a body that was not cut, as syn
    /// read it with the file).
    fn body(&self, block: &syn::Block, bodies: &Bodies) -> Result<Vec<(Operation, usize)>> {
        let mut reads = match bodies.cut.body(block.brace_token.span.open().start()) {
            Some(body) => {
                // Only the last text can end the body (one ending `Ok(());` is told below).
                let last = body.statements.len() - 1;
                let texts: Vec<_> = body.statements.iter().enumerate().collect();
                let pieces = on_every_core(&texts, 256, |(i, (range, origin))| {
                    let piece = Parser {
                        path: self.path,
                        origin: *origin,
                    };
                    let stmts = syn::parse::Parser::parse2(
                        syn::Block::parse_within,
                        piece.tokens(&bodies.source[range.clone()])?,
                    )
                    .map_err(|e| piece.error(e.span(), format!("not valid Rust: {e}")))?;
                    Ok(piece.read(stmts, *i == last))
                });
                let pieces = pieces.into_iter().collect::<Result<Vec<_>>>()?;
                pieces.into_iter().flatten().collect()
            }
            None => self.read(block.stmts.clone(), true),
        };
        let Some(last) = reads.pop() else {
            return Err(self.error(block.span(), "empty body: it must end with `Ok(())`"));
        };
        match last.end {
            Some(end) => end?,
            None => {
                return Err(self.error(
                    block.brace_token.span.close(),
                    "expected `Ok(())` at the end of the body",
                ));
            }
        }
        reads.into_iter().map(|read| read.call).collect()
    }

    /// Statements of a body, each read as a call; the last, if `last` says they are the end of
    /// the body's text, also as the body's end.
    fn read(&self, stmts: Vec<Stmt>, last: bool) -> Vec<Read> {
        let count = stmts.len();
        let mut reads = Vec::with_capacity(count);
        for (i, stmt) in stmts.into_iter().enumerate() {
            let call = self
                .call(&stmt)
                .map(|op| (op, self.place(stmt.span()).line));
            let end = (last && i + 1 == count).then(|| self.end(&stmt));
            reads.push(Read { call, end });
        }
        reads
    }

    /// Whether `stmt` ends a body as it must: `Ok(())`.
    fn end(&self, stmt: &Stmt) -> Result<()> {
        let is_ok_unit = match stmt {
            Stmt::Expr(Expr::Call(call), None) => {
                matches!(&*call.func, Expr::Path(p) if p.path.is_ident("Ok"))
                    && matches!(call.args.first(), Some(Expr::Tuple(t)) if t.elems.is_empty())
                    && call.args.len() == 1
            }
            _ => false,
        };
        match is_ok_unit {
            true => Ok(()),
            false => Err(self.unexpected(stmt, "`Ok(())` at the end of the body")),
        }
    }

    fn call(&self, stmt: &Stmt) -> Result<Operation> {
        let expected = "a call `db.<operation>(...)?;`";
        let Stmt::Expr(Expr::Try(tried), Some(_)) = stmt else {
            return Err(self.unexpected(stmt, expected));
        };
        let Expr::MethodCall(call) = &*tried.expr else {
            return Err(self.unexpected(stmt, expected));
        };
        if !matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("db"))
            || call.turbofish.is_some()
        {
            return Err(self.unexpected(stmt, expected));
        }
        let args: Vec<&Expr> = call.args.iter().collect();
        let method = call.method.to_string();
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(self.error(
                    call.span(),
                    format!("`db.{method}` takes {n} argument(s), found {}", args.len()),
                ))
            }
        };
        Ok(match method.as_str() {
            "create_table" => {
                arity(1)?;
                Operation::CreateTable(self.table_def(args[0])?)
            }
            "drop_table" => {
                arity(1)?;
                Operation::DropTable {
                    table: self.str_arg(args[0])?,
                }
            }
            "add_column" => {
                arity(2)?;
                Operation::AddColumn {
                    table: self.str_arg(args[0])?,
                    column: self.column_def(args[1])?,
                    position: None,
                }
            }
            "add_column_at" => {
                arity(3)?;
                Operation::AddColumn {
                    table: self.str_arg(args[0])?,
                    column: self.column_def(args[1])?,
                    position: Some(self.column_position(args[2])?),
                }
            }
            "drop_column" => {
                arity(2)?;
                Operation::DropColumn {
                    table: self.str_arg(args[0])?,
                    column: self.str_arg(args[1])?,
                }
            }
            "modify_column" => {
                arity(3)?;
                Operation::ModifyColumn {
                    table: self.str_arg(args[0])?,
                    from: self.column_def(args[1])?,
                    to: self.column_def(args[2])?,
                }
            }
            "create_index" => {
                arity(2)?;
                Operation::CreateIndex {
                    table: self.str_arg(args[0])?,
                    index: self.index_def(args[1])?,
                }
            }
            "drop_index" => {
                arity(2)?;
                Operation::DropIndex {
                    table: self.str_arg(args[0])?,
                    index: self.str_arg(args[1])?,
                }
            }
            "raw" => {
                arity(1)?;
                Operation::Raw {
                    statement: self.str_arg(args[0])?,
                }
            }
            "insert_rows" => {
                arity(2)?;
                Operation::InsertRows {
                    table: self.str_arg(args[0])?,
                    rows: self.rows(args[1])?,
                }
            }
            "update_rows" => {
                arity(3)?;
                Operation::UpdateRows {
                    table: self.str_arg(args[0])?,
                    set: self.assignments(args[1])?,
                    filter: self.filter(args[2])?,
                }
            }
            "delete_rows" => {
                arity(2)?;
                Operation::DeleteRows {
                    table: self.str_arg(args[0])?,
                    filter: self.filter(args[1])?,
                }
            }
            "irreversible" => {
                arity(1)?;
                Operation::Irreversible {
                    reason: self.str_arg(args[0])?,
                }
            }
            other => {
                return Err(self.error(
                    call.method.span(),
                    format!("unknown operation `db.{other}`"),
                ));
            }
        })
    }

    /// `vec![a, b, ..]`, each item read by `item`.
    fn vec<T>(&self, expr: &Expr, item: impl Fn(&Expr) -> Result<T>) -> Result<Vec<T>> {
        let Expr::Macro(m) = expr else {
            return Err(self.unexpected(expr, "`vec![..]`"));
        };
        if !m.mac.path.is_ident("vec") {
            return Err(self.unexpected(expr, "`vec![..]`"));
        }
        let items = m
            .mac
            .parse_body_with(Args::parse_terminated)
            .map_err(|e| self.error(e.span(), format!("in `vec![..]`: {e}")))?;
        items.iter().map(item).collect()
    }

    fn option<T>(&self, expr: &Expr, inner: impl Fn(&Expr) -> Result<T>) -> Result<Option<T>> {
        match expr {
            Expr::Path(p) if p.path.is_ident("None") => Ok(None),
            Expr::Call(call)
                if matches!(&*call.func, Expr::Path(p) if p.path.is_ident("Some"))
                    && call.args.len() == 1 =>
            {
                inner(&call.args[0]).map(Some)
            }
            _ => Err(self.unexpected(expr, "`None` or `Some(..)`")),
        }
    }

    /// `"text".into()`.
    fn string_into(&self, expr: &Expr) -> Result<String> {
        match expr {
            Expr::MethodCall(m)
                if m.method == "into" && m.args.is_empty() && m.turbofish.is_none() =>
            {
                match &*m.receiver {
                    Expr::Lit(lit) => self.string_lit(&lit.lit),
                    other => Err(self.unexpected(other, "a string literal")),
                }
            }
            _ => Err(self.unexpected(expr, "`\"..\".into()`")),
        }
    }

    /// `"text"` as a plain method argument.
    fn str_arg(&self, expr: &Expr) -> Result<String> {
        match expr {
            Expr::Lit(lit) => self.string_lit(&lit.lit),
            _ => Err(self.unexpected(expr, "a string literal")),
        }
    }

    fn string_lit(&self, lit: &Lit) -> Result<String> {
        match lit {
            Lit::Str(s) => Ok(s.value()),
            _ => Err(self.unexpected(lit, "a string literal")),
        }
    }

    fn bool(&self, expr: &Expr) -> Result<bool> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            _ => Err(self.unexpected(expr, "`true` or `false`")),
        }
    }

    fn unsigned<T: std::str::FromStr>(&self, expr: &Expr) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(i), ..
            }) if i.suffix().is_empty() => i
                .base10_parse()
                .map_err(|e| self.error(i.span(), format!("{e}"))),
            _ => Err(self.unexpected(expr, "an unsuffixed integer literal")),
        }
    }

    fn signed(&self, expr: &Expr) -> Result<i64> {
        let (negative, lit) = match expr {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, &*u.expr),
            other => (false, other),
        };
        let magnitude: i128 = self.unsigned(lit)?;
        let value = if negative { -magnitude } else { magnitude };
        i64::try_from(value)
            .map_err(|_| self.error(expr.span(), format!("{value} does not fit in an i64")))
    }

    fn float(&self, expr: &Expr) -> Result<f64> {
        let (negative, lit) = match expr {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, &*u.expr),
            other => (false, other),
        };
        let value: f64 = match lit {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Float(f), ..
            }) if f.suffix().is_empty() => f
                .base10_parse()
                .map_err(|e| self.error(f.span(), format!("{e}")))?,
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(i), ..
            }) if i.suffix().is_empty() => i
                .base10_parse()
                .map_err(|e| self.error(i.span(), format!("{e}")))?,
            _ => return Err(self.unexpected(expr, "an unsuffixed number literal")),
        };
        Ok(if negative { -value } else { value })
    }
}

fn path_string(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

/// One statement of a body: the call it is, with its line, and for the last statement of the
/// body's text, whether it ends the body.
struct Read {
    call: Result<(Operation, usize)>,
    end: Option<Result<()>>,
}

/// A file's text and its cut-out bodies.
struct Bodies<'s> {
    source: &'s str,
    cut: bodies::Cut,
}

/// The span from the first to the last token.
fn tokens_span(tokens: &proc_macro2::TokenStream) -> Span {
    let mut iter = tokens.clone().into_iter();
    let Some(first) = iter.next() else {
        return Span::call_site();
    };
    let first = first.span();
    match iter.last() {
        Some(last) => first.join(last.span()).unwrap_or(first),
        None => first,
    }
}
