//! `--check-guest`: a vCPU reads every loaded range back through guest-physical addresses, and its
//! checksum agrees with the host's over the input bytes, on every real image and mode.

use crate::common;
use crate::load_support;

use common::*;
use load_support::*;

#[test]
fn the_guest_reads_what_was_loaded_on_every_image() {
    if !kvm_or_skip("the_guest_reads_what_was_loaded_on_every_image") {
        return;
    }
    let fw = |n: &str| firmware_dir().join(n).display().to_string();
    let cpu = ["--vcpus", "2", "--vcpu-type", "EPYC-v4"];
    let cases: Vec<Vec<String>> = vec![
        [&["--mode", "snp", "--ovmf", &fw("bookworm_OVMF.fd")][..], &cpu].concat().iter().map(|s| s.to_string()).collect(),
        [&["--mode", "seves", "--ovmf", &fw("trixie_OVMF_CODE_4M.fd")][..], &cpu].concat().iter().map(|s| s.to_string()).collect(),
        [&["--mode", "snp", "--ovmf", &fw("trixie_OVMF_CODE_4M.fd")][..], &cpu].concat().iter().map(|s| s.to_string()).collect(),
        [&["--mode", "snp", "--ovmf", &fw("ovmf_AmdSev_suffix.bin")][..], &cpu].concat().iter().map(|s| s.to_string()).collect(),
        [&["--mode", "snp:svsm", "--ovmf", &fw("svsm_ovmf.fd"), "--svsm", &fw("svsm.bin"), "--vars-size", "540672"][..], &cpu]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ["--mode", "tdx", "--ovmf", &fw("bookworm_OVMF.fd")].iter().map(|s| s.to_string()).collect(),
        ["--mode", "tdx", "--ovmf", &fw("synth-tdvf.bin")].iter().map(|s| s.to_string()).collect(),
        ["--mode", "tdx", "--ovmf", &fw("synth-tdvf-pageaug.bin"), "--tdx-page-aug", "skip"].iter().map(|s| s.to_string()).collect(),
    ];
    for args in cases {
        let (o, doc) = load_json(&[vec!["--platform".into(), "sim".into(), "--check-guest".into()], args.clone()].concat());
        let d = doc.unwrap_or_else(|| panic!("{args:?}: {}", show(&o)));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", show(&o));
        let g = &d["guest_check"];
        assert_eq!(g["ok"], true, "{args:?}: {g}");
        let ranges = g["report"]["ranges"].as_array().unwrap();
        assert!(!ranges.is_empty() && g["report"]["pages"].as_u64().unwrap() > 0, "{args:?}: {g}");
        for r in ranges {
            assert_eq!(r["guest"], r["host"], "{args:?}: {r}");
        }
        assert!(d["timings_us"]["guest_check"].as_u64().is_some(), "{d}");
    }
}

#[test]
fn a_changed_sampled_byte_is_seen_by_the_guest_and_fails_the_load() {
    if !kvm_or_skip("a_changed_sampled_byte_is_seen_by_the_guest_and_fails_the_load") {
        return;
    }
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    // The 2 MiB image starts at 0xffe00000; its first page is sampled at offset 0.
    let args: Vec<String> = ["--platform", "sim", "--check-guest", "--mode", "tdx", "--ovmf", &fw, "--sim-fault", "corrupt=0xffe00003"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (o, doc) = load_json(&args);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let d = doc.unwrap();
    assert_eq!(d["guest_check"]["ok"], false, "{d}");
}
