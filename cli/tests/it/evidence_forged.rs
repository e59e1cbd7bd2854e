//! Forged variants of the real evidence are not authentic (exit 4), each naming the check that
//! caught it: re-signed with another key, a byte flipped in the signed area, another chip's VCEK,
//! a chain to a self-made root, a revoked signer; and a self-made hierarchy trusted with
//! --trust-root shows the appraisal exits (a debug policy is 3 without --allow-debug).

use crate::common::*;
use crate::evidence_support::*;
use prelaunch_measure::idblock::IdKey;

const AT: &str = "2025-06-01T00:00:00Z";

fn vcek_report() -> Vec<u8> {
    read(&evidence("gh_trustee_snp_vcek_report.bin"))
}

fn measurement(r: &[u8]) -> String {
    hex::encode(&r[0x90..0xc0])
}

/// Signs bytes 0..0x2a0 of `r` with a P-384 key in AMD's little-endian layout.
fn resign(r: &mut [u8], key: &IdKey) {
    let sig = key.sign(&r[..0x2a0]).to_bytes();
    r[0x2a0..].copy_from_slice(&sig);
}

fn snp(dir: &std::path::Path, name: &str, r: &[u8], extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let p = write(dir, name, r);
    let vcek = evidence("gh_trustee_snp_vcek.der").display().to_string();
    let m = measurement(r);
    let mut a = vec!["--report", p.as_str(), "--expect", m.as_str(), "--at", AT, "--no-crl"];
    if !extra.contains(&"--certs") {
        a.extend(["--certs", vcek.as_str()]);
    }
    a.extend(extra);
    let owned: Vec<String> = a.iter().map(|s| s.to_string()).collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    verify_json(&refs)
}

#[test]
fn forged_snp_reports_are_not_authentic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genuine = vcek_report();
    expect_code(&snp(d, "genuine.bin", &genuine, &[]).0, 0, "genuine");

    let mut resigned = genuine.clone();
    resign(
        &mut resigned,
        &IdKey::from_pem_bytes(&read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports/vcek-test-key.pem")))
            .unwrap(),
    );
    let (o, doc) = snp(d, "resigned.bin", &resigned, &[]);
    expect_code(&o, 4, "re-signed with another key");
    assert_eq!(failing(&doc), ["snp.report-signature"]);

    for at in [0x90, 0x50, 0x08, 0x180, 0x29f] {
        let mut flipped = genuine.clone();
        flipped[at] ^= 1;
        let (o, doc) = snp(d, "flipped.bin", &flipped, &[]);
        expect_code(&o, 4, &format!("byte {at:#x} flipped"));
        assert!(failing(&doc).contains(&"snp.report-signature".to_string()), "{at:#x}: {:?}", failing(&doc));
    }
    // A flip outside the signed area (in the signature's unused high bytes) is caught by the format.
    let mut high = genuine.clone();
    high[0x2a0 + 60] ^= 1;
    expect_code(&snp(d, "high.bin", &high, &[]).0, 4, "signature high bytes");

    // Another Milan chip's (genuine) VCEK: the signature and CHIP_ID both say so.
    let other = evidence("gh_trustee_azsnp_vcek.pem").display().to_string();
    let (o, doc) = snp(d, "swapped.bin", &genuine, &["--certs", &other]);
    expect_code(&o, 4, "swapped VCEK");
    let f = failing(&doc);
    assert!(f.contains(&"snp.report-signature".to_string()) && f.contains(&"snp.chip-id".to_string()), "{f:?}");
    // A VLEK where KEY_INFO names the VCEK.
    let vlek = evidence("gh_trustee_snp_vlek.der").display().to_string();
    let (o, doc) = snp(d, "kind.bin", &genuine, &["--certs", &vlek]);
    expect_code(&o, 4, "VLEK for a VCEK report");
    assert!(failing(&doc).contains(&"snp.key-kind".to_string()), "{:?}", failing(&doc));
}

