//! Helpers for the `prelaunch load` integration tests (load_*.rs).

#![allow(dead_code)]

use std::process::Output;

use serde_json::Value;

#[allow(unused_imports)]
pub use prelaunch_loader::testing::kvm_or_skip;

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
