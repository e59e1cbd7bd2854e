//! `reference-values` end to end on real firmware: the 1,536-entry SNP matrix (1-512 vCPUs x three
//! vCPU types) as CoRIM, signed CoRIM and GCE documents, read back by independent tools
//! (testdata/reference/crosscheck.py: cbor2, pycose and cryptography, protoc on the .proto,
//! jsonschema) and compared with digests computed one by one: every entry through the library (a
//! fresh plan and a full fold per entry, no shared walk) and a sample through separate `measure` runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::plan::sev::{AmdConfig, build};
use prelaunch_measure::snp::cpu;
use rayon::prelude::*;

const TYPES: [&str; 3] = ["EPYC-Milan", "EPYC-Genoa", "EPYC-Turin"];

fn trixie() -> PathBuf {
    firmware_dir().join("trixie_OVMF_CODE_4M.fd")
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn run_ok(args: &[&str], what: &str) -> std::process::Output {
    let o = prelaunch(args);
    expect_code(&o, 0, what);
    o
}

fn crosscheck(args: &[String]) -> serde_json::Value {
    let o = Command::new("python3").arg(repo("testdata/reference/crosscheck.py")).args(args).output().expect("python3");
    assert!(
        o.status.success(),
        "crosscheck.py failed (pip install \"cbor2==5.6.5\" pycose jsonschema cryptography; apt-get install protobuf-compiler):\n{}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).expect("crosscheck JSON")
}

/// Every (type, vCPUs) digest, each from its own plan and full fold.
fn library_digests(fw_path: &Path) -> BTreeMap<(String, u32), String> {
    let bytes = std::fs::read(fw_path).unwrap();
    let img = FirmwareImage::parse(&bytes).unwrap();
    let jobs: Vec<(&str, u32)> = TYPES.iter().flat_map(|t| (1..=512).map(move |n| (*t, n))).collect();
    jobs.par_iter()
        .map(|&(t, n)| {
            let mut cfg = AmdConfig::new(prelaunch_measure::Mode::Snp);
            cfg.vcpus = n;
            cfg.vcpu_sig = cpu::by_name(t).unwrap();
            let plan = build(&img, &cfg).unwrap();
            let d = prelaunch_measure::digest::fold(&plan);
            ((t.to_owned(), n), d.hex())
        })
        .collect()
}

#[test]
fn trixie_matrix_as_corim_signed_corim_and_gce_decodes_independently_to_the_measured_digests() {
    let dir = tempfile::tempdir().unwrap();
    let fw = trixie();
    let fw_s = fw.display().to_string();
    let inspect = stdout(&run_ok(&["inspect", &fw_s], "inspect"));
    assert!(
        inspect.lines().any(|l| l.trim_start().starts_with("SEV-SNP") && l.contains("yes")),
        "trixie OVMF_CODE_4M supports SNP:\n{inspect}"
    );

    let p = |n: &str| dir.path().join(n).display().to_string();
    let key = repo("testdata/reports/author-key.pem").display().to_string();
    let matrix = ["refvals", "--vcpus", "1-512", "--vcpu-type", "EPYC-Milan,EPYC-Genoa,EPYC-Turin", "--ovmf", &fw_s];
    let with = |extra: &[&str]| -> Vec<String> { matrix.iter().chain(extra).map(|s| s.to_string()).collect() };
    let gce_dir = p("gce");
    std::fs::create_dir(&gce_dir).unwrap();
    for args in [
        with(&["--format", "corim", "--out", &p("rv.corim")]),
        with(&["--format", "corim", "--sign", &key, "--out", &p("rv.signed")]),
        with(&["--format", "gce", "--out-dir", &gce_dir]),
        with(&["--format", "json", "--out", &p("rv.json")]),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&a, "reference-values");
    }
    let pubkey = p("pub.pem");
    let o = Command::new("openssl").args(["pkey", "-in", &key, "-pubout", "-out", &pubkey]).output().expect("openssl");
    assert!(o.status.success());
    let mut gce_files: Vec<String> = std::fs::read_dir(&gce_dir).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    gce_files.sort();
    assert_eq!(gce_files.len(), 3, "one GCE document per vCPU type: {gce_files:?}");
    let mut args = vec![
        "--corim".into(),
        p("rv.corim"),
        "--signed".into(),
        p("rv.signed"),
        "--pubkey".into(),
        pubkey.clone(),
        "--json".into(),
        p("rv.json"),
        "--gce".into(),
    ];
    args.extend(gce_files.iter().cloned());
    let got = crosscheck(&args);

    let want = library_digests(&fw);
    assert_eq!(want.len(), 1536);
    let corim = got["corim"].as_object().unwrap();
    let gce = got["gce"].as_object().unwrap();
    assert_eq!(corim.len(), 1536, "CoRIM entries");
    assert_eq!(gce.len(), 1536, "GCE entries");
    for ((t, n), d) in &want {
        assert_eq!(corim[&format!("{t}/QEMU/0x1/{n}")].as_str(), Some(d.as_str()), "CoRIM {t} {n}");
        assert_eq!(gce[&format!("gce-QEMU-{t}-0x1.binpb/{n}")].as_str(), Some(d.as_str()), "GCE {t} {n}");
    }
    assert_eq!(got["cose"], "valid");
    assert_eq!(got["cose_cryptography"], "valid");
    assert_eq!(got["cose_alg"], "ES384");
    assert_eq!(got["corim_in_cose_equals_corim"], true);
    assert_eq!(got["json_schema"], "valid");
    assert!(got["gce_policy"].as_object().unwrap().values().all(|v| v == 0x30000));

    // A sample through separate `measure` runs.
    for (t, n) in
        [("EPYC-Milan", 1u32), ("EPYC-Genoa", 23), ("EPYC-Turin", 512), ("EPYC-Milan", 255), ("EPYC-Genoa", 2), ("EPYC-Turin", 97)]
    {
        let o = run_ok(&["measure", "--mode", "snp", "--vcpus", &n.to_string(), "--vcpu-type", t, "--ovmf", &fw_s], "measure");
        assert_eq!(stdout(&o).trim(), want[&(t.to_owned(), n)], "measure {t} {n}");
    }

    // A changed signature byte no longer verifies with either independent implementation.
    let mut signed = std::fs::read(p("rv.signed")).unwrap();
    let last = signed.len() - 1;
    signed[last] ^= 1;
    std::fs::write(p("bad.signed"), &signed).unwrap();
    let bad = crosscheck(&["--corim".into(), p("rv.corim"), "--signed".into(), p("bad.signed"), "--pubkey".into(), pubkey]);
    assert_eq!(bad["cose"], "invalid");
    assert_eq!(bad["cose_cryptography"], "invalid");

    // Every file checks against a recomputation (signed: with and without the key).
    for f in ["rv.corim", "rv.json"] {
        let o = run_ok(&["refvals", "--check", &p(f), "--ovmf", &fw_s], f);
        assert!(stdout(&o).contains("every entry agrees"), "{f}: {}", stdout(&o));
    }
    let o = run_ok(&["refvals", "--check", &p("rv.signed"), "--reference-key", &key, "--ovmf", &fw_s], "signed");
    assert!(stdout(&o).contains("signature verified"), "{}", stdout(&o));
    let o = run_ok(&["refvals", "--check", &p("rv.signed"), "--ovmf", &fw_s], "signed, no key");
    assert!(stdout(&o).contains("NOT checked"), "{}", stdout(&o));
    let o = prelaunch(&["refvals", "--check", &p("bad.signed"), "--reference-key", &key, "--ovmf", &fw_s]);
    expect_code(&o, 1, "bad signature");
    // A GCE document names only vCPU counts: the vCPU type comes from the command line.
    let genoa = gce_files.iter().find(|f| f.contains("Genoa")).unwrap();
    run_ok(&["refvals", "--check", genoa, "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s], "gce check");
    let o = prelaunch(&["refvals", "--check", genoa, "--vcpu-type", "EPYC-Milan", "--ovmf", &fw_s]);
    expect_code(&o, 3, "gce checked as the wrong vCPU type");
    assert!(
        stdout(&o).contains("512 of 512 entries disagree") || stderr(&o).contains("512 of 512 entries disagree"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn check_names_each_entry_that_disagrees() {
    let dir = tempfile::tempdir().unwrap();
    let fw_s = trixie().display().to_string();
    let json = dir.path().join("rv.json");
    let j = json.display().to_string();
    run_ok(
        &["reference-values", "--vcpus", "1-8", "--vcpu-type", "EPYC-Genoa", "--vmm-type", "QEMU,gce", "--ovmf", &fw_s, "--out", &j],
        "json",
    );
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 16, "QEMU x 8 + gce x 8 (the vCPU type does not enter GCE's VMSAs)");
    let m = doc["entries"][5]["values"]["measurement"].as_str().unwrap().to_owned();
    doc["entries"][5]["values"]["measurement"] =
        serde_json::Value::String(format!("{}{}", if m.starts_with('0') { "1" } else { "0" }, &m[1..]));
    std::fs::write(&json, serde_json::to_vec(&doc).unwrap()).unwrap();
    let o = prelaunch(&["refvals", "--check", &j, "--ovmf", &fw_s]);
    expect_code(&o, 3, "one changed digest");
    let out = stdout(&o);
    assert!(out.contains("entry 5 (vcpus=6 vcpu_type=EPYC-Genoa"), "{out}");
    assert_eq!(out.matches("DISAGREES").count(), 1, "{out}");
    assert!(out.contains(&m), "the recomputed value is shown: {out}");

    // Trustee: the list of values a policy checks membership in.
    let t = dir.path().join("rv.trustee.json");
    run_ok(
        &[
            "refvals",
            "--vcpus",
            "1-4",
            "--vcpu-type",
            "EPYC-Genoa",
            "--ovmf",
            &fw_s,
            "--format",
            "trustee",
            "--out",
            &t.display().to_string(),
        ],
        "trustee",
    );
    let tv: serde_json::Value = serde_json::from_slice(&std::fs::read(&t).unwrap()).unwrap();
    assert_eq!(tv[0]["name"], "snp_launch_measurement");
    assert_eq!(tv[0]["value"].as_array().unwrap().len(), 4);
    assert_eq!(tv[0]["hash-value"][3]["alg"], "sha384");
    let ts = t.display().to_string();
    run_ok(&["refvals", "--check", &ts, "--vcpus", "1-4", "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s], "trustee values among the matrix");
    let o = prelaunch(&["refvals", "--check", &ts, "--vcpus", "1-3", "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s]);
    expect_code(&o, 3, "the 4-vCPU value is outside a 1-3 matrix");
    assert_eq!(stdout(&o).matches("DISAGREES").count(), 1, "{}", stdout(&o));
    let o = prelaunch(&["refvals", "--check", &ts, "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s]);
    expect_code(&o, 2, "no --vcpus for a list without counts");
}

#[test]
fn usage_errors_and_hostile_reference_files() {
    let dir = tempfile::tempdir().unwrap();
    let fw_s = trixie().display().to_string();
    for (args, code, want) in [
        (vec!["refvals", "--ovmf", &fw_s, "--vcpu-type", "EPYC-Genoa"], 2, "--vcpus is required"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "1-2"], 2, "--vcpu-type"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "0-2", "--vcpu-type", "EPYC-Genoa"], 1, "vCPU count 0"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "2", "--vcpu-type", "EPYC-Nope"], 2, "unknown vCPU type"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "2", "--vcpu-type", "EPYC-Genoa", "--vmm-type", "xen"], 2, "unknown VMM"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "2", "--vcpu-type", "EPYC-Genoa,EPYC-Milan", "--format", "gce"], 2, "--out-dir"),
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "2", "--vcpu-type", "EPYC-Genoa", "--memory", "2G"], 2, "--memory applies to TDX"),
    ] {
        let o = prelaunch(&args);
        expect_code(&o, code, want);
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let cases: [(&str, &[u8]); 6] = [
        ("empty", b""),
        ("cbor garbage", &[0xd9, 0x01, 0xf5, 0xff]),
        ("json garbage", b"{\"format\": \"prelaunch-reference-values\", \"version\": 2, \"entries\": []}"),
        ("trustee without known claims", b"{\"other\": [\"00\"]}"),
        ("protobuf garbage", &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        ("text garbage", b"sev_snp { measurements { key: 1 value: 7 } }"),
    ];
    for (name, bytes) in cases {
        let f = dir.path().join(name.replace(' ', "_"));
        std::fs::write(&f, bytes).unwrap();
        let o = prelaunch(&["refvals", "--check", &f.display().to_string(), "--vcpus", "1", "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s]);
        expect_code(&o, 1, name);
        assert!(stderr(&o).contains(&f.display().to_string()), "{name}: the file is named: {}", stderr(&o));
    }
    // A FIFO is refused before it is opened (opening it would block).
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let o = prelaunch(&["refvals", "--check", &fifo.display().to_string(), "--ovmf", &fw_s]);
    expect_code(&o, 1, "fifo");
    assert!(stderr(&o).contains("fifo"), "{}", stderr(&o));
    // The output never goes through a symlink.
    let target = dir.path().join("target");
    std::fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = prelaunch(&["refvals", "--ovmf", &fw_s, "--vcpus", "1", "--vcpu-type", "EPYC-Genoa", "--out", &link.display().to_string()]);
    expect_code(&o, 1, "output through a symlink");
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
}
