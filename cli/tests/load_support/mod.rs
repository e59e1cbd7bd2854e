//! Helpers for the `prelaunch load` integration tests (load_*.rs).

#![allow(dead_code)]

use std::io::Write;
use std::process::Output;

use serde_json::Value;

/// Whether KVM guest_memfd is usable here. When it is not, the test says so loudly and is skipped,
/// unless PRELAUNCH_REQUIRE_KVM=1 (CI), which makes it fail.
pub fn kvm_or_skip(test: &str) -> bool {
    match prelaunch_loader::kvm::guest_memfd_usable() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("PRELAUNCH_REQUIRE_KVM").as_deref() == Ok("1") {
                panic!("{test}: PRELAUNCH_REQUIRE_KVM=1 but KVM guest_memfd is unusable: {why}");
            }
            // Straight to the stderr stream, not eprintln!: the test harness would swallow that for a
            // test that passes, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}: KVM guest_memfd is unusable here ({why}); set PRELAUNCH_REQUIRE_KVM=1 to fail instead"
            );
            false
        }
    }
}

/// Runs `prelaunch load <args> --json`: its output and the JSON document (when it printed one).
pub fn load_json(args: &[String]) -> (Output, Option<Value>) {
    let mut argv: Vec<&str> = vec!["load", "--json"];
    argv.extend(args.iter().map(String::as_str));
    let o = super::common::prelaunch(&argv);
    let doc = serde_json::from_slice(&o.stdout).ok();
    (o, doc)
}

/// Describes a failed run for an assertion message.
pub fn show(o: &Output) -> String {
    format!("exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
