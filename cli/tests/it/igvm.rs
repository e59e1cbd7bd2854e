//! IGVM through the CLI: `igvm build` files launch under QEMU's loader with the digest of the OVMF
//! they wrap (sev-snp-measure's vectors), `inspect` lists IGVM files, and igvm-wrap's files (the
//! peer, from crates.io: virtfw-igvm-tools 0.2.6, found through PRELAUNCH_IGVM_WRAP) measure as
//! igvmmeasure measures the same population sequence (testdata/igvm/reference.json).

use std::path::PathBuf;
use std::process::Command;

use prelaunch_measure::hash::Sha256;
use prelaunch_measure::igvm::profile::{self, LoaderProfile, ZeroPages};
use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, build, write};
use prelaunch_measure::{digest, snp};

use crate::common::*;

fn testdata_igvm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/igvm")
}

fn reference() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(testdata_igvm().join("reference.json")).unwrap()).unwrap()
}

fn snp_vector(args: &[&str]) -> String {
    let v = vectors("snp.json");
    let hit = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).eq(args.iter().copied()));
    hit.unwrap_or_else(|| panic!("no sev-snp-measure vector for {args:?}"))["digest"].as_str().unwrap().to_owned()
}

fn ok(args: &[&str]) -> String {
    let o = prelaunch(args);
    assert!(o.status.success(), "prelaunch {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

#[test]
fn an_igvm_build_file_measures_under_qemu_as_its_ovmf_for_1_2_and_4_vcpus() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("bookworm_OVMF.fd");
    let fw = fw.to_str().unwrap();
    for n in ["1", "2", "4"] {
        let out = dir.path().join(format!("ovmf-{n}.igvm"));
        let out = out.to_str().unwrap();
        let said = ok(&["igvm", "build", "--ovmf", fw, "--vcpus", n, "--vcpu-type", "EPYC-v4", "--out", out]);
        let native = ok(&["measure", "--mode", "snp", "--vcpus", n, "--vcpu-type", "EPYC-v4", "--ovmf", fw]);
        let igvm = ok(&["measure", "--igvm", out, "--igvm-loader", "qemu", "--mode", "snp", "--vcpus", n, "--vcpu-type", "EPYC-v4"]);
        let peer = snp_vector(&["--mode=snp", &format!("--vcpus={n}"), "--vcpu-type=EPYC-v4", "--ovmf=@bookworm_OVMF.fd"]);
        assert_eq!(native.trim(), peer, "{n} vCPUs: measure --ovmf");
        assert_eq!(igvm.trim(), peer, "{n} vCPUs: measure --igvm with QEMU's loader");
        assert!(said.contains(&format!("--igvm-loader qemu              {peer} (the same)")), "{said}");
        // The same file under the spec's reading is another digest (the SEC_MEM, CAA and hashes
        // pages are NORMAL zeros there), and the build says so.
        let spec = ok(&["measure", "--igvm", out, "--igvm-loader", "igvm-spec", "--mode", "snp", "--vcpus", n, "--vcpu-type", "EPYC-v4"]);
        assert_ne!(spec.trim(), peer);
        assert!(said.contains(spec.trim()), "{said}");
    }
}

#[test]
fn inspect_lists_an_igvm_file() {
    let f = testdata_igvm().join("snp-param-insert-shared.igvm");
    let doc: serde_json::Value = serde_json::from_str(&ok(&["inspect", "--json", f.to_str().unwrap()])).unwrap();
    assert_eq!(doc["format"], "igvm");
    let p = &doc["platforms"][0];
    assert_eq!(p["platform"], "SEV_SNP");
    assert_eq!(p["pages_4k"]["shared"], 1);
    assert_eq!(p["pages_4k"]["secrets"], 1);
    assert_eq!(p["pages_4k"]["unmeasured"], 1);
    assert_eq!(p["pages_4k"]["zero"], 1);
    assert_eq!(p["pages_4k"]["normal"], 2);
    assert_eq!(p["parameter_areas"][0]["bytes"], 0x3000);
    assert_eq!(p["parameter_inserts"][0]["gpa"], 0x10_2000);
    let text = ok(&["inspect", f.to_str().unwrap()]);
    assert!(text.contains("parameter insert of area 0 at 0x102000"), "{text}");
}

#[test]
fn bad_igvm_files_are_refused_with_the_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::read(testdata_igvm().join("snp-param-insert-shared.igvm")).unwrap();
    f.truncate(f.len() - 1);
    let p = dir.path().join("short.igvm");
    std::fs::write(&p, &f).unwrap();
    for args in [vec!["inspect", p.to_str().unwrap()], vec!["measure", "--igvm", p.to_str().unwrap(), "--mode", "snp"]] {
        let o = prelaunch(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("short.igvm") && e.contains("at offset 0x10") && e.contains("total_file_size"), "{e}");
    }
    // A platform the file does not declare is an error naming what it declares.
    let good = testdata_igvm().join("snp-param-insert-shared.igvm");
    let o = prelaunch(&["measure", "--igvm", good.to_str().unwrap(), "--mode", "tdx"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("declares no tdx platform (it declares: SEV_SNP)"));
}

/// igvm-wrap from crates.io (virtfw-igvm-tools 0.2.6), through PRELAUNCH_IGVM_WRAP.
fn igvm_wrap(firmware: &str, out: &std::path::Path) -> Vec<u8> {
    let tool = std::env::var_os("PRELAUNCH_IGVM_WRAP").expect(
        "PRELAUNCH_IGVM_WRAP: set it to igvm-wrap (cargo install virtfw-igvm-tools --version 0.2.6; scripts/test finds it on PATH)",
    );
    let o = Command::new(&tool)
        .args(["--snp", "-i", firmware_dir().join(firmware).to_str().unwrap(), "-o", out.to_str().unwrap()])
        .output()
        .expect("run igvm-wrap");
    assert!(o.status.success(), "igvm-wrap: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

fn measure(file: &[u8], p: &LoaderProfile, vcpus: u32) -> (String, Vec<u8>) {
    let img = IgvmImage::parse(file).unwrap();
    let mut cfg = IgvmConfig::new(prelaunch_measure::plan::Mode::Snp, p);
    (cfg.vcpus, cfg.vcpu_sig) = (vcpus, snp::cpu::by_name("EPYC-v4").unwrap());
    let b = build(&img, &cfg).unwrap();
    // The population sequence this profile issues, as an IGVM file in that order.
    (digest::fold(&b.plan).hex(), write::write(&[&b.plan]).unwrap())
}

/// igvmmeasure (coconut-svsm) measures IGVM directives in file order; given the QEMU profile's
/// population sequence written as a file, it must reproduce the QEMU profile's digest. Given the
/// igvm-wrap file itself, it agrees with the igvm-spec profile (pages without data as NORMAL zeros;
/// with --native-zero, as ZERO pages): neither tool applies QEMU's KVM VMSA or its run order.
#[test]
fn igvm_wrap_files_measure_as_igvmmeasure_measures_the_same_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let r = reference();
    let mut checks = Vec::new();
    for fw in ["bookworm_OVMF.fd", "trixie_OVMF_CODE_4M.fd"] {
        let rec = &r["fixtures"][format!("igvm-wrap:{fw}")];
        let file = igvm_wrap(fw, &dir.path().join("w.igvm"));
        assert_eq!(hex::encode(Sha256::digest(&file)), rec["sha256"].as_str().unwrap(), "{fw}: igvm-wrap's output changed");
        for n in [1u32, 2] {
            let seq = &rec[format!("qemu-sequence-{n}vcpu")];
            let (ours, sequence) = measure(&file, &profile::QEMU, n);
            // PRELAUNCH_DUMP_IGVM_DIR=DIR writes the sequences out, for igvmmeasure (README).
            if let Some(d) = std::env::var_os("PRELAUNCH_DUMP_IGVM_DIR") {
                std::fs::write(PathBuf::from(d).join(format!("{fw}.qemu-sequence-{n}vcpu.igvm")), &sequence).unwrap();
            }
            let what = format!("{fw}, {n} vCPUs");
            checks.push((
                format!("{what}: the sequence"),
                hex::encode(Sha256::digest(&sequence)),
                seq["sha256"].as_str().unwrap().to_owned(),
            ));
            checks.push((what, ours, seq["igvmmeasure_native_zero"].as_str().unwrap().to_lowercase()));
        }
        let (spec, _) = measure(&file, &profile::IGVM_SPEC, 1);
        checks.push((format!("{fw}: igvm-spec vs igvmmeasure"), spec, rec["igvmmeasure"].as_str().unwrap().to_lowercase()));
        let zero = LoaderProfile { zero_pages: ZeroPages::Zero, ..profile::IGVM_SPEC };
        let (native_zero, _) = measure(&file, &zero, 1);
        checks.push((format!("{fw}: --native-zero"), native_zero, rec["igvmmeasure_native_zero"].as_str().unwrap().to_lowercase()));
    }
    for (what, ours, theirs) in checks {
        assert_eq!(ours, theirs, "{what}");
    }
}

/// `--explain` names every reason an igvm-wrap file does not measure like `measure --ovmf` of the
/// same OVMF. Under QEMU's loader: the mirror below 1 MiB, page order and the VMSA's contents (pages
/// without data are ZERO pages and the VMSA comes after every page, as natively). Under the spec's
/// reading, also ZERO versus NORMAL pages and where the VMSA is measured.
#[test]
fn explain_names_every_difference_from_the_native_launch() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.igvm");
    igvm_wrap("bookworm_OVMF.fd", &w);
    let explain = |loader: &str| {
        let text = ok(&[
            "measure",
            "--igvm",
            w.to_str().unwrap(),
            "--igvm-loader",
            loader,
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--explain",
        ]);
        text.split("measure --ovmf of the firmware the file wraps").nth(1).unwrap_or_else(|| panic!("{text}")).to_owned()
    };
    let qemu = explain("qemu");
    for want in [
        "(the 128 KiB below 1 MiB: the mirror of the firmware's top)",
        "page order: qemu populates",
        "VMSA: vCPU 0: contents differ",
        "rdx ",
    ] {
        assert!(qemu.contains(want), "{want:?} missing from:\n{qemu}");
    }
    assert!(!qemu.contains("page type") && !qemu.contains("measured as update"), "{qemu}");
    let spec = explain("igvm-spec");
    for want in [
        "mirror of the firmware's top",
        "page type: [0x800000, 0x809000) (9 pages): normal in igvm-spec, zero in measure --ovmf",
        "page order: ",
        "VMSA: vCPU 0: measured as update #0 in igvm-spec, after every page in measure --ovmf",
        "contents differ",
    ] {
        assert!(spec.contains(want), "{want:?} missing from:\n{spec}");
    }
}
