//! Event data in readable form: UEFI variables (names, BootOrder, load options), image-load events
//! and their device paths, firmware blobs, handoff tables, tagged events and strings. Decoding never
//! fails: what cannot be read is shown as its length and hex.

use serde::Serialize;

use super::devpath::{self, utf16};
use super::raw::{LINUX_EVENT_TAG_INITRD, LINUX_EVENT_TAG_LOAD_OPTIONS, event_type as t};
use crate::guid::Guid;

/// The decoded event data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventData {
    /// Text (EFI actions, ACPI DATA, IPL strings, blob descriptions).
    Text {
        text: String,
    },
    Separator {
        value: u32,
    },
    /// UEFI_VARIABLE_DATA.
    Variable {
        vendor: String,
        name: String,
        data_len: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<VariableValue>,
    },
    /// UEFI_IMAGE_LOAD_EVENT.
    Image {
        location: u64,
        length: u64,
        link_time_address: u64,
        device_path: Vec<String>,
    },
    /// UEFI_PLATFORM_FIRMWARE_BLOB(2).
    Blob {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        base: u64,
        length: u64,
    },
    /// UEFI_HANDOFF_TABLE_POINTERS(2).
    HandoffTables {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        tables: Vec<(String, u64)>,
    },
    /// TCG_PCClientTaggedEvent.
    Tagged {
        id: u32,
        meaning: Option<&'static str>,
        data: String,
    },
    /// EV_NO_ACTION payloads (Spec ID, StartupLocality, SP800-155 reference data).
    NoAction {
        signature: String,
        len: usize,
    },
    /// UEFI_GPT_DATA.
    Gpt {
        disk_guid: String,
        partitions: u64,
    },
    /// Anything else.
    Raw {
        len: usize,
        hex: String,
    },
}

/// Variable contents this decoder understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariableValue {
    BootOrder { order: Vec<String> },
    LoadOption { attributes: u32, description: String, device_path: Vec<String>, optional_data_len: usize },
    Bool { value: u8 },
    SignatureLists { lists: usize, signatures: usize },
    Text { text: String },
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Printable ASCII (with its NUL stripped), or UTF-16LE text, or nothing.
pub fn text_of(b: &[u8]) -> Option<String> {
    let trimmed = b.strip_suffix(&[0]).unwrap_or(b);
    if !trimmed.is_empty() && trimmed.iter().all(|&c| c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c)) {
        return Some(String::from_utf8_lossy(trimmed).into_owned());
    }
    if b.len() >= 4 && b.len().is_multiple_of(2) && b.chunks_exact(2).all(|c| c[1] == 0) {
        let s = utf16(b);
        if !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n') {
            return Some(s);
        }
    }
    None
}

fn raw(b: &[u8]) -> EventData {
    match text_of(b) {
        Some(text) => EventData::Text { text },
        None => EventData::Raw { len: b.len(), hex: hex::encode(&b[..b.len().min(64)]) + if b.len() > 64 { "…" } else { "" } },
    }
}

/// UEFI_VARIABLE_DATA: the vendor GUID, the name, and the data slice.
pub fn variable(b: &[u8]) -> Option<(Guid, String, &[u8])> {
    let vendor = Guid(b.get(..16)?.try_into().ok()?);
    let name_len = usize::try_from(le64(b, 16)?).ok()?;
    let data_len = usize::try_from(le64(b, 24)?).ok()?;
    let name_end = 32usize.checked_add(name_len.checked_mul(2)?)?;
    let name = utf16(b.get(32..name_end)?);
    let data = b.get(name_end..name_end.checked_add(data_len)?)?;
    Some((vendor, name, data))
}

/// EFI_LOAD_OPTION.
pub fn load_option(d: &[u8]) -> Option<VariableValue> {
    let attributes = le32(d, 0)?;
    let fp_len = u16::from_le_bytes(d.get(4..6)?.try_into().ok()?) as usize;
    let rest = d.get(6..)?;
    let units = rest.chunks_exact(2).position(|c| c == [0, 0])?;
    let description = utf16(&rest[..units * 2]);
    let fp_start = 6 + units * 2 + 2;
    let fp = d.get(fp_start..fp_start.checked_add(fp_len)?)?;
    Some(VariableValue::LoadOption {
        attributes,
        description,
        device_path: devpath::to_text(fp),
        optional_data_len: d.len() - fp_start - fp_len,
    })
}

