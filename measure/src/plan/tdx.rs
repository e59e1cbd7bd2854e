//! TDX plans: the TDVF sections in metadata order, as QEMU hands them to KVM_TDX_INIT_MEM_REGION.

use super::{
    CheckedPlan, InputFile, InputKind, Inputs, LaunchPlan, Mode, OpKind, Operation, PageAugPolicy, PageBytes, PageOrder, PlanError,
    RegionPurpose, Source, TdxLaunch, TdxPolicy, Unsupported, layout, merge,
};
use crate::image::{FirmwareImage, TdvfSectionKind};

/// Most bytes of generated memory images (data then zeros) a plan may hold, over all its sections:
/// each is allocated in full, so the bound is on the total, not per section.
const MAX_GENERATED: u64 = 64 << 20;

/// Builds the TDX plan, bound to the image it reads. Refuses images QEMU would refuse, or whose data
/// lies outside the file.
pub fn build<'a>(fw: &FirmwareImage<'a>, policy: TdxPolicy) -> Result<CheckedPlan<'a>, PlanError> {
    let md = fw.tdvf.as_ref().ok_or(PlanError::Unsupported(Unsupported::NotTdvf))?;
    let problems = md.problems(fw.bytes().len());
    if !problems.is_empty() {
        return Err(PlanError::Unsupported(Unsupported::TdvfProblems(problems.join("; "))));
    }
    let mut plan = LaunchPlan::empty(Mode::Tdx);
    plan.inputs.push(InputFile::built(InputKind::Firmware, fw.len()));
    let td_hob_gpa = md.sections.iter().find(|s| s.kind == TdvfSectionKind::TdHob).map(|s| s.gpa);
    plan.tdx = Some(TdxLaunch { page_order: policy.page_order, page_aug: policy.page_aug, td_hob_gpa });
    let mut ops = Vec::new();
    let mut spans = Vec::new();
    let mut generated = 0u64;
    for (i, s) in md.sections.iter().enumerate() {
        let (purpose, area) = if s.raw_size > 0 { (RegionPurpose::Firmware, "firmware") } else { (RegionPurpose::Ram, "ram") };
        let label = format!("{area} TDVF section {i} ({})", s.kind.name().to_uppercase());
        spans.push(layout::Span::new(s.gpa, s.memory_size, label).with_purpose(purpose));
        if s.page_aug() && policy.page_aug == PageAugPolicy::Skip {
            continue;
        }
        let kind = if s.mr_extend() { OpKind::TdxAddExtend } else { OpKind::TdxAdd };
        // One operation per section: QEMU issues one KVM_TDX_INIT_MEM_REGION per section, and the
        // two-pass order is defined per call.
        let source = match s.raw_size as u64 {
            0 => Source::None,
            raw if raw == s.memory_size => Source::File { file: InputKind::Firmware, offset: s.data_offset as u64 },
            raw if generated.saturating_add(s.memory_size) > MAX_GENERATED => {
                return Err(PlanError::Unsupported(Unsupported::TdvfMixedTooLarge {
                    index: i,
                    raw,
                    zeros: s.memory_size - raw,
                    max: MAX_GENERATED,
                }));
            }
            raw => {
                // Data followed by zeros: the section's memory image is generated.
                generated += s.memory_size;
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
    plan.operations = if policy.page_order == PageOrder::Single { merge::merge(ops, &plan.regions) } else { ops };
    CheckedPlan::built(plan, Inputs::new().with(InputKind::Firmware, fw.bytes()))
}
