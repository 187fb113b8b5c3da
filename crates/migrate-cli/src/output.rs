//! Printing: colored on a terminal, plain in pipes and under `NO_COLOR` (anstream decides).

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};
use toasty_migrate::diff::{ChangeKind, SchemaChange};

pub const BOLD: Style = Style::new().bold();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const DIM: Style = Style::new().dimmed();

/// Prints `text` with one write however long it is, where anstream writes each piece between
/// two styles on its own: a line each, a thousand writes for a thousand-line status in a pipe.
pub fn print_whole(text: &str) {
    use std::io::Write;
    let stdout = std::io::stdout();
    if anstream::AutoStream::choice(&stdout) == anstream::ColorChoice::Never {
        let _ = stdout
            .lock()
            .write_all(anstream::adapter::strip_str(text).to_string().as_bytes());
    } else {
        anstream::print!("{text}");
    }
}

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
    let mut said = String::new();
    for (i, cause) in err.chain().enumerate() {
        let text = cause.to_string();
        if i == 0 {
            eprintln!("{RED}error:{RED:#} {}", hide(text.clone()));
        } else if !said.contains(&text) {
            eprintln!("  caused by: {}", hide(text.clone()));
        }
        said.push_str(&text);
        // A database error's message already says, for a person, what the driver's error (its
        // source) says for a program.
        if let Some(toasty_migrate::Error::Backend { .. }) = cause.downcast_ref() {
            break;
        }
    }
}

/// Warns, on stderr, of each place the migrations' history forks (two branches merged).
pub fn forks(forks: &[String]) {
    for fork in forks {
        eprintln!("{YELLOW}warning:{YELLOW:#} branches merged: {fork}");
    }
}

/// One lint finding under its migration: red for an error the migration does not allow.
pub fn finding(finding: &toasty_migrate::lint::Finding) {
    let style = if finding.blocks() { RED } else { YELLOW };
    println!("  {style}lint{style:#} {finding}");
}
