//! `prelaunch load --platform sim` reproduces the reference vectors from the bytes it really loaded
//! into guest_memfd: every sev-snp-measure digest in vectors/snp.json and every MRTD in
//! vectors/tdx.json, and for every image of the firmware directory, each mode `measure` accepts.

use crate::common;
use crate::load_support;

use common::*;
use load_support::*;

#[test]
fn sim_load_reproduces_every_snp_sev_vector() {
    if !kvm_or_skip("sim_load_reproduces_every_snp_sev_vector") {
        return;
    }
    let doc = vectors("snp.json");
    let mut failures = Vec::new();
    let mut loaded = 0;
    for v in doc["vectors"].as_array().expect("vectors") {
        let id = v["id"].as_str().unwrap();
        let args: Vec<String> = v["args"].as_array().unwrap().iter().map(|a| resolve(a.as_str().unwrap())).collect();
        let Some(want) = v["digest"].as_str() else { continue };
        let (o, doc) = load_json(&[vec!["--platform".into(), "sim".into()], args.clone()].concat());
        if args.iter().any(|a| a.starts_with("--snp-ovmf-hash")) {
            // A precomputed firmware digest cannot be loaded: refused as a usage error.
            if o.status.code() != Some(2) {
                failures.push(format!("{id}: --snp-ovmf-hash should be refused (exit 2): {}", show(&o)));
            }
            continue;
        }
        loaded += 1;
        match doc {
            Some(d) if o.status.code() == Some(0) && d["digest"] == want && d["match"] == true && d["memory"] == "guest_memfd" => {}
            _ => failures.push(format!("{id}: expected {want} from guest_memfd: {}", show(&o))),
        }
    }
    assert!(loaded >= 45, "expected the full vector set, loaded {loaded}");
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn sim_load_reproduces_every_tdx_vector() {
    if !kvm_or_skip("sim_load_reproduces_every_tdx_vector") {
        return;
    }
    let doc = vectors("tdx.json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 11);
    for c in cases {
        let fw = resolve(c["firmware"].as_str().unwrap());
        let args: Vec<String> =
            ["--platform", "sim", "--mode", "tdx", "--ovmf", &fw, "--tdx-page-order", c["page_order"].as_str().unwrap()]
                .into_iter()
                .chain(["--tdx-page-aug", c["page_aug"].as_str().unwrap()])
                .map(String::from)
                .collect();
        let (o, doc) = load_json(&args);
        let d = doc.unwrap_or_else(|| panic!("{c}: {}", show(&o)));
        assert_eq!(d["digest"], c["mrtd"], "{c}: {}", show(&o));
        assert_eq!((&d["match"], &d["memory"]), (&true.into(), &"guest_memfd".into()), "{c}");
    }
}

#[test]
fn every_firmware_image_loads_in_each_mode_measure_accepts() {
    if !kvm_or_skip("every_firmware_image_loads_in_each_mode_measure_accepts") {
        return;
    }
    let mut images: Vec<_> = std::fs::read_dir(firmware_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    images.sort();
    assert!(images.len() >= 8, "{images:?}");
    let mut loaded = Vec::new();
    for img in &images {
        let fw = img.display().to_string();
        let cpu: &[&str] = &["--vcpus", "2", "--vcpu-type", "EPYC-Milan"];
        for (mode, extra) in [("snp", cpu), ("seves", cpu), ("sev", &[][..]), ("tdx", &[][..])] {
            let args: Vec<String> = ["--mode", mode, "--ovmf", &fw].iter().chain(extra).map(|s| s.to_string()).collect();
            let argv: Vec<&str> = std::iter::once("measure").chain(args.iter().map(String::as_str)).collect();
            let m = prelaunch(&argv);
            let (o, doc) = load_json(&[vec!["--platform".into(), "sim".into()], args.clone()].concat());
            if m.status.code() != Some(0) {
                assert_ne!(o.status.code(), Some(0), "{fw} {mode}: measure refused, load must too: {}", show(&o));
                continue;
            }
            let d = doc.unwrap_or_else(|| panic!("{fw} {mode}: {}", show(&o)));
            assert_eq!(d["digest"].as_str(), Some(stdout(&m).trim()), "{fw} {mode}");
            assert_eq!(d["memory"], "guest_memfd");
            loaded.push(format!("{} {mode}", img.file_name().unwrap().to_string_lossy()));
        }
    }
    eprintln!("loaded: {loaded:?}");
    for want in
        ["bookworm_OVMF.fd snp", "bookworm_OVMF.fd seves", "bookworm_OVMF.fd tdx", "trixie_OVMF_CODE_4M.fd snp", "synth-tdvf.bin tdx"]
    {
        assert!(loaded.iter().any(|l| l == want), "{want} was not loaded: {loaded:?}");
    }
}
