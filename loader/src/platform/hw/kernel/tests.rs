//! One test per kernel rule the fakes enforce (each names the source it models), and every plan the
//! real firmware in ../shared/firmware yields, launched through both kernel generations.

use std::path::PathBuf;

use kvm_bindings::kvm_sev_snp_launch_update;
use prelaunch_measure::digest::{Measurement, fold};
use prelaunch_measure::plan::sev::AmdConfig;
use prelaunch_measure::plan::{CheckedPlan, Mode, Region, RegionPurpose, TdxPolicy};
use prelaunch_measure::snp::cpu;
use prelaunch_measure::{FirmwareImage, plan};

use super::memory::FakeMemory;
use super::snp::{FakeSnpKernel, INVALID_PARAM, UpdateFault};
use super::tdx::FakeTdxKernel;
use super::{Generation, KernelState, PAGE, Shared};
use crate::LoadError;
use crate::kvm::uapi::{
    GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_MEMORY_ATTRIBUTE_PRIVATE, KvmMemoryAttributes2, KvmTdxInitMemRegion,
};
use crate::load::{Timings, run_phases};
use crate::memory::MemoryBackend;
use crate::platform::DigestSource;
use crate::platform::hw::IoctlError;
use crate::platform::hw::snp::{HwSnp, SnpParams};
use crate::platform::hw::snp_ioctls::SnpIoctls;
use crate::platform::hw::tdx::HwTdx;
use crate::platform::hw::tdx_ioctls::{TdParams, TdxIoctls};

const GENS: [Generation; 2] = [Generation::Mainline, Generation::InPlace];
const GPA: u64 = 0x80_0000;
const MIB2: u64 = 2 << 20;

fn state_with_slot(g: Generation, flags: u64) -> Shared {
    let s = KernelState::new(g);
    s.borrow_mut().create_guest_memfd(GPA, MIB2, flags).unwrap();
    s
}

/// An SNP fake with INIT2 and LAUNCH_START done, over one 2 MiB slot at GPA.
fn snp(g: Generation) -> FakeSnpKernel {
    let flags = if g == Generation::InPlace { GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED } else { 0 };
    let mut k = FakeSnpKernel::new(state_with_slot(g, flags));
    k.sev_init2(&mut kvm_bindings::kvm_sev_init { ghcb_version: 2, ..Default::default() }).unwrap();
    k.launch_start(&mut kvm_bindings::kvm_sev_snp_launch_start { policy: 0x30000, ..Default::default() }).unwrap();
    k
}

