//! `verify`, `diagnose` and `id-block` end to end, on reports the tests derive from the project's own
//! fixtures (testdata/reports) with measurements computed for real firmware.

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use prelaunch_measure::idblock::{IdKey, SignedIdBlock};

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fixture_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name).display().to_string()
}

/// An SNP report carrying `measurement`, re-signed with the fixtures' test VCEK key.
fn snp_report(measurement: &[u8], dir: &Path, name: &str) -> PathBuf {
    let mut r = fixture("snp-v2-genoa.bin");
    r[0x90..0x90 + 48].copy_from_slice(measurement);
    let key = IdKey::from_pem_bytes(&fixture("vcek-test-key.pem")).expect("test key");
    let sig = key.sign(&r[..0x2a0]).to_bytes();
    r[0x2a0..].copy_from_slice(&sig);
    let p = dir.join(name);
    std::fs::write(&p, r).unwrap();
    p
}

/// A TDX v4 quote carrying `mrtd` (TD report body after the 48-byte header; MRTD at body offset 136).
fn tdx_quote(mrtd: &[u8], dir: &Path) -> PathBuf {
    let mut q = fixture("tdx-quote-v4.bin");
    q[48 + 136..48 + 136 + 48].copy_from_slice(mrtd);
    let p = dir.join("quote.bin");
    std::fs::write(&p, q).unwrap();
    p
}

fn digest_of(args: &[&str]) -> Vec<u8> {
    let mut a = vec!["measure"];
    a.extend(args);
    let o = prelaunch(&a);
    expect_code(&o, 0, "measure");
    hex::decode(stdout(&o).trim()).unwrap()
}

#[test]
fn a_report_with_the_vector_digest_verifies_and_one_changed_byte_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let doc = vectors("snp.json");
    let v = doc["vectors"].as_array().unwrap().iter().find(|v| v["id"] == "v007").expect("v007");
    let want = hex::decode(v["digest"].as_str().unwrap()).unwrap();
    let report = snp_report(&want, dir.path(), "good.bin");
    let r = report.to_str().unwrap();
    let launch = ["--mode", "snp", "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--ovmf", &fw];
    let vcek = fixture_path("vcek-test.pem");
    // The fixture VCEK is self-signed: the report is not authentic, whatever its measurement.
    let mut args = vec!["verify", "--report", r, "--vcek", &vcek, "--json"];
    args.extend(launch);
    let o = prelaunch(&args);
    expect_code(&o, 4, "self-signed VCEK");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((j["verdict"].as_str(), j["match"].as_bool(), j["signature"].as_str()), (Some("not-authentic"), Some(true), Some("valid")));
    let chain = j["checks"].as_array().unwrap().iter().find(|c| c["check"] == "snp.cert-chain").unwrap();
    assert_eq!(chain["status"], "fail", "{chain}");
    let mut args = vec!["verify", "--report", r, "--measurement-only"];
    args.extend(launch);
    expect_code(&prelaunch(&args), 0, "computed expectation");
    let hex_want = hex::encode(&want);
    expect_code(&prelaunch(&["verify", "--report", r, "--expect", &hex_want, "--measurement-only"]), 0, "--expect");

    let mut changed = want.clone();
    changed[17] ^= 0x40;
    let bad = snp_report(&changed, dir.path(), "bad.bin");
    let mut args = vec!["verify", "--report", bad.to_str().unwrap(), "--json", "--measurement-only"];
    args.extend(launch);
    let o = prelaunch(&args);
    expect_code(&o, 3, "changed measurement");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["match"], false);
    assert_eq!(j["expected"], hex_want);
    assert!(stderr(&o).contains("diagnose"), "the mismatch points at diagnose: {}", stderr(&o));

    // A signature that does not verify is not authentic, not a pass.
    let o = prelaunch(&["verify", "--report", r, "--expect", &hex_want, "--vcek", &fixture_path("other-p384.pem")]);
    expect_code(&o, 4, "wrong VCEK");
    assert!(stdout(&o).contains("snp.report-signature"), "{}", stdout(&o));
}

#[test]
fn diagnose_finds_23_genoa_vcpus_with_debug_swap() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("trixie_OVMF_CODE_4M.fd").display().to_string();
    let d = digest_of(&["--mode", "snp", "--vcpus", "23", "--vcpu-type", "EPYC-Genoa", "--guest-features", "0x21", "--ovmf", &fw]);
    let report = snp_report(&d, dir.path(), "r.bin");
    let o = prelaunch(&["diagnose", "--report", report.to_str().unwrap(), "--ovmf", &fw, "--json"]);
    expect_code(&o, 0, "diagnose");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hits = j["configurations"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["vcpus"], 23);
    assert_eq!(hits[0]["vmm_type"], "QEMU");
    assert_eq!(hits[0]["guest_features"], 0x21);
    assert!(hits[0]["vcpu_types"].as_array().unwrap().iter().any(|t| t == "EPYC-Genoa"));
    assert!(j["searched"].as_u64().unwrap() > 10_000, "searched {}", j["searched"]);
    eprintln!("diagnose searched {} configurations in {} ms", j["searched"], j["elapsed_ms"]);

    // A measurement outside the space: exit 3 with advice.
    let other = snp_report(&[7u8; 48], dir.path(), "other.bin");
    let o = prelaunch(&["diagnose", "--report", other.to_str().unwrap(), "--ovmf", &fw, "--max-vcpus", "8"]);
    expect_code(&o, 3, "no match");
    assert!(stderr(&o).contains("exact firmware"), "{}", stderr(&o));
}

