//! Printing: colored on a terminal, plain in pipes and under `NO_COLOR` (anstream decides).

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};
use toasty_migrate::diff::{ChangeKind, SchemaChange};

pub const BOLD: Style = Style::new().bold();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const DIM: Style = Style::new().dimmed();

/// One change, marked by class: `+` additive, `~` modificative, `-` destructive; and `!` for
/// anything that can lose data.
pub fn change(change: &SchemaChange) {
    let (mark, style) = match change.kind() {
        ChangeKind::Additive => ("+", GREEN),
        ChangeKind::Modificative => ("~", YELLOW),
        ChangeKind::Destructive => ("-", RED),
    };
    let loss = if change.is_destructive() {
        format!(" {RED}! can lose data{RED:#}")
    } else {
        String::new()
    };
    println!(
        "  {style}{mark} {change}{style:#} {DIM}({}){DIM:#}{loss}",
        change.kind()
    );
}

/// The error and its causes, each said once (a cause whose text the message already holds is
/// not repeated), with the URL's credentials hidden from anything a driver quoted.
pub fn error(err: &anyhow::Error, url: Option<&str>) {
    let hide = |text: String| match url {
        Some(url) => toasty_migrate::backend::redact_in(&text, url),
        None => text,
    };
    let mut said = err.to_string();
    eprintln!("{RED}error:{RED:#} {}", hide(said.clone()));
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !said.contains(&cause) {
            eprintln!("  caused by: {}", hide(cause.clone()));
        }
        said.push_str(&cause);
    }
}
