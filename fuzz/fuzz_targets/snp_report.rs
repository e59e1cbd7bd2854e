//! SNP report parsing and offline signature checking on arbitrary bytes, plus VCEK certificate
//! parsing (the same input read as a certificate).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::report::{SnpReport, Vcek, verify_snp_signature};

const TEST_VCEK: &[u8] = include_bytes!("../../testdata/reports/vcek-test.pem");

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SnpReport::parse(data) {
        let _ = r.sev_report();
        let _ = r.tcb_layout().map(|l| r.reported_tcb.parts(l));
        let _ = r.signing_key();
    }
    let _ = verify_snp_signature(data, TEST_VCEK);
    if let Ok(v) = Vcek::from_pem_or_der(data) {
        let _ = v.verify(&[0u8; 1184]);
    }
});
