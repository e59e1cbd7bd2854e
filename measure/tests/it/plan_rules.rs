//! The table of bad plans: each edit of a valid plan breaks one rule of `plan::check`, and the check
//! names that rule (the variant, not a substring). Every rule is there because without it the fold
//! and a platform could disagree about a plan that passed.

use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest;
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::plan::sev::{AmdConfig, build};
use prelaunch_measure::plan::{
    self, CheckedPlan, InputKind, InputProblem, Inputs, LaunchPlan, LaunchProblem, Mode, OpKind, OpProblem, Operation, PageBytes,
    PlanError, Source, TdxPolicy,
};
use prelaunch_measure::snp::policy::PolicyError;
use prelaunch_measure::snp::vmsa::VMSA_GPA;
use prelaunch_testdata::ImageBuilder;

fn snp(fw: &[u8], vcpus: u32) -> CheckedPlan<'_> {
    let img = FirmwareImage::parse(fw).unwrap();
    let mut cfg = AmdConfig::new(Mode::Snp);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = 0x800f12;
    build(&img, &cfg).unwrap()
}

fn first(plan: &LaunchPlan, kind: OpKind) -> usize {
    plan.operations.iter().position(|o| o.kind == kind).unwrap()
}

type Edit = Box<dyn Fn(&mut LaunchPlan)>;
/// Whether an error names the rule a case breaks.
type Named = fn(&PlanError) -> bool;

/// The operation rule an edit breaks, as `(index, problem)`.
fn op_error(e: &PlanError) -> Option<(usize, &OpProblem)> {
    match e {
        PlanError::Operation { index, problem, .. } => Some((*index, problem)),
        _ => None,
    }
}

