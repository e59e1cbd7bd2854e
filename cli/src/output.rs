//! Output conventions: JSON documents, colour only on a terminal, quiet and verbose levels.

use std::io::IsTerminal;

use serde::Serialize;

use crate::error::CliError;

/// Global output settings from `-q`, `-v` and `--color`.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
}

impl Out {
    pub fn new(quiet: bool, verbose: u8, color: crate::ColorChoice) -> Self {
        let color = match color {
            crate::ColorChoice::Always => true,
            crate::ColorChoice::Never => false,
            crate::ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        Out { quiet, verbose, color }
    }

    /// Wraps `s` in an ANSI style when colour is on.
    pub fn paint(&self, style: Style, s: &str) -> String {
        if !self.color {
            return s.to_owned();
        }
        let code = match style {
            Style::Good => "32",
            Style::Bad => "31;1",
            Style::Warn => "33",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    /// A warning on stderr (suppressed by `-q`).
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("prelaunch: warning: {msg}");
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Style {
    Good,
    Bad,
    Warn,
    Dim,
    Bold,
}

/// Prints a JSON document on stdout.
pub fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

/// `0x…` for addresses in human output.
pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}
