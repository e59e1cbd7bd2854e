//! EFI device paths to their UEFI text form (UEFI 2.10 section 10.6), for readable event logs.
//! Unknown nodes print as `Path(type,subtype,hex)`, so nothing is hidden.

use crate::guid::Guid;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn guid(b: &[u8], at: usize) -> Option<Guid> {
    Some(Guid(b.get(at..at + 16)?.try_into().ok()?))
}

/// UTF-16LE to a String, stopping at the first NUL; unpaired surrogates become U+FFFD.
pub fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|&u| u != 0).collect();
    String::from_utf16_lossy(&units)
}

/// An EISA ID (ACPI _HID) as text: "PNP0A03".
fn eisa(id: u32) -> String {
    let v = (id & 0xffff) as u16;
    if v & 0x8000 != 0 {
        return format!("{id:#x}");
    }
    let c = |s: u16| (b'A' - 1 + (s & 0x1f) as u8) as char;
    format!("{}{}{}{:04X}", c(v >> 10), c(v >> 5), c(v), id >> 16)
}

fn node_text(t: u8, st: u8, d: &[u8]) -> Option<String> {
    Some(match (t, st) {
        (1, 1) => format!("Pci({:#x},{:#x})", *d.get(1)?, *d.first()?),
        (1, 4) => format!("VenHw({}{})", guid(d, 0)?, data_suffix(d.get(16..).unwrap_or(&[]))),
        (2, 1) => {
            let (hid, uid) = (le32(d, 0)?, le32(d, 4)?);
            match hid {
                0x0a03_41d0 => format!("PciRoot({uid:#x})"),
                0x0a08_41d0 => format!("PcieRoot({uid:#x})"),
                _ => format!("Acpi({},{uid:#x})", eisa(hid)),
            }
        }
        (3, 2) => format!("Scsi({:#x},{:#x})", le16(d, 0)?, le16(d, 2)?),
        (3, 5) => format!("USB({:#x},{:#x})", *d.first()?, *d.get(1)?),
        (3, 10) => format!("VenMsg({}{})", guid(d, 0)?, data_suffix(d.get(16..).unwrap_or(&[]))),
        (3, 11) => format!("MAC({},{:#x})", hex::encode(d.get(..6)?), *d.get(32)?),
        (3, 18) => format!("Sata({:#x},{:#x},{:#x})", le16(d, 0)?, le16(d, 2)?, le16(d, 4)?),
        (3, 23) => format!("NVMe({:#x},{})", le32(d, 0)?, hex::encode(d.get(4..12)?)),
        (3, 24) => format!("Uri({})", String::from_utf8_lossy(d)),
        (4, 1) => {
            let (part, start, size) = (le32(d, 0)?, le64(d, 4)?, le64(d, 12)?);
            let sig = d.get(20..36)?;
            let (fmt, kind) = (*d.get(36)?, *d.get(37)?);
            let sig = match kind {
                2 => guid(sig, 0)?.to_string(),
                1 => format!("{:#x}", le32(sig, 0)?),
                _ => "0".into(),
            };
            let f = match fmt {
                1 => "MBR",
                2 => "GPT",
                _ => "?",
            };
            format!("HD({part},{f},{sig},{start:#x},{size:#x})")
        }
        (4, 2) => format!("CDROM({:#x},{:#x},{:#x})", le32(d, 0)?, le64(d, 4)?, le64(d, 12)?),
        (4, 3) => format!("VenMedia({}{})", guid(d, 0)?, data_suffix(d.get(16..).unwrap_or(&[]))),
        (4, 4) => format!("File({})", utf16(d)),
        (4, 6) => format!("FvFile({})", guid(d, 0)?),
        (4, 7) => format!("Fv({})", guid(d, 0)?),
        (4, 8) => format!("Offset({:#x},{:#x})", le64(d, 4)?, le64(d, 12)?),
        _ => return None,
    })
}

fn data_suffix(d: &[u8]) -> String {
    if d.is_empty() { String::new() } else { format!(",{}", hex::encode(d)) }
}

/// The nodes of a device path as text, up to its end node or the end of `b`. A node whose length is
/// impossible ends the walk with a note.
pub fn to_text(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = 0;
    while b.len() - p >= 4 {
        let (t, st) = (b[p], b[p + 1]);
        let len = u16::from_le_bytes([b[p + 2], b[p + 3]]) as usize;
        if len < 4 || len > b.len() - p {
            out.push(format!("<bad node length {len} at {p:#x}>"));
            break;
        }
        if t == 0x7f {
            if st == 0xff {
                break;
            }
            out.push(",".into());
            p += len;
            continue;
        }
        let d = &b[p + 4..p + len];
        out.push(node_text(t, st, d).unwrap_or_else(|| format!("Path({t},{st},{})", hex::encode(d))));
        p += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovmf_kernel_path_and_uiapp_option() {
        // VenMedia(1428f772-b64a-441e-b8c3-9ebdd7f893c7)/File(kernel), from a real TDVF log.
        let dp = hex::decode("04031400 72f728144ab61e44b8c39ebdd7f893c7 04041200 6b00650072006e0065006c000000 7fff0400".replace(' ', ""))
            .unwrap();
        assert_eq!(to_text(&dp), ["VenMedia(1428f772-b64a-441e-b8c3-9ebdd7f893c7)", "File(kernel)"]);
        let ui = hex::decode("04071400c9bdb87cebf8344faaea3ee4af6516a10406140021aa2c4614760345836e8ab6f46623317fff0400").unwrap();
        assert_eq!(to_text(&ui), ["Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)", "FvFile(462caa21-7614-4503-836e-8ab6f4662331)"]);
        let pci = hex::decode("02010c00d041030a000000000101060003007fff0400").unwrap();
        assert_eq!(to_text(&pci), ["PciRoot(0x0)", "Pci(0x0,0x3)"]);
        assert_eq!(eisa(0x0a0341d0), "PNP0A03");
    }

    #[test]
    fn hostile_lengths_end_the_walk() {
        assert_eq!(to_text(&[4, 4, 2, 0]), ["<bad node length 2 at 0x0>"]);
        assert_eq!(to_text(&[4, 4, 0xff, 0xff, 0]), ["<bad node length 65535 at 0x0>"]);
        assert!(to_text(&[1, 2]).is_empty());
        // A known node too short for its fields falls back to the raw form.
        assert_eq!(to_text(&[4, 1, 5, 0, 9]), ["Path(4,1,09)"]);
    }
}