#[test]
fn every_broken_rule_is_named() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(5).build();
    let base = snp(&fw, 3);
    let vmsa = first(&base, OpKind::Vmsa);
    let zero = first(&base, OpKind::Zero);
    let secrets = first(&base, OpKind::Secrets);
    let cases: Vec<(&str, Edit, Named)> = vec![
        (
            "zero moved after the VMSAs",
            Box::new(move |p| {
                let z = p.operations.remove(zero);
                p.operations.push(z);
            }),
            |e| matches!(op_error(e), Some((_, OpProblem::AfterVmsas { kind: OpKind::Zero }))),
        ),
        ("a VMSA in guest memory", Box::new(move |p| p.operations[vmsa].gpa = 0x80_0000), |e| {
            matches!(op_error(e), Some((_, OpProblem::VmsaGpa { gpa: 0x80_0000, expected: VMSA_GPA })))
        }),
        ("vCPU 4294967295", Box::new(move |p| p.operations[vmsa].vcpu = Some(u32::MAX)), |e| {
            matches!(op_error(e), Some((_, OpProblem::VcpuOrder { vcpu: u32::MAX, position: 0 })))
        }),
        ("vCPUs swapped", Box::new(move |p| p.operations.swap(vmsa, vmsa + 1)), |e| {
            matches!(op_error(e), Some((_, OpProblem::VcpuOrder { vcpu: 1, position: 0 })))
        }),
        ("a VMSA without a vCPU", Box::new(move |p| p.operations[vmsa].vcpu = None), |e| {
            matches!(op_error(e), Some((_, OpProblem::VmsaWithoutVcpu)))
        }),
        ("a vCPU on a memory operation", Box::new(move |p| p.operations[zero].vcpu = Some(0)), |e| {
            matches!(op_error(e), Some((_, OpProblem::VcpuOnMemory { kind: OpKind::Zero })))
        }),
        ("a two-page VMSA", Box::new(move |p| p.operations[vmsa].len = 0x2000), |e| {
            matches!(op_error(e), Some((_, OpProblem::NotOnePage { kind: OpKind::Vmsa, len: 0x2000 })))
        }),
        ("a two-page SECRETS run", Box::new(move |p| p.operations[secrets].len = 0x2000), |e| {
            matches!(op_error(e), Some((_, OpProblem::NotOnePage { kind: OpKind::Secrets, .. })))
        }),
        ("snp.vcpus disagreeing with the VMSAs", Box::new(|p| p.snp.as_mut().unwrap().vcpus = 4), |e| {
            matches!(e, PlanError::Launch(LaunchProblem::VcpuCount { declared: 4, vmsas: 3 }))
        }),
        ("no snp block", Box::new(|p| p.snp = None), |e| matches!(e, PlanError::Launch(LaunchProblem::MissingSnp))),
        ("a tdx block in an snp plan", Box::new(|p| p.tdx = Some(Default::default())), |e| {
            matches!(e, PlanError::Launch(LaunchProblem::UnexpectedTdx { mode: Mode::Snp }))
        }),
        ("policy without the must-be-one bit 17", Box::new(|p| p.snp.as_mut().unwrap().policy = 0x1_0000), |e| {
            matches!(e, PlanError::Launch(LaunchProblem::Policy(PolicyError::ReservedBit17Clear(0x1_0000))))
        }),
        ("policy with reserved bits", Box::new(|p| p.snp.as_mut().unwrap().policy = 0x3_0000 | (1 << 40)), |e| {
            matches!(e, PlanError::Launch(LaunchProblem::Policy(PolicyError::ReservedBitsSet { .. })))
        }),
        ("guest features the VMSAs do not carry", Box::new(|p| p.snp.as_mut().unwrap().guest_features = 0x21), |e| {
            matches!(op_error(e), Some((_, OpProblem::VmsaFeatures { vcpu: 0, found: 1, expected: 0x21 })))
        }),
        ("a TDX kind in an snp plan", Box::new(move |p| p.operations[zero].kind = OpKind::TdxAdd), |e| {
            matches!(op_error(e), Some((_, OpProblem::WrongMode { mode: Mode::Snp })))
        }),
        ("a measured ZERO page", Box::new(move |p| p.operations[zero].measured = true), |e| {
            matches!(op_error(e), Some((_, OpProblem::MeasuredFlag { measured: true, .. })))
        }),
        ("an unknown input", Box::new(|p| p.operations[0].source = Source::File { file: InputKind::Kernel, offset: 0 }), |e| {
            matches!(op_error(e), Some((0, OpProblem::UnknownInput { kind: InputKind::Kernel })))
        }),
        (
            "a generated page of the wrong length",
            Box::new(move |p| {
                p.pages.insert("vmsa-bsp".into(), PageBytes(vec![0; 100]));
            }),
            |e| matches!(op_error(e), Some((_, OpProblem::PageLength { held: 100, .. }))),
        ),
        ("an operation outside every region", Box::new(move |p| p.operations[zero].gpa = 0x10_0000_0000), |e| {
            matches!(op_error(e), Some((_, OpProblem::OutsideRegions { .. })))
        }),
        ("an empty operation", Box::new(move |p| p.operations[zero].len = 0), |e| matches!(op_error(e), Some((_, OpProblem::Empty)))),
        ("an unaligned operation", Box::new(move |p| p.operations[zero].gpa += 0x10), |e| {
            matches!(op_error(e), Some((_, OpProblem::Unaligned { align: 4096, .. })))
        }),
        ("a future version", Box::new(|p| p.version = 3), |e| matches!(e, PlanError::Version { found: 3, expected: 2 })),
    ];
    for (what, edit, named) in cases {
        let mut p = base.plan().clone();
        edit(&mut p);
        let e = base.with_plan(p).err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(named(&e), "{what}: wrong rule: {e:?}");
        assert!(!e.to_string().is_empty(), "{what}");
    }
}