#[test]
fn tdx_quotes_verify_per_page_order_and_diagnose_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let doc = vectors("tdx.json");
    let case =
        doc["cases"].as_array().unwrap().iter().find(|c| c["firmware"] == "@bookworm_OVMF.fd" && c["page_order"] == "two-pass").unwrap();
    let mrtd = hex::decode(case["mrtd"].as_str().unwrap()).unwrap();
    let q = tdx_quote(&mrtd, dir.path());
    let q = q.to_str().unwrap();
    // The fixture's signature data is a placeholder: only the measurement can be compared.
    expect_code(&prelaunch(&["verify", "--report", q, "--mode", "tdx", "--ovmf", &fw, "--tdx-page-order", "two-pass"]), 4, "unsigned");
    let mo = "--measurement-only";
    expect_code(&prelaunch(&["verify", "--report", q, mo, "--mode", "tdx", "--ovmf", &fw, "--tdx-page-order", "two-pass"]), 0, "two-pass");
    expect_code(&prelaunch(&["verify", "--report", q, mo, "--mode", "tdx", "--ovmf", &fw]), 3, "single-pass differs");
    let o = prelaunch(&["verify", "--report", q, "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &fw]);
    expect_code(&o, 2, "mode does not fit the evidence");
    let o = prelaunch(&["diagnose", "--report", q, "--ovmf", &fw, "--json"]);
    expect_code(&o, 0, "diagnose tdx");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["configurations"].as_array().unwrap().iter().all(|c| c["tdx_page_order"] == "two-pass"));
}

#[test]
fn bad_reports_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in
        [("short.bin", vec![0u8; 1183]), ("empty.bin", vec![]), ("random.bin", (0..5000u32).map(|i| (i * 7 % 251) as u8).collect())]
    {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = prelaunch(&["verify", "--report", p.to_str().unwrap(), "--expect", &"00".repeat(48)]);
        expect_code(&o, 1, name);
        assert!(stderr(&o).contains(name), "{name}: {}", stderr(&o));
    }
    let o = prelaunch(&["verify", "--report", dir.path().to_str().unwrap(), "--expect", &"00".repeat(48)]);
    expect_code(&o, 1, "directory");
    // A 32-byte (SEV) measurement cannot be an SNP report's: a usage error, not a mismatch.
    let o = prelaunch(&["verify", "--report", &fixture_path("snp-v3-genoa-idblock.bin"), "--expect", &"00".repeat(32)]);
    expect_code(&o, 2, "32-byte --expect on an SNP report");
    assert!(stderr(&o).contains("32 bytes") && stderr(&o).contains("48 bytes"), "{}", stderr(&o));
}

#[test]
fn id_block_matches_the_peer_digests_and_its_signatures_verify() {
    let dir = tempfile::tempdir().unwrap();
    let m = "ab".repeat(48);
    let o = prelaunch(&[
        "id-block",
        "--measurement",
        &m,
        "--id-key",
        &fixture_path("id-key.pem"),
        "--author-key",
        &fixture_path("author-key.pem"),
        "--out-dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    expect_code(&o, 0, "id-block");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let signed = SignedIdBlock::from_base64(j["id_block"].as_str().unwrap(), j["id_auth"].as_str().unwrap()).unwrap();
    signed.verify().expect("signatures verify");
    assert_eq!(hex::encode(signed.block.ld), m);
    assert_eq!((signed.block.version, signed.block.guest_svn, signed.block.policy), (1, 0, 0x30000), "sev-snp-measure's defaults");
    // The fixture report's digests were computed by sev-snp-measure from the same keys.
    let report = fixture("snp-v3-genoa-idblock.bin");
    assert_eq!(j["id_key_digest"].as_str().unwrap(), hex::encode(&report[0xe0..0xe0 + 48]));
    assert_eq!(j["author_key_digest"].as_str().unwrap(), hex::encode(&report[0x110..0x110 + 48]));
    assert_eq!(std::fs::read(dir.path().join("id_block.bin")).unwrap(), signed.block.to_bytes());
    // Key material never reaches the output.
    let key_text = std::fs::read_to_string(fixture_path("id-key.pem")).unwrap();
    let body: String = key_text.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!stdout(&o).contains(&body[..40]));
}
