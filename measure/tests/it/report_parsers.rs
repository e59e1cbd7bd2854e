//! Every parser against bad input: a table of malformed evidence that must be rejected with the
//! right error (and never panic), plus random bytes. Fixtures are built here from scratch; SNP
//! reports are signed with the committed test VCEK key (testdata/reports/vcek-test-key.pem).

use std::path::PathBuf;

use prelaunch_measure::idblock::IdKey;
use prelaunch_measure::report::{
    Evidence, ReportError, SnpReport, SnpReportError, TdReport, TdReportError, TdxQuote, TdxQuoteError, Truncated, Vcek,
    verify_snp_signature,
};
use proptest::prelude::*;

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name)).unwrap()
}

/// Builds evidence byte by byte, independently of the parsers' code.
mod build {
    pub fn snp_report(version: u32, measurement: [u8; 48]) -> Vec<u8> {
        let mut b = vec![0u8; 1184];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
        b[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        b[0x90..0xC0].copy_from_slice(&measurement);
        b[0x188] = 0x19;
        b[0x189] = 0x01;
        b
    }

    pub fn sign_snp(report: &mut [u8], key: &prelaunch_measure::idblock::IdKey) {
        let sig = key.sign(&report[..0x2A0]).to_bytes();
        report[0x2A0..0x4A0].copy_from_slice(&sig);
    }

    pub fn td_body(body_type: u16) -> Vec<u8> {
        let v15 = body_type >= 3;
        let mut b = vec![0u8; [584, 648, 885][usize::from(body_type.clamp(2, 4) - 2)]];
        b[120..128].copy_from_slice(&0x1000_0000u64.to_le_bytes());
        b[128..136].copy_from_slice(&0x61ae7u64.to_le_bytes());
        b[136..184].fill(0xAA); // MRTD
        for i in 0..4 {
            b[328 + 48 * i..376 + 48 * i].fill(0xB0 + i as u8);
        }
        b[520..584].fill(0xDD);
        if v15 {
            b[600..648].fill(0xEE);
        }
        if body_type == 4 {
            b[648] = 2; // VM_INDEX
            b[829..877].fill(0xCC); // CUR_SERVTD_HASH
        }
        b
    }

    pub fn quote(version: u16, body_type: u16, declared_size: Option<u32>, sig: &[u8]) -> Vec<u8> {
        let mut q = Vec::new();
        q.extend_from_slice(&version.to_le_bytes());
        q.extend_from_slice(&2u16.to_le_bytes());
        q.extend_from_slice(&0x81u32.to_le_bytes());
        q.extend_from_slice(&[0; 40]);
        let body = td_body(body_type);
        if version == 5 {
            q.extend_from_slice(&body_type.to_le_bytes());
            q.extend_from_slice(&declared_size.unwrap_or(body.len() as u32).to_le_bytes());
        }
        q.extend_from_slice(&body);
        q.extend_from_slice(&(sig.len() as u32).to_le_bytes());
        q.extend_from_slice(sig);
        q
    }

    pub fn tdreport(version: u8) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        b[0] = 0x81;
        b[2] = version;
        b[128..192].fill(0x11);
        b[512 + 16..512 + 64].fill(0xAA);
        b[512 + 400..512 + 448].fill(0x5E);
        b
    }
}

fn test_vcek_key() -> IdKey {
    IdKey::from_pem_bytes(&testdata("vcek-test-key.pem")).unwrap()
}

#[test]
fn built_snp_reports_parse_and_verify_for_every_version() {
    let key = test_vcek_key();
    let cert = testdata("vcek-test.pem");
    for version in 2..=5 {
        let mut r = build::snp_report(version, [version as u8; 48]);
        build::sign_snp(&mut r, &key);
        let p = verify_snp_signature(&r, &cert).unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(p.version, version);
        assert_eq!(p.measurement, [version as u8; 48]);
        assert_eq!(p.cpuid.is_some(), version >= 3);
        assert_eq!(p.launch_mit_vector.is_some(), version >= 5);
        assert!(matches!(Evidence::detect(&r), Ok(Evidence::SnpReport(_))));
    }
}

#[test]
fn v2_report_with_masked_chip_id_parses_though_the_sev_crate_refuses_it() {
    let key = test_vcek_key();
    let mut r = build::snp_report(2, [7; 48]);
    build::sign_snp(&mut r, &key);
    let p = verify_snp_signature(&r, &testdata("vcek-test.der")).unwrap();
    assert!(p.chip_id_masked());
    assert_eq!(p.measurement, [7; 48]);
    assert!(p.sev_report().is_err());
}

