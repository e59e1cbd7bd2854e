//! The rules every plan passes before anything folds or loads it, whether just built or read from a
//! file. Each rule exists because without it the fold and a platform could disagree (a `match NO` for
//! a plan that passed, or an ID block carrying a digest the firmware never computes), or because the
//! firmware would refuse the launch. [`super::CheckedPlan`] is the proof that they ran.

use super::{
    LaunchPlan, LaunchProblem, Mode, OpKind, OpProblem, Operation, PAGE_SIZE, PLAN_VERSION, PlanError, REGION_ALIGN, Region, RegionProblem,
    Source, layout,
};
use crate::snp::vmsa::{VMSA_GPA, off};

/// Launch plans populate firmware and metadata, not guest RAM: anything larger is a lie.
pub const MAX_PLAN_MEMORY: u64 = 4 << 30;
/// KVM's vCPU limit (KVM_MAX_VCPUS on x86): the most VMSAs a plan, and the most vCPUs any command, takes.
pub const MAX_VCPUS: u32 = 4096;
/// SEV and SEV-ES LAUNCH_UPDATE_DATA: the address and length must be 16-byte multiples.
const SEV_ALIGN: u64 = 16;

/// Checks the plan's own consistency (no input bytes needed).
pub fn check(plan: &LaunchPlan) -> Result<(), PlanError> {
    if plan.version != PLAN_VERSION {
        return Err(PlanError::Version { found: plan.version.into(), expected: PLAN_VERSION });
    }
    let regions = check_regions(plan)?;
    check_blocks(plan)?;
    let mut mem_spans = Vec::new();
    let mut vmsas = 0usize;
    for (index, op) in plan.operations.iter().enumerate() {
        let fail = |problem| PlanError::Operation { index, kind: op.kind, gpa: op.gpa, problem };
        check_operation(plan, op).map_err(fail)?;
        if op.is_vmsa() {
            let vcpu = op.vcpu.ok_or(fail(OpProblem::VmsaWithoutVcpu))?;
            // KVM measures the VMSAs at launch finish in vCPU order: the fold must meet them in that
            // order, numbered from 0 without gaps.
            if vcpu as usize != vmsas && !plan.vmsas_as_placed {
                return Err(fail(OpProblem::VcpuOrder { vcpu, position: vmsas }));
            }
            vmsas += 1;
            continue;
        }
        if vmsas > 0 && !plan.vmsas_as_placed {
            return Err(fail(OpProblem::AfterVmsas { kind: op.kind }));
        }
        if op.vcpu.is_some() {
            return Err(fail(OpProblem::VcpuOnMemory { kind: op.kind }));
        }
        if !inside_one(&regions, op) {
            return Err(fail(OpProblem::OutsideRegions { gpa: op.gpa, end: op.end() }));
        }
        mem_spans.push(layout::Span::new(op.gpa, op.len, format!("operation {index} ({} at {:#x})", op.kind.name(), op.gpa)));
    }
    layout::check_disjoint(&mem_spans)?;
    check_vcpus(plan, vmsas)
}

/// Regions: 2 MiB aligned, non-empty, bounded in total, disjoint. Returns them sorted by GPA.
fn check_regions(plan: &LaunchPlan) -> Result<Vec<&Region>, PlanError> {
    for (index, r) in plan.regions.iter().enumerate() {
        let fail = |problem| PlanError::Region { index, name: r.name.clone(), problem };
        for (field, value) in [("gpa", r.gpa), ("size", r.size), ("gmem_offset", r.gmem_offset)] {
            if !value.is_multiple_of(REGION_ALIGN) {
                return Err(fail(RegionProblem::Misaligned { field, value }));
            }
        }
        if r.size == 0 || r.gpa.checked_add(r.size).is_none() {
            return Err(fail(RegionProblem::Empty { gpa: r.gpa, size: r.size }));
        }
    }
    let total: u64 = plan.regions.iter().map(|r| r.size).fold(0, u64::saturating_add);
    if total > MAX_PLAN_MEMORY {
        return Err(PlanError::TooMuchMemory { total, max: MAX_PLAN_MEMORY });
    }
    let spans: Vec<layout::Span> = plan.regions.iter().map(|r| layout::Span::new(r.gpa, r.size, format!("region {}", r.name))).collect();
    layout::check_disjoint(&spans)?;
    let mut sorted: Vec<&Region> = plan.regions.iter().collect();
    sorted.sort_by_key(|r| r.gpa);
    Ok(sorted)
}

/// Whether `op` lies inside one region (`regions` sorted and disjoint: the last starting at or
/// below it is the only candidate).
fn inside_one(regions: &[&Region], op: &Operation) -> bool {
    let i = regions.partition_point(|r| r.gpa <= op.gpa);
    i > 0 && regions[i - 1].contains(op.gpa, op.len)
}

