//! On-disk definitions of the TCG2 crypto-agile event log (TCG PC Client Platform Firmware Profile,
//! section 10) as TDX firmware writes it into the CCEL ACPI table's log area (UEFI 2.10 section 38.4:
//! `MrIndex` in the PCR field, 0 = MRTD, 1..=4 = RTMR[0..3]). Layout only; no logic.

/// TCG_PCR_EVENT (the SHA-1-format first event): PCRIndex, EventType, SHA-1 digest, EventSize.
pub const LEGACY_HEADER_LEN: usize = 4 + 4 + 20 + 4;
/// TCG_PCR_EVENT2 up to the digest count: PCRIndex, EventType, TPML_DIGEST_VALUES.count.
pub const EVENT2_HEADER_LEN: usize = 4 + 4 + 4;
/// Signature of TCG_EfiSpecIDEventStruct ("Spec ID Event03" and its NUL).
pub const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
/// Bytes of TCG_EfiSpecIDEventStruct before the algorithm table.
pub const SPEC_ID_FIXED_LEN: usize = 16 + 4 + 4 + 4;

/// TPM_ALG_ID values for the digests a log may carry.
pub const ALG_SHA1: u16 = 0x0004;
pub const ALG_SHA256: u16 = 0x000b;
pub const ALG_SHA384: u16 = 0x000c;
pub const ALG_SHA512: u16 = 0x000d;
pub const ALG_SM3_256: u16 = 0x0012;

/// TCG event types (PFP 10.4.1).
pub mod event_type {
    pub const EV_PREBOOT_CERT: u32 = 0x0;
    pub const EV_POST_CODE: u32 = 0x1;
    pub const EV_NO_ACTION: u32 = 0x3;
    pub const EV_SEPARATOR: u32 = 0x4;
    pub const EV_ACTION: u32 = 0x5;
    pub const EV_EVENT_TAG: u32 = 0x6;
    pub const EV_S_CRTM_CONTENTS: u32 = 0x7;
    pub const EV_S_CRTM_VERSION: u32 = 0x8;
    pub const EV_CPU_MICROCODE: u32 = 0x9;
    pub const EV_PLATFORM_CONFIG_FLAGS: u32 = 0xa;
    pub const EV_TABLE_OF_DEVICES: u32 = 0xb;
    pub const EV_COMPACT_HASH: u32 = 0xc;
    pub const EV_IPL: u32 = 0xd;
    pub const EV_IPL_PARTITION_DATA: u32 = 0xe;
    pub const EV_NONHOST_CODE: u32 = 0xf;
    pub const EV_NONHOST_CONFIG: u32 = 0x10;
    pub const EV_NONHOST_INFO: u32 = 0x11;
    pub const EV_OMIT_BOOT_DEVICE_EVENTS: u32 = 0x12;
    pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
    pub const EV_EFI_VARIABLE_BOOT: u32 = 0x8000_0002;
    pub const EV_EFI_BOOT_SERVICES_APPLICATION: u32 = 0x8000_0003;
    pub const EV_EFI_BOOT_SERVICES_DRIVER: u32 = 0x8000_0004;
    pub const EV_EFI_RUNTIME_SERVICES_DRIVER: u32 = 0x8000_0005;
    pub const EV_EFI_GPT_EVENT: u32 = 0x8000_0006;
    pub const EV_EFI_ACTION: u32 = 0x8000_0007;
    pub const EV_EFI_PLATFORM_FIRMWARE_BLOB: u32 = 0x8000_0008;
    pub const EV_EFI_HANDOFF_TABLES: u32 = 0x8000_0009;
    pub const EV_EFI_PLATFORM_FIRMWARE_BLOB2: u32 = 0x8000_000a;
    pub const EV_EFI_HANDOFF_TABLES2: u32 = 0x8000_000b;
    pub const EV_EFI_VARIABLE_BOOT2: u32 = 0x8000_000c;
    pub const EV_EFI_HCRTM_EVENT: u32 = 0x8000_0010;
    pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00e0;
    pub const EV_EFI_SPDM_FIRMWARE_BLOB: u32 = 0x8000_00e1;
    pub const EV_EFI_SPDM_FIRMWARE_CONFIG: u32 = 0x8000_00e2;