#[test]
fn snp_report_bad_inputs() {
    let good = build::snp_report(3, [1; 48]);
    let with = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let cases: Vec<(&str, Vec<u8>, SnpReportError)> = vec![
        ("empty", vec![], SnpReportError::Length { len: 0 }),
        ("truncated", good[..1183].to_vec(), SnpReportError::Length { len: 1183 }),
        ("oversized", [good.clone(), vec![0]].concat(), SnpReportError::Length { len: 1185 }),
        ("version 0", with(0, &[0, 0, 0, 0]), SnpReportError::Version { version: 0 }),
        ("version 1", with(0, &[1, 0, 0, 0]), SnpReportError::Version { version: 1 }),
        ("version 6", with(0, &[6, 0, 0, 0]), SnpReportError::Version { version: 6 }),
        ("version u32::MAX", with(0, &[0xff; 4]), SnpReportError::Version { version: u32::MAX }),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(SnpReport::parse(&bytes), Err(want), "{what}");
    }
    assert_eq!(SnpReportError::Version { version: 6 }.to_string(), "SNP report: VERSION at offset 0x0 is 6, expected 2 to 5");
}

#[test]
fn tdx_quote_good_shapes() {
    let sig = [0x5Au8; 200];
    for (version, body_type) in [(4, 2), (5, 2), (5, 3), (5, 4)] {
        let q = TdxQuote::parse(&build::quote(version, body_type, None, &sig)).unwrap();
        assert_eq!(q.body.mr_td, [0xAA; 48]);
        assert_eq!(q.body.rtmr[3], [0xB3; 48]);
        assert_eq!(q.body.report_data, [0xDD; 64]);
        assert_eq!(q.body.xfam, 0x61ae7);
        assert_eq!(q.body.mr_servicetd.is_some(), body_type >= 3);
        assert_eq!(q.body.ex.as_ref().map(|e| (e.vm_index, e.cur_servtd_hash)), (body_type == 4).then_some((2, [0xCC; 48])));
        assert_eq!(q.signature_data, sig);
        assert_eq!(q.trailing, None);
        assert_eq!(q.len(), q.signed_len + 4 + sig.len());
    }
    // Bytes after the signature data (fixed-size buffers, text tools append) are kept for a warning.
    let mut padded = build::quote(4, 2, None, &sig);
    padded.extend_from_slice(&[0; 3000]);
    let t = TdxQuote::parse(&padded).unwrap().trailing.unwrap();
    assert_eq!((t.offset, t.len, t.all_zero), (836, 3000, true));
    let junk = TdxQuote::parse(&[build::quote(4, 2, None, &sig), b"\nextra\n".to_vec()].concat()).unwrap().trailing.unwrap();
    assert_eq!(junk.to_string(), "7 bytes (not all zero) after the signature data at offset 0x344 are not part of the quote; ignored");
    // An empty signature data section is structurally fine (verification is not done here).
    assert!(TdxQuote::parse(&build::quote(5, 2, None, &[])).is_ok());
}

