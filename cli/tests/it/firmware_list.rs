//! `prelaunch firmware list` and descriptor-based firmware selection, on descriptors and images the
//! test makes (QEMU's search directories are replaced through PRELAUNCH_QEMU_FIRMWARE_DIRS).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;
use prelaunch_testdata::ImageBuilder;

fn descriptor(dir: &Path, name: &str, exe: &Path, features: &[&str]) {
    let f: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
    let text = format!(
        r#"{{"description": "{name}", "interface-types": ["uefi"],
            "mapping": {{"device": "flash", "mode": "combined", "executable": {{"filename": "{}", "format": "raw"}}}},
            "targets": [{{"architecture": "x86_64", "machines": ["pc-q35-*"]}}], "features": [{}], "tags": []}}"#,
        exe.display(),
        f.join(", ")
    );
    std::fs::write(dir.join(name), text).unwrap();
}

fn run(dirs: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_prelaunch")).args(args).env("PRELAUNCH_QEMU_FIRMWARE_DIRS", dirs).output().unwrap()
}

#[test]
fn descriptors_are_listed_in_qemu_order_with_overrides_masks_and_lies_flagged() {
    let t = tempfile::tempdir().unwrap();
    let (sys, etc) = (t.path().join("usr"), t.path().join("etc"));
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::create_dir_all(&etc).unwrap();
    let snp_img = t.path().join("snp.fd");
    std::fs::write(&snp_img, ImageBuilder::ovmf_like(1 << 20).seed(5).build()).unwrap();
    let plain_img = t.path().join("plain.fd");
    std::fs::write(&plain_img, vec![0u8; 1 << 20]).unwrap();
    descriptor(&sys, "50-snp.json", &snp_img, &["amd-sev", "amd-sev-es", "amd-sev-snp", "intel-tdx"]);
    descriptor(&sys, "40-liar.json", &plain_img, &["amd-sev-snp"]);
    descriptor(&sys, "60-masked.json", &snp_img, &["amd-sev"]);
    std::fs::write(etc.join("60-masked.json"), "").unwrap();
    std::fs::write(sys.join("70-broken.json"), "{ not json").unwrap();
    let dirs = format!("{}:{}", sys.display(), etc.display());

    let o = run(&dirs, &["firmware", "list", "--json"]);
    expect_code(&o, 0, "list");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ds = j["descriptors"].as_array().unwrap();
    let names: Vec<&str> = ds.iter().map(|d| d["description"].as_str().unwrap()).collect();
    assert_eq!(names, ["40-liar.json", "50-snp.json"], "file-name order, masked file hidden");
    assert!(ds[0]["mismatches"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().contains("amd-sev-snp")), "{ds:?}");
    assert!(ds[1]["mismatches"].as_array().unwrap().is_empty(), "{:?}", ds[1]);
    assert_eq!(ds[1]["image"]["snp"], true);
    assert_eq!(j["skipped"].as_array().unwrap().len(), 1);

    // Without --ovmf, the first descriptor whose image really supports the mode is used and named.
    let o = run(&dirs, &["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4"]);
    expect_code(&o, 0, "measure without --ovmf");
    assert!(stderr(&o).contains("50-snp.json"), "{}", stderr(&o));
    let direct = prelaunch(&["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", snp_img.to_str().unwrap()]);
    assert_eq!(stdout(&o), stdout(&direct));

    // Nothing suitable: a usage error that points at `firmware list`.
    let o = run(&format!("{}", etc.display()), &["measure", "--mode", "tdx"]);
    expect_code(&o, 2, "no descriptor");
    assert!(stderr(&o).contains("firmware list"));
}

#[test]
fn no_fitting_descriptor_names_each_one_considered_and_why() {
    let t = tempfile::tempdir().unwrap();
    // Real firmware whose TDX metadata is there but cannot launch (the case a user meets).
    let amd = firmware_dir().join("trixie_OVMF_CODE_4M.fd");
    let zeros = t.path().join("zeros.fd");
    std::fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
    descriptor(t.path(), "10-amd.json", &amd, &["amd-sev-snp", "intel-tdx"]);
    descriptor(t.path(), "20-zeros.json", &zeros, &["intel-tdx"]);
    descriptor(t.path(), "30-sev.json", &amd, &["amd-sev"]);
    let o = run(t.path().to_str().unwrap(), &["measure", "--mode", "tdx"]);
    expect_code(&o, 2, "no descriptor fits");
    let e = stderr(&o);
    for (file, why) in [
        ("10-amd.json", "advertises intel-tdx, but its image"),
        ("20-zeros.json", "zeros.fd"),
        ("30-sev.json", "does not advertise intel-tdx"),
    ] {
        assert!(e.lines().any(|l| l.contains(file) && l.contains(why)), "{file}: {why}: {e}");
    }
    // -v lists them on the way to a choice as well.
    let o = run(t.path().to_str().unwrap(), &["-v", "measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC"]);
    expect_code(&o, 0, "snp from 10-amd.json");
    assert!(stderr(&o).contains("10-amd.json: advertises amd-sev-snp; chosen"), "{}", stderr(&o));
}
