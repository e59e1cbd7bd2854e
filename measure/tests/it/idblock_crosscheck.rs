//! Cross-check against sev-snp-measure 0.0.13 (`snp-create-id-block`): testdata/reports/check_idblock.py
//! runs it on the same keys and launch digest and compares ID block bytes, public keys and digests,
//! and verifies our signatures with Python `cryptography`; we then verify its signatures here.
//!
//! Needs python3 with `sev-snp-measure==0.0.13` and `cryptography`. Missing tools fail the test:
//! a skipped cross-check would look like a passing one.

use std::path::PathBuf;
use std::process::Command;

use prelaunch_measure::idblock::{IdBlock, IdKey, SignedIdBlock};

fn reports_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports")
}

fn cross_check(ld: [u8; 48]) {
    let dir = reports_dir();
    let (id_path, author_path) = (dir.join("id-key.pem"), dir.join("author-key.pem"));
    let id = IdKey::from_pem_bytes(&std::fs::read(&id_path).unwrap()).unwrap();
    let author = IdKey::from_pem_bytes(&std::fs::read(&author_path).unwrap()).unwrap();
    let ours = SignedIdBlock::sign(IdBlock::new(ld), &id, Some(&author));
    let args = ours.qemu_args();

    let out = Command::new("python3")
        .arg(dir.join("check_idblock.py"))
        .args(["--measurement-hex", &hex::encode(ld)])
        .arg("--idkey")
        .arg(&id_path)
        .arg("--authorkey")
        .arg(&author_path)
        .args(["--id-block", &args.id_block, "--id-auth", &args.id_auth])
        .args(["--id-key-digest-hex", &hex::encode(ours.id_key_digest())])
        .args(["--author-key-digest-hex", &hex::encode(ours.author_key_digest().unwrap())])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}); the ID block cross-check needs python3 with `pip install sev-snp-measure==0.0.13 cryptography`"
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check_idblock.py failed ({}):\n{stderr}\n(needs `pip install sev-snp-measure==0.0.13 cryptography`)",
        out.status
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 12, "{report}");
    eprintln!("cross-checked with {}: {} checks", report["tool"], checks.len());

    // And the other direction: sev-snp-measure's output parses and verifies here, same digests.
    let r = &report["reference"];
    let theirs = SignedIdBlock::from_base64(r["id_block"].as_str().unwrap(), r["id_auth"].as_str().unwrap()).unwrap();
    theirs.verify().unwrap();
    assert_eq!(theirs.block, ours.block);
    assert_eq!(theirs.auth.id_key, ours.auth.id_key);
    assert_eq!(hex::encode(theirs.id_key_digest()), r["id_key_digest_hex"].as_str().unwrap());
    assert_eq!(hex::encode(theirs.author_key_digest().unwrap()), r["author_key_digest_hex"].as_str().unwrap());
    // Byte-exact outside the (randomised) signatures.
    let (a, b) = (ours.auth.to_bytes(), theirs.auth.to_bytes());
    for (lo, hi) in [(0, 0x40), (0x240, 0x680), (0x880, 0x1000)] {
        assert_eq!(a[lo..hi], b[lo..hi], "ID_AUTH_INFO {lo:#x}..{hi:#x}");
    }
}

#[test]
fn matches_sev_snp_measure_for_a_zero_digest() {
    cross_check([0; 48]);
}

#[test]
fn matches_sev_snp_measure_for_a_patterned_digest() {
    let mut ld = [0u8; 48];
    ld.iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8).wrapping_mul(37) ^ 0xA5);
    cross_check(ld);
}