#[test]
fn tdx_quote_bad_inputs() {
    let sig = [0x5Au8; 200];
    let v4 = build::quote(4, 2, None, &sig);
    let v5 = build::quote(5, 3, None, &sig);
    let with = |base: &[u8], at: usize, v: &[u8]| {
        let mut b = base.to_vec();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let trunc = |what, field, offset, need, have| TdxQuoteError::Truncated(Truncated { what, field, offset, need, have });
    let cases: Vec<(&str, Vec<u8>, TdxQuoteError)> = vec![
        ("empty", vec![], TdxQuoteError::Short { len: 0 }),
        ("half a header", v4[..47].to_vec(), TdxQuoteError::Short { len: 47 }),
        ("version 3", with(&v4, 0, &[3, 0]), TdxQuoteError::Version(3)),
        ("version 6", with(&v4, 0, &[6, 0]), TdxQuoteError::Version(6)),
        ("att key type 0", with(&v4, 2, &[0, 0]), TdxQuoteError::AttKeyType(0)),
        ("SGX quote", with(&v4, 4, &[0, 0, 0, 0]), TdxQuoteError::TeeType(0)),
        ("TEE type 0x80", with(&v4, 4, &[0x80, 0, 0, 0]), TdxQuoteError::TeeType(0x80)),
        ("header only", v4[..48].to_vec(), trunc("TDX quote", "TEE_TCB_SVN", 48, 16, 0)),
        ("v4 body cut", v4[..400].to_vec(), trunc("TDX quote", "RTMR0", 376, 48, 24)),
        ("v4 no length", v4[..632].to_vec(), trunc("TDX quote", "signature data length", 632, 4, 0)),
        ("signature data cut", v4[..700].to_vec(), TdxQuoteError::SignatureDataLength { offset: 632, len: 200, available: 64 }),
        (
            "signature length huge",
            with(&v4, 632, &u32::MAX.to_le_bytes()),
            TdxQuoteError::SignatureDataLength { offset: 632, len: u32::MAX, available: 200 },
        ),
        ("v5 no descriptor", v5[..50].to_vec(), trunc("TDX quote", "body descriptor SIZE", 50, 4, 0)),
        ("v5 SGX body", with(&v5, 48, &[1, 0]), TdxQuoteError::BodyType(1)),
        ("v5 body type 5", with(&v5, 48, &[5, 0]), TdxQuoteError::BodyType(5)),
        ("v5 type 4 says 648", build::quote(5, 4, Some(648), &sig), TdxQuoteError::BodySize { body_type: 4, size: 648, expected: 885 }),
        (
            "v5 size lies (1.5 body says 584)",
            build::quote(5, 3, Some(584), &sig),
            TdxQuoteError::BodySize { body_type: 3, size: 584, expected: 648 },
        ),
        (
            "v5 size lies (1.0 body says 648)",
            build::quote(5, 2, Some(648), &sig),
            TdxQuoteError::BodySize { body_type: 2, size: 648, expected: 584 },
        ),
        ("v5 size huge", build::quote(5, 2, Some(u32::MAX), &sig), TdxQuoteError::BodySize { body_type: 2, size: u32::MAX, expected: 584 }),
        (
            "v5 type 1.5 but a 1.0 body follows",
            with(&build::quote(5, 2, Some(648), &sig), 48, &[3, 0]),
            TdxQuoteError::SignatureDataLength { offset: 702, len: 0x5A5A5A5A, available: 136 },
        ),
        ("v5 body cut", v5[..600].to_vec(), trunc("TDX quote", "REPORTDATA", 574, 64, 26)),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(TdxQuote::parse(&bytes), Err(want.clone()), "{what}");
        // Detection recognises the header and passes the quote parser's error through.
        if bytes.len() >= 48 && TdxQuote::header_matches(&bytes) && bytes.len() != 1184 {
            assert_eq!(Evidence::detect(&bytes), Err(ReportError::TdxQuote(want)), "{what}");
        }
    }
    assert_eq!(
        TdxQuoteError::BodySize { body_type: 3, size: 584, expected: 648 }.to_string(),
        "TD quote body descriptor: SIZE at offset 0x32 is 584, expected 648 for body type 3"
    );
    assert_eq!(
        TdxQuoteError::TeeType(0).to_string(),
        "TDX quote header: TEE_TYPE at offset 0x4 is 0x0, expected 0x81 (TDX); 0x0 is an SGX quote"
    );
}

#[test]
fn tdreport_bad_inputs() {
    let good = build::tdreport(1);
    let parsed = TdReport::parse(&good).unwrap();
    assert_eq!(parsed.td_info.mr_td, [0xAA; 48]);
    assert_eq!(parsed.td_info.servtd_hash, Some([0x5E; 48]));
    assert_eq!(parsed.report_data, [0x11; 64]);
    assert_eq!(TdReport::parse(&build::tdreport(0)).unwrap().td_info.servtd_hash, None);
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        b
    };
    let cases: Vec<(&str, Vec<u8>, TdReportError)> = vec![
        ("empty", vec![], TdReportError::Length { len: 0 }),
        ("truncated", good[..1023].to_vec(), TdReportError::Length { len: 1023 }),
        ("oversized", [good.clone(), vec![0]].concat(), TdReportError::Length { len: 1025 }),
        ("with the ioctl's REPORTDATA in front", [vec![0; 64], good.clone()].concat(), TdReportError::Length { len: 1088 }),
        ("SGX report", with(0, 0), TdReportError::Type(0)),
        ("type 0x80", with(0, 0x80), TdReportError::Type(0x80)),
        ("subtype 1", with(1, 1), TdReportError::Subtype(1)),
    ];
    for (what, bytes, want) in cases {
        assert_eq!(TdReport::parse(&bytes), Err(want), "{what}");
    }
}

#[test]
fn detect_names_what_it_expected() {
    let e = Evidence::detect(&[0u8; 1183]).unwrap_err();
    assert_eq!(e.to_string(), "1183 bytes: not an SNP report (1184), TDREPORT (1024) or TDX quote (header version 4/5, TEE type 0x81)");
    assert_eq!(Evidence::detect(&[]), Err(ReportError::Unrecognised { len: 0 }));
    // Sized like a report: the report's own error, not "unrecognised".
    assert_eq!(Evidence::detect(&[0u8; 1184]), Err(ReportError::Snp(SnpReportError::Version { version: 0 })));
    assert_eq!(Evidence::detect(&[0u8; 1024]), Err(ReportError::TdReport(TdReportError::Type(0))));
}

