//! Properties of launch plans: the digest is a function of the ordered page updates only, so how
//! operations are split into populate calls, and where alignment padding lies, never changes it; and
//! every measured byte does.

use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest;
use prelaunch_measure::plan::merge::{continues, split_pages};
use prelaunch_measure::plan::sev::{AmdConfig, build};
use prelaunch_measure::plan::{
    self, CheckedPlan, InputKind, Inputs, Mode, Operation, PageAugPolicy, PageOrder, REGION_ALIGN, RegionPurpose, Source, TdxPolicy,
};
use prelaunch_measure::snp::{KernelHashes, Vmm};
use prelaunch_testdata::{random_snp_layout, random_tdx_layout};
use proptest::prelude::*;

fn snp_plan<'a>(img: &FirmwareImage<'a>, vcpus: u32, vmm: Vmm, kernel: bool) -> CheckedPlan<'a> {
    let mut cfg = AmdConfig::new(Mode::Snp);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = 0xa00f11;
    cfg.vmm = vmm;
    let has_hashes = img.support().kernel_hashes.is_empty();
    cfg.kernel = (kernel && has_hashes).then(|| KernelHashes::new(b"kernel", Some(b"initrd"), Some(b"console=ttyS0")));
    build(img, &cfg).expect("random layouts are valid")
}

fn tdx_plan<'a>(img: &FirmwareImage<'a>) -> CheckedPlan<'a> {
    plan::tdx::build(img, TdxPolicy { page_order: PageOrder::Single, page_aug: PageAugPolicy::Add }).expect("valid")
}

/// Merges 4 KiB operations back into runs that never cross a 2 MiB boundary.
fn merge_within_2m(ops: &[Operation]) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::new();
    for op in ops {
        match out.last_mut() {
            Some(last) if continues(last, op) && last.gpa / REGION_ALIGN == (op.end() - 1) / REGION_ALIGN => last.len += op.len,
            _ => out.push(op.clone()),
        }
    }
    out
}

fn with_ops<'a>(plan: &CheckedPlan<'a>, ops: Vec<Operation>) -> CheckedPlan<'a> {
    let mut p = plan.plan().clone();
    p.operations = ops;
    plan.with_plan(p).expect("re-split plan stays valid")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn splitting_and_merging_runs_keeps_the_digest(seed in 0u64..10_000, vcpus in 1u32..6, vmm in 0usize..3, kernel: bool, tdx: bool) {
        let b = if tdx { random_tdx_layout(seed).built() } else { random_snp_layout(seed).built() };
        let img = FirmwareImage::parse(&b.bytes).unwrap();
        let plan = if tdx { tdx_plan(&img) } else { snp_plan(&img, vcpus, Vmm::ALL[vmm], kernel) };
        let d = digest::fold(&plan);
        let split = with_ops(&plan, split_pages(&plan.operations));
        prop_assert!(split.operations.len() >= plan.operations.len());
        prop_assert_eq!(digest::fold(&split), d);
        let merged = with_ops(&plan, merge_within_2m(&split.operations));
        prop_assert_eq!(digest::fold(&merged), d);
    }

    #[test]
    fn shifting_padding_changes_nothing(seed in 0u64..10_000, grow in 1u64..4) {
        let b = random_snp_layout(seed).built();
        let img = FirmwareImage::parse(&b.bytes).unwrap();
        let plan = snp_plan(&img, 2, Vmm::Qemu, false);
        let d = digest::fold(&plan);
        // Move the firmware region's start down: more padding, same populated pages.
        let mut shifted = plan.plan().clone();
        let r = shifted.regions.iter_mut().find(|r| r.purpose == RegionPurpose::Firmware).unwrap();
        let pad = grow * REGION_ALIGN;
        prop_assume!(r.gpa >= pad);
        let old_start = r.gpa;
        r.gpa -= pad;
        r.size += pad;
        let Ok(shifted) = plan.with_plan(shifted) else { return Err(TestCaseError::reject("the padding overlaps another region")) };
        prop_assert_eq!(digest::fold(&shifted), d);
        // Padding (the region's bytes below the firmware) is never populated.
        let padding = (old_start - pad, img.gpa_base());
        for op in shifted.operations.iter().filter(|o| !o.is_vmsa()) {
            prop_assert!(op.end() <= padding.0 || op.gpa >= padding.1, "operation [{:#x}, {:#x}) is in padding", op.gpa, op.end());
        }
    }

    #[test]
    fn any_measured_byte_changes_the_digest(seed in 0u64..10_000, pick in any::<u64>(), tdx: bool) {
        let b = if tdx { random_tdx_layout(seed).built() } else { random_snp_layout(seed).built() };
        let img = FirmwareImage::parse(&b.bytes).unwrap();
        let plan = if tdx { tdx_plan(&img) } else { snp_plan(&img, 1, Vmm::Qemu, false) };
        let d = digest::fold(&plan);
        // The file bytes each operation reads, and whether they are measured.
        let ranges: Vec<(u64, u64, bool)> = plan.operations.iter().filter_map(|o| match &o.source {
            Source::File { offset, .. } => Some((*offset, o.len, o.measured)),
            _ => None,
        }).collect();
        let (off, len, measured) = ranges[(pick % ranges.len() as u64) as usize];
        let at = (off + (pick >> 16) % len) as usize;
        let mut changed = b.bytes.clone();
        changed[at] ^= 1 << (pick % 8);
        // The same plan, claiming the changed bytes.
        let mut other = plan.portable();
        other.inputs[0].sha256 = Some(prelaunch_measure::hash::Sha256::digest(&changed));
        let d2 = digest::fold(&CheckedPlan::new(other, Inputs::new().with(InputKind::Firmware, &changed)).unwrap());
        if measured {
            prop_assert_ne!(d2, d, "byte {:#x} is measured", at);
        } else {
            prop_assert_eq!(d2, d, "byte {:#x} is only added, not extended", at);
        }
    }
}

#[test]
fn two_pass_depends_on_call_boundaries_and_is_never_merged() {
    // Documented asymmetry: the QEMU 8.2-era order is defined per populate call, so the builder keeps
    // one call per section; splitting a call changes MRTD.
    let b = random_tdx_layout(7).built();
    let img = FirmwareImage::parse(&b.bytes).unwrap();
    let plan = plan::tdx::build(&img, TdxPolicy { page_order: PageOrder::TwoPass, page_aug: PageAugPolicy::Add }).unwrap();
    assert_eq!(plan.operations.len(), img.tdvf.as_ref().unwrap().sections.len());
    let d = digest::fold(&plan);
    let split = with_ops(&plan, split_pages(&plan.operations));
    let extended_multi_page = plan.operations.iter().any(|o| o.measured && o.len > 4096);
    assert_eq!(digest::fold(&split) != d, extended_multi_page);
}