fn make_private(k: &Shared, gpa: u64, len: u64) {
    let mut s = k.borrow_mut();
    if s.generation == Generation::InPlace {
        let mut a = KvmMemoryAttributes2 { offset: gpa - GPA, size: len, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
        s.set_attributes2(0, &mut a).unwrap();
    } else {
        s.set_memory_attributes(gpa, len, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0).unwrap();
    }
}

fn src(pages: usize) -> crate::memory::mapping::AlignedMapping {
    let mut m = crate::memory::mapping::AlignedMapping::anonymous(pages * PAGE as usize, PAGE as usize).unwrap();
    m.bytes_mut(0, pages * PAGE as usize).unwrap().fill(0x5a);
    m
}

fn update(k: &mut FakeSnpKernel, gpa: u64, uaddr: u64, len: u64, t: u8) -> (Result<(), IoctlError>, kvm_sev_snp_launch_update) {
    let mut u = kvm_sev_snp_launch_update { gfn_start: gpa / PAGE, uaddr, len, type_: t, ..Default::default() };
    (k.launch_update(&mut u), u)
}

// ---- guest_memfd (virt/kvm/guest_memfd.c) ----

/// guest_memfd.c `kvm_gmem_create` with x86 `kvm_arch_supports_gmem_init_shared`: mainline refuses
/// INIT_SHARED for SNP/TDX VMs (EINVAL); v8 19/46 enables it.
#[test]
fn rule_init_shared_only_in_place() {
    let m = KernelState::new(Generation::Mainline);
    assert_eq!(m.borrow_mut().create_guest_memfd(GPA, MIB2, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED), Err(libc::EINVAL));
    assert!(m.borrow_mut().create_guest_memfd(GPA, MIB2, 0).is_ok());
    let v = KernelState::new(Generation::InPlace);
    assert!(v.borrow_mut().create_guest_memfd(GPA, MIB2, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED).is_ok());
    for g in GENS {
        let s = KernelState::new(g);
        assert_eq!(s.borrow_mut().create_guest_memfd(GPA, 100, 0), Err(libc::EINVAL), "size not a page multiple");
        assert_eq!(s.borrow_mut().create_guest_memfd(GPA, MIB2, 1 << 5), Err(libc::EINVAL), "unknown flag");
    }
}

/// guest_memfd.c `kvm_gmem_mmap`: a guest_memfd without GUEST_MEMFD_FLAG_MMAP cannot be mapped (ENODEV).
#[test]
fn rule_mmap_needs_the_mmap_flag() {
    for g in GENS {
        let s = state_with_slot(g, 0);
        assert_eq!(s.borrow().mmap_allowed(0), Err(libc::ENODEV));
    }
}

/// v8 09/46 `kvm_gmem_ioctl`: KVM_SET_MEMORY_ATTRIBUTES2 is a guest_memfd ioctl only with in-place
/// conversion (mainline guest_memfd has no ioctl: ENOTTY); `kvm_gmem_set_attributes` refuses flags,
/// reserved bits, unknown attributes, a zero or unaligned or out-of-range range (EINVAL).
#[test]
fn rule_attributes2_on_the_guest_memfd_only_in_place() {
    let m = state_with_slot(Generation::Mainline, 0);
    let mut a = KvmMemoryAttributes2 { size: PAGE, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
    assert_eq!(m.borrow_mut().set_attributes2(0, &mut a), Err(libc::ENOTTY));
    let v = state_with_slot(Generation::InPlace, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    let ok = KvmMemoryAttributes2 { offset: PAGE, size: PAGE, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
    for bad in [
        KvmMemoryAttributes2 { flags: 1, ..ok },
        KvmMemoryAttributes2 { reserved: [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], ..ok },
        KvmMemoryAttributes2 { attributes: 1 << 2, ..ok },
        KvmMemoryAttributes2 { size: 0, ..ok },
        KvmMemoryAttributes2 { offset: 100, ..ok },
        KvmMemoryAttributes2 { offset: MIB2, ..ok },
        KvmMemoryAttributes2 { size: MIB2, ..ok },
        KvmMemoryAttributes2 { offset: u64::MAX - 0xfff, ..ok },
    ] {
        let mut b = bad;
        assert_eq!(v.borrow_mut().set_attributes2(0, &mut b), Err(libc::EINVAL), "{bad:?}");
    }
    let mut a = ok;
    assert_eq!(v.borrow_mut().set_attributes2(0, &mut a), Ok(()));
    assert!(v.borrow_mut().page(GPA + PAGE).unwrap().0.private);
}

/// v8 10/46 "KVM: guest_memfd: Ensure pages are not in use before conversion": a page with extra
/// references stops the conversion with EAGAIN and its offset in `error_offset`; the loader resumes
/// there (memory/convert.rs `convert_with_retry`).
#[test]
fn rule_eagain_reports_error_offset_and_the_loader_resumes_there() {
    let v = state_with_slot(Generation::InPlace, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    v.borrow_mut().busy.push((GPA + 3 * PAGE, 2));
    let mut a = KvmMemoryAttributes2 { offset: 0, size: 8 * PAGE, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
    assert_eq!(v.borrow_mut().set_attributes2(0, &mut a), Err(libc::EAGAIN));
    assert_eq!(a.error_offset, 3 * PAGE);
    let regions = [Region { name: "r".into(), purpose: RegionPurpose::Ram, gpa: GPA, size: MIB2, gmem_offset: 0 }];
    let s = KernelState::new(Generation::InPlace);
    s.borrow_mut().busy.push((GPA + 3 * PAGE, 2));
    let mut mem = FakeMemory::create(s.clone(), &regions).unwrap();
    let retries = crate::memory::convert::convert_with_retry(GPA, 8 * PAGE, |g, l| mem.convert_once(g, l)).unwrap();
    assert_eq!(retries, 2);
    assert!((0..8).all(|i| s.borrow_mut().page(GPA + i * PAGE).unwrap().0.private));
}

/// virt/kvm/kvm_main.c `kvm_vm_ioctl_set_mem_attributes` with v8 24/46: in place the VM-level
/// PRIVATE attribute is gone (EINVAL); mainline takes it.
#[test]
fn rule_vm_level_private_attribute_only_in_mainline() {
    let v = state_with_slot(Generation::InPlace, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    assert_eq!(v.borrow_mut().set_memory_attributes(GPA, PAGE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0), Err(libc::EINVAL));
    let m = state_with_slot(Generation::Mainline, 0);
    assert_eq!(m.borrow_mut().set_memory_attributes(GPA, PAGE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 1), Err(libc::EINVAL), "flags");
    assert_eq!(m.borrow_mut().set_memory_attributes(GPA + 1, PAGE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0), Err(libc::EINVAL), "alignment");
    assert_eq!(m.borrow_mut().set_memory_attributes(GPA, PAGE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0), Ok(()));
}

// ---- SNP (arch/x86/kvm/svm/sev.c) ----

/// guest_memfd.c `__kvm_gmem_populate`: the destination must be private (EINVAL), which sev.c
/// `snp_launch_update` reports as EIO with firmware status 0 when no page was done.
#[test]
fn rule_snp_destination_must_be_private() {
    for g in GENS {
        let mut k = snp(g);
        let s = src(1);
        let (r, _) = update(&mut k, GPA, s.addr(), PAGE, 1);
        assert_eq!(r, Err(IoctlError { errno: libc::EIO, fw_error: 0 }), "{g:?}");
        make_private(&k.state, GPA, PAGE);
        let (r, u) = update(&mut k, GPA, s.addr(), PAGE, 1);
        assert_eq!((r, u.len), (Ok(()), 0), "{g:?}");
    }
}

/// Source alignment: mainline `snp_launch_update` refuses an unaligned `uaddr` (EINVAL, Roedel
/// 2026-06-23); v8's base hits guest_memfd.c `kvm_gmem_populate` WARN_ON_ONCE(!PAGE_ALIGNED(src)),
/// EINVAL, reported as EIO.
#[test]
fn rule_snp_source_must_be_page_aligned() {
    for (g, errno) in [(Generation::Mainline, libc::EINVAL), (Generation::InPlace, libc::EIO)] {
        let mut k = snp(g);
        make_private(&k.state, GPA, PAGE);
        let s = src(2);
        assert_eq!(update(&mut k, GPA, s.addr() + 8, PAGE, 1).0.map_err(|e| e.errno), Err(errno), "{g:?}");
    }
}

/// A NULL source: mainline refuses it for every page type but ZERO (sev.c `snp_launch_update`,
/// EINVAL); v8 22/46 "Make 'uaddr' parameter optional" allows it in place (the page is its own source).
#[test]
fn rule_snp_null_source_only_in_place() {
    let mut m = snp(Generation::Mainline);
    make_private(&m.state, GPA, 2 * PAGE);
    assert_eq!(update(&mut m, GPA, 0, PAGE, 1).0.map_err(|e| e.errno), Err(libc::EINVAL));
    assert_eq!(update(&mut m, GPA + PAGE, 0, PAGE, 3).0, Ok(()), "ZERO pages take no source");
    let mut v = snp(Generation::InPlace);
    make_private(&v.state, GPA, PAGE);
    let (r, u) = update(&mut v, GPA, 0, PAGE, 1);
    assert_eq!((r, u.uaddr, u.len), (Ok(()), 0, 0), "uaddr stays 0: it advances only with a source");
}

/// sev.c `snp_launch_update`: len zero or not a page multiple, flags, and page types other than
/// NORMAL, ZERO, UNMEASURED, SECRETS and CPUID (VMSA pages come from the vCPUs) are EINVAL.
#[test]
fn rule_snp_page_types_and_lengths() {
    for g in GENS {
        let mut k = snp(g);
        make_private(&k.state, GPA, PAGE);
        let s = src(1);
        for t in [0u8, 2, 7, 0xff] {
            assert_eq!(update(&mut k, GPA, s.addr(), PAGE, t).0.map_err(|e| e.errno), Err(libc::EINVAL), "type {t}");
        }
        assert_eq!(update(&mut k, GPA, s.addr(), 0, 1).0.map_err(|e| e.errno), Err(libc::EINVAL));
        assert_eq!(update(&mut k, GPA, s.addr(), 100, 1).0.map_err(|e| e.errno), Err(libc::EINVAL));
        let mut u =
            kvm_sev_snp_launch_update { gfn_start: GPA / PAGE, uaddr: s.addr(), len: PAGE, type_: 1, flags: 1, ..Default::default() };
        assert_eq!(k.launch_update(&mut u).map_err(|e| e.errno), Err(libc::EINVAL));
    }
}

/// guest_memfd.c `kvm_gmem_populate`: a signal after some pages, or the end of the memslot, ends
/// the call early with the pages done; sev.c advances gfn_start, uaddr and len by them.
#[test]
fn rule_snp_partial_progress_advances_the_struct() {
    for g in GENS {
        let mut k = snp(g);
        make_private(&k.state, GPA, MIB2);
        k.faults.push_back(UpdateFault::SignalAfter(3));
        let s = src(8);
        let (r, u) = update(&mut k, GPA, s.addr(), 8 * PAGE, 1);
        assert_eq!((r, u.gfn_start, u.uaddr, u.len), (Ok(()), GPA / PAGE + 3, s.addr() + 3 * PAGE, 5 * PAGE), "{g:?}");
        k.faults.push_back(UpdateFault::SignalAfter(0));
        assert_eq!(
            update(&mut k, GPA + 3 * PAGE, s.addr(), PAGE, 1).0,
            Err(IoctlError { errno: libc::EIO, fw_error: 0 }),
            "a signal before any page"
        );
        // The slot ends 2 pages after this GPA: the call stops there.
        let (r, u) = update(&mut k, GPA + MIB2 - 2 * PAGE, 0, 8 * PAGE, 3);
        assert_eq!((r, u.len), (Ok(()), 6 * PAGE));
    }
}

/// sev.c `sev_gmem_post_populate`: a page whose RMP entry is already assigned (populated) is EEXIST,
/// reported as EIO.
#[test]
fn rule_snp_no_page_is_populated_twice() {
    for g in GENS {
        let mut k = snp(g);
        make_private(&k.state, GPA, PAGE);
        assert_eq!(update(&mut k, GPA, 0, PAGE, 3).0, Ok(()));
        assert_eq!(update(&mut k, GPA, 0, PAGE, 3).0, Err(IoctlError { errno: libc::EIO, fw_error: 0 }));
    }
}

/// sev.c `sev_gmem_post_populate`: the firmware's corrected CPUID page is copied back into the
/// source page on INVALID_PARAM (v8 22/46: only when there is a source page).
#[test]
fn rule_snp_cpuid_page_is_written_back_corrected() {
    use crate::platform::hw::snp_cpuid;
    for g in GENS {
        let mut k = snp(g);
        k.cpuid_ebx_allowed.push(((7, 0), 0xff));
        make_private(&k.state, GPA, PAGE);
        let table = snp_cpuid::fill(&k.cpuid.clone()).unwrap();
        let mut s = src(1);
        s.bytes_mut(0, PAGE as usize).unwrap().copy_from_slice(&snp_cpuid::page(&table));
        let (r, _) = update(&mut k, GPA, s.addr(), PAGE, 6);
        assert_eq!(r, Err(IoctlError { errno: libc::EIO, fw_error: INVALID_PARAM }), "{g:?}");
        let back = snp_cpuid::read(s.bytes(0, PAGE as usize).unwrap());
        let c = snp_cpuid::corrections(&table, &back);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("function 0x7 index 0x0") && c[0].contains("the firmware expects"), "{}", c[0]);
    }
}

/// guest_memfd.c `kvm_gmem_get_pfn` (and v8 "KVM: guest_memfd: Zero page while getting pfn"): a page
/// never written reads as zeros when it is populated in place.
#[test]
fn rule_never_written_pages_are_zeroed_on_first_use() {
    let mut k = snp(Generation::InPlace);
    // Dirty the page's backing behind the kernel's back, as leftover memory would be.
    {
        let mut st = k.state.borrow_mut();
        let (_, p) = st.page(GPA).unwrap();
        // SAFETY: `p` is a live 4 KiB page of the fake's own mapping.
        unsafe { std::ptr::write_bytes(p, 0xee, PAGE as usize) };
    }
    make_private(&k.state, GPA, PAGE);
    assert_eq!(update(&mut k, GPA, 0, PAGE, 1).0, Ok(()));
    let mut st = k.state.borrow_mut();
    let (_, p) = st.page(GPA).unwrap();
    // SAFETY: as above.
    assert!(unsafe { std::slice::from_raw_parts(p, PAGE as usize) }.iter().all(|&b| b == 0));
}

/// sev.c `snp_launch_start` (invalid policy bits, RSVD_MBO bit 17 clear, flags: EINVAL) and
/// `__sev_guest_init` (VMSA features the host lacks, GHCB version above 2: EINVAL).
#[test]
fn rule_snp_init_and_start_validate_their_arguments() {
    let s = KernelState::new(Generation::InPlace);
    let mut k = FakeSnpKernel::new(s);
    assert!(k.sev_init2(&mut kvm_bindings::kvm_sev_init { vmsa_features: 0x4, ghcb_version: 2, ..Default::default() }).is_err());
    assert!(k.sev_init2(&mut kvm_bindings::kvm_sev_init { ghcb_version: 3, ..Default::default() }).is_err());
    k.sev_init2(&mut kvm_bindings::kvm_sev_init { vmsa_features: 0x20, ghcb_version: 2, ..Default::default() }).unwrap();
    for policy in [0x0, 0x30000 | (1 << 18), 0x10000] {
        assert!(k.launch_start(&mut kvm_bindings::kvm_sev_snp_launch_start { policy, ..Default::default() }).is_err(), "{policy:#x}");
    }
    k.launch_start(&mut kvm_bindings::kvm_sev_snp_launch_start { policy: 0x30000, ..Default::default() }).unwrap();
}

// ---- TDX (arch/x86/kvm/vmx/tdx.c) ----

fn tdx(g: Generation) -> FakeTdxKernel {
    let flags = if g == Generation::InPlace { GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED } else { 0 };
    let mut k = FakeTdxKernel::new(state_with_slot(g, flags));
    k.init_vm(&TdParams { attributes: 0, xfam: 0x7 }).unwrap();
    k.init_vcpu(0, 0).unwrap();
    k
}

/// tdx.c `tdx_vcpu_init_mem_region`: flags beyond MEASURE, an unaligned source or GPA, zero pages,
/// a wrapping range: EINVAL; the destination must be private (guest_memfd.c, EINVAL).
#[test]
fn rule_tdx_init_mem_region_arguments() {
    for g in GENS {
        let mut k = tdx(g);
        let s = src(2);
        let r = |k: &mut FakeTdxKernel, flags, source_addr, gpa, nr_pages| {
            k.init_mem_region(0, flags, &mut KvmTdxInitMemRegion { source_addr, gpa, nr_pages }).map_err(|e| e.errno)
        };
        assert_eq!(r(&mut k, 2, s.addr(), GPA, 1), Err(libc::EINVAL));
        assert_eq!(r(&mut k, 1, s.addr() + 8, GPA, 1), Err(libc::EINVAL));
        assert_eq!(r(&mut k, 1, s.addr(), GPA + 8, 1), Err(libc::EINVAL));
        assert_eq!(r(&mut k, 1, s.addr(), GPA, 0), Err(libc::EINVAL));
        assert_eq!(r(&mut k, 1, s.addr(), !0xfff, 2), Err(libc::EINVAL));
        assert_eq!(r(&mut k, 1, s.addr(), GPA, 1), Err(libc::EINVAL), "{g:?}: not private yet");
        make_private(&k.state, GPA, PAGE);
        assert_eq!(r(&mut k, 1, s.addr(), GPA, 1), Ok(()));
    }
}

/// tdx.c `tdx_gmem_post_populate`: no source page is EOPNOTSUPP in mainline; v8 23/46 adds the page
/// in place. Because `tdx_vcpu_init_mem_region` advances `source_addr` unconditionally, a NULL source
/// becomes 0x1000 on the second page and the pin fails (EFAULT): in place, one page per call.
#[test]
fn rule_tdx_null_source_only_in_place_and_one_page_per_call() {
    let mut m = tdx(Generation::Mainline);
    make_private(&m.state, GPA, PAGE);
    let e = m.init_mem_region(0, 1, &mut KvmTdxInitMemRegion { source_addr: 0, gpa: GPA, nr_pages: 1 }).unwrap_err();
    assert_eq!(e.errno, libc::EOPNOTSUPP);
    let mut v = tdx(Generation::InPlace);
    make_private(&v.state, GPA, 2 * PAGE);
    let mut r = KvmTdxInitMemRegion { source_addr: 0, gpa: GPA, nr_pages: 2 };
    assert_eq!(v.init_mem_region(0, 1, &mut r).map_err(|e| e.errno), Err(libc::EFAULT));
    assert_eq!((r.gpa, r.nr_pages, r.source_addr), (GPA + PAGE, 1, PAGE), "the first page went in");
    let mut r = KvmTdxInitMemRegion { source_addr: 0, gpa: GPA + PAGE, nr_pages: 1 };
    assert_eq!(v.init_mem_region(0, 1, &mut r), Ok(()));
}

/// tdx.c `tdx_vcpu_init_mem_region`: a pending signal ends the loop with EINTR and the region
/// written back advanced past the pages added.
#[test]
fn rule_tdx_partial_progress_is_written_back() {
    for g in GENS {
        let mut k = tdx(g);
        make_private(&k.state, GPA, 4 * PAGE);
        k.signal_after.push_back(2);
        let s = src(4);
        let mut r = KvmTdxInitMemRegion { source_addr: s.addr(), gpa: GPA, nr_pages: 4 };
        assert_eq!(k.init_mem_region(0, 1, &mut r).map_err(|e| e.errno), Err(libc::EINTR));
        assert_eq!((r.source_addr, r.gpa, r.nr_pages), (s.addr() + 2 * PAGE, GPA + 2 * PAGE, 2));
    }
}

/// tdx.c `tdx_td_init`: attributes or XFAM the capabilities do not offer are EINVAL; HwTdx refuses
/// them before the ioctl, naming the bits and KVM_TDX_CAPABILITIES.
#[test]
fn rule_tdx_td_params_within_capabilities() {
    let s = KernelState::new(Generation::InPlace);
    let mut k = FakeTdxKernel::new(s.clone());
    assert!(k.init_vm(&TdParams { attributes: 1 << 30, xfam: 0x7 }).is_err());
    let mut fake = FakeTdxKernel::new(s);
    fake.caps.supported_xfam = 0x3;
    let e = HwTdx::start(fake, prelaunch_measure::plan::PageOrder::Single, 0x80_9000).err().unwrap().to_string();
    assert!(e.contains("XFAM") && e.contains("KVM_TDX_CAPABILITIES") && e.contains("0x4"), "{e}");
}

// ---- whole launches ----

/// Runs `plan` through `g`: the loader's own phases (copy, convert, populate, finish) against the
/// fake memory and ioctls.
fn launch(g: Generation, checked: &CheckedPlan<'_>, expected: &Measurement) -> Result<Outcome, LoadError> {
    let plan = checked.plan();
    let state = KernelState::new(g);
    let mut mem = FakeMemory::create(state.clone(), &plan.regions)?;
    let mut t = Timings::default();
    let fail = |source| LoadError::Platform { phase: "create", source };
    match plan.mode {
        Mode::Snp => {
            let snp = plan.snp.as_ref().unwrap();
            let Measurement::Sha384(expected) = *expected else { unreachable!() };
            let params = SnpParams { policy: snp.policy, guest_features: snp.guest_features, expected, id_key: None };
            let mut p = HwSnp::start(FakeSnpKernel::new(state.clone()), params).map_err(fail)?;
            let out = run_phases(checked, &mut mem, &mut p, &mut t)?;
            assert_eq!(out.finish.source, DigestSource::IdBlockEnforced);
            Ok(Outcome { digest: p.ioctls().finished.map(Measurement::Sha384), in_place: out.populate.in_place })
        }
        _ => {
            let hob = 0x80_9000;
            let mut p = HwTdx::start(FakeTdxKernel::new(state.clone()), plan.tdx.unwrap_or_default().page_order, hob).map_err(fail)?;
            let out = run_phases(checked, &mut mem, &mut p, &mut t)?;
            Ok(Outcome { digest: p.ioctls().mrtd_final.map(Measurement::Sha384), in_place: out.populate.in_place })
        }
    }
}

struct Outcome {
    digest: Option<Measurement>,
    in_place: bool,
}

fn firmware_dir() -> PathBuf {
    let d = std::env::var_os("PRELAUNCH_FIRMWARE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/firmware"));
    assert!(d.is_dir(), "{} not found: set PRELAUNCH_FIRMWARE_DIR to the real firmware", d.display());
    d
}

/// The plans an image yields: SNP with 1 and 4 vCPUs on two CPU models, TDX in the single-pass order.
fn plans<'a>(img: &FirmwareImage<'a>) -> Vec<(String, CheckedPlan<'a>)> {
    let mut out = Vec::new();
    for (vcpus, model) in [(1, "EPYC-v4"), (4, "EPYC-Genoa")] {
        let mut cfg = AmdConfig::new(Mode::Snp);
        cfg.vcpus = vcpus;
        cfg.vcpu_sig = cpu::by_name(model).unwrap();
        if let Ok(p) = plan::sev::build(img, &cfg) {
            out.push((format!("snp/{vcpus}/{model}"), p));
        }
    }
    if let Ok(p) = plan::tdx::build(img, TdxPolicy::default()) {
        out.push(("tdx".into(), p));
    }
    out
}

/// Every plan the real firmware yields launches through both generations, in place on v8 and from
/// source buffers on mainline, and the digest the fake firmware / TDX module computed from the
/// loaded pages equals measure's fold (for SNP the ID block enforced it too).
#[test]
fn every_firmware_plan_loads_through_both_kernel_generations() {
    let dir = firmware_dir();
    let mut launched = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(img) = FirmwareImage::parse(&bytes) else { continue };
        for (what, plan) in plans(&img) {
            let expected = fold(&plan);
            for g in GENS {
                let out = launch(g, &plan, &expected).unwrap_or_else(|e| panic!("{} {what} on {g:?}: {e}", path.display()));
                assert_eq!(out.digest, Some(expected), "{} {what} on {g:?}", path.display());
                assert_eq!(out.in_place, g == Generation::InPlace, "{} {what}: the path follows the kernel", path.display());
                launched.push(format!("{}:{what}:{g:?}", path.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    for must in [
        "bookworm_OVMF.fd:snp/4/EPYC-Genoa:Mainline",
        "bookworm_OVMF.fd:tdx:InPlace",
        "trixie_OVMF_CODE_4M.fd:snp/1/EPYC-v4:InPlace",
        "synth-tdvf.bin:tdx:Mainline",
    ] {
        assert!(launched.iter().any(|l| l == must), "{must} missing from {launched:?}");
    }
}

/// The firmware model refuses a launch whose digest is not the ID block's (BAD_MEASUREMENT), on
/// both generations: the fakes check, they do not echo.
#[test]
fn a_wrong_expected_digest_is_refused_by_the_firmware() {
    let bytes = std::fs::read(firmware_dir().join("bookworm_OVMF.fd")).unwrap();
    let img = FirmwareImage::parse(&bytes).unwrap();
    let (_, plan) = plans(&img).remove(0);
    for g in GENS {
        let e = launch(g, &plan, &Measurement::Sha384([7; 48])).err().unwrap().to_string();
        assert!(e.contains("BAD_MEASUREMENT"), "{g:?}: {e}");
    }
}
