//! The TD HOB QEMU writes into the TD_HOB section (hw/i386/tdvf-hob.c, target/i386/kvm/tdx.c) and
//! TDVF measures into RTMR0 before it trusts it: a PHIT (handoff) HOB, one resource descriptor per
//! RAM entry (accepted: the TD_HOB and TempMem sections; unaccepted: the rest of RAM), and the end
//! HOB. TDVF hashes the list up to, not including, the end HOB (TdxHelperMeasureTdHob).

use serde::Serialize;

use crate::image::tdvf::{TdvfMetadata, TdvfSectionKind};

const FOUR_GIB: u64 = 1 << 32;
const PHIT_LEN: usize = 56;
const RESOURCE_LEN: usize = 48;
const END_LEN: usize = 8;
const EFI_HOB_TYPE_HANDOFF: u16 = 0x0001;
const EFI_HOB_TYPE_RESOURCE_DESCRIPTOR: u16 = 0x0003;
const EFI_HOB_HANDOFF_TABLE_VERSION: u32 = 0x0009;
const EFI_RESOURCE_SYSTEM_MEMORY: u32 = 0;
const EFI_RESOURCE_MEMORY_UNACCEPTED: u32 = 7;
/// PRESENT | INITIALIZED | TESTED, QEMU's attribute for both kinds of TDVF RAM.
const TDVF_RESOURCE_ATTRIBUTES: u32 = 0x7;

/// QEMU's q35 split of guest RAM around the 32-bit PCI hole (hw/i386/pc_q35.c): 2 GiB below 4 GiB
/// once the RAM reaches 2.75 GiB, all of it below otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RamLayout {
    pub below_4g: u64,
    pub above_4g: u64,
}

impl RamLayout {
    pub fn q35(ram: u64) -> RamLayout {
        let lowmem = if ram >= 0xb000_0000 { 0x8000_0000 } else { 0xb000_0000 };
        if ram >= lowmem { RamLayout { below_4g: lowmem, above_4g: ram - lowmem } } else { RamLayout { below_4g: ram, above_4g: 0 } }
    }

    /// The e820 RAM ranges: [0, below) and [4 GiB, 4 GiB + above).
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut r = vec![(0, self.below_4g)];
        if self.above_4g > 0 {
            r.push((FOUR_GIB, self.above_4g));
        }
        r
    }
}

/// One TDX RAM entry (QEMU TdxRamEntry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RamEntry {
    pub address: u64,
    pub length: u64,
    pub accepted: bool,
}

/// Why QEMU would refuse this memory layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HobError {
    #[error(
        "TDVF section {index} ({kind}) [{start:#x}, {end:#x}) is not inside guest RAM [0, {below:#x}) (QEMU: tdx_accept_ram_range fails); give more --memory"
    )]
    NotInRam { index: usize, kind: &'static str, start: u64, end: u64, below: u64 },
    #[error("TDVF section {index} ({kind}) [{start:#x}, {end:#x}) overlaps RAM already accepted for another section (QEMU refuses it)")]
    AlreadyAccepted { index: usize, kind: &'static str, start: u64, end: u64 },
    #[error("the firmware has no TD_HOB section: QEMU has nowhere to put the TD HOB")]
    NoHobSection,
    #[error("the TD HOB needs {need:#x} bytes, more than the {have:#x}-byte TD_HOB section (QEMU: TD_HOB overrun)")]
    Overrun { need: usize, have: u64 },
}

/// The TD HOB: where it lives, its RAM entries, and the bytes TDVF measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdHob {
    pub gpa: u64,
    pub entries: Vec<RamEntry>,
    /// The HOB list without its end HOB: what TDVF hashes.
    pub measured: Vec<u8>,
}

/// QEMU's RAM entries: the e820 RAM, with every TD_HOB/TempMem section accepted (split out).
pub fn ram_entries(md: &TdvfMetadata, ram: &RamLayout) -> Result<Vec<RamEntry>, HobError> {
    let mut entries: Vec<RamEntry> =
        ram.ranges().into_iter().map(|(address, length)| RamEntry { address, length, accepted: false }).collect();
    for (index, s) in md.sections.iter().enumerate() {
        if !matches!(s.kind, TdvfSectionKind::TdHob | TdvfSectionKind::TempMem) || s.memory_size == 0 {
            continue;
        }
        let (start, end) = (s.gpa, s.gpa + s.memory_size);
        let kind = s.kind.name();
        let hit = entries.iter().position(|e| start < e.address + e.length && e.address < end);
        let Some(i) = hit else { return Err(HobError::NotInRam { index, kind, start, end, below: ram.below_4g }) };
        let e = entries[i];
        if e.address > start || e.address + e.length < end {
            return Err(HobError::NotInRam { index, kind, start, end, below: ram.below_4g });
        }
        if e.accepted {
            return Err(HobError::AlreadyAccepted { index, kind, start, end });
        }
        entries[i] = RamEntry { address: start, length: s.memory_size, accepted: true };
        if start > e.address {
            entries.push(RamEntry { address: e.address, length: start - e.address, accepted: false });
        }
        if e.address + e.length > end {
            entries.push(RamEntry { address: end, length: e.address + e.length - end, accepted: false });
        }
    }
    entries.sort_by_key(|e| e.address);
    Ok(entries)
}

/// Builds the TD HOB QEMU writes for this firmware and RAM.
pub fn build(md: &TdvfMetadata, ram: &RamLayout) -> Result<TdHob, HobError> {
    let hob = md.sections.iter().find(|s| s.kind == TdvfSectionKind::TdHob).ok_or(HobError::NoHobSection)?;
    let entries = ram_entries(md, ram)?;
    let mut b = Vec::with_capacity(PHIT_LEN + RESOURCE_LEN * entries.len());
    b.extend_from_slice(&EFI_HOB_TYPE_HANDOFF.to_le_bytes());
    b.extend_from_slice(&(PHIT_LEN as u16).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&EFI_HOB_HANDOFF_TABLE_VERSION.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // BootMode
    b.extend_from_slice(&[0u8; 32]); // EfiMemoryTop/Bottom, EfiFreeMemoryTop/Bottom: QEMU leaves them zero
    b.extend_from_slice(&[0u8; 8]); // EfiEndOfHobList, filled below
    for e in &entries {
        b.extend_from_slice(&EFI_HOB_TYPE_RESOURCE_DESCRIPTOR.to_le_bytes());
        b.extend_from_slice(&(RESOURCE_LEN as u16).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&[0u8; 16]); // Owner
        b.extend_from_slice(&(if e.accepted { EFI_RESOURCE_SYSTEM_MEMORY } else { EFI_RESOURCE_MEMORY_UNACCEPTED }).to_le_bytes());
        b.extend_from_slice(&TDVF_RESOURCE_ATTRIBUTES.to_le_bytes());
        b.extend_from_slice(&e.address.to_le_bytes());
        b.extend_from_slice(&e.length.to_le_bytes());
    }
    let total = b.len() + END_LEN;
    if total as u64 > hob.memory_size {
        return Err(HobError::Overrun { need: total, have: hob.memory_size });
    }
    // EfiEndOfHobList: the guest address just past the end HOB.
    let end = hob.gpa + total as u64;
    b[48..56].copy_from_slice(&end.to_le_bytes());
    Ok(TdHob { gpa: hob.gpa, entries, measured: b })
}
