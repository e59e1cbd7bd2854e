//! `prelaunch load --plan`: a plan written by `prelaunch layout --json` loads to the same digest,
//! and a plan read from a file is checked as strictly as a fresh one: every tampering is refused
//! with a message naming what is wrong.

use crate::common;
use crate::load_support;

use std::path::Path;

use common::*;
use load_support::*;
use serde_json::Value;

fn layout(args: &[&str]) -> Value {
    let argv: Vec<&str> = ["layout", "--json"].iter().chain(args).copied().collect();
    let o = prelaunch(&argv);
    expect_code(&o, 0, "layout");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn load_plan(dir: &Path, plan: &Value, extra: &[&str]) -> std::process::Output {
    let p = dir.join("plan.json");
    std::fs::write(&p, serde_json::to_vec(plan).unwrap()).unwrap();
    let argv: Vec<&str> = ["load", "--platform", "sim", "--plan", p.to_str().unwrap()].iter().chain(extra).copied().collect();
    prelaunch(&argv)
}

#[test]
fn a_layout_plan_loads_to_its_recorded_digest() {
    if !kvm_or_skip("a_layout_plan_loads_to_its_recorded_digest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (trixie, bookworm) = (firmware_dir().join("trixie_OVMF_CODE_4M.fd"), firmware_dir().join("bookworm_OVMF.fd"));
    let (trixie, bookworm) = (trixie.to_str().unwrap(), bookworm.to_str().unwrap());
    let cases = [
        ("snp", trixie, vec!["--mode", "snp", "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--ovmf", trixie]),
        ("tdx", bookworm, vec!["--mode", "tdx", "--tdx-page-order", "two-pass", "--ovmf", bookworm]),
    ];
    for (mode, fw, args) in cases {
        let plan = layout(&args);
        let o = load_plan(dir.path(), &plan, &["--json", "--mode", mode, "--ovmf", fw]);
        expect_code(&o, 0, mode);
        let d: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(d["digest"], plan["digest"], "{mode}");
        assert_eq!(d["memory"], "guest_memfd");
    }
}

#[test]
fn tampered_plans_are_refused_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let fw_path = firmware_dir().join("bookworm_OVMF.fd");
    let fw = fw_path.to_str().unwrap();
    let other = firmware_dir().join("trixie_OVMF_CODE_4M.fd");
    // A firmware of the same size that differs in one byte: with the plan's SHA-256 unchecked it
    // would load and report `match yes`.
    let same_size = dir.path().join("same-size.fd");
    let mut bytes = std::fs::read(&fw_path).unwrap();
    bytes[0x1000] ^= 1;
    std::fs::write(&same_size, &bytes).unwrap();
    let plan = layout(&["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", fw]);
    let ops = plan["operations"].as_array().unwrap().len();
    let first_vmsa = plan["operations"].as_array().unwrap().iter().position(|o| o["kind"] == "vmsa").unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut p = plan.clone();
        f(&mut p);
        p
    };
    let zero = plan["operations"].as_array().unwrap().iter().position(|o| o["kind"] == "zero").unwrap();
    let mut cases: Vec<(&str, Value, Vec<&str>, i32, &str)> = vec![
        ("misaligned region", edit(&|p| p["regions"][0]["gpa"] = (0x801000u64).into()), vec![], 1, "not a multiple of 2 MiB"),
        ("overlapping operations", edit(&|p| p["operations"][2]["gpa"] = p["operations"][1]["gpa"].clone()), vec![], 1, "overlaps"),
        ("source outside the file", edit(&|p| p["operations"][0]["source"]["offset"] = 4096.into()), vec![], 1, "outside firmware"),
        ("wrong firmware", plan.clone(), vec!["--ovmf", other.to_str().unwrap()], 1, "the plan was made for"),
        ("firmware hash", edit(&|p| p["inputs"][0]["sha256"] = "00".repeat(32).into()), vec![], 1, "SHA-256"),
        ("empty firmware hash", edit(&|p| p["inputs"][0]["sha256"] = "".into()), vec![], 1, "expected 64 hex digits"),
        (
            "no digest, same-sized firmware",
            edit(&|p| drop(p.as_object_mut().unwrap().remove("digest"))),
            vec!["--ovmf", same_size.to_str().unwrap()],
            1,
            "SHA-256",
        ),
        ("edited page", edit(&|p| p["pages"]["vmsa-bsp"] = base64_vmsa(1, 0x77).into()), vec![], 1, "it was edited"),
        ("edited VMSA features", edit(&|p| p["pages"]["vmsa-bsp"] = base64_vmsa(0x21, 0).into()), vec![], 1, "SEV_FEATURES 0x21"),
        ("measured flag", edit(&|p| p["operations"][0]["measured"] = false.into()), vec![], 1, "measured is false"),
        ("unknown input", edit(&|p| p["operations"][0]["source"]["file"] = "kernel".into()), vec![], 1, "unknown input file kernel"),
        ("unknown input kind", edit(&|p| p["operations"][0]["source"]["file"] = "rom".into()), vec![], 1, "unknown variant"),
        (
            "zero after the VMSAs",
            edit(&|p| {
                let ops = p["operations"].as_array_mut().unwrap();
                let z = ops.remove(zero);
                ops.push(z);
            }),
            vec![],
            1,
            "after the VMSAs",
        ),
        (
            "VMSA in guest memory",
            edit(&|p| p["operations"][first_vmsa]["gpa"] = 0x800000.into()),
            vec![],
            1,
            "measures every VMSA at 0xfffffffff000",
        ),
        ("vCPU index out of order", edit(&|p| p["operations"][first_vmsa]["vcpu"] = 4294967295u64.into()), vec![], 1, "vCPUs are 0, 1, 2"),
        ("vCPU count disagrees", edit(&|p| p["snp"]["vcpus"] = 3.into()), vec![], 1, "snp.vcpus is 3, but the plan holds 2 VMSAs"),
        ("no snp block", edit(&|p| drop(p.as_object_mut().unwrap().remove("snp"))), vec![], 1, "without an snp block"),
        ("policy without bit 17", edit(&|p| p["snp"]["policy"] = 0x10000.into()), vec![], 1, "bit 17 is reserved and must be one"),
        ("old plan version", edit(&|p| p["version"] = 1.into()), vec![], 1, "plan version 1: this prelaunch reads version 2"),
        ("other mode", plan.clone(), vec!["--mode", "tdx"], 2, "for mode snp"),
        ("not a plan", Value::from("hello"), vec![], 1, "not a launch plan"),
    ];
    assert!(ops > 2 && zero < first_vmsa);
    // Only guest_memfd has offsets (memfd memory ignores them).
    if kvm_or_skip("tampered_plans_are_refused_naming_the_problem (guest_memfd offset)") {
        cases.push((
            "huge guest_memfd offset",
            edit(&|p| p["regions"][0]["gmem_offset"] = 0xffff_ffff_ffe0_0000u64.into()),
            vec![],
            1,
            "overflows",
        ));
    }
    for (what, p, extra, code, needle) in cases {
        let mut args = vec!["--mode", "snp", "--ovmf", fw];
        if extra.first() == Some(&"--mode") {
            args[1] = extra[1];
        } else if extra.first() == Some(&"--ovmf") {
            args[3] = extra[1];
        }
        let o = load_plan(dir.path(), &p, &args);
        assert_eq!(o.status.code(), Some(code), "{what}: {}", show(&o));
        assert!(stderr(&o).contains(needle), "{what}: expected {needle:?} in: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{what}: nothing loaded, nothing printed");
    }
}

/// A VMSA page with SEV_FEATURES `features` (at 0x3b0) and every other byte `fill`.
fn base64_vmsa(features: u64, fill: u8) -> String {
    use base64::Engine;
    let mut page = vec![fill; 4096];
    page[0x3b0..0x3b8].copy_from_slice(&features.to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(page)
}
