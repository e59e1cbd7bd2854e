//! The events TDVF logs while it boots a QEMU direct-boot kernel: each with its register, type, the
//! bytes TDVF logs as event data (where they do not depend on run-time addresses), its digest, the
//! input it comes from, and the upstream change that decided it. Builders here, one per event kind;
//! the sequence per profile is in `boot`.

use serde::Serialize;

use super::profiles::Change;
use super::varstore::uefi_variable_data;
use crate::eventlog::raw::{LINUX_EVENT_TAG_INITRD, LINUX_EVENT_TAG_LOAD_OPTIONS, event_type as t};
use crate::guid::Guid;
use crate::hash::{Sha384, Sha384Digest};

/// gUefiOvmfPkgTokenSpaceGuid: the vendor GUID of the TD HOB handoff table.
pub const OVMF_PKG_TOKEN_SPACE: Guid = Guid::parse("93bb96af-b9f2-4eb8-9462-e0ba74564236");
/// QemuKernelLoaderFsDxe's VenMedia GUID, the device path the kernel is loaded from.
pub const QEMU_KERNEL_LOADER_FS_MEDIA: Guid = Guid::parse("1428f772-b64a-441e-b8c3-9ebdd7f893c7");

/// Where an event's digest comes from: what a user changes to change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventInput {
    /// The TD HOB QEMU builds from the RAM size and the TDVF sections.
    TdHob {
        memory: u64,
    },
    /// The configuration firmware volume (the variable store).
    Cfv,
    /// A Secure Boot variable as found in the variable store.
    SecureBootVariable {
        name: String,
    },
    Separator,
    AcpiLoader,
    AcpiBlob {
        name: String,
    },
    FwCfg {
        name: String,
    },
    Smbios,
    BootVariable {
        name: String,
    },
    /// The kernel, as OVMF loads it (with or without QEMU's setup-header patch).
    Kernel {
        patched: bool,
    },
    Action,
    /// The kernel's load options: the command line as OVMF hands it over.
    LoadOptions,
    Initrd,
}

/// One expected event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedEvent {
    /// 0..=2: RTMR0..2 (CC MR index minus one).
    pub rtmr: usize,
    pub event_type: u32,
    pub description: String,
    #[serde(with = "crate::tdx::rtmr::hex48")]
    pub digest: Sha384Digest,
    /// The event data TDVF logs, when it is fixed by the inputs (image-load events carry load
    /// addresses, so theirs is not).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt")]
    pub data: Option<Vec<u8>>,
    pub input: EventInput,
    pub change: Change,
}

fn hex_opt<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}

impl ExpectedEvent {
    pub fn type_name(&self) -> &'static str {
        t::name(self.event_type).unwrap_or("?")
    }
}

fn ev(
    rtmr: usize,
    event_type: u32,
    description: String,
    digest: Sha384Digest,
    data: Option<Vec<u8>>,
    input: EventInput,
    change: Change,
) -> ExpectedEvent {
    ExpectedEvent { rtmr, event_type, description, digest, data, input, change }
}

/// TDX_HANDOFF_TABLE_POINTERS2 "TdxTable" for the TD HOB (TdxMeasurementHob.c).
pub fn td_hob(hob: &[u8], gpa: u64, memory: u64, change: Change) -> ExpectedEvent {
    let mut d = vec![9u8];
    d.extend_from_slice(b"TdxTable\0");
    d.extend_from_slice(&1u64.to_le_bytes());
    d.extend_from_slice(&OVMF_PKG_TOKEN_SPACE.0);
    d.extend_from_slice(&gpa.to_le_bytes());
    ev(
        0,
        t::EV_EFI_HANDOFF_TABLES2,
        format!("TD HOB for {} of RAM", human(memory)),
        Sha384::digest(hob),
        Some(d),
        EventInput::TdHob { memory },
        change,
    )
}

/// The CFV's FvName, when its header carries an extended header (TdxMeasurementHob.c GetFvName).
fn fv_name(cfv: &[u8]) -> Option<Guid> {
    let ext = u16::from_le_bytes([*cfv.get(52)?, *cfv.get(53)?]) as usize;
    if ext < 64 || ext + 20 > cfv.len() {
        return None;
    }
    Some(Guid(cfv[ext..ext + 16].try_into().ok()?))
}