/// A self-made ARK/ASK/VCEK with AMD's names, the report's CHIP_ID and TCB, and the report
/// re-signed with that VCEK: only the root gives it away.
#[test]
fn a_chain_to_a_self_made_root_is_not_authentic_unless_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genuine = vcek_report();
    let chip = hex::encode(&genuine[0x1a0..0x1e0]);
    let tcb = &genuine[0x180..0x188];
    let tcb_arg = format!("{},{},{},{}", tcb[0], tcb[1], tcb[6], tcb[7]);
    let out = d.join("forged");
    forge(&["snp-chain", "--out", out.to_str().unwrap(), "--chip-id", &chip, "--tcb", &tcb_arg]);
    let key = IdKey::from_pem_bytes(&read(&out.join("vcek-key.pem"))).unwrap();
    let mut r = genuine.clone();
    resign(&mut r, &key);
    let certs = out.display().to_string();
    let (o, doc) = snp(d, "forged.bin", &r, &["--certs", &certs]);
    expect_code(&o, 4, "self-made root");
    assert_eq!(failing(&doc), ["snp.cert-chain"]);
    assert!(check(&doc, "snp.cert-chain")["detail"].as_str().unwrap().contains("not a trusted root"), "{doc}");

    // Trusted by name, the same hierarchy authenticates, with revocation from its CRL.
    let ark = out.join("ark.pem").display().to_string();
    let trusted = ["--certs", certs.as_str(), "--trust-root", ark.as_str()];
    let (o, doc) = snp(d, "forged.bin", &r, &trusted);
    expect_code(&o, 0, "trusted test root");
    assert_eq!(check(&doc, "snp.revocation")["status"], "pass");

    // A debug policy is a mismatch (3) without --allow-debug, ok with it.
    let mut debug = r.clone();
    debug[0x08..0x10].copy_from_slice(&0xb0000u64.to_le_bytes());
    resign(&mut debug, &key);
    let (o, doc) = snp(d, "debug.bin", &debug, &trusted);
    expect_code(&o, 3, "debug policy");
    assert_eq!(failing(&doc), ["snp.policy"]);
    let with: Vec<&str> = trusted.iter().copied().chain(["--allow-debug"]).collect();
    expect_code(&snp(d, "debug.bin", &debug, &with).0, 0, "debug policy allowed");

    // Expectations beyond the measurement: each named, each exit 3.
    for (flag, value, check_name) in [
        ("--report-data", "00".repeat(64), "report-data"),
        ("--host-data", "01".to_string(), "snp.host-data"),
        ("--vmpl", "1".to_string(), "snp.vmpl"),
        ("--min-tcb", "3,0,8,200".to_string(), "snp.min-tcb"),
        ("--id-key-digest", "00".repeat(48), "snp.id-key-digest"),
    ] {
        let args: Vec<&str> = trusted.iter().copied().chain([flag, value.as_str()]).collect();
        let (o, doc) = snp(d, "forged.bin", &r, &args);
        expect_code(&o, 3, flag);
        assert_eq!(failing(&doc), [check_name], "{flag}");
    }

    // The same root revoking the ASK: not authentic.
    let revoked = d.join("revoked");
    forge(&["snp-chain", "--out", revoked.to_str().unwrap(), "--chip-id", &chip, "--tcb", &tcb_arg, "--revoke-ask"]);
    let key = IdKey::from_pem_bytes(&read(&revoked.join("vcek-key.pem"))).unwrap();
    let mut r = genuine.clone();
    resign(&mut r, &key);
    let (certs, ark) = (revoked.display().to_string(), revoked.join("ark.pem").display().to_string());
    let (o, doc) = snp(d, "revoked.bin", &r, &["--certs", &certs, "--trust-root", &ark]);
    expect_code(&o, 4, "revoked ASK");
    assert_eq!(failing(&doc), ["snp.revocation"]);
    assert!(check(&doc, "snp.revocation")["detail"].as_str().unwrap().contains("revoked since"));
}

