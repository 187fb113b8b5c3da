//! Progress bars for long steps (item and document rewrites, batched data steps, index
//! builds), on stderr, one look for every backend (feature `progress`). indicatif draws nothing
//! where stderr is not a terminal; a backend draws only when asked (`with_progress`).

pub use indicatif::ProgressBar;
use indicatif::ProgressStyle;

/// A bar counting `unit`s towards `len` (an estimate; it grows if passed), or a hidden one.
pub fn bar(enabled: bool, len: u64, unit: &str, message: String) -> ProgressBar {
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
pub fn advance(bar: &ProgressBar, n: u64) {
    bar.inc(n);
    if bar.length().is_some_and(|len| bar.position() > len) {
        bar.set_length(bar.position());
    }
}

/// A counter of `unit`s with no known end (batches of a data step), or a hidden one.
pub fn counter(enabled: bool, unit: &str, message: String) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {{msg}}: {{pos}} {unit} ({{elapsed}})"
    ))
    .expect("a valid template");
    ProgressBar::new_spinner()
        .with_style(style)
        .with_message(message)
}
