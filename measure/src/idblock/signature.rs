//! AMD's ECDSA signature layout (SEV-SNP ABI "ECDSA Signature Format"), shared by ID_AUTH_INFO and the
//! attestation report: r and s little-endian, each zero-extended to 72 bytes, in a 512-byte field.

use p384::ecdsa::Signature;

use crate::report::read::hex_serde;

/// Size of the signature field.
pub const AMD_SIGNATURE_LEN: usize = 512;
/// Size of each of r and s as stored.
pub const AMD_SCALAR_LEN: usize = 72;
const P384_SCALAR_LEN: usize = 48;

/// Why a stored signature is not a P-384 signature. Callers add where it was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmdSignatureError {
    #[error("{part} has non-zero bytes 48..72; a P-384 scalar fits in 48")]
    TooWide { part: &'static str },
    #[error("r or s is zero or not below the P-384 group order")]
    OutOfRange,
    #[error("{len} bytes, expected {AMD_SIGNATURE_LEN}")]
    Length { len: usize },
}

/// A signature as AMD stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AmdSignature {
    #[serde(serialize_with = "hex_serde::bytes")]
    pub r: [u8; AMD_SCALAR_LEN],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub s: [u8; AMD_SCALAR_LEN],
}

impl AmdSignature {
    pub fn from_p384(sig: &Signature) -> AmdSignature {
        let (r, s) = sig.split_bytes();
        AmdSignature { r: to_le72(&r), s: to_le72(&s) }
    }

    pub fn to_p384(&self) -> Result<Signature, AmdSignatureError> {
        let r = from_le72(&self.r).ok_or(AmdSignatureError::TooWide { part: "r" })?;
        let s = from_le72(&self.s).ok_or(AmdSignatureError::TooWide { part: "s" })?;
        let mut rs = [0u8; 2 * P384_SCALAR_LEN];
        let (rb, sb) = rs.split_at_mut(P384_SCALAR_LEN);
        rb.copy_from_slice(&r);
        sb.copy_from_slice(&s);
        Signature::from_slice(&rs).map_err(|_| AmdSignatureError::OutOfRange)
    }

    /// The 512-byte field: r, s, then 368 reserved zero bytes.
    pub fn to_bytes(&self) -> [u8; AMD_SIGNATURE_LEN] {
        let mut out = [0u8; AMD_SIGNATURE_LEN];
        let (r, rest) = out.split_at_mut(AMD_SCALAR_LEN);
        r.copy_from_slice(&self.r);
        if let Some(s) = rest.get_mut(..AMD_SCALAR_LEN) {
            s.copy_from_slice(&self.s);
        }
        out
    }

    /// Reads r and s from a 512-byte field; the reserved tail is not checked (reports and
    /// ID_AUTH_INFO both leave it to the signer).
    pub fn from_bytes(bytes: &[u8]) -> Result<AmdSignature, AmdSignatureError> {
        let len = bytes.len();
        if len != AMD_SIGNATURE_LEN {
            return Err(AmdSignatureError::Length { len });
        }
        let (r, rest) = bytes.split_at(AMD_SCALAR_LEN);
        let s = rest.get(..AMD_SCALAR_LEN).ok_or(AmdSignatureError::Length { len })?;
        let mut sig = AmdSignature { r: [0; AMD_SCALAR_LEN], s: [0; AMD_SCALAR_LEN] };
        sig.r.copy_from_slice(r);
        sig.s.copy_from_slice(s);
        Ok(sig)
    }
}

/// Big-endian 48 bytes to little-endian 72.
pub(crate) fn to_le72(be: &[u8]) -> [u8; AMD_SCALAR_LEN] {
    let mut out = [0u8; AMD_SCALAR_LEN];
    for (o, b) in out.iter_mut().zip(be.iter().rev()) {
        *o = *b;
    }
    out
}

/// Little-endian 72 bytes to big-endian 48; `None` if the value does not fit in 48.
pub(crate) fn from_le72(le: &[u8; AMD_SCALAR_LEN]) -> Option<[u8; P384_SCALAR_LEN]> {
    let (low, high) = le.split_at(P384_SCALAR_LEN);
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    let mut be = [0u8; P384_SCALAR_LEN];
    for (o, b) in be.iter_mut().zip(low.iter().rev()) {
        *o = *b;
    }
    Some(be)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_wide_or_zero_scalars() {
        let mut r = [0u8; 72];
        r[0] = 7;
        let mut s = [0u8; 72];
        s[47] = 1;
        let sig = AmdSignature { r, s };
        let p = sig.to_p384().unwrap();
        assert_eq!(AmdSignature::from_p384(&p), sig);
        assert_eq!(AmdSignature::from_bytes(&sig.to_bytes()).unwrap(), sig);

        let mut wide = sig;
        wide.s[48] = 1;
        assert_eq!(wide.to_p384(), Err(AmdSignatureError::TooWide { part: "s" }));
        let zero = AmdSignature { r: [0; 72], s };
        assert_eq!(zero.to_p384(), Err(AmdSignatureError::OutOfRange));
        let mut big = sig;
        big.r[..48].fill(0xff);
        assert_eq!(big.to_p384(), Err(AmdSignatureError::OutOfRange));
        assert_eq!(AmdSignature::from_bytes(&[0; 511]), Err(AmdSignatureError::Length { len: 511 }));
    }
}
