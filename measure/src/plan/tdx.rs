//! TDX plans: the TDVF sections in metadata order, as QEMU hands them to KVM_TDX_INIT_MEM_REGION.

use super::{
    InputFile, LaunchPlan, Mode, OpKind, Operation, PageAugPolicy, PageBytes, PageOrder, PlanError, Source, TdxPolicy, layout, merge,
};
use crate::image::FirmwareImage;

/// Largest section whose memory image (data then zeros) is generated into the plan.
const MAX_GENERATED: u64 = 64 << 20;

/// Builds the TDX plan. Refuses images QEMU would refuse, or whose data lies outside the file.
pub fn build(fw: &FirmwareImage<'_>, policy: TdxPolicy) -> Result<LaunchPlan, PlanError> {
    let md = fw.tdvf.as_ref().ok_or_else(|| {
        PlanError::Unsupported(
            "the firmware has no TDX metadata (footer entry e47a6535-...): it is not a TDVF image; use an OVMF build with TDX support (e.g. Debian's OVMF.fd)".into(),
        )
    })?;
    let problems = md.problems(fw.bytes().len());
    if !problems.is_empty() {
        return Err(PlanError::Unsupported(format!("the TDX metadata cannot be launched: {}", problems.join("; "))));
    }
    let mut plan = LaunchPlan::empty(Mode::Tdx);
    plan.inputs.push(InputFile { name: "firmware".into(), size: fw.len(), sha256: String::new() });
    plan.tdx = Some(policy);
    let mut ops = Vec::new();
    let mut spans = Vec::new();
    for (i, s) in md.sections.iter().enumerate() {
        let area = if s.raw_size > 0 { "firmware" } else { "ram" };
        let label = format!("{area} TDVF section {i} ({})", s.kind.name().to_uppercase());
        spans.push(layout::Span { gpa: s.gpa, len: s.memory_size, label });
        if s.page_aug() && policy.page_aug == PageAugPolicy::Skip {
            continue;
        }
        let kind = if s.mr_extend() { OpKind::TdxAddExtend } else { OpKind::TdxAdd };
        // One operation per section: QEMU issues one KVM_TDX_INIT_MEM_REGION per section, and the
        // two-pass order is defined per call.
        let source = match s.raw_size as u64 {
            0 => Source::None,
            raw if raw == s.memory_size => Source::File { file: "firmware".into(), offset: s.data_offset as u64 },
            raw if s.memory_size > MAX_GENERATED => {
                return Err(PlanError::Unsupported(format!(
                    "TDVF section {i}: {raw:#x} data bytes followed by {:#x} zero bytes; sections that mix data and zeros are supported up to {MAX_GENERATED:#x} bytes",
                    s.memory_size - raw
                )));
            }
            raw => {
                // Data followed by zeros: the section's memory image is generated.
                let start = s.data_offset as usize;
                let mut blob = vec![0u8; s.memory_size as usize];
                blob[..raw as usize].copy_from_slice(&fw.bytes()[start..start + raw as usize]);
                let name = format!("tdvf-section-{i}");
                plan.pages.insert(name.clone(), PageBytes(blob));
                Source::Page { page: name }
            }
        };
        ops.push(Operation::new(s.gpa, s.memory_size, kind, source));
    }
    layout::check_disjoint(&spans)?;
    plan.regions = layout::regions(&spans)?;
    // Merging sections is only neutral for the single-pass order.
    plan.operations = if policy.page_order == PageOrder::Single { merge::merge(ops) } else { ops };
    super::check::check(&plan)?;
    Ok(plan)
}