/// PLATFORM_FIRMWARE_BLOB2 "Fv(...)" for the CFV.
pub fn cfv(cfv: &[u8], gpa: u64, change: Change) -> ExpectedEvent {
    let desc = match fv_name(cfv) {
        Some(g) => format!("Fv({})", g.to_string().to_uppercase()),
        None => "Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)".into(),
    };
    let mut field = [0u8; 41];
    field[..desc.len().min(40)].copy_from_slice(&desc.as_bytes()[..desc.len().min(40)]);
    let mut d = vec![41u8];
    d.extend_from_slice(&field);
    d.extend_from_slice(&gpa.to_le_bytes());
    d.extend_from_slice(&(cfv.len() as u64).to_le_bytes());
    ev(
        0,
        t::EV_EFI_PLATFORM_FIRMWARE_BLOB2,
        format!("CFV (variable store), {} bytes", cfv.len()),
        Sha384::digest(cfv),
        Some(d),
        EventInput::Cfv,
        change,
    )
}

/// EV_EFI_VARIABLE_DRIVER_CONFIG: the digest covers the whole UEFI_VARIABLE_DATA.
pub fn secure_boot_variable(vendor: &Guid, name: &str, data: Option<&[u8]>, change: Change) -> ExpectedEvent {
    let d = uefi_variable_data(vendor, name, data.unwrap_or(&[]));
    let what = match data {
        None => format!("{name}: absent"),
        Some(v) => format!("{name}: {} bytes", v.len()),
    };
    ev(0, t::EV_EFI_VARIABLE_DRIVER_CONFIG, what, Sha384::digest(&d), Some(d), EventInput::SecureBootVariable { name: name.into() }, change)
}

pub fn separator(rtmr: usize, change: Change) -> ExpectedEvent {
    let d = vec![0u8; 4];
    ev(rtmr, t::EV_SEPARATOR, "separator".into(), Sha384::digest(&d), Some(d), EventInput::Separator, change)
}

/// EV_PLATFORM_CONFIG_FLAGS "ACPI DATA" over a fw_cfg ACPI blob as QEMU serves it.
pub fn acpi(name: &str, bytes: &[u8], loader: bool, change: Change) -> ExpectedEvent {
    let input = if loader { EventInput::AcpiLoader } else { EventInput::AcpiBlob { name: name.into() } };
    ev(
        0,
        t::EV_PLATFORM_CONFIG_FLAGS,
        format!("ACPI {name}, {} bytes", bytes.len()),
        Sha384::digest(bytes),
        Some(b"ACPI DATA".to_vec()),
        input,
        change,
    )
}

/// EV_PLATFORM_CONFIG_FLAGS "QEMU FW CFG" + the item's name (QemuFwCfgCacheInit.c FW_CFG_EVENT).
pub fn fw_cfg(name: &str, bytes: &[u8], change: Change) -> ExpectedEvent {
    let mut d = b"QEMU FW CFG\0".to_vec();
    let mut n = [0u8; 56];
    n[..name.len().min(55)].copy_from_slice(&name.as_bytes()[..name.len().min(55)]);
    d.extend_from_slice(&n);
    ev(
        0,
        t::EV_PLATFORM_CONFIG_FLAGS,
        format!("fw_cfg {name}, {} bytes", bytes.len()),
        Sha384::digest(bytes),
        Some(d),
        EventInput::FwCfg { name: name.into() },
        change,
    )
}

/// EV_EFI_VARIABLE_BOOT: the digest covers the variable data only.
pub fn boot_variable(rtmr: usize, name: &str, data: &[u8], change: Change) -> ExpectedEvent {
    let d = uefi_variable_data(&super::varstore::EFI_GLOBAL_VARIABLE, name, data);
    let what = match crate::eventlog::decode(t::EV_EFI_VARIABLE_BOOT, &d) {
        crate::eventlog::EventData::Variable { value: Some(v), .. } => {
            crate::eventlog::EventData::Variable { vendor: String::new(), name: name.into(), data_len: data.len(), value: Some(v) }
                .summary()
        }
        _ => format!("{name}, {} bytes", data.len()),
    };
    ev(
        rtmr,
        t::EV_EFI_VARIABLE_BOOT,
        what.replace(" ()", ""),
        Sha384::digest(data),
        Some(d),
        EventInput::BootVariable { name: name.into() },
        change,
    )
}

