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
        (vec!["refvals", "--ovmf", &fw_s, "--vcpus", "0-2", "--vcpu-type", "EPYC-Genoa"], 2, "0 vCPUs"),
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

/// `verify --reference`: a report made for 23 vCPUs of EPYC-Genoa is found in a trixie matrix and
/// its shape is named; the same report against a set without that shape, or another measurement,
/// is a mismatch (3) naming the nearest entries; a signed set verifies with --reference-key, and
/// read without one its signature check fails the verdict (4) unless waived by name.
#[test]
fn verify_reference_names_the_shape_a_report_matches() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let fw_s = trixie().display().to_string();
    let o = run_ok(&["measure", "--mode", "snp", "--vcpus", "23", "--vcpu-type", "EPYC-Genoa", "--ovmf", &fw_s], "measure");
    let digest = hex::decode(stdout(&o).trim()).expect("measure prints the digest in hex");
    assert_eq!(digest.len(), 48);
    let matrix = |types: &str, vcpus: &str, extra: &[&str], out: &str| {
        let mut a = vec!["reference-values", "--vcpus", vcpus, "--vcpu-type", types, "--ovmf", &fw_s, "--format", "corim"];
        a.extend(extra);
        a.extend(["--out", out]);
        run_ok(&a, out);
    };
    matrix("EPYC-Milan,EPYC-Genoa,EPYC-Turin", "1-32", &[], &p("rv.corim"));
    matrix("EPYC-Milan,EPYC-Turin", "1-32", &[], &p("no-genoa.corim"));
    let key = p("key.pem");
    let o = Command::new("openssl").args(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", &key]).output().expect("openssl");
    assert!(o.status.success(), "openssl: {}", stderr(&o));
    matrix("EPYC-Genoa", "20-24", &["--sign", &key], &p("rv.signed"));

    // A genuine report with its MEASUREMENT replaced: authenticity is waived, the lookup is tested.
    let mut report = std::fs::read(crate::evidence_support::evidence("gh_trustee_snp_vcek_report.bin")).unwrap();
    let genuine_measurement = hex::encode(&report[0x90..0xc0]);
    report[0x90..0xc0].copy_from_slice(&digest);
    report[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
    let rep = p("genoa23.bin");
    std::fs::write(&rep, &report).unwrap();
    let verify = |reference: &str, extra: &[&str]| {
        let mut a = vec!["verify", "--report", &rep, "--reference", reference, "--measurement-only", "--json"];
        a.extend(extra);
        let o = prelaunch(&a);
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
        (o, doc)
    };
    let check = |doc: &serde_json::Value, name: &str| -> (String, String) {
        let c =
            doc["checks"].as_array().expect("checks").iter().find(|c| c["check"] == name).unwrap_or_else(|| panic!("no {name} in {doc}"));
        (c["status"].as_str().unwrap().to_owned(), c["detail"].as_str().unwrap().to_owned())
    };

    let (o, doc) = verify(&p("rv.corim"), &[]);
    expect_code(&o, 0, "in the matrix");
    let (status, detail) = check(&doc, "measurement");
    assert_eq!(status, "pass", "{detail}");
    assert!(detail.contains("vcpus=23") && detail.contains("vcpu_type=EPYC-Genoa"), "the shape is named: {detail}");
    assert_eq!(check(&doc, "reference.policy").0, "pass");

    let (o, doc) = verify(&p("no-genoa.corim"), &[]);
    expect_code(&o, 3, "not in a matrix without EPYC-Genoa");
    let (status, detail) = check(&doc, "measurement");
    assert_eq!(status, "fail");
    assert!(detail.contains("none of the 64") && detail.contains("nearest: entry"), "{detail}");

    // The genuine measurement (another firmware) is in none of them.
    report[0x90..0xc0].copy_from_slice(&hex::decode(&genuine_measurement).unwrap());
    std::fs::write(&rep, &report).unwrap();
    expect_code(&verify(&p("rv.corim"), &[]).0, 3, "another firmware's measurement");
    report[0x90..0xc0].copy_from_slice(&digest);
    std::fs::write(&rep, &report).unwrap();

    // The SNP policy is not in the measurement: an entry fixing another one is a mismatch.
    report[0x08..0x10].copy_from_slice(&0x20000u64.to_le_bytes());
    std::fs::write(&rep, &report).unwrap();
    let (o, doc) = verify(&p("rv.corim"), &[]);
    expect_code(&o, 3, "another policy");
    assert_eq!(check(&doc, "measurement").0, "pass");
    assert_eq!(check(&doc, "reference.policy").0, "fail");
    report[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
    std::fs::write(&rep, &report).unwrap();

    let (o, doc) = verify(&p("rv.signed"), &["--reference-key", &key]);
    expect_code(&o, 0, "signed, verified");
    assert_eq!(check(&doc, "reference.signature").0, "pass");
    let (o, doc) = verify(&p("rv.signed"), &[]);
    expect_code(&o, 4, "signed, no key: the signature check could not run");
    assert_eq!(check(&doc, "reference.signature").0, "not-run");
    let (o, doc) = verify(&p("rv.signed"), &["--no-reference-signature"]);
    expect_code(&o, 0, "signed, no key, waived");
    assert_eq!(check(&doc, "reference.signature").0, "waived");
    let mut bad = std::fs::read(p("rv.signed")).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(p("bad.signed"), &bad).unwrap();
    let o = prelaunch(&["verify", "--report", &rep, "--reference", &p("bad.signed"), "--reference-key", &key, "--measurement-only"]);
    expect_code(&o, 4, "a signature that does not verify");
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
    // --reference replaces --expect and the launch arguments; the key needs a reference.
    expect_code(&prelaunch(&["verify", "--report", &rep, "--reference", &p("rv.corim"), "--expect", &"00".repeat(48)]), 2, "with --expect");
    expect_code(&prelaunch(&["verify", "--report", &rep, "--reference-key", &key, "--expect", &"00".repeat(48)]), 2, "key alone");
    expect_code(
        &prelaunch(&["verify", "--report", &rep, "--reference", &p("rv.corim"), "--reference-key", &key, "--measurement-only"]),
        2,
        "key for an unsigned file",
    );
}