fn tdx_verify(dir: &std::path::Path, q: &[u8], extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let p = write(dir, "q.bin", q);
    let at = if q[0] == 4 { 48 } else { 54 };
    let m = hex::encode(&q[at + 136..at + 184]);
    let mut a = vec!["--report", p.as_str(), "--expect", m.as_str(), "--no-tcb", "--no-crl", "--at", "2026-06-01T00:00:00Z"];
    a.extend(extra);
    let owned: Vec<String> = a.iter().map(|s| s.to_string()).collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    verify_json(&refs)
}

#[test]
fn forged_tdx_quotes_are_not_authentic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genuine = read(&evidence("gh_trustee_tdx_quote_5.bin"));
    expect_code(&tdx_verify(d, &genuine, &[]).0, 0, "genuine");

    // MRTD edited after signing.
    let mut edited = genuine.clone();
    edited[54 + 136] ^= 0x80;
    let (o, doc) = tdx_verify(d, &edited, &[]);
    expect_code(&o, 4, "edited MRTD");
    assert_eq!(failing(&doc), ["tdx.quote-signature"]);

    // Re-signed with an attestation key of our own: the QE never certified it.
    let mut parts = QuoteParts::split(&genuine);
    let (pkcs8, public) = p256_key();
    parts.att_key = public;
    parts.signature = p256_sign(&pkcs8, &parts.signed);
    let (o, doc) = tdx_verify(d, &parts.join(), &[]);
    expect_code(&o, 4, "own attestation key");
    assert_eq!(failing(&doc), ["tdx.qe-report-binding"]);

    // Another platform's PCK chain: the QE report's signature is not its PCK's.
    let mut swapped = QuoteParts::split(&genuine);
    swapped.pem = QuoteParts::split(&read(&evidence("gh_gotdx_spr_e4_v4.bin"))).pem;
    let (o, doc) = tdx_verify(d, &swapped.join(), &[]);
    expect_code(&o, 4, "swapped PCK chain");
    assert_eq!(failing(&doc), ["tdx.qe-report-signature"]);

    // A self-made PCK hierarchy signing the QE report: the root gives it away, unless trusted.
    let out = d.join("forged");
    forge(&["tdx-chain", "--out", out.to_str().unwrap()]);
    let mut forged = QuoteParts::split(&genuine);
    forged.qe_sig = p256_sign(&pem_der(&read(&out.join("pck-key.pem"))), &forged.qe_report);
    forged.pem = [read(&out.join("pck.pem")), read(&out.join("pck-ca.pem")), read(&out.join("root.pem"))].concat();
    let (o, doc) = tdx_verify(d, &forged.join(), &[]);
    expect_code(&o, 4, "self-made PCK root");
    assert_eq!(failing(&doc), ["tdx.pck-chain"]);
    assert!(check(&doc, "tdx.pck-chain")["detail"].as_str().unwrap().contains("not signed by a trusted root"));
    let root = out.join("root.pem").display().to_string();
    expect_code(&tdx_verify(d, &forged.join(), &["--trust-root", &root]).0, 0, "trusted test root");

    // RTMR and report data expectations.
    let b = 54;
    let rtmr1 = hex::encode(&genuine[b + 376..b + 424]);
    let good = format!("1={rtmr1}");
    expect_code(&tdx_verify(d, &genuine, &["--rtmr", &good]).0, 0, "RTMR1 as expected");
    let bad = format!("2={rtmr1}");
    let (o, doc) = tdx_verify(d, &genuine, &["--rtmr", &bad]);
    expect_code(&o, 3, "RTMR2 differs");
    assert_eq!(failing(&doc), ["tdx.rtmr2"]);
    let (o, doc) = tdx_verify(d, &genuine, &["--report-data", "00"]);
    expect_code(&o, 3, "report data");
    assert_eq!(failing(&doc), ["report-data"]);
}
