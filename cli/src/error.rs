//! CLI errors and the exit codes they map to (0 success, 1 error, 2 usage, 3 mismatch, 4 not authentic).

use std::fmt;

pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_MISMATCH: i32 = 3;
pub const EXIT_NOT_AUTHENTIC: i32 = 4;

/// A failure the user has to act on. The message names the file, field or offset involved.
#[derive(Debug)]
pub enum CliError {
    /// Arguments that cannot work together (exit 2).
    Usage(String),
    /// The operation failed (exit 1).
    Failed(String),
    /// The measurement differs from the expectation (exit 3); the report was already printed.
    Mismatch(String),
    /// The evidence is not shown genuine (exit 4); the verdict was already printed.
    NotAuthentic(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Failed(_) => EXIT_ERROR,
            CliError::Mismatch(_) => EXIT_MISMATCH,
            CliError::NotAuthentic(_) => EXIT_NOT_AUTHENTIC,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Mismatch(m) | CliError::NotAuthentic(m) => f.write_str(m),
        }
    }
}

/// Shorthand for `Err(CliError::Usage(..))`.
pub fn usage<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::Usage(msg.into()))
}

/// Shorthand for `Err(CliError::Failed(..))`.
pub fn failed<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::Failed(msg.into()))
}

/// Attaches the file a library error is about.
pub trait Context<T> {
    fn in_file(self, path: &std::path::Path) -> Result<T, CliError>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn in_file(self, path: &std::path::Path) -> Result<T, CliError> {
        self.map_err(|e| CliError::Failed(format!("{}: {e}", prelaunch_files::show(path))))
    }
}

impl From<prelaunch_files::FileError> for CliError {
    fn from(e: prelaunch_files::FileError) -> Self {
        CliError::Failed(e.to_string())
    }
}
