//! Exit codes and reports of `prelaunch load`: a mismatch exits 3 naming the first page that differs,
//! injected faults that clear leave the digest matching, `--expect` overrides the fold, and memfd
//! (where asked for, or where /dev/kvm is unusable) is said loudly.

use crate::common;
use crate::load_support;

use common::*;
use load_support::*;

fn snp(extra: &[&str]) -> Vec<String> {
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    ["--platform", "sim", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", &fw]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_corrupted_byte_exits_3_naming_its_page() {
    let (o, doc) = load_json(&snp(&["--sim-fault", "corrupt=0xfff01234"]));
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let d = doc.unwrap();
    assert_eq!(d["match"], false);
    assert_eq!(d["first_difference"]["gpa"], 0xfff0_1000u64, "{d}");
    assert!(d["first_difference"]["detail"].as_str().unwrap().contains("0xfff01000"), "{d}");
    let argv = snp(&["--sim-fault", "corrupt=0xfff01234"]);
    let mut human: Vec<&str> = vec!["load"];
    human.extend(argv.iter().map(String::as_str));
    let o = prelaunch(&human);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("page 0xfff01000"), "{}", stdout(&o));
}

#[test]
fn faults_that_clear_leave_the_digest_matching() {
    let (o, doc) = load_json(&snp(&["--sim-fault", "partial=5", "--sim-fault", "eintr=3", "--sim-fault", "eagain=2"]));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let d = doc.unwrap();
    assert_eq!(d["match"], true);
    assert!(d["populate"]["partial"].as_u64().unwrap() > 0 && d["populate"]["retries"].as_u64().unwrap() > 0, "{d}");
    assert!(d["conversion"]["retries"].as_u64().unwrap() > 0, "{d}");
    for phase in ["create", "map", "copy", "convert", "populate", "finish"] {
        assert!(d["timings_us"][phase].is_u64(), "{phase}: {d}");
    }
}

#[test]
fn expect_overrides_the_fold() {
    let v = "a5b54e62ae971b58274dd24cc6c47b842662617036e7bd67d7326c07ac6363f35399ef933330a5ea160cead90a00603f";
    let (o, doc) = load_json(&snp(&["--expect", v]));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(doc.unwrap()["expected_from"], "--expect");
    let wrong = "00".repeat(48);
    let mut argv = vec!["load".to_owned()];
    argv.extend(snp(&["--expect", &wrong]));
    let o = prelaunch(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(stdout(&o).contains("every page matches the plan"), "{}", stdout(&o));
    let (o, _) = load_json(&snp(&["--expect", "abcd"]));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn memfd_is_said_loudly() {
    let (o, doc) = load_json(&snp(&["--memory", "memfd", "-q"]));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let d = doc.unwrap();
    assert_eq!(d["memory"], "memfd");
    assert!(d["memory_fallback"].is_string());
    assert!(stderr(&o).contains("memory: memfd, not guest_memfd"), "even with -q: {}", stderr(&o));
    let (o, _) = load_json(&snp(&["--memory", "memfd", "--check-guest"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs a KVM vCPU"), "{}", stderr(&o));
}

#[test]
fn a_precomputed_firmware_digest_cannot_be_loaded() {
    let (o, _) = load_json(&snp(&["--snp-ovmf-hash", &"00".repeat(48)]));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("--snp-ovmf-hash"), "{}", stderr(&o));
}

#[test]
fn fault_lists_are_bounded() {
    let many: Vec<&str> = std::iter::repeat_n(["--sim-fault", "corrupt=0x1000"], 65).flatten().collect();
    let (o, _) = load_json(&snp(&many));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("at most 64"), "{}", stderr(&o));
}

#[test]
fn bad_fault_specs_are_usage_errors() {
    for spec in ["eintr=0", "bogus=1", "partial", "corrupt=xyz", "partial=0"] {
        let (o, _) = load_json(&snp(&["--sim-fault", spec]));
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", show(&o));
        assert!(stderr(&o).contains("--sim-fault"), "{spec}: {}", stderr(&o));
    }
}
