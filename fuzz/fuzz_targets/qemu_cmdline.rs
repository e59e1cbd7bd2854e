//! QEMU command lines (`measure --qemu-cmdline`): any argument list, one per line, is either refused
//! with a message or read into a launch whose spec (for every release) and re-emitted command line
//! never panic, and the re-emitted line reads back as the same launch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::qemu::{emit, parse, profile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let argv: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let Ok(launch) = parse::parse(&argv) else { return };
    for p in profile::PROFILES {
        let _ = launch.spec(p);
    }
    let again = emit::args(&launch, profile::latest());
    if launch.append.as_deref().is_none_or(|a| !a.contains('\n')) && !launch.machine.contains('\n') {
        let back = parse::parse(&again).expect("an emitted command line parses");
        assert_eq!(back, launch);
    }
});
