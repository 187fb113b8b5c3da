//! Progress bars for long item and document rewrites, on stderr. indicatif draws nothing where
//! stderr is not a terminal; a backend draws only when asked (`with_progress`).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `unit`s towards `len` (an estimate; it grows if passed), or a hidden one.
pub(crate) fn bar(enabled: bool, len: u64, unit: &str, message: String) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(&format!(
        "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}} left)"
    ))
    .expect("a valid template")
    .progress_chars("=> ");
    ProgressBar::new(len)
        .with_style(style)
        .with_message(message)
}

/// Moves `bar` on by `n`, growing its length if the estimate was short.
#[cfg(feature = "dynamodb")]
pub(crate) fn advance(bar: &ProgressBar, n: u64) {
    bar.inc(n);
    if bar.length().is_some_and(|len| bar.position() > len) {
        bar.set_length(bar.position());
    }
}
