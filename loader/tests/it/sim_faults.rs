//! The sim platform through the whole loader: its digest, recomputed from guest memory, equals
//! measure's fold in every mode; injected faults (partial progress, EINTR on populate, EAGAIN on
//! conversion) are resumed without changing it; a byte changed after the copy is caught and located.
//! Memory is memfd here so these run anywhere; the guest_memfd path is covered by kvm_*.rs.

use crate::common;

use common::*;
use prelaunch_loader::record::first_difference;
use prelaunch_loader::{CheckedPlan, LoadError, LoadOptions, LoadReport, MemoryChoice, PlatformChoice, SimFaults, load};
use prelaunch_measure::digest;
use prelaunch_measure::plan::{InputKind, InputProblem, Inputs, Mode, PageOrder, PlanError, RegionProblem};
use prelaunch_testdata::ImageBuilder;

fn run(plan: &CheckedPlan<'_>, faults: SimFaults) -> Result<LoadReport, LoadError> {
    load(plan, LoadOptions { memory: MemoryChoice::Memfd, platform: PlatformChoice::Sim(faults), ..Default::default() })
}

fn plans(fw: &[u8]) -> Vec<(&'static str, CheckedPlan<'_>)> {
    vec![
        ("snp", amd_plan(fw, Mode::Snp, 3)),
        ("sev", amd_plan(fw, Mode::Sev, 0)),
        ("seves", amd_plan(fw, Mode::SevEs, 2)),
        ("tdx single", tdx_plan(fw, PageOrder::Single)),
        ("tdx two-pass", tdx_plan(fw, PageOrder::TwoPass)),
    ]
}

#[test]
fn sim_digest_equals_the_fold_in_every_mode() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(7).build();
    for (name, plan) in plans(&fw) {
        let want = digest::fold(&plan);
        let r = run(&plan, SimFaults::default()).unwrap();
        assert_eq!(r.digest, Some(want), "{name}");
        assert_eq!(r.memory, prelaunch_loader::MemoryKind::Memfd);
        assert!(r.populate.partial == 0 && r.populate.retries == 0, "{name}: {:?}", r.populate);
    }
}

#[test]
fn sections_touching_at_a_2mib_boundary_load_to_the_folds_digest() {
    // Two zero runs (SEV metadata) and two TempMem sections (TDVF) meet at 0x800000, where the
    // layout starts a new region: the runs must stop there, and every mode must load.
    let fw = ImageBuilder::touching_2m(256 << 10).seed(10).build();
    for (name, plan) in plans(&fw) {
        if matches!(plan.mode, Mode::Snp | Mode::Tdx) {
            let starts: Vec<u64> = plan.regions.iter().map(|r| r.gpa).collect();
            assert!(starts.contains(&0x60_0000) && starts.contains(&0x80_0000), "{name}: {starts:#x?}");
        }
        let r = run(&plan, SimFaults::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.digest, Some(digest::fold(&plan)), "{name}");
    }
}

#[test]
fn partial_progress_eintr_and_eagain_are_resumed_and_the_digest_still_matches() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(8).build();
    let faults = SimFaults { partial_pages: Some(3), eintr_every: Some(2), eagain_every: Some(2), corrupt: vec![] };
    for (name, plan) in plans(&fw) {
        let want = digest::fold(&plan);
        let r = run(&plan, faults.clone()).unwrap();
        assert_eq!(r.digest, Some(want), "{name}");
        assert!(r.populate.partial > 0 && r.populate.retries > 0, "{name}: faults were injected: {:?}", r.populate);
        if matches!(plan.mode, Mode::Snp | Mode::Tdx) {
            assert!(r.conversion.retries > 0, "{name}: EAGAIN on conversion was injected and retried");
        }
    }
}

#[test]
fn a_byte_changed_after_the_copy_is_caught_and_its_page_named() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(9).build();
    for (name, plan) in plans(&fw) {
        let base = plan.operations.iter().find(|o| o.measured && !o.is_vmsa()).unwrap().gpa;
        let target = base + 0x5123;
        let r = run(&plan, SimFaults { corrupt: vec![target], ..Default::default() }).unwrap();
        let want = digest::fold(&plan);
        assert_ne!(r.digest, Some(want), "{name}");
        let d = first_difference(&plan, &r.record).expect("a difference");
        assert_eq!(d.gpa(), base + 0x5000, "{name}: {d}");
        assert!(d.to_string().contains(&format!("{:#x}", base + 0x5000)), "{name}: {d}");
    }
}

#[test]
fn faults_that_never_clear_fail_after_bounded_retries_naming_the_address() {
    let fw = ImageBuilder::ovmf_like(256 << 10).build();
    let plan = amd_plan(&fw, Mode::Snp, 1);
    let e = run(&plan, SimFaults { eintr_every: Some(1), ..Default::default() }).unwrap_err();
    assert!(matches!(e, LoadError::Stalled { op: 0, .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("{:#x}", plan.operations[0].gpa)) && e.to_string().contains("EINTR"), "{e}");
    let e = run(&plan, SimFaults { eagain_every: Some(1), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("EAGAIN") && e.to_string().contains("stopped at GPA"), "{e}");
}

#[test]
fn a_plan_that_fails_the_check_is_refused_before_any_memory() {
    let fw = ImageBuilder::ovmf_like(256 << 10).build();
    let built = amd_plan(&fw, Mode::Snp, 1);
    let mut plan = built.portable();
    plan.regions[0].gpa += 0x1000;
    let e = CheckedPlan::new(plan, Inputs::new().with(InputKind::Firmware, &fw)).unwrap_err();
    assert!(matches!(e, PlanError::Region { index: 0, problem: RegionProblem::Misaligned { field: "gpa", .. }, .. }), "{e:?}");
    assert!(LoadError::from(e).to_string().contains("not a multiple of 2 MiB"));
    let other = ImageBuilder::ovmf_like(256 << 10).seed(99).build();
    let e = CheckedPlan::new(built.portable(), Inputs::new().with(InputKind::Firmware, &other)).unwrap_err();
    assert!(matches!(e, PlanError::Input { kind: InputKind::Firmware, problem: InputProblem::Sha256 { .. } }), "{e:?}");
}
