//! Every genuine item of ../shared/evidence verifies: exit 0, every check passed or waived by the
//! flag named for what is not at hand (no AMD CRL, no TDX collateral here), and the fields an
//! independent reader found (`expected_prelaunch_fields`) printed. Negatives are refused, naming
//! the file. Real TDX collateral comes from the dcap-qvl crate's samples (PRELAUNCH_DCAP_SAMPLES_DIR).

use std::path::PathBuf;

use crate::common::*;
use crate::evidence_support::*;

/// Inside the validity of every SNP certificate here (the VLEK's ends in December 2025) and of
/// every PCK chain (the v5 sample's PCK is from January 2026).
const SNP_AT: &str = "2025-06-01T00:00:00Z";
const TDX_AT: &str = "2026-06-01T00:00:00Z";

/// The verify arguments for a manifest item.
fn args_for(it: &serde_json::Value) -> Vec<String> {
    let dir = evidence_dir();
    let s = |p: &str| dir.join(p).display().to_string();
    let mut a = vec!["--report".to_string(), s(it["file"].as_str().unwrap())];
    let fields = &it["expected_prelaunch_fields"];
    let kind = fields["kind"].as_str().unwrap();
    let at = if kind == "SNP attestation report" { SNP_AT } else { TDX_AT };
    a.extend(["--expect".into(), fields["measurement"].as_str().unwrap().to_string(), "--at".into(), at.into()]);
    match kind {
        "SNP attestation report" => {
            a.extend(["--certs".into(), s(it["vcek"].as_str().unwrap()), "--no-crl".into()]);
            if let Some(chain) = it["chain"]["ask_ark_asvk_pem"].as_str() {
                a.extend(["--certs".into(), s(chain)]);
            }
        }
        "TDX quote" => a.extend(["--no-tcb".into(), "--no-crl".into()]),
        _ => a.push("--measurement-only".into()),
    }
    a
}

#[test]
fn every_genuine_item_verifies_with_its_fields() {
    let m = manifest();
    let items: Vec<&serde_json::Value> = m["items"].as_array().unwrap().iter().filter(|i| i["negative"].is_null()).collect();
    assert!(items.len() >= 12, "{} genuine items", items.len());
    for it in items {
        let id = it["id"].as_str().unwrap();
        let mut a = args_for(it);
        if it["expected_prelaunch_fields"]["debug"] == true {
            a.push("--allow-debug".into());
        }
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let (o, doc) = verify_json(&refs);
        expect_code(&o, 0, id);
        assert_eq!(doc["verdict"], "ok", "{id}");
        assert!(failing(&doc).is_empty(), "{id}: {:?}", failing(&doc));
        for (k, want) in it["expected_prelaunch_fields"].as_object().unwrap() {
            assert_eq!(&doc[k], want, "{id}: field {k}");
        }
        // Authenticity really ran: the signature check passed (a TDREPORT has none off-platform).
        if doc["kind"] != "TDREPORT" {
            assert_eq!(doc["signature"], "valid", "{id}");
        }
    }
}

#[test]
fn the_debug_td_is_a_mismatch_without_allow_debug() {
    let it = item("tdx-trustee-quote4-v4");
    assert_eq!(it["expected_prelaunch_fields"]["debug"], true);
    let a = args_for(&it);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let (o, doc) = verify_json(&refs);
    expect_code(&o, 3, "debug TD");
    assert_eq!(failing(&doc), ["tdx.td-attributes"]);
    assert!(check(&doc, "tdx.td-attributes")["detail"].as_str().unwrap().contains("--allow-debug"));
    let mut with = refs.clone();
    with.push("--allow-debug");
    expect_code(&verify_json(&with).0, 0, "debug TD with --allow-debug");
}

