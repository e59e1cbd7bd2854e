//! The SEV-SNP ATTESTATION_REPORT (SEV-SNP ABI, MSG_REPORT_RSP body): 1184 bytes, versions 2 to 5.
//!
//! Every field is read here at its fixed offset, so the report parses whatever the CPU generation or
//! CHIP_ID masking. The `sev` crate's decode is attempted as well and kept as a view where it succeeds:
//! it needs the generation to pick a TCB layout, which it cannot tell for a v2 report with a masked
//! CHIP_ID (nor for a v3+ report from a CPU it does not know).

use serde::Serialize;
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;

use super::read::{Fields, Truncated, hex_serde};
use crate::idblock::AmdSignature;

/// Size of every SNP attestation report.
pub const SNP_REPORT_LEN: usize = 1184;
/// The signature covers bytes `0..SNP_SIGNED_LEN`.
pub const SNP_SIGNED_LEN: usize = 0x2A0;
/// Offset of the 512-byte signature field.
pub const SNP_SIGNATURE_OFFSET: usize = 0x2A0;
/// Report versions this parser knows the layout of.
pub const SNP_REPORT_VERSIONS: std::ops::RangeInclusive<u32> = 2..=5;

/// Offsets of the fields other modules and tests need to name.
pub mod offset {
    pub const VERSION: usize = 0x00;
    pub const GUEST_SVN: usize = 0x04;
    pub const POLICY: usize = 0x08;
    pub const FAMILY_ID: usize = 0x10;
    pub const IMAGE_ID: usize = 0x20;
    pub const VMPL: usize = 0x30;
    pub const SIGNATURE_ALGO: usize = 0x34;
    pub const CURRENT_TCB: usize = 0x38;
    pub const PLATFORM_INFO: usize = 0x40;
    pub const KEY_INFO: usize = 0x48;
    pub const REPORT_DATA: usize = 0x50;
    pub const MEASUREMENT: usize = 0x90;
    pub const HOST_DATA: usize = 0xC0;
    pub const ID_KEY_DIGEST: usize = 0xE0;
    pub const AUTHOR_KEY_DIGEST: usize = 0x110;
    pub const REPORT_ID: usize = 0x140;
    pub const REPORT_ID_MA: usize = 0x160;
    pub const REPORTED_TCB: usize = 0x180;
    pub const CPUID_FAM_ID: usize = 0x188;
    pub const CPUID_MOD_ID: usize = 0x189;
    pub const CPUID_STEP: usize = 0x18A;
    pub const CHIP_ID: usize = 0x1A0;
    pub const COMMITTED_TCB: usize = 0x1E0;
    pub const CURRENT_VERSION: usize = 0x1E8;
    pub const COMMITTED_VERSION: usize = 0x1EC;
    pub const LAUNCH_TCB: usize = 0x1F0;
    pub const LAUNCH_MIT_VECTOR: usize = 0x1F8;
    pub const CURRENT_MIT_VECTOR: usize = 0x200;
    pub const SIGNATURE_R: usize = 0x2A0;
    pub const SIGNATURE_S: usize = 0x2E8;
}

/// Why bytes are not an SNP attestation report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnpReportError {
    #[error("SNP report: {len} bytes, expected exactly {SNP_REPORT_LEN}")]
    Length { len: usize },
    #[error("SNP report: VERSION at offset 0x0 is {version}, expected 2 to 5")]
    Version { version: u32 },
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// A TCB_VERSION as stored (8 bytes). Its layout depends on the CPU generation, which a v2 report
/// does not carry, so the raw value is kept and decoded on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SnpTcb(#[serde(serialize_with = "hex_serde::bytes")] pub [u8; 8]);

/// TCB_VERSION layouts: Milan and Genoa, or Turin and later (which add an FMC SVN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TcbLayout {
    MilanGenoa,
    Turin,
}

/// The SVNs of one TCB_VERSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcbParts {
    pub fmc: Option<u8>,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

