//! The guest check: a vCPU runs [`program::CODE`] from its own memslot (plain anonymous memory,
//! outside the plan's regions) in 32-bit protected mode, reads each loaded range through its
//! guest-physical addresses and reports a checksum by port I/O (KVM_EXIT_IO). The host computes the
//! same checksum over the input bytes: equal values show the guest sees the bytes that were loaded.
//! Only ranges below 4 GiB and whole pages are sampled (the probe addresses 32 bits).

pub mod program;

use kvm_bindings::{kvm_regs, kvm_segment, kvm_userspace_memory_region};
use kvm_ioctls::VcpuExit;
use serde::Serialize;

use crate::kvm::Vm;
use crate::memory::MappedRegion;
use crate::memory::mapping::AlignedMapping;
use crate::sys::errno_name;
use program::{CODE, PORT_HI, PORT_LO, host_checksum};

use prelaunch_measure::PAGE_SIZE as PAGE;
const FOUR_GIB: u64 = 1 << 32;
/// The lowest GPA the probe's page may use.
const PROBE_FLOOR: u64 = 0x10000;
/// Exits one probe run may take (two port writes and the halt, with room to spare).
const MAX_EXITS: usize = 16;

/// Why the guest check could not run.
#[derive(Debug, thiserror::Error)]
pub enum GuestCheckError {
    #[error("it needs a KVM vCPU, but guest memory is memfd ({0})")]
    NoVm(String),
    #[error("no free guest-physical page below 4 GiB for the probe")]
    NoRoom,
    #[error("{what}: {errno}")]
    Kvm { what: &'static str, errno: String },
    #[error("the probe's page: {0}")]
    Memory(std::io::Error),
    #[error("probing [{gpa:#x}, +{len:#x}): the vCPU stopped with {exit}")]
    Exit { gpa: u64, len: u64, exit: String },
}

/// One range as the guest and the host saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeCheck {
    pub gpa: u64,
    pub pages: u64,
    pub guest: u64,
    pub host: u64,
}

impl RangeCheck {
    pub fn ok(&self) -> bool {
        self.guest == self.host
    }
}

/// The outcome of the guest check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestCheckReport {
    /// Where the probe ran from.
    pub probe_gpa: u64,
    /// Pages sampled (one 64-bit word each).
    pub pages: u64,
    pub ranges: Vec<RangeCheck>,
    /// Ranges not sampled, and why.
    pub skipped: Vec<String>,
}

impl GuestCheckReport {
    pub fn ok(&self) -> bool {
        self.ranges.iter().all(RangeCheck::ok)
    }

    pub fn first_mismatch(&self) -> Option<&RangeCheck> {
        self.ranges.iter().find(|r| !r.ok())
    }
}

fn kvm_err(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> GuestCheckError {
    move |e| GuestCheckError::Kvm { what, errno: errno_name(e.errno()) }
}

/// The lowest page at or above [`PROBE_FLOOR`] that no region covers.
fn free_gpa(regions: &[MappedRegion]) -> Option<u64> {
    let mut sorted: Vec<&MappedRegion> = regions.iter().collect();
    sorted.sort_by_key(|r| r.gpa);
    let mut at = PROBE_FLOOR;
    for r in sorted {
        if at + PAGE > r.gpa && at < r.gpa + r.size {
            at = (r.gpa + r.size).next_multiple_of(PAGE);
        }
    }
    (at + PAGE <= FOUR_GIB).then_some(at)
}

/// A flat 32-bit segment.
fn flat(selector: u16, type_: u8) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl: 0,
        db: 1,
        s: 1,
        l: 0,
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// The probe's memslot, deleted on drop (before its memory is unmapped).
struct ProbeSlot<'a> {
    vm: &'a Vm,
    slot: u32,
    _mem: AlignedMapping,
}

impl Drop for ProbeSlot<'_> {
    fn drop(&mut self) {
        let delete = kvm_userspace_memory_region { slot: self.slot, ..Default::default() };
        // SAFETY: a zero-sized region deletes the slot; no host memory is referenced.
        let _ = unsafe { self.vm.fd().set_user_memory_region(delete) };
    }
}

