//! Output conventions: JSON documents, colour only on a terminal, quiet and verbose levels; and every
//! write to standard output and standard error of the program (`outln!`, `out!`, `errln!`, `err!`).
//!
//! Writes never panic (`println!` does, with exit 101, on a closed pipe or a full disk):
//! - **Closed pipe** (EPIPE, `prelaunch measure --vcpus 1-4096 ... | head -1`): the rest of the
//!   output is discarded quietly and the command finishes as if it had been read, with the exit code
//!   it would have had. Not exit 0 at once: `verify ... | head -1` must still exit 3 on a mismatch,
//!   or a closed pipe would turn a mismatch into a yes.
//! - **Any other write error** (ENOSPC from `>/dev/full`, EIO): a message on stderr and exit 1 at once.
//! - **Standard error** failing as well: nothing is left to tell, so its errors are ignored.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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

    /// A note on stderr (suppressed by `-q`).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            crate::errln!("prelaunch: {msg}");
        }
    }

    /// Detail on stderr at `-v` (`level` 1) or `-vv` (2); never under `-q`. The message is built only
    /// when it is printed (some hash whole files).
    pub fn detail(&self, level: u8, msg: impl FnOnce() -> String) {
        if !self.quiet && self.verbose >= level {
            crate::errln!("prelaunch: {}", msg());
        }
    }

    /// A warning on stderr (suppressed by `-q`).
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            crate::errln!("prelaunch: warning: {msg}");
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

/// What a JSON document is: its `format` member and schema version. Every document a command prints
/// carries both, and `schema/<name>.v<version>.schema.json` describes it (tested in
/// cli/tests/it/json_schemas.rs).
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    pub name: &'static str,
    pub version: u32,
}

impl Doc {
    pub const MEASURE: Doc = Doc { name: "measure", version: 1 };
    /// `measure --mode tdx`: MRTD, RTMR0-2 and their events.
    pub const MEASURE_TDX: Doc = Doc { name: "measure-tdx", version: 1 };
    pub const DIAGNOSE: Doc = Doc { name: "diagnose", version: 1 };
    pub const INSPECT: Doc = Doc { name: "inspect", version: 1 };
    pub const FIRMWARE_LIST: Doc = Doc { name: "firmware-list", version: 1 };
    /// The launch plan (`layout --json`, read back by `load --plan`): the plan's own format version.
    pub const PLAN: Doc = Doc { name: "plan", version: prelaunch_measure::plan::PLAN_VERSION };
    pub const LOAD: Doc = Doc { name: "load", version: 1 };
    pub const PROBE: Doc = Doc { name: "probe", version: 1 };
    pub const EVENT_LOG: Doc = Doc { name: "event-log", version: 1 };
    pub const ID_BLOCK: Doc = Doc { name: "id-block", version: 1 };
}

/// Prints the JSON document `v` (an object) on stdout with its `format` and `version` members.
pub fn print_doc<T: Serialize>(doc: Doc, v: &T) -> Result<(), CliError> {
    let mut v = serde_json::to_value(v).map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("format".into(), format!("prelaunch-{}", doc.name).into());
        m.insert("version".into(), doc.version.into());
    }
    print_json(&v)
}

/// Prints a JSON document on stdout (commands use [`print_doc`]).
pub fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    crate::outln!("{s}");
    Ok(())
}

/// Set once a write to stdout met a closed pipe: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout under the rules in the module documentation. Use `outln!`/`out!`.
pub fn stdout_fmt(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let r = std::io::stdout().lock().write_fmt(args);
    if let Err(e) = r {
        stdout_failed(e);
    }
}

/// Writes bytes (a rendered man page, a completion script) to stdout under the same rules.
pub fn stdout_bytes(b: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let r = std::io::stdout().lock().write_all(b);
    if let Err(e) = r {
        stdout_failed(e);
    }
}

/// Writes to stderr, ignoring errors (there is nowhere left to report them). Use `errln!`/`err!`.
pub fn stderr_fmt(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Prints clap's help, version or usage error through these rules and exits with clap's code (0
/// for help and version, 2 for usage). clap's own `exit` ignores write errors.
pub fn clap_exit(e: clap::Error) -> ! {
    let to_stderr = e.use_stderr();
    let terminal = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
    let styled = e.render();
    let text = if terminal && std::env::var_os("NO_COLOR").is_none() { styled.ansi().to_string() } else { styled.to_string() };
    if to_stderr {
        stderr_fmt(format_args!("{text}"));
    } else {
        stdout_fmt(format_args!("{text}"));
        finish();
    }
    std::process::exit(e.exit_code())
}

/// Flushes stdout before the process exits (buffered lines would otherwise fail unseen at exit).
pub fn finish() {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_failed(e);
    }
}

fn stdout_failed(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        return;
    }
    stderr_fmt(format_args!("prelaunch: error: cannot write to standard output: {e}\n"));
    std::process::exit(crate::error::EXIT_ERROR);
}

/// `println!` on stdout without the panic (see the module documentation).
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stdout_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` on stdout without the panic.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout_fmt(format_args!($($arg)*)) };
}

/// `eprintln!` without the panic.
#[macro_export]
macro_rules! errln {
    () => { $crate::output::stderr_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stderr_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` without the panic.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stderr_fmt(format_args!($($arg)*)) };
}

/// `0x…` for addresses in human output.
pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// Writes `bytes` to `path` (atomically, never through a symbolic link: prelaunch-files'
/// `write_atomic`), or to stdout when `None`.
pub fn write_output(path: Option<&std::path::Path>, bytes: &[u8]) -> Result<(), CliError> {
    match path {
        Some(p) => prelaunch_files::write_atomic(p, bytes).map_err(CliError::from),
        None => {
            stdout_bytes(bytes);
            Ok(())
        }
    }
}