impl SnpTcb {
    pub fn as_u64(&self) -> u64 {
        u64::from_le_bytes(self.0)
    }

    pub fn parts(&self, layout: TcbLayout) -> TcbParts {
        let [b0, b1, b2, b3, _, _, b6, b7] = self.0;
        match layout {
            TcbLayout::MilanGenoa => TcbParts { fmc: None, bootloader: b0, tee: b1, snp: b6, microcode: b7 },
            TcbLayout::Turin => TcbParts { fmc: Some(b0), bootloader: b1, tee: b2, snp: b3, microcode: b7 },
        }
    }
}

/// Firmware version triple (stored build, minor, major).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FirmwareVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u8,
}

/// CPUID family, model and stepping of the chip (report version 3 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SnpCpuid {
    pub family: u8,
    pub model: u8,
    pub stepping: u8,
}

/// Which key signed the report (KEY_INFO.SIGNING_KEY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SigningKey {
    Vcek,
    Vlek,
    None,
    Reserved(u8),
}

/// A parsed SNP attestation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnpReport {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: u64,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub family_id: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub image_id: [u8; 16],
    /// 0..=3 for guest requests; 0xFFFF_FFFF for reports the host requested.
    pub vmpl: u32,
    /// 1: ECDSA P-384 with SHA-384.
    pub signature_algo: u32,
    pub current_tcb: SnpTcb,
    pub platform_info: u64,
    /// KEY_INFO: bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY.
    pub key_info: u32,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_data: [u8; 64],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub measurement: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub host_data: [u8; 32],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub id_key_digest: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub author_key_digest: [u8; 48],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_id: [u8; 32],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub report_id_ma: [u8; 32],
    pub reported_tcb: SnpTcb,
    /// Version 3 and later.
    pub cpuid: Option<SnpCpuid>,
    /// All zero when the guest policy or platform masks it (MASK_CHIP_ID).
    #[serde(serialize_with = "hex_serde::bytes")]
    pub chip_id: [u8; 64],
    pub committed_tcb: SnpTcb,
    pub current_version: FirmwareVersion,
    pub committed_version: FirmwareVersion,
    pub launch_tcb: SnpTcb,
    /// Version 5 and later.
    pub launch_mit_vector: Option<u64>,
    /// Version 5 and later.
    pub current_mit_vector: Option<u64>,
    pub signature: AmdSignature,
    #[serde(skip)]
    sev: Result<Box<AttestationReport>, String>,
}

