//! ID_AUTH_INFO (SEV-SNP ABI): the ID block signed by the ID key, and optionally the ID key signed by
//! the author key. 4096 bytes, byte-compatible with sev-snp-measure's `snp-create-id-block`.

use p384::ecdsa::signature::Verifier;

use super::block::IdBlock;
use super::key::IdKey;
use super::public_key::{AMD_PUBLIC_KEY_LEN, AmdPublicKey, AmdPublicKeyError};
use super::signature::{AMD_SIGNATURE_LEN, AmdSignature, AmdSignatureError};
use crate::hash::Sha384Digest;
use crate::report::read::{Fields, Truncated};

/// Size of ID_AUTH_INFO.
pub const ID_AUTH_LEN: usize = 4096;
/// ID_KEY_ALGO / AUTH_KEY_ALGO value for ECDSA P-384 with SHA-384, the only one defined.
pub const KEY_ALGO_P384_SHA384: u32 = 1;

/// Offsets in ID_AUTH_INFO.
pub mod offset {
    pub const ID_KEY_ALGO: usize = 0x000;
    pub const AUTH_KEY_ALGO: usize = 0x004;
    pub const ID_BLOCK_SIG: usize = 0x040;
    pub const ID_KEY: usize = 0x240;
    pub const ID_KEY_SIG: usize = 0x680;
    pub const AUTHOR_KEY: usize = 0x880;
    /// End of the author key; reserved to 0x1000 after it.
    pub const AUTHOR_KEY_END: usize = 0xC84;
}