#[test]
fn sev_and_tdx_plans_have_their_own_rules() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(6).build();
    let img = FirmwareImage::parse(&fw).unwrap();
    let mut cfg = AmdConfig::new(Mode::SevEs);
    cfg.vcpus = 2;
    let seves = build(&img, &cfg).unwrap();
    let vmsa = first(&seves, OpKind::Vmsa);

    let mut sev = seves.plan().clone();
    sev.mode = Mode::Sev;
    let e = seves.with_plan(sev).unwrap_err();
    assert!(matches!(op_error(&e), Some((i, OpProblem::WrongMode { mode: Mode::Sev })) if i == vmsa), "{e:?}");

    let mut unaligned = seves.plan().clone();
    unaligned.operations.insert(0, Operation::new(0x80_0008, 0x10, OpKind::Normal, Source::File { file: InputKind::Firmware, offset: 0 }));
    let e = seves.with_plan(unaligned).unwrap_err();
    assert!(matches!(op_error(&e), Some((0, OpProblem::Unaligned { align: 16, .. }))), "{e:?}");

    let mut with_snp = seves.plan().clone();
    with_snp.snp = snp(&fw, 1).snp.clone();
    assert!(matches!(seves.with_plan(with_snp).unwrap_err(), PlanError::Launch(LaunchProblem::UnexpectedSnp { mode: Mode::SevEs })));

    let tdx = plan::tdx::build(&img, TdxPolicy::default()).unwrap();
    let mut no_block = tdx.plan().clone();
    no_block.tdx = None;
    assert!(matches!(tdx.with_plan(no_block).unwrap_err(), PlanError::Launch(LaunchProblem::MissingTdx)));
}

#[test]
fn every_input_is_identified_by_its_sha256() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(7).build();
    let mut same_size = fw.clone();
    same_size[0x1000] ^= 1;
    let built = snp(&fw, 1);
    let inputs = |b| Inputs::new().with(InputKind::Firmware, b);

    // A built plan carries no hashes until it leaves the process; then it must be the same bytes.
    assert!(
        CheckedPlan::new(built.plan().clone(), inputs(&fw))
            .is_err_and(|e| matches!(e, PlanError::Input { kind: InputKind::Firmware, problem: InputProblem::Unidentified }))
    );
    let portable = built.portable();
    assert_eq!(portable.inputs[0].sha256, Some(Sha256::digest(&fw)));
    let e = CheckedPlan::new(portable.clone(), inputs(&same_size)).unwrap_err();
    assert!(matches!(e, PlanError::Input { kind: InputKind::Firmware, problem: InputProblem::Sha256 { .. } }), "{e:?}");
    let e = CheckedPlan::new(portable.clone(), inputs(&fw[..4096])).unwrap_err();
    assert!(matches!(e, PlanError::Input { problem: InputProblem::Size { found: 4096, .. }, .. }), "{e:?}");
    let e = CheckedPlan::new(portable.clone(), Inputs::new()).unwrap_err();
    assert!(matches!(e, PlanError::Input { problem: InputProblem::Missing, .. }), "{e:?}");
    let mut twice = portable.clone();
    twice.inputs.push(twice.inputs[0].clone());
    assert!(matches!(CheckedPlan::new(twice, inputs(&fw)).unwrap_err(), PlanError::Input { problem: InputProblem::Duplicate, .. }));

    // Through JSON and back: the same plan, the same digest.
    let text = serde_json::to_vec(&portable).unwrap();
    let read = LaunchPlan::from_json(&text).unwrap();
    assert_eq!(digest::fold(&CheckedPlan::new(read, inputs(&fw)).unwrap()), digest::fold(&built));
    assert!(serde_json::to_vec(built.plan()).is_err(), "an unidentified plan is never written");
}

#[test]
fn other_plan_versions_are_refused_by_name() {
    let fw = ImageBuilder::ovmf_like(256 << 10).seed(8).build();
    let mut v = serde_json::to_value(snp(&fw, 1).portable()).unwrap();
    v["version"] = 1.into();
    // A version-1 plan named its inputs `name`; the version is what the message is about.
    v["inputs"][0]["name"] = "firmware".into();
    let e = LaunchPlan::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert_eq!(e, PlanError::Version { found: 1, expected: 2 });
    assert!(e.to_string().contains("regenerate the plan"), "{e}");
    assert!(matches!(LaunchPlan::from_json(b"{}").unwrap_err(), PlanError::Json(_)));
    assert!(matches!(LaunchPlan::from_json(b"[1,2]").unwrap_err(), PlanError::Json(_)));
}
