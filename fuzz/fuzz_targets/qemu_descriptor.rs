//! QEMU firmware interop descriptors (`firmware list`, `measure` without `--ovmf`): any file is an
//! empty (masking) file, a descriptor, or refused with a message; never a panic.
#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/descriptors.rs"]
mod descriptors;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(d)) = descriptors::parse(data, std::path::Path::new("fuzz.json")) {
        assert!(d.device == "flash" || d.device == "memory", "accepted mapping device {:?}", d.device);
    }
});
