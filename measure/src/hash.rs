//! The SHA backends. Everything that hashes goes through here so the backend is chosen once.
//!
//! SHA-384 dominates every digest this crate computes; OpenSSL's assembly is markedly faster than the
//! portable `sha2` crate on x86-64, so it is used when the `openssl` feature is on (the default).
//! `sha2` stays the reference: tests check the two agree.

use std::fmt;

/// A SHA-384 digest.
pub type Sha384Digest = [u8; 48];
/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// Incremental SHA-384.
#[derive(Clone)]
pub struct Sha384(Inner384);

#[cfg(feature = "openssl")]
type Inner384 = openssl::sha::Sha384;
#[cfg(not(feature = "openssl"))]
type Inner384 = sha2::Sha384;

impl Default for Sha384 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha384 {
    pub fn new() -> Self {
        #[cfg(feature = "openssl")]
        return Sha384(openssl::sha::Sha384::new());
        #[cfg(not(feature = "openssl"))]
        return Sha384(<sha2::Sha384 as sha2::Digest>::new());
    }

    pub fn update(&mut self, data: &[u8]) {
        #[cfg(feature = "openssl")]
        self.0.update(data);
        #[cfg(not(feature = "openssl"))]
        sha2::Digest::update(&mut self.0, data);
    }

    pub fn finish(self) -> Sha384Digest {
        #[cfg(feature = "openssl")]
        return self.0.finish();
        #[cfg(not(feature = "openssl"))]
        return sha2::Digest::finalize(self.0).into();
    }

    /// SHA-384 of `data` in one call. (OpenSSL 3's one-shot `SHA384()` fetches the algorithm through
    /// its provider machinery on every call; the incremental API goes straight to the compression
    /// function, which matters for thousands of 4 KiB pages.)
    pub fn digest(data: &[u8]) -> Sha384Digest {
        let mut h = Sha384::new();
        h.update(data);
        h.finish()
    }
}

/// Incremental SHA-256 (SEV, SEV-ES, kernel hashes). `sha2` uses the SHA extensions where present.
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(<sha2::Sha256 as sha2::Digest>::new())
    }
    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
    pub fn finish(self) -> Sha256Digest {
        sha2::Digest::finalize(self.0).into()
    }
    pub fn digest(data: &[u8]) -> Sha256Digest {
        <sha2::Sha256 as sha2::Digest>::digest(data).into()
    }
}

impl fmt::Debug for Sha384 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha384")
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_agrees_with_sha2_reference() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let reference: [u8; 48] = <sha2::Sha384 as sha2::Digest>::digest(&data).into();
        assert_eq!(Sha384::digest(&data), reference);
        let mut h = Sha384::new();
        for c in data.chunks(77) {
            h.update(c);
        }
        assert_eq!(h.finish(), reference);
    }
}