    /// The name the PFP gives a type, or `None` for values it does not define.
    pub fn name(t: u32) -> Option<&'static str> {
        Some(match t {
            EV_PREBOOT_CERT => "EV_PREBOOT_CERT",
            EV_POST_CODE => "EV_POST_CODE",
            0x2 => "EV_UNUSED",
            EV_NO_ACTION => "EV_NO_ACTION",
            EV_SEPARATOR => "EV_SEPARATOR",
            EV_ACTION => "EV_ACTION",
            EV_EVENT_TAG => "EV_EVENT_TAG",
            EV_S_CRTM_CONTENTS => "EV_S_CRTM_CONTENTS",
            EV_S_CRTM_VERSION => "EV_S_CRTM_VERSION",
            EV_CPU_MICROCODE => "EV_CPU_MICROCODE",
            EV_PLATFORM_CONFIG_FLAGS => "EV_PLATFORM_CONFIG_FLAGS",
            EV_TABLE_OF_DEVICES => "EV_TABLE_OF_DEVICES",
            EV_COMPACT_HASH => "EV_COMPACT_HASH",
            EV_IPL => "EV_IPL",
            EV_IPL_PARTITION_DATA => "EV_IPL_PARTITION_DATA",
            EV_NONHOST_CODE => "EV_NONHOST_CODE",
            EV_NONHOST_CONFIG => "EV_NONHOST_CONFIG",
            EV_NONHOST_INFO => "EV_NONHOST_INFO",
            EV_OMIT_BOOT_DEVICE_EVENTS => "EV_OMIT_BOOT_DEVICE_EVENTS",
            EV_EFI_VARIABLE_DRIVER_CONFIG => "EV_EFI_VARIABLE_DRIVER_CONFIG",
            EV_EFI_VARIABLE_BOOT => "EV_EFI_VARIABLE_BOOT",
            EV_EFI_BOOT_SERVICES_APPLICATION => "EV_EFI_BOOT_SERVICES_APPLICATION",
            EV_EFI_BOOT_SERVICES_DRIVER => "EV_EFI_BOOT_SERVICES_DRIVER",
            EV_EFI_RUNTIME_SERVICES_DRIVER => "EV_EFI_RUNTIME_SERVICES_DRIVER",
            EV_EFI_GPT_EVENT => "EV_EFI_GPT_EVENT",
            EV_EFI_ACTION => "EV_EFI_ACTION",
            EV_EFI_PLATFORM_FIRMWARE_BLOB => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
            EV_EFI_HANDOFF_TABLES => "EV_EFI_HANDOFF_TABLES",
            EV_EFI_PLATFORM_FIRMWARE_BLOB2 => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
            EV_EFI_HANDOFF_TABLES2 => "EV_EFI_HANDOFF_TABLES2",
            EV_EFI_VARIABLE_BOOT2 => "EV_EFI_VARIABLE_BOOT2",
            EV_EFI_HCRTM_EVENT => "EV_EFI_HCRTM_EVENT",
            EV_EFI_VARIABLE_AUTHORITY => "EV_EFI_VARIABLE_AUTHORITY",
            EV_EFI_SPDM_FIRMWARE_BLOB => "EV_EFI_SPDM_FIRMWARE_BLOB",
            EV_EFI_SPDM_FIRMWARE_CONFIG => "EV_EFI_SPDM_FIRMWARE_CONFIG",
            _ => return None,
        })
    }
}

/// Linux EFI stub tagged-event IDs (drivers/firmware/efi/libstub/efi-stub-helper.c).
pub const LINUX_EVENT_TAG_INITRD: u32 = 0x8f3b_22ec;
pub const LINUX_EVENT_TAG_LOAD_OPTIONS: u32 = 0x8f3b_22ed;

/// The digest size of a TPM algorithm this crate knows, for logs whose Spec ID event omits it.
pub fn known_digest_size(alg: u16) -> Option<usize> {
    Some(match alg {
        ALG_SHA1 => 20,
        ALG_SHA256 | ALG_SM3_256 => 32,
        ALG_SHA384 => 48,
        ALG_SHA512 => 64,
        _ => return None,
    })
}

pub fn alg_name(alg: u16) -> &'static str {
    match alg {
        ALG_SHA1 => "sha1",
        ALG_SHA256 => "sha256",
        ALG_SHA384 => "sha384",
        ALG_SHA512 => "sha512",
        ALG_SM3_256 => "sm3_256",
        _ => "unknown",
    }
}
