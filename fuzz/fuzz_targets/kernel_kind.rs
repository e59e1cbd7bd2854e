//! Kernel detection (`--kernel` that is neither a PE/EFI image nor a bzImage gets a warning): any
//! bytes are judged without panicking, in bounded time (goblin parses the PE headers).
#![no_main]

#[path = "../../cli/src/kernel_kind.rs"]
mod kernel_kind;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kernel_kind::looks_bootable(data);
});
