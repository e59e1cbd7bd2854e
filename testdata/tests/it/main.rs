//! One integration-test binary per crate: each file below was its own binary, and linking
//! one statically linked binary per file cost more than compiling them.

mod common;
mod corruptions;
mod gen_image;
mod layout;