/// The mode's launch block is present, and no other.
fn check_blocks(plan: &LaunchPlan) -> Result<(), PlanError> {
    let mode = plan.mode;
    let problem = match (mode, &plan.snp, &plan.tdx) {
        (Mode::Snp, None, _) => LaunchProblem::MissingSnp,
        (Mode::Tdx, _, None) => LaunchProblem::MissingTdx,
        (Mode::Snp, Some(_), Some(_)) | (Mode::Sev | Mode::SevEs, _, Some(_)) => LaunchProblem::UnexpectedTdx { mode },
        (Mode::Tdx | Mode::Sev | Mode::SevEs, Some(_), _) => LaunchProblem::UnexpectedSnp { mode },
        (Mode::Snp, Some(snp), None) => return crate::snp::policy::check(snp.policy).map_err(|e| LaunchProblem::Policy(e).into()),
        _ => return Ok(()),
    };
    Err(problem.into())
}

/// The kinds a mode's platform has.
fn kind_in_mode(kind: OpKind, mode: Mode) -> bool {
    match mode {
        Mode::Sev => kind == OpKind::Normal,
        Mode::SevEs => matches!(kind, OpKind::Normal | OpKind::Vmsa),
        Mode::Snp => !kind.is_tdx(),
        Mode::Tdx => kind.is_tdx(),
    }
}

/// One operation on its own: length, kind, alignment, source, size of single-page kinds.
fn check_operation(plan: &LaunchPlan, op: &Operation) -> Result<(), OpProblem> {
    if op.len == 0 {
        return Err(OpProblem::Empty);
    }
    if op.gpa.checked_add(op.len).is_none() {
        return Err(OpProblem::Overflow { len: op.len });
    }
    if !kind_in_mode(op.kind, plan.mode) {
        return Err(OpProblem::WrongMode { mode: plan.mode });
    }
    if op.measured != op.kind.measures_contents() {
        let expected = if op.kind.measures_contents() { "measured" } else { "not measured" };
        return Err(OpProblem::MeasuredFlag { measured: op.measured, kind: op.kind, expected });
    }
    let align = if matches!(plan.mode, Mode::Snp | Mode::Tdx) { PAGE_SIZE } else { SEV_ALIGN };
    if !op.gpa.is_multiple_of(align) || !op.len.is_multiple_of(align) {
        return Err(OpProblem::Unaligned { len: op.len, align });
    }
    if matches!(op.kind, OpKind::Vmsa | OpKind::Secrets | OpKind::Cpuid) && op.len != PAGE_SIZE {
        return Err(OpProblem::NotOnePage { kind: op.kind, len: op.len });
    }
    if op.is_vmsa() && op.gpa != VMSA_GPA && !plan.vmsas_as_placed {
        return Err(OpProblem::VmsaGpa { gpa: op.gpa, expected: VMSA_GPA });
    }
    if op.kind.needs_source() && op.source == Source::None {
        return Err(OpProblem::NeedsSource { kind: op.kind });
    }
    if !op.kind.takes_source() && op.source != Source::None {
        return Err(OpProblem::TakesNoSource { kind: op.kind });
    }
    match &op.source {
        Source::None => Ok(()),
        Source::File { file, offset } => {
            let f = plan.input(*file).ok_or(OpProblem::UnknownInput { kind: *file })?;
            if offset.checked_add(op.len).is_none_or(|e| e > f.size) {
                return Err(OpProblem::OutsideInput { kind: *file, offset: *offset, len: op.len, size: f.size });
            }
            Ok(())
        }
        Source::Page { page } => {
            let p = plan.pages.get(page).ok_or_else(|| OpProblem::UnknownPage { page: page.clone() })?;
            if p.0.len() as u64 != op.len {
                return Err(OpProblem::PageLength { page: page.clone(), held: p.0.len(), len: op.len });
            }
            Ok(())
        }
    }
}

/// The VMSAs against the launch parameters: their number, and (SNP) the SEV features the hw platform
/// hands KVM, which must be the ones measured in the pages.
fn check_vcpus(plan: &LaunchPlan, vmsas: usize) -> Result<(), PlanError> {
    if vmsas > MAX_VCPUS as usize {
        return Err(LaunchProblem::TooManyVcpus { vmsas, max: MAX_VCPUS as usize }.into());
    }
    if plan.mode == Mode::Sev && vmsas > 0 {
        return Err(LaunchProblem::VmsaInSev { mode: plan.mode }.into());
    }
    let Some(snp) = &plan.snp else { return Ok(()) };
    if snp.vcpus as usize != vmsas {
        return Err(LaunchProblem::VcpuCount { declared: snp.vcpus, vmsas }.into());
    }
    if plan.vmsas_as_placed {
        // The file's VMSAs are measured as the file holds them, features included.
        return Ok(());
    }
    for (index, op) in plan.operations.iter().enumerate().filter(|(_, o)| o.is_vmsa()) {
        let page = match &op.source {
            Source::Page { page } => plan.pages.get(page).map(|p| &p.0[..]),
            _ => None,
        };
        // A VMSA read from a file is bound only when the inputs are; its features are then whatever
        // the file holds, which the platform measures as given.
        let Some(found) = page.and_then(|p| p.get(off::SEV_FEATURES..off::SEV_FEATURES + 8)) else { continue };
        let found = u64::from_le_bytes(found.try_into().unwrap_or_default());
        if found != snp.guest_features {
            let problem = OpProblem::VmsaFeatures { vcpu: op.vcpu.unwrap_or_default(), found, expected: snp.guest_features };
            return Err(PlanError::Operation { index, kind: op.kind, gpa: op.gpa, problem });
        }
    }
    Ok(())
}
