//! The SNP ID block (SEV-SNP ABI "ID_BLOCK"): what the guest owner expects at SNP_LAUNCH_FINISH.
//! The PSP refuses the launch unless LD equals the launch digest and POLICY equals the guest policy.

use serde::Serialize;

use crate::report::read::{Fields, Truncated, hex_serde};

/// Size of an ID block.
pub const ID_BLOCK_LEN: usize = 96;
/// The only VERSION the PSP accepts.
pub const ID_BLOCK_VERSION: u32 = 1;
/// The guest policy an ID block carries unless told otherwise: the one definition, in `snp::policy`.
pub use crate::snp::policy::DEFAULT_POLICY;

const LD: usize = 0;
const FAMILY_ID: usize = 48;
const IMAGE_ID: usize = 64;
const VERSION: usize = 80;
const GUEST_SVN: usize = 84;
const POLICY: usize = 88;

/// Why 96 bytes are not an ID block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdBlockError {
    #[error("ID block: {len} bytes, expected {ID_BLOCK_LEN}")]
    Length { len: usize },
    #[error("ID block: VERSION at offset {VERSION:#x} is {version}, expected {ID_BLOCK_VERSION}")]
    Version { version: u32 },
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// An ID block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdBlock {
    /// The expected launch digest (MEASUREMENT).
    #[serde(serialize_with = "hex_serde::bytes")]
    pub ld: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub family_id: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub image_id: [u8; 16],
    pub version: u32,
    pub guest_svn: u32,
    pub policy: u64,
}

impl IdBlock {
    /// An ID block for `ld` with sev-snp-measure's defaults: zero IDs, version 1, SVN 0, policy 0x30000.
    pub fn new(ld: [u8; 48]) -> IdBlock {
        IdBlock { ld, family_id: [0; 16], image_id: [0; 16], version: ID_BLOCK_VERSION, guest_svn: 0, policy: DEFAULT_POLICY }
    }

    pub fn to_bytes(&self) -> [u8; ID_BLOCK_LEN] {
        let mut out = [0u8; ID_BLOCK_LEN];
        let fields: [(usize, &[u8]); 6] = [
            (LD, &self.ld),
            (FAMILY_ID, &self.family_id),
            (IMAGE_ID, &self.image_id),
            (VERSION, &self.version.to_le_bytes()),
            (GUEST_SVN, &self.guest_svn.to_le_bytes()),
            (POLICY, &self.policy.to_le_bytes()),
        ];
        for (off, bytes) in fields {
            if let Some(dst) = out.get_mut(off..off + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<IdBlock, IdBlockError> {
        if bytes.len() != ID_BLOCK_LEN {
            return Err(IdBlockError::Length { len: bytes.len() });
        }
        let f = Fields::new("ID block", bytes);
        let version = f.u32("VERSION", VERSION)?;
        if version != ID_BLOCK_VERSION {
            return Err(IdBlockError::Version { version });
        }
        Ok(IdBlock {
            ld: f.array("LD", LD)?,
            family_id: f.array("FAMILY_ID", FAMILY_ID)?,
            image_id: f.array("IMAGE_ID", IMAGE_ID)?,
            version,
            guest_svn: f.u32("GUEST_SVN", GUEST_SVN)?,
            policy: f.u64("POLICY", POLICY)?,
        })
    }
}
