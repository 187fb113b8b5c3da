//! Cutting the bodies of `fn up` and `fn down` out of a migration file, so that syn reads the
//! rest as a file and each body one statement at a time: a first migration of 10,000 tables is
//! read in memory proportional to its largest statement, not to the syntax tree of the whole
//! file. The lexer is rust-analyzer's, which needs no tree: it finds each statement's `;` at
//! the body's own depth.

use proc_macro2::LineColumn;
use ra_ap_rustc_lexer::{FrontmatterAllowed, TokenKind, tokenize};
use std::ops::Range;

/// A file with its `up` and `down` bodies cut out.
pub(super) struct Cut {
    /// The file with each cut body's text replaced by its line breaks (and spaces for what
    /// follows the last), so that every token left keeps its line and column.
    pub skeleton: String,
    pub bodies: Vec<Body>,
}

/// One cut body.
pub(super) struct Body {
    /// Where its `{` is: how the skeleton's block is told to be this one.
    pub open: LineColumn,
    /// Each statement's text (up to its `;`; the last one up to the `}`) and where it starts.
    pub statements: Vec<(Range<usize>, LineColumn)>,
}

impl Cut {
    pub fn body(&self, open: LineColumn) -> Option<&Body> {
        self.bodies.iter().find(|b| b.open == open)
    }
}

/// `source` with its `up` and `down` bodies cut out: those of `fn up` and `fn down` one level
/// inside a brace group (the impl). A file whose brackets do not balance is left whole, for
/// syn to say where.
pub(super) fn cut(source: &str) -> Cut {
    let whole = || Cut {
        skeleton: source.to_string(),
        bodies: Vec::new(),
    };
    let mut cut = Cut {
        skeleton: String::new(),
        bodies: Vec::new(),
    };
    let mut copied = 0;
    let mut pos = 0;
    let mut at = LineColumn { line: 1, column: 0 };
    let mut depth = 0usize;
    // At depth 1: whether the last token was `fn`, and the name of the function being read.
    let (mut after_fn, mut name) = (false, None);
    // The body being read: where its text starts, and where its current statement starts.
    let mut open: Option<(Body, usize)> = None;
    let mut statement = (0, at);
    for token in tokenize(source, FrontmatterAllowed::No) {
        let text = &source[pos..pos + token.len as usize];
        let end = pos + text.len();
        let mut end_at = at;
        for c in text.chars() {
            if c == '\n' {
                end_at.line += 1;
                end_at.column = 0;
            } else {
                end_at.column += 1;
            }
        }
        match token.kind {
            TokenKind::OpenBrace | TokenKind::OpenParen | TokenKind::OpenBracket => {
                if token.kind == TokenKind::OpenBrace && depth == 1 {
                    if matches!(name, Some("up" | "down")) {
                        let body = Body {
                            open: at,
                            statements: Vec::new(),
                        };
                        open = Some((body, end));
                        statement = (end, end_at);
                    }
                    name = None;
                }
                depth += 1;
            }
            TokenKind::CloseBrace | TokenKind::CloseParen | TokenKind::CloseBracket => {
                let Some(d) = depth.checked_sub(1) else {
                    return whole();
                };
                depth = d;
                if depth == 1
                    && let Some((mut body, start)) = open.take()
                {
                    body.statements.push((statement.0..pos, statement.1));
                    cut.skeleton.push_str(&source[copied..start]);
                    push_blank(&mut cut.skeleton, &source[start..pos]);
                    copied = pos;
                    cut.bodies.push(body);
                }
            }
            TokenKind::Semi if depth == 2 => {
                if let Some((body, _)) = &mut open {
                    body.statements.push((statement.0..end, statement.1));
                    statement = (end, end_at);
                }
            }
            TokenKind::Semi if depth == 1 => name = None,
            TokenKind::Ident if depth == 1 => {
                if after_fn {
                    name = Some(text);
                }
                after_fn = text == "fn";
            }
            _ => {}
        }
        if !matches!(
            token.kind,
            TokenKind::Ident
                | TokenKind::Whitespace
                | TokenKind::LineComment { .. }
                | TokenKind::BlockComment { .. }
        ) {
            after_fn = false;
        }
        pos = end;
        at = end_at;
    }
    if depth != 0 {
        return whole();
    }
    cut.skeleton.push_str(&source[copied..]);
    cut
}

/// `text` as blank: its line breaks, then a space for each character after the last.
fn push_blank(out: &mut String, text: &str) {
    let lines = text.matches('\n').count();
    let last = text.rsplit('\n').next().unwrap_or_default();
    out.extend(std::iter::repeat_n('\n', lines));
    out.extend(std::iter::repeat_n(' ', last.chars().count()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_up_and_down_keeping_every_other_position() {
        let source = "impl M for X {\n    fn version(&self) -> &str { \"v\" }\n    fn up(&self, db: &mut dyn C) -> Result<()> {\n        db.a(\"x;y\", {1; 2})?; // ;\n        db.b()?;\n        Ok(())\n    } fn down() { Ok(()) }\n}\n";
        let cut = cut(source);
        assert_eq!(
            cut.skeleton,
            "impl M for X {\n    fn version(&self) -> &str { \"v\" }\n    fn up(&self, db: &mut dyn C) -> Result<()> {\n\n\n\n    } fn down() {        }\n}\n"
        );
        let texts: Vec<Vec<&str>> = cut
            .bodies
            .iter()
            .map(|b| {
                b.statements
                    .iter()
                    .map(|(r, _)| &source[r.clone()])
                    .collect()
            })
            .collect();
        assert_eq!(
            texts,
            [
                vec![
                    "\n        db.a(\"x;y\", {1; 2})?;",
                    " // ;\n        db.b()?;",
                    "\n        Ok(())\n    "
                ],
                vec![" Ok(()) "]
            ]
        );
        assert_eq!(
            cut.bodies[0].open,
            LineColumn {
                line: 3,
                column: 47
            }
        );
        assert_eq!(
            cut.bodies[0].statements[1].1,
            LineColumn {
                line: 4,
                column: 29
            }
        );
        assert_eq!(
            cut.bodies[1].open,
            LineColumn {
                line: 7,
                column: 16
            }
        );
    }

    #[test]
    fn leaves_unbalanced_files_whole() {
        let source = "impl M for X { fn up() { db.a()?; }";
        let cut = cut(source);
        assert_eq!(cut.skeleton, source);
        assert!(cut.bodies.is_empty());
    }
}