fn signature_lists(d: &[u8]) -> Option<VariableValue> {
    let (mut p, mut lists, mut sigs) = (0usize, 0, 0);
    while p < d.len() {
        let list_size = le32(d, p + 16)? as usize;
        let header_size = le32(d, p + 20)? as usize;
        let sig_size = le32(d, p + 24)? as usize;
        if list_size < 28 + header_size || sig_size == 0 || list_size > d.len() - p {
            return None;
        }
        sigs += (list_size - 28 - header_size) / sig_size;
        lists += 1;
        p += list_size;
    }
    Some(VariableValue::SignatureLists { lists, signatures: sigs })
}

fn variable_value(name: &str, data: &[u8]) -> Option<VariableValue> {
    let is_boot_option = name.len() == 8
        && (name.starts_with("Boot") || name.starts_with("Driver"))
        && name[name.len() - 4..].chars().all(|c| c.is_ascii_hexdigit());
    match name {
        "BootOrder" | "DriverOrder" if data.len().is_multiple_of(2) => Some(VariableValue::BootOrder {
            order: data.chunks_exact(2).map(|c| format!("Boot{:04X}", u16::from_le_bytes([c[0], c[1]]))).collect(),
        }),
        "SecureBoot" | "SetupMode" | "AuditMode" | "DeployedMode" if data.len() == 1 => Some(VariableValue::Bool { value: data[0] }),
        "PK" | "KEK" | "db" | "dbx" | "dbt" | "dbr" | "MokList" | "MokListX" | "MokListTrusted" | "MokListRT" if !data.is_empty() => {
            signature_lists(data)
        }
        "SbatLevel" => text_of(data).map(|text| VariableValue::Text { text }),
        _ if is_boot_option => load_option(data),
        _ => None,
    }
}

fn tables(b: &[u8], at: usize) -> Option<Vec<(String, u64)>> {
    let n = le64(b, at)?;
    // Each entry is 24 bytes; a count larger than what fits is a lie, not a reason to allocate.
    if n > (b.len().saturating_sub(at + 8) / 24) as u64 {
        return None;
    }
    (0..n as usize)
        .map(|i| {
            let p = at + 8 + 24 * i;
            Some((Guid(b.get(p..p + 16)?.try_into().ok()?).to_string(), le64(b, p + 16)?))
        })
        .collect()
}

fn described(b: &[u8]) -> Option<(String, usize)> {
    let n = *b.first()? as usize;
    let d = b.get(1..1 + n)?;
    Some((String::from_utf8_lossy(d.strip_suffix(&[0]).unwrap_or(d)).into_owned(), 1 + n))
}

