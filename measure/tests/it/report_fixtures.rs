//! The committed fixtures in testdata/reports (made by gen_fixtures.py with Python's `struct` and
//! `cryptography`): parsed fields must equal what the generator wrote (expected.json), and the SNP
//! reports' signatures must verify with the generator's self-made VCEK certificate.

use std::path::PathBuf;

use prelaunch_measure::idblock::IdKey;
use prelaunch_measure::report::{
    Evidence, ReportError, SnpReport, SnpSignatureError, TcbLayout, TdBodyKind, TdReport, TdxQuote, Vcek, verify_snp_signature,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected() -> Value {
    serde_json::from_slice(&read("expected.json")).unwrap()
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn snp_reports_match_the_generator() {
    let exp = expected();
    let cases = exp["snp"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, e) in cases {
        let bytes = read(name);
        let r = SnpReport::parse(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(u64::from(r.version), num(&e["version"]), "{name}");
        assert_eq!(u64::from(r.guest_svn), num(&e["guest_svn"]), "{name}");
        assert_eq!(r.policy, num(&e["policy"]), "{name}");
        assert_eq!(r.family_id.to_vec(), hex_of(&e["family_id"]), "{name}");
        assert_eq!(r.image_id.to_vec(), hex_of(&e["image_id"]), "{name}");
        assert_eq!(u64::from(r.vmpl), num(&e["vmpl"]), "{name}");
        assert_eq!(u64::from(r.signature_algo), num(&e["signature_algo"]), "{name}");
        assert_eq!(r.current_tcb.0.to_vec(), hex_of(&e["current_tcb"]), "{name}");
        assert_eq!(r.platform_info, num(&e["platform_info"]), "{name}");
        assert_eq!(u64::from(r.key_info), num(&e["key_info"]), "{name}");
        assert_eq!(r.report_data.to_vec(), hex_of(&e["report_data"]), "{name}");
        assert_eq!(r.measurement.to_vec(), hex_of(&e["measurement"]), "{name}");
        assert_eq!(r.host_data.to_vec(), hex_of(&e["host_data"]), "{name}");
        assert_eq!(r.id_key_digest.to_vec(), hex_of(&e["id_key_digest"]), "{name}");
        assert_eq!(r.author_key_digest.to_vec(), hex_of(&e["author_key_digest"]), "{name}");
        assert_eq!(r.report_id.to_vec(), hex_of(&e["report_id"]), "{name}");
        assert_eq!(r.report_id_ma.to_vec(), hex_of(&e["report_id_ma"]), "{name}");
        assert_eq!(r.reported_tcb.0.to_vec(), hex_of(&e["reported_tcb"]), "{name}");
        assert_eq!(r.chip_id.to_vec(), hex_of(&e["chip_id"]), "{name}");
        assert_eq!(r.committed_tcb.0.to_vec(), hex_of(&e["committed_tcb"]), "{name}");
        assert_eq!(r.launch_tcb.0.to_vec(), hex_of(&e["launch_tcb"]), "{name}");
        let v = |fw: prelaunch_measure::report::FirmwareVersion| vec![fw.major as u64, fw.minor as u64, fw.build as u64];
        let list = |x: &Value| x.as_array().unwrap().iter().map(num).collect::<Vec<_>>();
        assert_eq!(v(r.current_version), list(&e["current_version"]), "{name}");
        assert_eq!(v(r.committed_version), list(&e["committed_version"]), "{name}");
        match &e["cpuid"] {
            Value::Null => assert_eq!(r.cpuid, None, "{name}"),
            _ => {
                let c = r.cpuid.map(|c| vec![c.family as u64, c.model as u64, c.stepping as u64]);
                assert_eq!(c, Some(list(&e["cpuid"])), "{name}");
            }
        }
        match &e["mit_vectors"] {
            Value::Null => assert_eq!((r.launch_mit_vector, r.current_mit_vector), (None, None), "{name}"),
            m => assert_eq!(vec![r.launch_mit_vector.unwrap(), r.current_mit_vector.unwrap()], list(m), "{name}"),
        }
        assert_eq!(r.signature.r.to_vec(), hex_of(&e["signature_r"]), "{name}");
        assert_eq!(r.signature.s.to_vec(), hex_of(&e["signature_s"]), "{name}");
        assert!(matches!(Evidence::detect(&bytes), Ok(Evidence::SnpReport(p)) if p == r), "{name}");
    }
}

#[test]
fn snp_signatures_verify_with_the_test_vcek_pem_and_der() {
    let pem = read("vcek-test.pem");
    let der = read("vcek-test.der");
    for name in ["snp-v2-masked-chip.bin", "snp-v2-genoa.bin", "snp-v3-genoa-idblock.bin", "snp-v5-turin.bin"] {
        let report = read(name);
        let parsed = verify_snp_signature(&report, &pem).unwrap_or_else(|e| panic!("{name} (PEM): {e}"));
        assert_eq!(parsed, SnpReport::parse(&report).unwrap());
        verify_snp_signature(&report, &der).unwrap_or_else(|e| panic!("{name} (DER): {e}"));
    }
    assert_eq!(Vcek::from_pem_or_der(&pem).unwrap(), Vcek::from_pem_or_der(&der).unwrap(), "PEM and DER carry the same key");
}

#[test]
fn snp_signature_rejects_other_keys_and_any_change_to_the_signed_bytes() {
    let report = read("snp-v3-genoa-idblock.bin");
    let pem = read("vcek-test.pem");
    assert_eq!(verify_snp_signature(&report, &read("other-p384.pem")), Err(SnpSignatureError::Mismatch));
    let vcek = Vcek::from_pem_or_der(&pem).unwrap();
    // Every signed field, including reserved bytes, is covered.
    for at in [0x04, 0x50, 0x90, 0x1A0, 0x29F] {
        let mut t = report.clone();
        t[at] ^= 0x80;
        let err = vcek.verify(&t).unwrap_err();
        assert_eq!(err, SnpSignatureError::Mismatch, "byte {at:#x}");
    }
    // The unsigned reserved tail after the signature is not.
    let mut tail = report.clone();
    tail[0x400] ^= 1;
    assert!(vcek.verify(&tail).is_ok());
    let mut sig = report.clone();
    sig[0x2A0] ^= 1;
    assert_eq!(vcek.verify(&sig), Err(SnpSignatureError::Mismatch));
}

#[test]
fn snp_signature_errors_name_what_is_wrong() {
    let report = read("snp-v2-genoa.bin");
    let pem = read("vcek-test.pem");
    let e = verify_snp_signature(&report, &read("p256-cert.pem")).unwrap_err();
    assert!(matches!(e, SnpSignatureError::PublicKey(_)), "{e}");
    assert!(e.to_string().contains("is id-ecPublicKey (1.2.840.10045.2.1) on prime256v1 (P-256)"), "{e}");

    for bad in [&b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..], b"\x30\x03\x02\x01\x01", b""] {
        let e = verify_snp_signature(&report, bad).unwrap_err();
        assert!(matches!(e, SnpSignatureError::Certificate { .. }), "{e}");
    }
    let mut algo = report.clone();
    algo[0x34] = 2;
    let e = verify_snp_signature(&algo, &pem).unwrap_err();
    assert_eq!(e.to_string(), "SNP report: SIGNATURE_ALGO at offset 0x34 is 2, expected 1 (ECDSA P-384 with SHA-384)");
    let mut wide = report.clone();
    wide[0x2A0 + 60] = 1;
    let e = verify_snp_signature(&wide, &pem).unwrap_err();
    assert_eq!(e.to_string(), "SNP report: SIGNATURE at offset 0x2a0: r has non-zero bytes 48..72; a P-384 scalar fits in 48");
    let e = verify_snp_signature(&report[..1183], &pem).unwrap_err();
    assert_eq!(e.to_string(), "SNP report: 1183 bytes, expected exactly 1184");
}

#[test]
fn sev_crate_view_is_kept_where_it_decodes_and_its_failure_explained_where_not() {
    // v2 with a masked CHIP_ID: our fields parse, the sev crate refuses.
    let masked = SnpReport::parse(&read("snp-v2-masked-chip.bin")).unwrap();
    assert!(masked.chip_id_masked());
    assert!(masked.mask_chip_key());
    assert_eq!(masked.tcb_layout(), None);
    let why = masked.sev_report().unwrap_err();
    assert!(why.contains("MASK_CHIP_ID"), "{why}");

    for (name, layout) in [
        ("snp-v2-genoa.bin", None),
        ("snp-v3-genoa-idblock.bin", Some(TcbLayout::MilanGenoa)),
        ("snp-v5-turin.bin", Some(TcbLayout::Turin)),
    ] {
        let ours = SnpReport::parse(&read(name)).unwrap();
        assert_eq!(ours.tcb_layout(), layout, "{name}");
        let sev = ours.sev_report().unwrap_or_else(|e| panic!("{name}: sev crate: {e}"));
        assert_eq!(sev.version, ours.version);
        assert_eq!(sev.measurement, ours.measurement);
        assert_eq!(sev.report_data, ours.report_data);
        assert_eq!(sev.host_data, ours.host_data);
        assert_eq!(sev.id_key_digest, ours.id_key_digest);
        assert_eq!(sev.author_key_digest, ours.author_key_digest);
        assert_eq!(sev.chip_id, ours.chip_id);
        assert_eq!(sev.signature.r(), &ours.signature.r);
        assert_eq!(sev.launch_mit_vector, ours.launch_mit_vector);
        // The sev crate's TCB decode and ours agree once the layout is known.
        let layout = layout.unwrap_or(TcbLayout::MilanGenoa);
        let parts = ours.reported_tcb.parts(layout);
        assert_eq!(
            (sev.reported_tcb.fmc, sev.reported_tcb.bootloader, sev.reported_tcb.tee, sev.reported_tcb.snp, sev.reported_tcb.microcode),
            (parts.fmc, parts.bootloader, parts.tee, parts.snp, parts.microcode),
            "{name}"
        );
    }
}

#[test]
fn id_key_digests_in_the_report_are_sev_snp_measures_digests_of_the_committed_keys() {
    // gen_fixtures.py wrote sev-snp-measure's pub_to_digest() of id-key.pem and author-key.pem into
    // this report; our digests of the same keys must match.
    let r = SnpReport::parse(&read("snp-v3-genoa-idblock.bin")).unwrap();
    let id = IdKey::from_pem_bytes(&read("id-key.pem")).unwrap();
    let author = IdKey::from_pem_bytes(&read("author-key.pem")).unwrap();
    assert_eq!(id.digest(), r.id_key_digest);
    assert_eq!(author.digest(), r.author_key_digest);
    assert!(r.author_key_en());
}

#[test]
fn tdx_quotes_match_the_generator() {
    let exp = expected();
    let cases = exp["tdx_quote"].as_object().unwrap();
    assert_eq!(cases.len(), 3);
    for (name, e) in cases {
        let bytes = read(name);
        let q = TdxQuote::parse(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(u64::from(q.version), num(&e["version"]), "{name}");
        assert_eq!(u64::from(q.att_key_type), num(&e["att_key_type"]), "{name}");
        assert_eq!(q.tee_type, 0x81);
        assert_eq!(u64::from(q.body_kind.body_type()), num(&e["body_type"]), "{name}");
        assert_eq!(q.user_data.to_vec(), hex_of(&e["user_data"]), "{name}");
        assert_eq!(q.qe_vendor_id.to_vec(), hex::decode("939a7233f79c4ca9940a0db3957f0607").unwrap());
        assert_eq!(q.signature_data.len() as u64, num(&e["signature_data_len"]), "{name}");
        assert_eq!(q.trailing, None);
        let b = &q.body;
        assert_eq!(b.tee_tcb_svn.to_vec(), hex_of(&e["tee_tcb_svn"]), "{name}");
        assert_eq!(b.mr_seam.to_vec(), hex_of(&e["mr_seam"]), "{name}");
        assert_eq!(b.mr_signer_seam.to_vec(), hex_of(&e["mr_signer_seam"]), "{name}");
        assert_eq!(b.seam_attributes, num(&e["seam_attributes"]), "{name}");
        assert_eq!(b.td_attributes, num(&e["td_attributes"]), "{name}");
        assert_eq!(b.xfam, num(&e["xfam"]), "{name}");
        assert_eq!(b.mr_td.to_vec(), hex_of(&e["mr_td"]), "{name}");
        assert_eq!(b.mr_config_id.to_vec(), hex_of(&e["mr_config_id"]), "{name}");
        assert_eq!(b.mr_owner.to_vec(), hex_of(&e["mr_owner"]), "{name}");
        assert_eq!(b.mr_owner_config.to_vec(), hex_of(&e["mr_owner_config"]), "{name}");
        for (i, r) in b.rtmr.iter().enumerate() {
            assert_eq!(r.to_vec(), hex_of(&e["rtmr"][i]), "{name} RTMR{i}");
        }
        assert_eq!(b.report_data.to_vec(), hex_of(&e["report_data"]), "{name}");
        if q.body_kind == TdBodyKind::TdReport15 {
            assert_eq!(b.tee_tcb_svn2.unwrap().to_vec(), hex_of(&e["tee_tcb_svn2"]), "{name}");
            assert_eq!(b.mr_servicetd.unwrap().to_vec(), hex_of(&e["mr_servicetd"]), "{name}");
        } else {
            assert_eq!((b.tee_tcb_svn2, b.mr_servicetd), (None, None), "{name}");
        }
        assert!(!b.debug());
        assert!(matches!(Evidence::detect(&bytes), Ok(Evidence::TdxQuote(p)) if p == q), "{name}");
    }
}

#[test]
fn tdreports_match_the_generator() {
    let exp = expected();
    let cases = exp["tdreport"].as_object().unwrap();
    assert_eq!(cases.len(), 2);
    for (name, e) in cases {
        let bytes = read(name);
        let r = TdReport::parse(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(u64::from(r.report_type.version), num(&e["version"]), "{name}");
        assert_eq!(r.cpu_svn.to_vec(), hex_of(&e["cpu_svn"]), "{name}");
        assert_eq!(r.tee_tcb_info_hash.to_vec(), hex_of(&e["tee_tcb_info_hash"]), "{name}");
        assert_eq!(r.tee_info_hash.to_vec(), hex_of(&e["tee_info_hash"]), "{name}");
        assert_eq!(r.report_data.to_vec(), hex_of(&e["report_data"]), "{name}");
        assert_eq!(r.mac.to_vec(), hex_of(&e["mac"]), "{name}");
        assert_eq!(r.tee_tcb_info.tee_tcb_svn.to_vec(), hex_of(&e["tee_tcb_svn"]), "{name}");
        assert_eq!(r.tee_tcb_info.mr_seam.to_vec(), hex_of(&e["mr_seam"]), "{name}");
        assert_eq!(r.tee_tcb_info.tee_tcb_svn2.to_vec(), hex_of(&e["tee_tcb_svn2"]), "{name}");
        assert_eq!(r.td_info.attributes, num(&e["td_attributes"]), "{name}");
        assert_eq!(r.td_info.xfam, num(&e["xfam"]), "{name}");
        assert_eq!(r.td_info.mr_td.to_vec(), hex_of(&e["mr_td"]), "{name}");
        assert_eq!(r.td_info.mr_config_id.to_vec(), hex_of(&e["mr_config_id"]), "{name}");
        assert_eq!(r.td_info.mr_owner.to_vec(), hex_of(&e["mr_owner"]), "{name}");
        assert_eq!(r.td_info.mr_owner_config.to_vec(), hex_of(&e["mr_owner_config"]), "{name}");
        for (i, rt) in r.td_info.rtmr.iter().enumerate() {
            assert_eq!(rt.to_vec(), hex_of(&e["rtmr"][i]), "{name} RTMR{i}");
        }
        match &e["servtd_hash"] {
            Value::Null => assert_eq!(r.td_info.servtd_hash, None, "{name}"),
            h => assert_eq!(r.td_info.servtd_hash.map(|h| h.to_vec()), Some(hex_of(h)), "{name}"),
        }
        assert!(r.debug());
        assert!(matches!(Evidence::detect(&bytes), Ok(Evidence::TdReport(p)) if p == r), "{name}");
    }
}

#[test]
fn evidence_serialises_to_json_with_hex_digests() {
    let ev = Evidence::detect(&read("tdx-quote-v5-td15.bin")).unwrap();
    let json = serde_json::to_value(&ev).unwrap();
    assert_eq!(json["kind"], "tdx_quote");
    assert_eq!(json["body"]["mr_td"].as_str().unwrap(), hex::encode(ev.launch_measurement()));
    assert_eq!(json["body"]["rtmr"].as_array().unwrap().len(), 4);
    let snp = serde_json::to_value(Evidence::detect(&read("snp-v5-turin.bin")).unwrap()).unwrap();
    assert_eq!(snp["kind"], "snp_report");
    assert_eq!(snp["measurement"].as_str().unwrap().len(), 96);
    let e: ReportError = Evidence::detect(&[0; 10]).unwrap_err();
    assert!(e.to_string().starts_with("10 bytes: not an SNP report"));
}
