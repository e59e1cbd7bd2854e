//! The plan as the one contract, seen from the command line: images the check used to refuse lay out,
//! measure and load; a plan's regions that nothing populates are never mapped; firmware that cannot
//! launch is an error (exit 1) for `diagnose`, not a failed search (exit 3); `verify --expect` needs
//! no `--mode`.

use std::path::Path;

use crate::common;

use common::*;
use prelaunch_testdata::ImageBuilder;
use serde_json::Value;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

fn report(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name).to_str().unwrap().to_owned()
}

#[test]
fn sections_touching_at_a_2mib_boundary_lay_out_measure_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let fw = write(dir.path(), "touching.fd", &ImageBuilder::touching_2m(256 << 10).seed(3).build());
    let o = prelaunch(&["inspect", "--json", &fw]);
    expect_code(&o, 0, "inspect");
    let inspect: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((inspect["supports"]["snp"].as_bool(), inspect["supports"]["tdx"].as_bool()), (Some(true), Some(true)), "{inspect}");
    for mode in [vec!["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4"], vec!["--mode", "tdx"]] {
        let what = format!("{mode:?}");
        let with =
            |cmd: &[&str]| -> Vec<String> { cmd.iter().chain(&mode).chain(&["--ovmf", fw.as_str()]).map(|s| s.to_string()).collect() };
        let run = |args: Vec<String>| prelaunch(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let o = run(with(&["layout", "--json"]));
        expect_code(&o, 0, &what);
        let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
        let starts: Vec<u64> = plan["regions"].as_array().unwrap().iter().map(|r| r["gpa"].as_u64().unwrap()).collect();
        assert!(starts.contains(&0x60_0000) && starts.contains(&0x80_0000), "{what}: {starts:x?}");
        let m = run(with(&["measure"]));
        expect_code(&m, 0, &what);
        assert_eq!(plan["digest"].as_str().unwrap(), stdout(&m).trim(), "{what}");
        let l = run(with(&["load", "--platform", "sim", "--memory", "memfd", "--json"]));
        expect_code(&l, 0, &what);
        let d: Value = serde_json::from_slice(&l.stdout).unwrap();
        assert_eq!(d["digest"], plan["digest"], "{what}");
    }
}

#[test]
fn regions_nothing_populates_are_never_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let fw = write(dir.path(), "ovmf.fd", &ImageBuilder::ovmf_like(256 << 10).seed(4).build());
    let o = prelaunch(&["layout", "--json", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", &fw]);
    expect_code(&o, 0, "layout");
    let mut plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mapped = plan["regions"].as_array().unwrap().len();
    // 1,000 empty 2 MiB regions from 4 GiB up: 2 GB of memory nothing populates.
    for i in 0..1000u64 {
        let gpa = (4u64 << 30) + i * (2 << 20);
        plan["regions"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": format!("ram@{gpa:#x}"), "purpose": "ram", "gpa": gpa, "size": 2 << 20, "gmem_offset": 0}));
    }
    let p = write(dir.path(), "plan.json", &serde_json::to_vec(&plan).unwrap());
    let o = prelaunch(&["load", "--platform", "sim", "--memory", "memfd", "--json", "--plan", &p, "--mode", "snp", "--ovmf", &fw]);
    expect_code(&o, 0, "load");
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["regions"].as_array().unwrap().len(), mapped, "{}", d["regions"]);
    assert_eq!(d["unpopulated_regions"], 1000);
    assert_eq!(d["match"], true);
    // A bound below what the plan populates is refused before anything is mapped.
    let o = prelaunch(&[
        "load",
        "--platform",
        "sim",
        "--memory",
        "memfd",
        "--plan",
        &p,
        "--mode",
        "snp",
        "--ovmf",
        &fw,
        "--max-guest-memory",
        "0x200000",
    ]);
    expect_code(&o, 1, "bounded");
    assert!(stderr(&o).contains("--max-guest-memory"), "{}", stderr(&o));
}

#[test]
fn diagnose_on_firmware_that_cannot_launch_is_an_error_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let no_sev = write(dir.path(), "tdvf.fd", &ImageBuilder::tdvf_only(256 << 10).build());
    let no_tdx = write(dir.path(), "svsm.bin", &ImageBuilder::svsm_like(64 << 10).build());
    for (rep, fw, needle) in
        [("snp-v2-genoa.bin", &no_sev, "cannot be launched as SEV-SNP"), ("tdx-quote-v4.bin", &no_tdx, "cannot be launched as a TD")]
    {
        let o = prelaunch(&["diagnose", "--report", &report(rep), "--ovmf", fw, "--max-vcpus", "4"]);
        expect_code(&o, 1, rep);
        assert!(stderr(&o).contains(needle), "{rep}: {}", stderr(&o));
        assert!(!stdout(&o).contains("searched"), "{rep}: no search was made: {}", stdout(&o));
    }
}

#[test]
fn verify_with_expect_needs_no_mode() {
    let o = prelaunch(&["verify", "--help"]);
    expect_code(&o, 0, "verify --help");
    let usage = stdout(&o).lines().find(|l| l.starts_with("Usage:")).map(str::to_owned).unwrap_or_default();
    assert!(usage.contains("--report") && !usage.contains("--mode"), "{usage}");
}
