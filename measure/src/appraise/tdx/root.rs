//! Intel's SGX Root CA, built in: the root of every PCK chain and of the collateral signers.
//! `intel_sgx_root_ca.der` is the public certificate Intel publishes (and every quote's PCK chain
//! ends with); its SHA-256 is checked by a test.

use std::sync::OnceLock;

use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::appraise::x509::Anchor;

/// The DER certificate.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("intel_sgx_root_ca.der");
/// Its SHA-256 fingerprint.
pub const INTEL_SGX_ROOT_CA_SHA256: &str = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

/// The root as a trust anchor.
pub fn intel_root() -> &'static Anchor {
    static R: OnceLock<Anchor> = OnceLock::new();
    R.get_or_init(|| Anchor {
        // Fixed bytes, decoded by a test: a failure here is a build defect, not an input error.
        cert: Certificate::from_der(INTEL_SGX_ROOT_CA_DER).unwrap_or_else(|e| panic!("built-in Intel SGX Root CA: {e}")),
        name: "Intel SGX Root CA (built in)".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_root_is_intels() {
        assert_eq!(hex::encode(crate::appraise::crypto::sha256(INTEL_SGX_ROOT_CA_DER)), INTEL_SGX_ROOT_CA_SHA256);
        assert_eq!(crate::appraise::x509::common_name(&intel_root().cert.tbs_certificate.subject), "Intel SGX Root CA");
    }
}
