//! Strict validation of a plan, whether just built or read from a file: everything the loader and the
//! digest folds rely on is checked here once, before any memory is created.

use super::{Inputs, LaunchPlan, Mode, OpKind, PAGE, PLAN_VERSION, PlanError, REGION_ALIGN, Source, layout};
use crate::hash::Sha256;

/// Launch plans populate firmware and metadata, not guest RAM: anything larger is a lie.
pub const MAX_PLAN_MEMORY: u64 = 4 << 30;
/// KVM's vCPU limit.
pub const MAX_VCPUS: usize = 4096;

fn invalid(msg: String) -> PlanError {
    PlanError::Invalid(msg)
}

/// Checks the plan's own consistency (no input bytes needed).
pub fn check(plan: &LaunchPlan) -> Result<(), PlanError> {
    if plan.version != PLAN_VERSION {
        return Err(invalid(format!("version {}, expected {PLAN_VERSION}", plan.version)));
    }
    for (i, r) in plan.regions.iter().enumerate() {
        for (field, v) in [("gpa", r.gpa), ("size", r.size), ("gmem_offset", r.gmem_offset)] {
            if v % REGION_ALIGN != 0 {
                return Err(invalid(format!("region {i} ({}): {field} {v:#x} is not a multiple of 2 MiB", r.name)));
            }
        }
        if r.size == 0 || r.gpa.checked_add(r.size).is_none() {
            return Err(invalid(format!("region {i} ({}): size {:#x} at {:#x} is empty or overflows", r.name, r.size, r.gpa)));
        }
    }
    let total: u64 = plan.regions.iter().map(|r| r.size).fold(0, u64::saturating_add);
    if total > MAX_PLAN_MEMORY {
        return Err(invalid(format!(
            "regions total {total:#x} bytes; a launch plan covers firmware and metadata, at most {MAX_PLAN_MEMORY:#x}"
        )));
    }
    let vmsas = plan.operations.iter().filter(|o| o.is_vmsa()).count();
    if vmsas > MAX_VCPUS {
        return Err(invalid(format!("{vmsas} VMSAs; at most {MAX_VCPUS} vCPUs are supported")));
    }
    let spans: Vec<layout::Span> =
        plan.regions.iter().map(|r| layout::Span { gpa: r.gpa, len: r.size, label: format!("region {}", r.name) }).collect();
    layout::check_disjoint(&spans)?;

    let amd = matches!(plan.mode, Mode::Sev | Mode::SevEs | Mode::Snp);
    let page_granular = matches!(plan.mode, Mode::Snp | Mode::Tdx);
    let mut mem_spans = Vec::new();
    for (i, op) in plan.operations.iter().enumerate() {
        let name = format!("operation {i} ({} at {:#x})", op.kind.name(), op.gpa);
        if op.len == 0 {
            return Err(invalid(format!("{name}: length 0")));
        }
        if op.gpa.checked_add(op.len).is_none() {
            return Err(invalid(format!("{name}: length {:#x} overflows", op.len)));
        }
        if op.kind.is_tdx() == amd {
            return Err(invalid(format!("{name}: kind does not belong to mode {}", plan.mode.name())));
        }
        if op.measured != op.kind.measures_contents() {
            return Err(invalid(format!(
                "{name}: measured is {}, but {} pages are {}measured",
                op.measured,
                op.kind.name(),
                if op.measured { "not " } else { "" }
            )));
        }
        if page_granular && (op.gpa % PAGE != 0 || op.len % PAGE != 0) {
            return Err(invalid(format!("{name}: GPA and length {:#x} must be 4 KiB multiples", op.len)));
        }
        if op.kind.needs_source() && op.source == Source::None {
            return Err(invalid(format!("{name}: {} pages need source bytes", op.kind.name())));
        }
        if !matches!(op.kind, OpKind::Normal | OpKind::Vmsa | OpKind::TdxAdd | OpKind::TdxAddExtend) && op.source != Source::None {
            return Err(invalid(format!("{name}: {} pages take no source bytes", op.kind.name())));
        }
        match &op.source {
            Source::None => {}
            Source::File { file, offset } => {
                let f = plan.input(file).ok_or_else(|| invalid(format!("{name}: unknown input file {file:?}")))?;
                if offset.checked_add(op.len).is_none_or(|e| e > f.size) {
                    return Err(invalid(format!("{name}: bytes [{offset:#x}, +{:#x}) lie outside {file} ({:#x} bytes)", op.len, f.size)));
                }
            }
            Source::Page { page } => {
                let p = plan.pages.get(page).ok_or_else(|| invalid(format!("{name}: unknown generated page {page:?}")))?;
                if p.0.len() as u64 != op.len {
                    return Err(invalid(format!("{name}: page {page:?} holds {} bytes, the operation {:#x}", p.0.len(), op.len)));
                }
            }
        }
        if op.is_vmsa() {
            if op.vcpu.is_none() {
                return Err(invalid(format!("{name}: VMSA without a vcpu index")));
            }
            continue;
        }
        if !plan.regions.iter().any(|r| r.contains(op.gpa, op.len)) {
            return Err(invalid(format!("{name}: [{:#x}, {:#x}) is not inside any region", op.gpa, op.end())));
        }
        mem_spans.push(layout::Span { gpa: op.gpa, len: op.len, label: name });
    }
    layout::check_disjoint(&mem_spans)?;
    if plan.mode == Mode::Tdx && plan.tdx.is_none() {
        return Err(invalid("mode tdx without a tdx policy".into()));
    }
    Ok(())
}

/// Checks that the input files are the ones the plan was made for (size and SHA-256), then the plan.
pub fn check_inputs(plan: &LaunchPlan, inputs: &Inputs<'_>) -> Result<(), PlanError> {
    check(plan)?;
    for f in &plan.inputs {
        let bytes = inputs.get(&f.name).ok_or_else(|| invalid(format!("input {:?} was not provided", f.name)))?;
        if bytes.len() as u64 != f.size {
            return Err(invalid(format!("input {:?} is {} bytes, the plan was made for {}", f.name, bytes.len(), f.size)));
        }
        if !f.sha256.is_empty() {
            let got = hex::encode(Sha256::digest(bytes));
            if got != f.sha256 {
                return Err(invalid(format!("input {:?} has SHA-256 {got}, the plan was made for {}", f.name, f.sha256)));
            }
        }
    }
    Ok(())
}
