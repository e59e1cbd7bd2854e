//! AMD's public key layout (SEV-SNP ABI "ECDSA Public Key Format"): u32 curve (2 = P-384), qx and qy
//! little-endian zero-extended to 72 bytes each, reserved to 1028 bytes. The report's ID_KEY_DIGEST and
//! AUTHOR_KEY_DIGEST are SHA-384 of all 1028 bytes (as sev-snp-measure's `pub_to_digest`).

use p384::ecdsa::VerifyingKey;

use super::signature::{AMD_SCALAR_LEN, from_le72, to_le72};
use crate::hash::{Sha384, Sha384Digest};
use crate::report::read::Fields;

/// Size of the public key structure.
pub const AMD_PUBLIC_KEY_LEN: usize = 1028;
/// The CURVE value for P-384, the only curve SNP accepts.
pub const CURVE_P384: u32 = 2;
const QX: usize = 4;
const QY: usize = QX + AMD_SCALAR_LEN;
const RESERVED: usize = QY + AMD_SCALAR_LEN;

/// Why 1028 bytes are not a P-384 public key in AMD's layout. Callers add where it was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmdPublicKeyError {
    #[error("{len} bytes, expected {AMD_PUBLIC_KEY_LEN}")]
    Length { len: usize },
    #[error("CURVE is {0}, expected 2 (P-384)")]
    Curve(u32),
    #[error("{part} has non-zero bytes 48..72; a P-384 coordinate fits in 48")]
    TooWide { part: &'static str },
    #[error("reserved bytes {RESERVED:#x}..{AMD_PUBLIC_KEY_LEN:#x} are not zero")]
    Reserved,
    #[error("(qx, qy) is not a point on P-384")]
    NotOnCurve,
}

/// A P-384 public key as AMD stores it; only valid points are constructed.
#[derive(Clone, PartialEq, Eq)]
pub struct AmdPublicKey {
    key: VerifyingKey,
    qx: [u8; AMD_SCALAR_LEN],
    qy: [u8; AMD_SCALAR_LEN],
}

impl AmdPublicKey {
    pub fn from_verifying_key(key: &VerifyingKey) -> AmdPublicKey {
        let point = key.to_encoded_point(false);
        // A verifying key is never the identity, so both coordinates exist.
        let qx = point.x().map(|x| to_le72(x)).unwrap_or([0; AMD_SCALAR_LEN]);
        let qy = point.y().map(|y| to_le72(y)).unwrap_or([0; AMD_SCALAR_LEN]);
        AmdPublicKey { key: *key, qx, qy }
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn qx(&self) -> &[u8; AMD_SCALAR_LEN] {
        &self.qx
    }

    pub fn qy(&self) -> &[u8; AMD_SCALAR_LEN] {
        &self.qy
    }

    pub fn to_bytes(&self) -> [u8; AMD_PUBLIC_KEY_LEN] {
        let mut out = [0u8; AMD_PUBLIC_KEY_LEN];
        let (curve, rest) = out.split_at_mut(QX);
        curve.copy_from_slice(&CURVE_P384.to_le_bytes());
        let (qx, rest) = rest.split_at_mut(AMD_SCALAR_LEN);
        qx.copy_from_slice(&self.qx);
        if let Some(qy) = rest.get_mut(..AMD_SCALAR_LEN) {
            qy.copy_from_slice(&self.qy);
        }
        out
    }

    /// SHA-384 of the 1028-byte structure: what the report carries as ID_KEY_DIGEST/AUTHOR_KEY_DIGEST.
    pub fn digest(&self) -> Sha384Digest {
        Sha384::digest(&self.to_bytes())
    }

    /// Strict: the reserved tail must be zero, since the digest the PSP reports covers it and a
    /// re-encoded key with a different tail would no longer match.
    pub fn from_bytes(bytes: &[u8]) -> Result<AmdPublicKey, AmdPublicKeyError> {
        let len = bytes.len();
        let f = Fields::new("public key", bytes);
        let (AMD_PUBLIC_KEY_LEN, Ok(curve), Ok(qx), Ok(qy), Ok(reserved)) =
            (len, f.u32("CURVE", 0), f.array("QX", QX), f.array("QY", QY), f.slice("reserved", RESERVED, AMD_PUBLIC_KEY_LEN - RESERVED))
        else {
            return Err(AmdPublicKeyError::Length { len });
        };
        if curve != CURVE_P384 {
            return Err(AmdPublicKeyError::Curve(curve));
        }
        let x = from_le72(&qx).ok_or(AmdPublicKeyError::TooWide { part: "qx" })?;
        let y = from_le72(&qy).ok_or(AmdPublicKeyError::TooWide { part: "qy" })?;
        if reserved.iter().any(|&b| b != 0) {
            return Err(AmdPublicKeyError::Reserved);
        }
        // SEC1 uncompressed: 0x04 || X || Y, big-endian.
        let mut sec1 = [0u8; 1 + 2 * 48];
        let (tag, xy) = sec1.split_at_mut(1);
        tag.copy_from_slice(&[4]);
        let (xb, yb) = xy.split_at_mut(48);
        xb.copy_from_slice(&x);
        yb.copy_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| AmdPublicKeyError::NotOnCurve)?;
        Ok(AmdPublicKey { key, qx, qy })
    }
}

impl std::fmt::Debug for AmdPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmdPublicKey").field("digest", &hex::encode(self.digest())).finish()
    }
}