#[test]
fn detect_does_not_mistake_an_snp_report_with_guest_svn_0x81_for_a_quote() {
    for version in [4u32, 5] {
        let mut r = build::snp_report(version, [3; 48]);
        r[4..8].copy_from_slice(&0x81u32.to_le_bytes());
        assert!(TdxQuote::header_matches(&r));
        match Evidence::detect(&r) {
            Ok(Evidence::SnpReport(p)) => assert_eq!(p.guest_svn, 0x81),
            other => panic!("v{version}: {other:?}"),
        }
    }
}

#[test]
fn vcek_bad_inputs() {
    for (what, bytes) in [
        ("empty", &b""[..]),
        ("whitespace", b"  \n"),
        ("PEM without body", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
        ("unterminated PEM", b"-----BEGIN CERTIFICATE-----\nMIIB"),
        ("a private key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ("DER junk", b"\x30\x82\xff\xff"),
    ] {
        assert!(Vcek::from_pem_or_der(bytes).is_err(), "{what}");
    }
    let pem = testdata("vcek-test.pem");
    for cut in [1, 100, pem.len() - 30] {
        assert!(Vcek::from_pem_or_der(&pem[..cut]).is_err(), "PEM cut at {cut}");
    }
    let der = testdata("vcek-test.der");
    for cut in [0, 1, 10, der.len() - 1] {
        assert!(Vcek::from_pem_or_der(&der[..cut]).is_err(), "DER cut at {cut}");
    }
}

#[test]
fn vcek_pem_may_carry_text_and_a_chain_but_only_one_p384_certificate() {
    let vcek = testdata("vcek-test.pem");
    let want = Vcek::from_pem_or_der(&vcek).unwrap();
    let dump = [b"Certificate:\n    Data: (openssl x509 -text output)\n".to_vec(), vcek.clone()].concat();
    assert_eq!(Vcek::from_pem_or_der(&dump).unwrap(), want);
    // With a non-P-384 certificate (standing in for the RSA ASK/ARK) before it: the VCEK is picked.
    let chain = [testdata("p256-cert.pem"), vcek.clone()].concat();
    assert_eq!(Vcek::from_pem_or_der(&chain).unwrap(), want);
    let two = [vcek.clone(), testdata("other-p384.pem")].concat();
    assert_eq!(Vcek::from_pem_or_der(&two).unwrap_err().to_string(), "VCEK certificate (PEM): 2 P-384 certificates; pass the VCEK alone");
    let none = Vcek::from_pem_or_der(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap_err();
    assert_eq!(none.to_string(), "VCEK certificate (PEM): no \"-----BEGIN CERTIFICATE-----\" block");
    let open = Vcek::from_pem_or_der(b"junk\n-----BEGIN CERTIFICATE-----\nMIIB").unwrap_err();
    assert_eq!(open.to_string(), "VCEK certificate (PEM): BEGIN line at offset 0x5 has no matching END line");
    let p256 = Vcek::from_pem_or_der(&testdata("p256-cert.pem")).unwrap_err();
    assert!(matches!(p256, prelaunch_measure::report::SnpSignatureError::PublicKey(_)), "{p256}");
    // The message names the key found (issue 10: it used to print the EC OID it wanted).
    assert!(p256.to_string().contains("id-ecPublicKey (1.2.840.10045.2.1) on prime256v1 (P-256) (1.2.840.10045.3.1.7)"), "{p256}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
        let _ = Evidence::detect(&bytes);
        let _ = SnpReport::parse(&bytes);
        let _ = TdxQuote::parse(&bytes);
        let _ = TdReport::parse(&bytes);
        let _ = Vcek::from_pem_or_der(&bytes);
    }

    #[test]
    fn random_quote_tails_never_panic(
        version in prop_oneof![Just(4u16), Just(5u16)],
        rest in proptest::collection::vec(any::<u8>(), 0..1000),
    ) {
        let mut q = Vec::new();
        q.extend_from_slice(&version.to_le_bytes());
        q.extend_from_slice(&2u16.to_le_bytes());
        q.extend_from_slice(&0x81u32.to_le_bytes());
        q.extend_from_slice(&[0; 40]);
        q.extend_from_slice(&rest);
        let _ = Evidence::detect(&q);
    }

    #[test]
    fn random_sized_reports_never_panic(
        version in 0u32..8,
        body in proptest::collection::vec(any::<u8>(), 1180),
    ) {
        let mut r = version.to_le_bytes().to_vec();
        r.extend_from_slice(&body);
        let _ = Evidence::detect(&r);
        let _ = verify_snp_signature(&r, &testdata("vcek-test.pem"));
    }
}