/// Why 4096 bytes are not a usable ID_AUTH_INFO, or why its signatures do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdAuthError {
    #[error("ID auth info: {len} bytes, expected {ID_AUTH_LEN}")]
    Length { len: usize },
    #[error("ID auth info: {field} at offset {offset:#x} is {value}, expected 1 (ECDSA P-384 with SHA-384)")]
    Algorithm { field: &'static str, offset: usize, value: u32 },
    #[error("ID auth info: {field} at offset {offset:#x}: {reason}")]
    Key { field: &'static str, offset: usize, reason: AmdPublicKeyError },
    #[error("ID auth info: {field} at offset {offset:#x}: {reason}")]
    Signature { field: &'static str, offset: usize, reason: AmdSignatureError },
    #[error("ID auth info: {field} at offset {offset:#x} does not verify {over} with {key}")]
    Mismatch { field: &'static str, offset: usize, over: &'static str, key: &'static str },
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// The author's endorsement of the ID key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorSignature {
    /// Signature of the 1028-byte ID key structure by the author key.
    pub id_key_sig: AmdSignature,
    pub author_key: AmdPublicKey,
}

/// ID_AUTH_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdAuthInfo {
    pub id_key_algo: u32,
    pub auth_key_algo: u32,
    /// Signature of the 96-byte ID block by the ID key.
    pub id_block_sig: AmdSignature,
    pub id_key: AmdPublicKey,
    /// `None` when no author key is used (QEMU `author-key-enabled=off`): those fields are zero.
    pub author: Option<AuthorSignature>,
}

impl IdAuthInfo {
    /// Signs `block` with `id_key`, and the ID key with `author_key` when there is one.
    pub fn sign(block: &IdBlock, id_key: &IdKey, author_key: Option<&IdKey>) -> IdAuthInfo {
        let id_block_sig = id_key.sign(&block.to_bytes());
        let author =
            author_key.map(|a| AuthorSignature { id_key_sig: a.sign(&id_key.public_key().to_bytes()), author_key: a.public_key().clone() });
        IdAuthInfo {
            id_key_algo: KEY_ALGO_P384_SHA384,
            auth_key_algo: KEY_ALGO_P384_SHA384,
            id_block_sig,
            id_key: id_key.public_key().clone(),
            author,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        use offset as o;
        let mut out = vec![0u8; ID_AUTH_LEN];
        let mut put = |off: usize, bytes: &[u8]| {
            if let Some(dst) = out.get_mut(off..off + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        put(o::ID_KEY_ALGO, &self.id_key_algo.to_le_bytes());
        put(o::AUTH_KEY_ALGO, &self.auth_key_algo.to_le_bytes());
        put(o::ID_BLOCK_SIG, &self.id_block_sig.to_bytes());
        put(o::ID_KEY, &self.id_key.to_bytes());
        if let Some(a) = &self.author {
            put(o::ID_KEY_SIG, &a.id_key_sig.to_bytes());
            put(o::AUTHOR_KEY, &a.author_key.to_bytes());
        }
        out
    }

    /// Parses the structure; signatures are checked by [`IdAuthInfo::verify`]. An all-zero author
    /// area means no author key.
    pub fn from_bytes(bytes: &[u8]) -> Result<IdAuthInfo, IdAuthError> {
        use offset as o;
        if bytes.len() != ID_AUTH_LEN {
            return Err(IdAuthError::Length { len: bytes.len() });
        }
        let f = Fields::new("ID auth info", bytes);
        let algo = |field, offset| -> Result<u32, IdAuthError> {
            let value = f.u32(field, offset)?;
            if value != KEY_ALGO_P384_SHA384 {
                return Err(IdAuthError::Algorithm { field, offset, value });
            }
            Ok(value)
        };
        let key = |field, offset| -> Result<AmdPublicKey, IdAuthError> {
            AmdPublicKey::from_bytes(f.slice(field, offset, AMD_PUBLIC_KEY_LEN)?).map_err(|reason| IdAuthError::Key {
                field,
                offset,
                reason,
            })
        };
        let sig = |field, offset| -> Result<AmdSignature, IdAuthError> {
            AmdSignature::from_bytes(f.slice(field, offset, AMD_SIGNATURE_LEN)?).map_err(|reason| IdAuthError::Signature {
                field,
                offset,
                reason,
            })
        };
        let id_key_algo = algo("ID_KEY_ALGO", o::ID_KEY_ALGO)?;
        let id_block_sig = sig("ID_BLOCK_SIG", o::ID_BLOCK_SIG)?;
        let id_key = key("ID_KEY", o::ID_KEY)?;
        let author_area = f.slice("author fields", o::ID_KEY_SIG, o::AUTHOR_KEY_END - o::ID_KEY_SIG)?;
        let (auth_key_algo, author) = if author_area.iter().all(|&b| b == 0) {
            (f.u32("AUTH_KEY_ALGO", o::AUTH_KEY_ALGO)?, None)
        } else {
            let auth_key_algo = algo("AUTH_KEY_ALGO", o::AUTH_KEY_ALGO)?;
            let author = AuthorSignature { id_key_sig: sig("ID_KEY_SIG", o::ID_KEY_SIG)?, author_key: key("AUTHOR_KEY", o::AUTHOR_KEY)? };
            (auth_key_algo, Some(author))
        };
        Ok(IdAuthInfo { id_key_algo, auth_key_algo, id_block_sig, id_key, author })
    }

    /// Checks both signatures as the PSP does at SNP_LAUNCH_FINISH.
    pub fn verify(&self, block: &IdBlock) -> Result<(), IdAuthError> {
        use offset as o;
        check(&self.id_block_sig, &self.id_key, &block.to_bytes(), "ID_BLOCK_SIG", o::ID_BLOCK_SIG, "the ID block", "ID_KEY")?;
        if let Some(a) = &self.author {
            check(&a.id_key_sig, &a.author_key, &self.id_key.to_bytes(), "ID_KEY_SIG", o::ID_KEY_SIG, "the ID key", "AUTHOR_KEY")?;
        }
        Ok(())
    }

    /// The report's ID_KEY_DIGEST for a guest launched with this.
    pub fn id_key_digest(&self) -> Sha384Digest {
        self.id_key.digest()
    }

    /// The report's AUTHOR_KEY_DIGEST; `None` without an author key (the report then has zeros).
    pub fn author_key_digest(&self) -> Option<Sha384Digest> {
        self.author.as_ref().map(|a| a.author_key.digest())
    }
}

fn check(
    sig: &AmdSignature,
    key: &AmdPublicKey,
    msg: &[u8],
    field: &'static str,
    offset: usize,
    over: &'static str,
    key_name: &'static str,
) -> Result<(), IdAuthError> {
    let sig = sig.to_p384().map_err(|reason| IdAuthError::Signature { field, offset, reason })?;
    key.verifying_key().verify(msg, &sig).map_err(|_| IdAuthError::Mismatch { field, offset, over, key: key_name })
}
