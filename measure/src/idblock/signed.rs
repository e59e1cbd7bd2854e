//! An ID block with its ID_AUTH_INFO: what QEMU's `sev-snp-guest` object takes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::IdError;
use super::auth::IdAuthInfo;
use super::block::IdBlock;
use super::key::IdKey;
use crate::hash::Sha384Digest;

/// An ID block and the signatures over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIdBlock {
    pub block: IdBlock,
    pub auth: IdAuthInfo,
}

/// The `sev-snp-guest` properties, base64 as QEMU expects them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QemuIdArgs {
    /// `id-block=`: base64 of the 96-byte ID block.
    pub id_block: String,
    /// `id-auth=`: base64 of the 4096-byte ID_AUTH_INFO.
    pub id_auth: String,
    /// `author-key-enabled=`: QEMU passes AUTHOR_KEY_EN to the PSP only when told to.
    pub author_key_enabled: bool,
}

impl std::fmt::Display for QemuIdArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = if self.author_key_enabled { "on" } else { "off" };
        write!(f, "id-block={},id-auth={},author-key-enabled={on}", self.id_block, self.id_auth)
    }
}

impl SignedIdBlock {
    pub fn sign(block: IdBlock, id_key: &IdKey, author_key: Option<&IdKey>) -> SignedIdBlock {
        let auth = IdAuthInfo::sign(&block, id_key, author_key);
        SignedIdBlock { block, auth }
    }

    /// Parses both structures; signatures are checked by [`SignedIdBlock::verify`].
    pub fn from_bytes(block: &[u8], auth: &[u8]) -> Result<SignedIdBlock, IdError> {
        Ok(SignedIdBlock { block: IdBlock::from_bytes(block)?, auth: IdAuthInfo::from_bytes(auth)? })
    }

    /// Parses the base64 strings QEMU takes (`id-block=`, `id-auth=` values).
    pub fn from_base64(block: &str, auth: &str) -> Result<SignedIdBlock, IdError> {
        let decode = |field: &'static str, s: &str| STANDARD.decode(s.trim()).map_err(|e| IdError::Base64 { field, reason: e.to_string() });
        SignedIdBlock::from_bytes(&decode("id-block", block)?, &decode("id-auth", auth)?)
    }

    pub fn verify(&self) -> Result<(), IdError> {
        Ok(self.auth.verify(&self.block)?)
    }

    pub fn id_key_digest(&self) -> Sha384Digest {
        self.auth.id_key_digest()
    }

    pub fn author_key_digest(&self) -> Option<Sha384Digest> {
        self.auth.author_key_digest()
    }

    pub fn qemu_args(&self) -> QemuIdArgs {
        QemuIdArgs {
            id_block: STANDARD.encode(self.block.to_bytes()),
            id_auth: STANDARD.encode(self.auth.to_bytes()),
            author_key_enabled: self.auth.author.is_some(),
        }
    }
}
