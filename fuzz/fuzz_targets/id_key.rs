//! ID key PEM parsing, and the ID block / ID_AUTH_INFO parsers, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prelaunch_measure::idblock::{AmdPublicKey, IdAuthInfo, IdBlock, IdKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = IdKey::from_pem_bytes(data) {
        let _ = k.digest();
    }
    let _ = IdBlock::from_bytes(data);
    let _ = AmdPublicKey::from_bytes(data);
    if let Ok(a) = IdAuthInfo::from_bytes(data) {
        let _ = a.verify(&IdBlock::new([0; 48]));
        // What parses re-encodes to the same bytes outside the signatures' reserved tails.
        let again = IdAuthInfo::from_bytes(&a.to_bytes());
        assert_eq!(again.as_ref(), Ok(&a));
    }
});
