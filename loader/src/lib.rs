//! prelaunch-loader: executes a launch plan against guest memory (in progress).
//!
//! All `unsafe` and every ioctl of the project live in this crate.

pub mod file;
