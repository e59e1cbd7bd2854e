//! SNP ID blocks (SEV-SNP ABI ID_BLOCK and ID_AUTH_INFO): building, signing, parsing and checking
//! them, byte-compatible with sev-snp-measure's `snp-create-id-block`.
//!
//! - [`IdBlock`]: the 96-byte block (expected launch digest, IDs, SVN, policy).
//! - [`IdKey`]: a P-384 private key (PEM or ephemeral) that signs blocks or ID keys.
//! - [`IdAuthInfo`]: the 4096-byte signatures and public keys; [`SignedIdBlock`] pairs the two and
//!   gives QEMU's `id-block=`/`id-auth=` arguments.
//! - [`AmdPublicKey`], [`AmdSignature`]: AMD's key and signature layouts, also used by reports.

pub mod auth;
pub mod block;
pub mod key;
pub(crate) mod oid;
pub(crate) mod pem;
pub mod public_key;
pub mod signature;
pub mod signed;

pub use auth::{AuthorSignature, ID_AUTH_LEN, IdAuthError, IdAuthInfo};
pub use block::{DEFAULT_POLICY, ID_BLOCK_LEN, IdBlock, IdBlockError};
pub use key::{IdKey, IdKeyError};
pub use public_key::{AMD_PUBLIC_KEY_LEN, AmdPublicKey, AmdPublicKeyError};
pub use signature::{AMD_SIGNATURE_LEN, AmdSignature, AmdSignatureError};
pub use signed::{QemuIdArgs, SignedIdBlock};

/// Any ID block error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(transparent)]
    Block(#[from] IdBlockError),
    #[error(transparent)]
    Auth(#[from] IdAuthError),
    #[error(transparent)]
    Key(#[from] IdKeyError),
    #[error("{field}: not base64 ({reason})")]
    Base64 { field: &'static str, reason: String },
}
