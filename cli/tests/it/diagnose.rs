//! `diagnose` says what it did: a match prints the complete command that reproduces the digest (run
//! here through a shell); what was not searched is listed apart and not counted; an image that
//! cannot launch under the report's platform is an error (exit 1) with the reason, not a search.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The project's SNP report fixture carrying `measurement` (diagnose reads only the measurement).
fn snp_report(measurement: &[u8], dir: &Path) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports/snp-v2-genoa.bin");
    let mut r = std::fs::read(&p).unwrap();
    r[0x90..0x90 + 48].copy_from_slice(measurement);
    let out = dir.join("report.bin");
    std::fs::write(&out, r).unwrap();
    out
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn a_match_prints_the_complete_command_that_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let i = inputs_dir().join("initrd.bin").display().to_string();
    let append = "root=/dev/vda1 console=ttyS0,115200n8 'quoted' $HOME";
    let o = prelaunch(&[
        "measure",
        "--mode",
        "snp",
        "--vcpus",
        "3",
        "--vcpu-type",
        "EPYC-Milan",
        "--guest-features",
        "0x21",
        "--ovmf",
        &fw,
        "--kernel",
        &k,
        "--initrd",
        &i,
        "--append",
        append,
    ]);
    expect_code(&o, 0, "measure");
    let want = stdout(&o).trim().to_owned();
    let report = snp_report(&hex::decode(&want).unwrap(), dir.path());
    let r = report.display().to_string();
    let o = prelaunch(&[
        "diagnose",
        "--report",
        &r,
        "--ovmf",
        &fw,
        "--kernel",
        &k,
        "--initrd",
        &i,
        "--append",
        append,
        "--max-vcpus",
        "4",
        "--json",
    ]);
    expect_code(&o, 0, "diagnose");
    let j = json(&o);
    let hits = j["configurations"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h["kernel_hashes"] == true && h["vcpus"] == 3), "{hits:?}");
    for h in hits {
        let cmd = h["command"].as_str().unwrap();
        let rest = cmd.strip_prefix("prelaunch measure ").unwrap_or_else(|| panic!("{cmd}"));
        assert!(!cmd.contains('…'), "{cmd}");
        let o = Command::new("bash").args(["-c", &format!("{} measure {rest}", env!("CARGO_BIN_EXE_prelaunch"))]).output().unwrap();
        expect_code(&o, 0, cmd);
        assert_eq!(stdout(&o).trim(), want, "{cmd}");
    }
    // The text output prints the same commands.
    let o = prelaunch(&["diagnose", "--report", &r, "--ovmf", &fw, "--kernel", &k, "--initrd", &i, "--append", append, "--max-vcpus", "4"]);
    expect_code(&o, 0, "diagnose text");
    assert!(stdout(&o).contains(hits[0]["command"].as_str().unwrap()), "{}", stdout(&o));
}

#[test]
fn what_was_not_searched_is_listed_and_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    // bookworm's OVMF has no kernel hashes table: the kernel cannot be part of any candidate.
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let r = snp_report(&[7u8; 48], dir.path()).display().to_string();
    let run = |extra: &[&str]| {
        let mut v = vec!["diagnose", "--report", &r, "--ovmf", &fw, "--max-vcpus", "3", "--json"];
        v.extend(extra);
        let o = prelaunch(&v);
        expect_code(&o, 3, &format!("{extra:?}"));
        json(&o)
    };
    let (plain, with_kernel) = (run(&[]), run(&["--kernel", &k]));
    assert_eq!(plain["searched"], with_kernel["searched"], "kernel candidates that cannot build are not counted");
    assert!(plain["not_searched"].as_array().unwrap().is_empty());
    let ns = with_kernel["not_searched"].as_array().unwrap();
    assert!(ns.len() == 1 && ns[0].as_str().unwrap().contains("kernel hashes"), "{ns:?}");
    // 3 vCPU counts for each of the candidates: a multiple of 3, and more than the counts alone.
    let n = plain["searched"].as_u64().unwrap();
    assert!(n > 3 && n.is_multiple_of(3), "{n}");
}

#[test]
fn an_image_that_cannot_launch_on_the_reports_platform_is_an_error_not_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let r = snp_report(&[7u8; 48], dir.path()).display().to_string();
    let tdx_only = firmware_dir().join("synth-tdvf.bin").display().to_string();
    let o = prelaunch(&["diagnose", "--report", &r, "--ovmf", &tdx_only, "--json"]);
    expect_code(&o, 1, "SNP report, TDX-only image");
    assert!(stdout(&o).is_empty() && stderr(&o).contains("cannot be launched as SEV-SNP"), "{}", stderr(&o));
    let q = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports/tdx-quote-v4.bin").display().to_string();
    let amd_only = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let o = prelaunch(&["diagnose", "--report", &q, "--ovmf", &amd_only]);
    expect_code(&o, 1, "TDX quote, AMD-only image");
    assert!(stderr(&o).contains("cannot be launched as a TD"), "{}", stderr(&o));
}
