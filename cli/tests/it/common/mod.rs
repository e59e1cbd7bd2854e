//! Shared helpers for the CLI integration tests: where the real firmware and reference vectors are,
//! and running the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A directory of the shared reference material, from `env` or `../shared/<name>` beside the workspace.
/// Missing material is a failure, never a skip: conformance is not optional.
pub fn shared(env: &str, name: &str) -> PathBuf {
    let dir =
        std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(name));
    assert!(
        dir.is_dir(),
        "{} not found: set {env} to the directory holding the real {name} (CI points it at ../shared/{name})",
        dir.display()
    );
    dir
}

pub fn firmware_dir() -> PathBuf {
    shared("PRELAUNCH_FIRMWARE_DIR", "firmware")
}

pub fn inputs_dir() -> PathBuf {
    shared("PRELAUNCH_INPUTS_DIR", "inputs")
}

pub fn vectors_dir() -> PathBuf {
    shared("PRELAUNCH_VECTORS_DIR", "vectors")
}

pub fn vectors(name: &str) -> serde_json::Value {
    let p = vectors_dir().join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Resolves `@NAME` in a vector's arguments to the file in firmware/ or inputs/.
pub fn resolve(arg: &str) -> String {
    match arg.split_once('@') {
        Some((prefix, name)) => {
            let f = firmware_dir().join(name);
            let p = if f.exists() { f } else { inputs_dir().join(name) };
            assert!(p.exists(), "vector file {name} not found");
            format!("{prefix}{}", p.display())
        }
        None => arg.to_owned(),
    }
}

pub fn prelaunch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prelaunch")).args(args).output().expect("run prelaunch")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails unless the process exited normally with `code`, showing its output.
pub fn expect_code(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}: exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), stdout(o), stderr(o));
}

pub fn evidence_dir() -> PathBuf {
    shared("PRELAUNCH_EVIDENCE_DIR", "evidence")
}
