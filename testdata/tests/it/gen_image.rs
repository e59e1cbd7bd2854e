//! The `gen-image` binary as the Python differential tests drive it.

use crate::common;

use std::process::Command;

use common::*;
use prelaunch_testdata::{Corruption, ImageBuilder, random_snp_layout};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gen-image")).args(args).output().expect("run gen-image")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("prelaunch-testdata-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn preset_file_matches_the_library() {
    let out = tmp("ovmf.bin");
    let o = run(&["--preset", "ovmf", "--size", "64K", "--seed", "9", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), ImageBuilder::ovmf_like(0x10000).seed(9).build());
}

#[test]
fn describe_prints_the_layout() {
    let o = run(&["--preset", "amdsev", "--size", "0x20000", "--describe"]);
    assert!(o.status.success());
    let json = String::from_utf8(o.stdout).unwrap();
    let b = ImageBuilder::amdsev_like(0x20000).built();
    assert_eq!(json.trim_end(), b.describe().render());
    assert!(json.contains("\"reset_eip\": 8433668"), "{json}");
    assert!(json.contains(&format!("\"table_start\": {}", b.footer_table_start.unwrap())));
    assert!(json.contains("\"kind_name\": \"snp_kernel_hashes\""));
    assert!(json.contains("\"name\": \"sev_hash_table\""));
}

#[test]
fn random_and_corrupt() {
    let out = tmp("rs.bin");
    let o = run(&["--random-snp", "17", "--corrupt", "sev-signature", "--out", out.to_str().unwrap(), "--describe"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let mut want = random_snp_layout(17).built();
    want.corrupt(Corruption::SevSignature).unwrap();
    assert_eq!(bytes, want.bytes);
    assert_eq!(verdict(&bytes), Some(Corruption::SevSignature.expect()));
    assert!(String::from_utf8(o.stdout).unwrap().contains("\"sev-signature\""));

    let out = tmp("rt.bin");
    let o = run(&["--random-tdx", "0x11", "--corrupt", "truncate=100", "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(std::fs::read(&out).unwrap().len(), 100);
}

#[test]
fn lists_corruptions_with_verdicts() {
    let o = run(&["--list-corruptions"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), Corruption::all().len());
    assert!(
        lines.contains(&"stray-bytes=4\treject:footer_table\ttable size N bytes larger than its entries: N stray bytes at the table start")
    );
}

#[test]
fn bad_usage_fails_clearly() {
    for (args, code) in [
        // Arguments that do not fit together are usage errors (2); a build that fails is 1.
        (&["--preset", "bogus", "--describe"][..], 2),
        (&["--describe"][..], 2),
        (&["--preset", "ovmf", "--size", "1000", "--describe"][..], 1),
        (&["--preset", "svsm", "--corrupt", "tdvf-signature", "--describe"][..], 1),
        (&["--preset", "ovmf"][..], 2),
        (&["--frobnicate"][..], 2),
        (&["--corrupt", "nope"][..], 2),
        (&["--preset", "ovmf", "--random-snp", "1"][..], 2),
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("gen-image: "), "{args:?}");
    }
}
