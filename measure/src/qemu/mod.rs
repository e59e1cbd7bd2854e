//! The QEMU command line: [`model::QemuLaunch`] is what a command line launches as far as the
//! launch measurement goes; [`emit`] writes it as QEMU arguments (what `prelaunch qemu-args`
//! prints), [`parse`] reads a command line back (what `measure --qemu-cmdline` measures), refusing
//! any option it does not model; [`profile`] holds one row per QEMU release for the launch
//! semantics that changed between releases. Pure: paths are strings, nothing is read.

pub mod emit;
pub mod model;
pub mod opts;
pub mod parse;
pub mod profile;

pub use model::{Firmware, Guest, MeasureSpec, QemuLaunch};
pub use profile::QemuProfile;

/// Why a command line cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QemuError {
    /// Malformed: the message names the option and what was expected.
    #[error("{0}")]
    Syntax(String),
    /// Well-formed, but not launchable as modelled (or not by this QEMU release).
    #[error("{0}")]
    Unsupported(String),
}

#[cfg(test)]
mod tests;
