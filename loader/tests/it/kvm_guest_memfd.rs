//! The real memory path on this host's KVM: one guest_memfd per region mapped 2 MiB-aligned and
//! bound as a memslot, the image copied in once, and a vCPU that reads it back through its GPAs.
//! Skipped loudly without /dev/kvm (failing instead under PRELAUNCH_REQUIRE_KVM=1).

use crate::common;

use common::*;
use prelaunch_loader::memory::convert::ConversionPath;
use prelaunch_loader::{LoadOptions, MemoryChoice, MemoryKind, PlatformChoice, SimFaults, load};
use prelaunch_measure::digest;
use prelaunch_measure::plan::{Mode, PageOrder};

#[test]
fn guest_memfd_regions_are_aligned_bound_and_read_back_by_a_vcpu() {
    if !kvm_or_skip("guest_memfd_regions_are_aligned_bound_and_read_back_by_a_vcpu") {
        return;
    }
    let fw = firmware("bookworm_OVMF.fd");
    for plan in [amd_plan(&fw, Mode::Snp, 2), tdx_plan(&fw, PageOrder::Single)] {
        let checked = &plan;
        let r = load(checked, LoadOptions { memory: MemoryChoice::GuestMemfd, check_guest: true, ..Default::default() }).unwrap();
        assert_eq!(r.memory, MemoryKind::GuestMemfd);
        assert_eq!(r.regions.len(), plan.regions.len());
        for (i, reg) in r.regions.iter().enumerate() {
            assert_eq!(reg.host_addr % (2 << 20), 0, "{reg:?}");
            assert_eq!(reg.slot, Some(i as u32));
        }
        assert_eq!(
            r.copied_bytes,
            plan.operations
                .iter()
                .filter(|o| !o.is_vmsa() && o.source != prelaunch_measure::plan::Source::None)
                .map(|o| o.len)
                .sum::<u64>()
        );
        // This host's KVM cannot convert; the sim models it and says so.
        assert_eq!(r.conversion.path, ConversionPath::Modelled);
        assert_eq!(r.digest, Some(digest::fold(&plan)));
        let g = r.guest_check.expect("guest check ran");
        assert!(g.ok(), "{g:?}");
        assert!(g.pages >= 512, "the whole 2 MiB firmware is sampled: {g:?}");
    }
}

#[test]
fn the_guest_probe_sees_a_byte_changed_in_guest_memory() {
    if !kvm_or_skip("the_guest_probe_sees_a_byte_changed_in_guest_memory") {
        return;
    }
    let fw = firmware("bookworm_OVMF.fd");
    let plan = amd_plan(&fw, Mode::Snp, 1);
    let checked = &plan;
    // Page 3 of the firmware samples the word at offset 3 * 264 & 0xff8 = 0x318.
    let target = plan.operations[0].gpa + 3 * 4096 + 0x318 + 2;
    let faults = SimFaults { corrupt: vec![target], ..Default::default() };
    let r = load(
        checked,
        LoadOptions { memory: MemoryChoice::GuestMemfd, platform: PlatformChoice::Sim(faults), check_guest: true, ..Default::default() },
    )
    .unwrap();
    let g = r.guest_check.unwrap();
    let bad = g.first_mismatch().expect("the vCPU read the changed byte");
    assert_eq!(bad.gpa, plan.operations[0].gpa);
    assert_ne!(r.digest, Some(digest::fold(&plan)));
}