/// Runs the probe over each `(gpa, bytes)` range and compares with the host's checksum of `bytes`.
pub fn run(vm: &Vm, regions: &[MappedRegion], ranges: &[(u64, &[u8])]) -> Result<GuestCheckReport, GuestCheckError> {
    let probe_gpa = free_gpa(regions).ok_or(GuestCheckError::NoRoom)?;
    let mut mem = AlignedMapping::anonymous(PAGE as usize, PAGE as usize).map_err(GuestCheckError::Memory)?;
    if let Some(dst) = mem.bytes_mut(0, CODE.len()) {
        dst.copy_from_slice(&CODE);
    }
    let slot = regions.iter().filter_map(|r| r.slot).max().map_or(0, |s| s + 1);
    let def = kvm_userspace_memory_region { slot, flags: 0, guest_phys_addr: probe_gpa, memory_size: PAGE, userspace_addr: mem.addr() };
    // SAFETY: userspace_addr is a 4 KiB mapping owned by the ProbeSlot below, which deletes the slot
    // before the mapping is dropped.
    unsafe { vm.fd().set_user_memory_region(def) }.map_err(kvm_err("KVM_SET_USER_MEMORY_REGION (probe)"))?;
    let _slot = ProbeSlot { vm, slot, _mem: mem };

    let mut vcpu = vm.fd().create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU (probe)"))?;
    let mut sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    sregs.cs = flat(0x08, 0xb);
    (sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss) = (flat(0x10, 3), flat(0x10, 3), flat(0x10, 3), flat(0x10, 3), flat(0x10, 3));
    sregs.cr0 = (sregs.cr0 | 1) & !(1 << 31); // protected mode, no paging
    sregs.efer = 0;
    vcpu.set_sregs(&sregs).map_err(kvm_err("KVM_SET_SREGS"))?;

    let mut report = GuestCheckReport { probe_gpa, pages: 0, ranges: Vec::new(), skipped: Vec::new() };
    for &(gpa, bytes) in ranges {
        let pages = bytes.len() as u64 / PAGE;
        if pages == 0 {
            report.skipped.push(format!("[{gpa:#x}, +{:#x}): less than a page", bytes.len()));
            continue;
        }
        if gpa + pages * PAGE > FOUR_GIB {
            report.skipped.push(format!("[{gpa:#x}, +{:#x}): above 4 GiB, out of the 32-bit probe's reach", pages * PAGE));
            continue;
        }
        let regs = kvm_regs { rip: probe_gpa, rsi: gpa, rcx: pages, rflags: 2, ..Default::default() };
        vcpu.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
        let (mut lo, mut hi) = (None, None);
        let stop = |exit: String| GuestCheckError::Exit { gpa, len: pages * PAGE, exit };
        let mut halted = false;
        for _ in 0..MAX_EXITS {
            match vcpu.run().map_err(kvm_err("KVM_RUN (probe)"))? {
                VcpuExit::IoOut(port, data) if data.len() == 4 => {
                    let v = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                    match port {
                        PORT_LO => lo = Some(v),
                        PORT_HI => hi = Some(v),
                        p => return Err(stop(format!("an unexpected write to port {p:#x}"))),
                    }
                }
                VcpuExit::Hlt => {
                    halted = true;
                    break;
                }
                VcpuExit::MmioRead(addr, _) => return Err(stop(format!("a read of unmapped GPA {addr:#x}"))),
                other => return Err(stop(format!("{other:?}"))),
            }
        }
        let (Some(lo), Some(hi), true) = (lo, hi, halted) else {
            return Err(stop(format!("no result after {MAX_EXITS} exits")));
        };
        let host = host_checksum(&bytes[..(pages * PAGE) as usize]);
        report.ranges.push(RangeCheck { gpa, pages, guest: (u64::from(hi) << 32) | u64::from(lo), host });
        report.pages += pages;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(gpa: u64, size: u64) -> MappedRegion {
        MappedRegion { name: "r".into(), gpa, size, host_addr: 0, gmem_offset: 0, slot: Some(0) }
    }

    #[test]
    fn the_probe_page_avoids_the_plan_regions() {
        assert_eq!(free_gpa(&[]), Some(PROBE_FLOOR));
        assert_eq!(free_gpa(&[region(0, 0x20_0000), region(0x20_0000, 0x20_0000)]), Some(0x40_0000));
        assert_eq!(free_gpa(&[region(0x80_0000, 0x20_0000)]), Some(PROBE_FLOOR));
        assert_eq!(free_gpa(&[region(0, FOUR_GIB)]), None);
    }
}
