//! prelaunch-files: every file a prelaunch command reads or writes goes through this crate.
//!
//! - [`Input::open`]: opens with `O_NONBLOCK` and checks the type with `fstat` before anything
//!   can block (a FIFO without a writer would hang a plain `open` forever). Regular files of large
//!   kinds (firmware, kernels, initrds) are memory-mapped; pipes, `<(...)`, character devices and
//!   `-` (standard input) are read, up to a bound fit for the [`Kind`] (a VCEK read from /dev/zero
//!   stops at 64 KiB with an error, not at gigabytes); small kinds (reports, certificates, keys,
//!   plans, descriptors) are always copied. Standard input, or any one pipe, is read at most once
//!   per invocation.
//! - [`sigbus`]: a mapped file that shrinks while it is read would kill the process with SIGBUS
//!   (exit 135, no message); the guard reports which file changed and exits 1.
//! - [`write_atomic`]: outputs are written to a new temporary file in the same directory
//!   (`O_CREAT | O_EXCL | O_NOFOLLOW`) and renamed over the destination, which is refused if it is
//!   a symbolic link, a directory or a device: no output ever writes through a link.
//! - [`show`]: file names in messages with control characters escaped, so that a name cannot
//!   rewrite the terminal or forge a line of output.
//!
//! # Why this crate has `unsafe`
//! The project keeps `unsafe` in `loader` (KVM) and `mbhash` (SIMD); this crate is the third and
//! last exception, for two things no safe interface offers: mapping a file (`mmap`: the mapping
//! aliases memory another process can truncate) and catching SIGBUS on such a mapping (`sigaction`,
//! and a handler limited to async-signal-safe calls). Keeping them here, rather than in `loader`,
//! lets the pure commands (inspect, measure, layout, verify) open files without the KVM crate. Every
//! block carries a `SAFETY:` comment, enforced by `clippy::undocumented_unsafe_blocks`.
#![deny(clippy::undocumented_unsafe_blocks)]

mod error;
mod input;
mod name;
mod output;
pub mod sigbus;

pub use error::FileError;
pub use input::{Input, Kind, byte_size};
pub use name::{Shown, show};
pub use output::write_atomic;