impl SnpReport {
    /// Parses a report. Only the size and VERSION are checked: reserved fields and unknown flag
    /// values are newer firmware's business, and the signature is [`super::verify_snp_signature`]'s.
    pub fn parse(bytes: &[u8]) -> Result<SnpReport, SnpReportError> {
        use offset as o;
        if bytes.len() != SNP_REPORT_LEN {
            return Err(SnpReportError::Length { len: bytes.len() });
        }
        let f = Fields::new("SNP report", bytes);
        let version = f.u32("VERSION", o::VERSION)?;
        if !SNP_REPORT_VERSIONS.contains(&version) {
            return Err(SnpReportError::Version { version });
        }
        let tcb = |name, off| f.array(name, off).map(SnpTcb);
        let fw_version = |name, off| -> Result<FirmwareVersion, Truncated> {
            let [build, minor, major] = f.array(name, off)?;
            Ok(FirmwareVersion { major, minor, build })
        };
        let cpuid = if version >= 3 {
            Some(SnpCpuid {
                family: f.u8("CPUID_FAM_ID", o::CPUID_FAM_ID)?,
                model: f.u8("CPUID_MOD_ID", o::CPUID_MOD_ID)?,
                stepping: f.u8("CPUID_STEP", o::CPUID_STEP)?,
            })
        } else {
            None
        };
        let (launch_mit_vector, current_mit_vector) = if version >= 5 {
            (Some(f.u64("LAUNCH_MIT_VECTOR", o::LAUNCH_MIT_VECTOR)?), Some(f.u64("CURRENT_MIT_VECTOR", o::CURRENT_MIT_VECTOR)?))
        } else {
            (None, None)
        };
        Ok(SnpReport {
            version,
            guest_svn: f.u32("GUEST_SVN", o::GUEST_SVN)?,
            policy: f.u64("POLICY", o::POLICY)?,
            family_id: f.array("FAMILY_ID", o::FAMILY_ID)?,
            image_id: f.array("IMAGE_ID", o::IMAGE_ID)?,
            vmpl: f.u32("VMPL", o::VMPL)?,
            signature_algo: f.u32("SIGNATURE_ALGO", o::SIGNATURE_ALGO)?,
            current_tcb: tcb("CURRENT_TCB", o::CURRENT_TCB)?,
            platform_info: f.u64("PLATFORM_INFO", o::PLATFORM_INFO)?,
            key_info: f.u32("KEY_INFO", o::KEY_INFO)?,
            report_data: f.array("REPORT_DATA", o::REPORT_DATA)?,
            measurement: f.array("MEASUREMENT", o::MEASUREMENT)?,
            host_data: f.array("HOST_DATA", o::HOST_DATA)?,
            id_key_digest: f.array("ID_KEY_DIGEST", o::ID_KEY_DIGEST)?,
            author_key_digest: f.array("AUTHOR_KEY_DIGEST", o::AUTHOR_KEY_DIGEST)?,
            report_id: f.array("REPORT_ID", o::REPORT_ID)?,
            report_id_ma: f.array("REPORT_ID_MA", o::REPORT_ID_MA)?,
            reported_tcb: tcb("REPORTED_TCB", o::REPORTED_TCB)?,
            cpuid,
            chip_id: f.array("CHIP_ID", o::CHIP_ID)?,
            committed_tcb: tcb("COMMITTED_TCB", o::COMMITTED_TCB)?,
            current_version: fw_version("CURRENT_VERSION", o::CURRENT_VERSION)?,
            committed_version: fw_version("COMMITTED_VERSION", o::COMMITTED_VERSION)?,
            launch_tcb: tcb("LAUNCH_TCB", o::LAUNCH_TCB)?,
            launch_mit_vector,
            current_mit_vector,
            signature: AmdSignature { r: f.array("SIGNATURE.R", o::SIGNATURE_R)?, s: f.array("SIGNATURE.S", o::SIGNATURE_S)? },
            sev: AttestationReport::from_bytes(bytes).map(Box::new).map_err(|e| e.to_string()),
        })
    }

    /// The decoded guest policy.
    pub fn policy_bits(&self) -> super::SnpPolicy {
        super::SnpPolicy::decode(self.policy)
    }

    pub fn author_key_en(&self) -> bool {
        self.key_info & 1 != 0
    }

    pub fn mask_chip_key(&self) -> bool {
        self.key_info & 2 != 0
    }

    pub fn signing_key(&self) -> SigningKey {
        match (self.key_info >> 2) & 7 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            // The mask keeps this below 8, so the cast is lossless.
            k => SigningKey::Reserved(k as u8),
        }
    }

    pub fn chip_id_masked(&self) -> bool {
        self.chip_id == [0; 64]
    }

    /// The TCB layout, known from CPUID_FAM_ID in version 3+ reports; `None` for version 2 (the
    /// `sev` crate guesses from CHIP_ID there, which a masked CHIP_ID defeats).
    pub fn tcb_layout(&self) -> Option<TcbLayout> {
        match self.cpuid?.family {
            0x19 => Some(TcbLayout::MilanGenoa),
            f if f >= 0x1A => Some(TcbLayout::Turin),
            _ => None,
        }
    }

    /// The `sev` crate's decode of the same bytes, or why it could not decode them.
    pub fn sev_report(&self) -> Result<&AttestationReport, &str> {
        self.sev.as_deref().map_err(String::as_str)
    }
}
