//! The UEFI variable store in OVMF's CFV (OVMF_VARS): a firmware-volume header, a
//! VARIABLE_STORE_HEADER, then 4-byte aligned variables (MdeModulePkg/Include/Guid/VariableFormat.h).
//! TDVF measures the Secure Boot variables it finds here into RTMR0, so their values are inputs.

use crate::guid::Guid;

const FV_SIGNATURE_AT: usize = 40;
const FV_HEADER_LENGTH_AT: usize = 48;
const STORE_HEADER_LEN: usize = 28;
const START_ID: u16 = 0x55aa;
const VAR_ADDED: u8 = 0x3f;
/// VAR_ADDED & VAR_IN_DELETED_TRANSITION: valid until the write that replaces it completes.
const VAR_ADDED_IN_TRANSITION: u8 = 0x3e;
const AUTH_HEADER_LEN: usize = 60;
const PLAIN_HEADER_LEN: usize = 32;

pub const EFI_GLOBAL_VARIABLE: Guid = Guid::parse("8be4df61-93ca-11d2-aa0d-00e098032b8c");
pub const EFI_IMAGE_SECURITY_DATABASE: Guid = Guid::parse("d719b2cb-3d3a-4596-a3bc-dad00e67656f");
pub const EFI_SECURE_BOOT_ENABLE_DISABLE: Guid = Guid::parse("f0a30bc7-af08-4556-99c4-001009c93a44");
const AUTHENTICATED_VARIABLE: Guid = Guid::parse("aaf32c78-947b-439a-a180-2e144ec37792");
const VARIABLE: Guid = Guid::parse("ddcf3616-3275-4164-98b6-fe85707ffe7d");

/// Why a CFV cannot be read as a variable store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarStoreError {
    #[error("variable store: {len} bytes, too short for a firmware-volume header")]
    Short { len: usize },
    #[error("variable store: no \"_FVH\" firmware-volume signature at offset 0x28")]
    NotFv,
    #[error("variable store at offset {at:#x}: signature {found}, expected the (authenticated) variable GUID")]
    Signature { at: usize, found: Guid },
    #[error("variable store at offset {at:#x}: Size {size:#x} runs past the {len:#x}-byte CFV")]
    Size { at: usize, size: u32, len: usize },
    #[error("variable at offset {at:#x}: NameSize {name} + DataSize {data} run past the store end {end:#x}")]
    Variable { at: usize, name: u32, data: u32, end: usize },
}

/// One live variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub vendor: Guid,
    pub name: String,
    pub attributes: u32,
    pub data: Vec<u8>,
    /// File offset of its header in the CFV.
    pub offset: usize,
}

/// The live variables of a store, in store order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VarStore {
    pub authenticated: bool,
    pub variables: Vec<Variable>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}

impl VarStore {
    pub fn parse(cfv: &[u8]) -> Result<VarStore, VarStoreError> {
        if cfv.len() < 56 + STORE_HEADER_LEN {
            return Err(VarStoreError::Short { len: cfv.len() });
        }
        if &cfv[FV_SIGNATURE_AT..FV_SIGNATURE_AT + 4] != b"_FVH" {
            return Err(VarStoreError::NotFv);
        }
        let at = le16(cfv, FV_HEADER_LENGTH_AT) as usize;
        if at + STORE_HEADER_LEN > cfv.len() {
            return Err(VarStoreError::Short { len: cfv.len() });
        }
        let sig = Guid(cfv[at..at + 16].try_into().expect("16 bytes"));
        let authenticated = match sig {
            AUTHENTICATED_VARIABLE => true,
            VARIABLE => false,
            found => return Err(VarStoreError::Signature { at, found }),
        };
        let size = le32(cfv, at + 16);
        let end = at.checked_add(size as usize).filter(|&e| e <= cfv.len()).ok_or(VarStoreError::Size { at, size, len: cfv.len() })?;
        let header_len = if authenticated { AUTH_HEADER_LEN } else { PLAIN_HEADER_LEN };
        let mut p = at + STORE_HEADER_LEN;
        let mut variables: Vec<Variable> = Vec::new();
        let mut in_transition: Vec<Variable> = Vec::new();
        while p + header_len <= end && le16(cfv, p) == START_ID {
            let state = cfv[p + 2];
            let attributes = le32(cfv, p + 4);
            let (name_size, data_size, guid_at) =
                if authenticated { (le32(cfv, p + 36), le32(cfv, p + 40), p + 44) } else { (le32(cfv, p + 8), le32(cfv, p + 12), p + 16) };
            let body = p + header_len;
            let stop = (body as u64) + name_size as u64 + data_size as u64;
            if stop > end as u64 {
                return Err(VarStoreError::Variable { at: p, name: name_size, data: data_size, end });
            }
            let name_bytes = &cfv[body..body + name_size as usize];
            let data = cfv[body + name_size as usize..stop as usize].to_vec();
            let v = Variable {
                vendor: Guid(cfv[guid_at..guid_at + 16].try_into().expect("16 bytes")),
                name: crate::eventlog::devpath::utf16(name_bytes),
                attributes,
                data,
                offset: p,
            };
            match state {
                VAR_ADDED => variables.push(v),
                VAR_ADDED_IN_TRANSITION => in_transition.push(v),
                _ => {}
            }
            p = (stop as usize).next_multiple_of(4);
        }
        // A variable caught mid-update counts only if its replacement never landed.
        for v in in_transition {
            if !variables.iter().any(|w| w.vendor == v.vendor && w.name == v.name) {
                variables.push(v);
            }
        }
        Ok(VarStore { authenticated, variables })
    }

    pub fn get(&self, vendor: &Guid, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.vendor == *vendor && v.name == name)
    }
}

/// UEFI_VARIABLE_DATA: what TDVF hashes for a Secure Boot variable (and logs for every variable).
pub fn uefi_variable_data(vendor: &Guid, name: &str, data: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut b = Vec::with_capacity(32 + units.len() * 2 + data.len());
    b.extend_from_slice(&vendor.0);
    b.extend_from_slice(&(units.len() as u64).to_le_bytes());
    b.extend_from_slice(&(data.len() as u64).to_le_bytes());
    for u in units {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b.extend_from_slice(data);
    b
}