#[test]
fn trailing_bytes_are_a_warning_and_unwaived_checks_fail() {
    let it = item("tdx-gotdx-spr-e4-v4");
    let a = args_for(&it);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let (_, doc) = verify_json(&refs);
    let w = doc["warnings"][0].as_str().unwrap();
    assert!(w.contains("39 bytes (not all zero)") && w.contains("0x1347"), "{w}");
    // Without the waivers, what could not run fails the verdict: exit 4, not 0.
    let bare: Vec<&str> = refs.iter().copied().filter(|a| !a.starts_with("--no-")).collect();
    let (o, doc) = verify_json(&bare);
    expect_code(&o, 4, "no collateral, no waiver");
    assert_eq!(check(&doc, "tdx.tcb-status")["status"], "not-run");
    assert!(check(&doc, "tdx.tcb-status")["detail"].as_str().unwrap().contains("--no-tcb"));
    // A TDREPORT cannot be authenticated off its platform.
    let r = evidence("gh_trustee_aztdx_tdreport.bin").display().to_string();
    let (o, doc) = verify_json(&["--report", &r, "--expect", &"00".repeat(48)]);
    expect_code(&o, 4, "TDREPORT");
    assert_eq!(check(&doc, "tdx.tdreport-mac")["status"], "not-run");
}

#[test]
fn negatives_are_refused_naming_the_file() {
    for it in manifest()["items"].as_array().unwrap().iter().filter(|i| !i["negative"].is_null()) {
        let f = evidence(it["file"].as_str().unwrap()).display().to_string();
        let o = prelaunch(&["verify", "--report", &f, "--expect", &"00".repeat(48)]);
        expect_code(&o, 1, it["id"].as_str().unwrap());
        assert!(stderr(&o).contains(it["file"].as_str().unwrap()), "{}", stderr(&o));
    }
}

/// The dcap-qvl crate's sample quotes with the collateral Intel's PCS served for them (Apache/MIT
/// test data, read from the crate's package, never copied here).
fn dcap_samples() -> PathBuf {
    let d = std::env::var_os("PRELAUNCH_DCAP_SAMPLES_DIR").map(PathBuf::from).expect(
        "PRELAUNCH_DCAP_SAMPLES_DIR is not set: scripts/test points it at the dcap-qvl crate's sample/ directory (testdata/dcap-samples)",
    );
    assert!(d.join("tdx_quote").is_file(), "{}: no tdx_quote", d.display());
    d
}

fn mrtd(q: &[u8]) -> String {
    let at = if q[0] == 4 { 48 } else { 54 };
    hex::encode(&q[at + 136..at + 184])
}

#[test]
fn real_collateral_gives_the_tcb_status_and_expires() {
    let d = dcap_samples();
    for (quote, at, body_type) in [("tdx_quote", "2025-06-25T00:00:00Z", None), ("tdx_quote_td15ex", "2026-10-20T00:00:00Z", Some(4))] {
        let q = d.join(quote).display().to_string();
        let c = d.join(format!("{quote}_collateral.json")).display().to_string();
        let m = mrtd(&read(&d.join(quote)));
        let (o, doc) = verify_json(&["--report", &q, "--collateral", &c, "--expect", &m, "--at", at, "--allow-debug"]);
        expect_code(&o, 0, quote);
        assert!(failing(&doc).is_empty() && doc["checks"].as_array().unwrap().iter().all(|c| c["status"] == "pass"), "{quote}: {doc}");
        assert!(check(&doc, "tdx.tcb-status")["detail"].as_str().unwrap().starts_with("TCB status UpToDate"));
        if let Some(t) = body_type {
            assert_eq!(doc["body_type"], t);
        }
        // A month later the collateral has expired: not authentic, and the check says why.
        let (o, doc) = verify_json(&["--report", &q, "--collateral", &c, "--expect", &m, "--at", "2027-06-01T00:00:00Z", "--allow-debug"]);
        expect_code(&o, 4, "expired collateral");
        assert!(check(&doc, "tdx.collateral")["detail"].as_str().unwrap().contains("expired"), "{doc}");
    }
    // Collateral for another platform, or edited after signing, is refused.
    let q = d.join("tdx_quote").display().to_string();
    let other = d.join("tdx_quote_outdated_collateral.json").display().to_string();
    let (o, doc) = verify_json(&[
        "--report",
        &q,
        "--collateral",
        &other,
        "--expect",
        &mrtd(&read(&d.join("tdx_quote"))),
        "--at",
        "2026-03-01T00:00:00Z",
    ]);
    expect_code(&o, 4, "another platform's collateral");
    assert!(check(&doc, "tdx.tcb-status")["detail"].as_str().unwrap().contains("FMSPC"), "{doc}");
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(read(&d.join("tdx_quote_collateral.json"))).unwrap();
    let edited = text.replacen("UpToDate", "UpToDatf", 1);
    let e = write(dir.path(), "edited.json", edited.as_bytes());
    let (o, _) =
        verify_json(&["--report", &q, "--collateral", &e, "--expect", &mrtd(&read(&d.join("tdx_quote"))), "--at", "2025-06-25T00:00:00Z"]);
    expect_code(&o, 4, "edited collateral");
}

