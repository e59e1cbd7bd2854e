//! Runtime measurement registers: RTMR = SHA-384(RTMR || digest), starting from 48 zero bytes
//! (TDG.MR.RTMR.EXTEND). Four of them; TDVF maps TCG PCRs onto the first three (UEFI 2.10 38.4.1:
//! PCR 1 and 7 to RTMR0, 2 to 6 to RTMR1, 8 to 15 to RTMR2), the OS owns RTMR3.

use serde::Serialize;

use crate::hash::{Sha384, Sha384Digest};

/// Number of RTMRs.
pub const RTMRS: usize = 4;

/// One register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rtmr(#[serde(with = "crate::tdx::rtmr::hex48")] pub Sha384Digest);

impl Default for Rtmr {
    fn default() -> Self {
        Rtmr([0u8; 48])
    }
}

impl Default for RtmrBank {
    fn default() -> Self {
        RtmrBank([Rtmr::default(); RTMRS])
    }
}

impl Rtmr {
    /// TDG.MR.RTMR.EXTEND with a 48-byte digest.
    pub fn extend(&mut self, digest: &Sha384Digest) {
        let mut h = Sha384::new();
        h.update(&self.0);
        h.update(digest);
        self.0 = h.finish();
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; 48]
    }
}

/// RTMR0..3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RtmrBank(pub [Rtmr; RTMRS]);

impl RtmrBank {
    pub fn extend(&mut self, register: usize, digest: &Sha384Digest) {
        self.0[register].extend(digest);
    }
}

/// Folds digests into a register from zero.
pub fn fold<'a>(digests: impl IntoIterator<Item = &'a Sha384Digest>) -> Rtmr {
    let mut r = Rtmr::default();
    for d in digests {
        r.extend(d);
    }
    r
}

pub(crate) mod hex48 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 48], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_is_sha384_of_old_value_and_digest() {
        let d = Sha384::digest(b"x");
        let mut r = Rtmr::default();
        r.extend(&d);
        let mut cat = vec![0u8; 48];
        cat.extend_from_slice(&d);
        assert_eq!(r.0, Sha384::digest(&cat));
        assert_eq!(fold([&d]), r);
        assert!(Rtmr::default().is_zero() && !r.is_zero());
    }
}
