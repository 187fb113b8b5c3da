//! How deep a migration file nests, measured without recursion, so that a hostile file is refused
//! before syn (which recurses once per level) could overflow the reading thread's stack.

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};

/// How deep a migration file may nest brackets, `<..>` and runs of operators. syn recurses once
/// per level, so a file nested thousands deep would overflow the stack of the thread reading it;
/// the lexer and [`too_deep`] do not recurse. A generated file stays far below it (a list type
/// nested [`crate::types::MAX_LIST_NESTING`] deep reaches about 45).
pub const MAX_FILE_NESTING: usize = 64;

/// The first token nested deeper than [`MAX_FILE_NESTING`], counting brackets, unclosed `<`
/// and consecutive operators (`- - - 1`, `&&&&x`), each of which syn parses recursively.
/// Walks with its own stack, so it cannot overflow.
pub(crate) fn too_deep(tokens: &TokenStream) -> Option<Span> {
    struct Level {
        tokens: proc_macro2::token_stream::IntoIter,
        /// `<` not yet closed by a `>` at this level.
        angles: usize,
    }
    let mut stack = vec![Level {
        tokens: tokens.clone().into_iter(),
        angles: 0,
    }];
    let mut angles = 0;
    let mut operators = 0;
    let mut after_joint = None;
    while let Some(level) = stack.last_mut() {
        let Some(token) = level.tokens.next() else {
            angles -= level.angles;
            stack.pop();
            continue;
        };
        let mut joint = None;
        match &token {
            TokenTree::Punct(p) => {
                operators += 1;
                match p.as_char() {
                    '<' => {
                        level.angles += 1;
                        angles += 1;
                    }
                    // `->` and `=>` close nothing.
                    '>' if level.angles > 0 && !matches!(after_joint, Some('-' | '=')) => {
                        level.angles -= 1;
                        angles -= 1;
                    }
                    _ => {}
                }
                if p.spacing() == Spacing::Joint {
                    joint = Some(p.as_char());
                }
            }
            _ => operators = 0,
        }
        after_joint = joint;
        if stack.len() + angles + operators > MAX_FILE_NESTING {
            return Some(token.span());
        }
        if let TokenTree::Group(group) = token {
            stack.push(Level {
                tokens: group.stream().into_iter(),
                angles: 0,
            });
        }
    }
    None
}