/// Decodes the data of an event of type `event_type`.
pub fn decode(event_type: u32, b: &[u8]) -> EventData {
    let parsed = match event_type {
        t::EV_SEPARATOR if b.len() == 4 => le32(b, 0).map(|value| EventData::Separator { value }),
        t::EV_NO_ACTION => {
            let sig = b.iter().take(16).take_while(|&&c| c != 0).map(|&c| c as char).collect::<String>();
            Some(EventData::NoAction { signature: sig, len: b.len() })
        }
        t::EV_EFI_VARIABLE_DRIVER_CONFIG | t::EV_EFI_VARIABLE_BOOT | t::EV_EFI_VARIABLE_BOOT2 | t::EV_EFI_VARIABLE_AUTHORITY => variable(b)
            .map(|(g, name, data)| EventData::Variable {
                vendor: g.to_string(),
                value: variable_value(&name, data),
                name,
                data_len: data.len(),
            }),
        t::EV_EFI_BOOT_SERVICES_APPLICATION | t::EV_EFI_BOOT_SERVICES_DRIVER | t::EV_EFI_RUNTIME_SERVICES_DRIVER => (|| {
            let len = usize::try_from(le64(b, 24)?).ok()?;
            let dp = b.get(32..32usize.checked_add(len)?)?;
            Some(EventData::Image {
                location: le64(b, 0)?,
                length: le64(b, 8)?,
                link_time_address: le64(b, 16)?,
                device_path: devpath::to_text(dp),
            })
        })(),
        t::EV_EFI_PLATFORM_FIRMWARE_BLOB if b.len() == 16 => {
            Some(EventData::Blob { description: None, base: le64(b, 0).unwrap_or(0), length: le64(b, 8).unwrap_or(0) })
        }
        t::EV_EFI_PLATFORM_FIRMWARE_BLOB2 => described(b).and_then(|(d, at)| {
            Some(EventData::Blob { description: Some(d), base: le64(b, at)?, length: le64(b, at + 8)? }).filter(|_| b.len() == at + 16)
        }),
        t::EV_EFI_HANDOFF_TABLES => tables(b, 0).map(|tables| EventData::HandoffTables { description: None, tables }),
        t::EV_EFI_HANDOFF_TABLES2 => {
            described(b).and_then(|(d, at)| tables(b, at).map(|tables| EventData::HandoffTables { description: Some(d), tables }))
        }
        t::EV_EVENT_TAG => (|| {
            let id = le32(b, 0)?;
            let n = le32(b, 4)? as usize;
            let d = b.get(8..8usize.checked_add(n)?)?;
            let meaning = match id {
                LINUX_EVENT_TAG_INITRD => Some("Linux EFI stub: initrd"),
                LINUX_EVENT_TAG_LOAD_OPTIONS => Some("Linux EFI stub: load options (the kernel command line)"),
                _ => None,
            };
            Some(EventData::Tagged { id, meaning, data: text_of(d).unwrap_or_else(|| hex::encode(d)) })
        })(),
        t::EV_EFI_GPT_EVENT => (|| {
            if b.get(..8)? != b"EFI PART" {
                return None;
            }
            let disk = Guid(b.get(56..72)?.try_into().ok()?);
            Some(EventData::Gpt { disk_guid: disk.to_string(), partitions: le64(b, 92)? })
        })(),
        _ => None,
    };
    parsed.unwrap_or_else(|| raw(b))
}

impl EventData {
    /// One line for text output.
    pub fn summary(&self) -> String {
        match self {
            EventData::Text { text } => format!("{text:?}"),
            EventData::Separator { value } => format!("separator {value:#x}"),
            EventData::Variable { vendor, name, data_len, value } => {
                let v = match value {
                    Some(VariableValue::BootOrder { order }) => format!(" = [{}]", order.join(", ")),
                    Some(VariableValue::LoadOption { attributes, description, device_path, .. }) => {
                        format!(" = {description:?} attr {attributes:#x} {}", device_path.join("/"))
                    }
                    Some(VariableValue::Bool { value }) => format!(" = {value}"),
                    Some(VariableValue::SignatureLists { lists, signatures }) => {
                        format!(" = {lists} signature list(s), {signatures} signature(s)")
                    }
                    Some(VariableValue::Text { text }) => format!(" = {text:?}"),
                    None => String::new(),
                };
                format!("{name} ({vendor}), {data_len} bytes{v}")
            }
            EventData::Image { length, device_path, .. } => format!("image {} ({length:#x} bytes)", device_path.join("/")),
            EventData::Blob { description, base, length } => {
                format!("{}[{base:#x}, +{length:#x})", description.as_ref().map(|d| format!("{d} ")).unwrap_or_default())
            }
            EventData::HandoffTables { description, tables } => format!(
                "{}{}",
                description.as_ref().map(|d| format!("{d}: ")).unwrap_or_default(),
                tables.iter().map(|(g, a)| format!("{g} at {a:#x}")).collect::<Vec<_>>().join(", ")
            ),
            EventData::Tagged { id, meaning, data } => {
                format!("tag {id:#x}{} {data:?}", meaning.map(|m| format!(" ({m})")).unwrap_or_default())
            }
            EventData::NoAction { signature, len } => format!("{signature:?} ({len} bytes)"),
            EventData::Gpt { disk_guid, partitions } => format!("GPT disk {disk_guid}, {partitions} partition entries"),
            EventData::Raw { len, hex } => format!("{len} bytes {hex}"),
        }
    }
}