pub fn kernel(digest: Sha384Digest, patched: bool, change: Change) -> ExpectedEvent {
    let what = if patched { "kernel (Authenticode, QEMU-patched setup header)" } else { "kernel (Authenticode, as the file has it)" };
    ev(1, t::EV_EFI_BOOT_SERVICES_APPLICATION, what.into(), digest, None, EventInput::Kernel { patched }, change)
}

pub fn action(text: &str, change: Change) -> ExpectedEvent {
    ev(
        1,
        t::EV_EFI_ACTION,
        format!("{text:?}"),
        Sha384::digest(text.as_bytes()),
        Some(text.as_bytes().to_vec()),
        EventInput::Action,
        change,
    )
}

fn tagged(id: u32, desc: &[u8]) -> Vec<u8> {
    let mut d = id.to_le_bytes().to_vec();
    d.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    d.extend_from_slice(desc);
    d
}

pub fn load_options(options: &[u8], change: Change) -> ExpectedEvent {
    let text = crate::eventlog::devpath::utf16(options);
    ev(
        2,
        t::EV_EVENT_TAG,
        format!("kernel load options {text:?} ({} bytes of UTF-16)", options.len()),
        Sha384::digest(options),
        Some(tagged(LINUX_EVENT_TAG_LOAD_OPTIONS, b"LOADED_IMAGE::LoadOptions\0")),
        EventInput::LoadOptions,
        change,
    )
}

pub fn initrd(digest: Sha384Digest, len: usize, change: Change) -> ExpectedEvent {
    ev(
        2,
        t::EV_EVENT_TAG,
        format!("initrd, {len} bytes"),
        digest,
        Some(tagged(LINUX_EVENT_TAG_INITRD, b"Linux initrd\0")),
        EventInput::Initrd,
        change,
    )
}

/// `2 GiB`, `1536 MiB`, `4096 bytes`.
pub fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n.is_multiple_of(1 << 30) => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

/// The load options OVMF gives the kernel (X86QemuLoadImageLib QemuLoadKernelImage): the command
/// line QEMU serves (its bytes widened to UTF-16, as UnicodeSPrintAsciiFormat does) with
/// " initrd=initrd" appended, or "initrd=initrd " prepended, when an initrd is given, and a UTF-16
/// NUL. Empty when there is neither a command line nor an initrd.
pub fn ovmf_load_options(cmdline: &[u8], initrd: bool, prefix: bool) -> Vec<u8> {
    let mut s: Vec<u8> = Vec::new();
    match (initrd, prefix) {
        (true, true) => {
            s.extend_from_slice(b"initrd=initrd ");
            s.extend_from_slice(cmdline);
        }
        (true, false) => {
            s.extend_from_slice(cmdline);
            s.extend_from_slice(b" initrd=initrd");
        }
        (false, _) => s.extend_from_slice(cmdline),
    }
    if s.is_empty() {
        return Vec::new();
    }
    s.push(0);
    s.iter().flat_map(|&b| (b as u16).to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_options_follow_ovmf() {
        let o = ovmf_load_options(b"console=ttyS0", true, false);
        assert_eq!(crate::eventlog::devpath::utf16(&o), "console=ttyS0 initrd=initrd");
        assert_eq!(o.len(), (13 + 14 + 1) * 2);
        assert_eq!(crate::eventlog::devpath::utf16(&ovmf_load_options(b"a -- b", true, true)), "initrd=initrd a -- b");
        assert!(ovmf_load_options(b"", false, false).is_empty());
        assert_eq!(ovmf_load_options(b"", true, false).len(), 30);
        // Bytes are widened one by one, not decoded as UTF-8.
        assert_eq!(ovmf_load_options(&[0xc3, 0xa9], false, false), [0xc3, 0, 0xa9, 0, 0, 0]);
    }

    #[test]
    fn event_data_sizes_match_real_logs() {
        let c = super::super::profiles::changes::SPEC_EVENTS;
        assert_eq!(td_hob(&[0; 8], 0x809000, 1 << 31, c).data.unwrap().len(), 42);
        assert_eq!(cfv(&[0; 128], 0xffc0_0000, c).data.unwrap().len(), 58);
        assert_eq!(load_options(&[0; 4], c).data.unwrap().len(), 34);
        assert_eq!(initrd([0; 48], 1, c).data.unwrap().len(), 21);
        assert_eq!(fw_cfg("bootorder", b"x", c).data.unwrap().len(), 68);
    }
}