/// dcap-qvl's own verdict (testdata/attest/dcap_qvl_verdict.py; python3 with the dcap-qvl package,
/// whose absence fails the test).
fn dcap_qvl(quote: &str, collateral: &str, at: &str) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/attest/dcap_qvl_verdict.py");
    let o = std::process::Command::new("python3").arg(&script).args([quote, collateral, at]).output().expect("python3");
    assert!(o.status.success(), "dcap_qvl_verdict.py: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("dcap_qvl_verdict.py prints JSON")
}

#[test]
fn tcb_status_agrees_with_dcap_qvl() {
    let d = dcap_samples();
    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(read(&d.join("tdx_quote_collateral.json"))).unwrap();
    let edited = write(dir.path(), "edited.json", text.replacen("UpToDate", "OutOfDate", 1).as_bytes());
    let s = |n: &str| d.join(n).display().to_string();
    // (quote, collateral, time): valid collateral, expired collateral, another platform's
    // collateral, a platform below every TCB level, collateral edited after signing.
    let cases = [
        ("tdx_quote", s("tdx_quote_collateral.json"), "2025-06-25T00:00:00Z"),
        ("tdx_quote", s("tdx_quote_collateral.json"), "2027-06-01T00:00:00Z"),
        ("tdx_quote_td15ex", s("tdx_quote_td15ex_collateral.json"), "2026-10-20T00:00:00Z"),
        ("tdx_quote", s("tdx_quote_outdated_collateral.json"), "2026-03-01T00:00:00Z"),
        ("tdx_quote_outdated", s("tdx_quote_outdated_collateral.json"), "2026-03-01T00:00:00Z"),
        ("tdx_quote", edited, "2025-06-25T00:00:00Z"),
    ];
    let mut refused = 0;
    for (quote, collateral, at) in &cases {
        let q = s(quote);
        let theirs = dcap_qvl(&q, collateral, at);
        let (o, doc) = verify_json(&[
            "--report",
            &q,
            "--collateral",
            collateral,
            "--expect",
            &mrtd(&read(&d.join(quote))),
            "--at",
            at,
            "--allow-debug",
        ]);
        let case = format!("{quote} with {collateral} at {at}: dcap-qvl says {theirs}");
        match theirs["status"].as_str() {
            Some(status) => {
                let ours = check(&doc, "tdx.tcb-status");
                let detail = ours["detail"].as_str().unwrap();
                assert!(detail.starts_with(&format!("TCB status {status}")), "{case}; prelaunch: {detail}");
                for adv in theirs["advisory_ids"].as_array().unwrap() {
                    assert!(detail.contains(adv.as_str().unwrap()), "{case}; prelaunch: {detail}");
                }
                expect_code(&o, if status == "UpToDate" { 0 } else { 3 }, &case);
            }
            None => {
                refused += 1;
                expect_code(&o, 4, &case);
            }
        }
    }
    assert!(refused >= 3 && refused < cases.len(), "dcap-qvl refused {refused} of {} cases", cases.len());
}
