//! Plans for the AMD family: SEV, SEV-ES and SEV-SNP (optionally with a COCONUT SVSM), following
//! QEMU's populate order (target/i386/sev.c) as sev-snp-measure models it.

use super::{
    CheckedPlan, InputFile, InputKind, Inputs, LaunchPlan, Mode, OpKind, Operation, PAGE_SIZE, PageBytes, PlanError, RegionPurpose,
    SnpLaunch, Source, Unsupported, layout, merge,
};
use crate::image::{FirmwareImage, SevSectionKind};
use crate::snp::kernel_hashes::PADDED_LEN;
pub use crate::snp::policy::DEFAULT_POLICY;
use crate::snp::vmsa::{self, BSP_EIP, VMSA_GPA, Vmm};
use crate::snp::{KernelHashes, PageType};

/// An SVSM launched below the firmware (`--mode snp:svsm`).
#[derive(Debug, Clone)]
pub struct Svsm<'a> {
    pub image: FirmwareImage<'a>,
    /// Size of the OVMF variable store mapped between the SVSM and the firmware.
    pub vars_size: u64,
}

/// Launch parameters for the AMD modes.
#[derive(Debug, Clone)]
pub struct AmdConfig<'a> {
    pub mode: Mode,
    pub vmm: Vmm,
    pub vcpus: u32,
    pub vcpu_sig: u32,
    /// SEV features in the VMSAs (SNP only; SEV-ES measures 0).
    pub guest_features: u64,
    pub kernel: Option<KernelHashes>,
    pub svsm: Option<Svsm<'a>>,
    pub policy: u64,
}

impl AmdConfig<'_> {
    pub fn new(mode: Mode) -> Self {
        AmdConfig { mode, vmm: Vmm::Qemu, vcpus: 1, vcpu_sig: 0, guest_features: 1, kernel: None, svsm: None, policy: DEFAULT_POLICY }
    }
}

fn unsupported(u: Unsupported) -> PlanError {
    PlanError::Unsupported(u)
}

/// Collects operations with labels for overlap messages and the purpose of the region each needs.
#[derive(Default)]
struct Builder {
    ops: Vec<Operation>,
    spans: Vec<layout::Span>,
}

impl Builder {
    fn push(&mut self, op: Operation, label: String) {
        if op.len == 0 {
            return;
        }
        if !op.is_vmsa() {
            let purpose = match &op.source {
                Source::File { file, .. } => RegionPurpose::of_input(*file),
                _ => RegionPurpose::Ram,
            };
            self.spans.push(layout::Span::new(op.gpa, op.len, label).with_purpose(purpose));
        }
        self.ops.push(op);
    }

    /// The whole of `kind`'s image at `gpa`.
    fn image(&mut self, kind: InputKind, gpa: u64, len: u64, label: &str) {
        self.push(Operation::new(gpa, len, OpKind::Normal, Source::File { file: kind, offset: 0 }), label.into());
    }
}

/// The SNP plan of the firmware pages alone: what sev-snp-measure's `snp:ovmf-hash` digests, and the
/// prefix `--snp-ovmf-hash` resumes after. It has no vCPUs.
pub fn firmware_only<'a>(fw: &FirmwareImage<'a>) -> Result<CheckedPlan<'a>, PlanError> {
    let mut plan = LaunchPlan::empty(Mode::Snp);
    plan.inputs.push(InputFile::built(InputKind::Firmware, fw.len()));
    let mut b = Builder::default();
    b.image(InputKind::Firmware, fw.gpa_base(), fw.len(), "firmware");
    plan.regions = layout::regions(&b.spans)?;
    plan.operations = b.ops;
    plan.snp = Some(SnpLaunch { vmm: Vmm::Qemu, vcpus: 0, vcpu_sig: 0, guest_features: 1, policy: DEFAULT_POLICY });
    CheckedPlan::built(plan, Inputs::new().with(InputKind::Firmware, fw.bytes()))
}

/// Builds the plan for `cfg.mode` (SEV, SEV-ES or SNP), bound to the images it reads.
pub fn build<'a>(fw: &FirmwareImage<'a>, cfg: &AmdConfig<'a>) -> Result<CheckedPlan<'a>, PlanError> {
    let mut plan = LaunchPlan::empty(cfg.mode);
    plan.inputs.push(InputFile::built(InputKind::Firmware, fw.len()));
    let mut inputs = Inputs::new().with(InputKind::Firmware, fw.bytes());
    let mut b = Builder::default();
    b.image(InputKind::Firmware, fw.gpa_base(), fw.len(), "firmware (whole image)");
    let mut vmsa_features = cfg.guest_features;
    match cfg.mode {
        Mode::Snp => {
            if let Some(svsm) = &cfg.svsm {
                inputs = inputs.with(InputKind::Svsm, svsm.image.bytes());
                // The SVSM's VMSAs carry SNPActive alone, whatever the guest features asked.
                vmsa_features = 1;
            }
            snp(fw, cfg, &mut plan, &mut b)?
        }
        Mode::Sev | Mode::SevEs => {
            if cfg.svsm.is_some() {
                return Err(unsupported(Unsupported::SvsmNeedsSnp));
            }
            if let Some(k) = &cfg.kernel {
                let table = fw.usable_hashes_table().ok_or(unsupported(Unsupported::NoHashesTable))?;
                plan.pages.insert("kernel-hashes".into(), PageBytes(k.table().to_vec()));
                b.push(
                    Operation::new(table.gpa, PADDED_LEN as u64, OpKind::Normal, Source::Page { page: "kernel-hashes".into() }),
                    "kernel hashes table".into(),
                );
            }
            if cfg.mode == Mode::SevEs {
                // SEV-ES VMSAs carry no SEV features: KVM sets them only for SNP.
                vmsas(fw.sev_es_reset_eip, cfg, 0, &mut plan, &mut b, false)?;
            }
        }
        Mode::Tdx => return Err(unsupported(Unsupported::WrongBuilder { mode: Mode::Tdx, builder: "tdx" })),
    }
    layout::check_disjoint(&b.spans)?;
    plan.regions = layout::regions(&b.spans)?;
    plan.operations = merge::merge(b.ops, &plan.regions);
    if cfg.mode == Mode::Snp {
        plan.snp =
            Some(SnpLaunch { vmm: cfg.vmm, vcpus: cfg.vcpus, vcpu_sig: cfg.vcpu_sig, guest_features: vmsa_features, policy: cfg.policy });
    }
    CheckedPlan::built(plan, inputs)
}

fn snp(fw: &FirmwareImage<'_>, cfg: &AmdConfig<'_>, plan: &mut LaunchPlan, b: &mut Builder) -> Result<(), PlanError> {
    // With an SVSM, its binary sits below the variable store and its metadata replaces the firmware's.
    let (meta_img, eip) = match &cfg.svsm {
        Some(svsm) => {
            if !cfg.vmm.profile().svsm {
                return Err(unsupported(Unsupported::SvsmVmm { vmm: cfg.vmm.name() }));
            }
            if cfg.kernel.is_some() {
                return Err(unsupported(Unsupported::SvsmWithKernel));
            }
            let end = fw
                .gpa_base()
                .checked_sub(svsm.vars_size)
                .filter(|&e| e >= svsm.image.len())
                .ok_or(unsupported(Unsupported::SvsmDoesNotFit { vars_size: svsm.vars_size, firmware_gpa: fw.gpa_base() }))?;
            let gpa = end - svsm.image.len();
            plan.inputs.push(InputFile::built(InputKind::Svsm, svsm.image.len()));
            b.image(InputKind::Svsm, gpa, svsm.image.len(), "svsm binary");
            let off = svsm.image.svsm_entry_offset.ok_or(unsupported(Unsupported::SvsmNoEntry))?;
            let eip = u32::try_from(gpa + off as u64).map_err(|_| unsupported(Unsupported::SvsmEntryAbove4G { base: gpa, offset: off }))?;
            (&svsm.image, Some(eip))
        }
        None => (fw, fw.sev_es_reset_eip),
    };
    let md = meta_img.sev_metadata.as_ref();
    let sections = md.map(|m| m.sections.as_slice()).unwrap_or(&[]);
    let vmm = cfg.vmm.profile();
    let mut cpuid_last = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let label = format!("SEV metadata item {i} ({})", s.kind.name().to_uppercase());
        let zero = |t: PageType| Operation::new(s.gpa, s.size, OpKind::from_page_type(t), Source::None);
        match s.kind {
            SevSectionKind::SnpSecMem => b.push(zero(vmm.sec_mem), label),
            SevSectionKind::SnpSecrets => b.push(Operation::new(s.gpa, PAGE_SIZE, OpKind::Secrets, Source::None), label),
            SevSectionKind::Cpuid => {
                let op = Operation::new(s.gpa, PAGE_SIZE, OpKind::Cpuid, Source::None);
                if vmm.cpuid_last { cpuid_last.push((op, label)) } else { b.push(op, label) }
            }
            SevSectionKind::SvsmCaa => b.push(zero(PageType::Zero), label),
            SevSectionKind::SnpKernelHashes => match &cfg.kernel {
                None => b.push(zero(PageType::Zero), label),
                Some(k) => {
                    let table = fw.sev_hashes_table.ok_or(unsupported(Unsupported::NoHashesTableEntry))?;
                    if s.size != PAGE_SIZE {
                        return Err(unsupported(Unsupported::KernelHashesPageSize { label, size: s.size }));
                    }
                    let page = k
                        .page((table.gpa % PAGE_SIZE) as usize)
                        .ok_or(unsupported(Unsupported::HashesTableCrossesPage { gpa: table.gpa }))?;
                    plan.pages.insert("kernel-hashes".into(), PageBytes(page.to_vec()));
                    b.push(Operation::new(s.gpa, PAGE_SIZE, OpKind::Normal, Source::Page { page: "kernel-hashes".into() }), label);
                }
            },
        }
    }
    for (op, label) in cpuid_last {
        b.push(op, label);
    }
    if cfg.kernel.is_some() && !md.is_some_and(|m| m.has(SevSectionKind::SnpKernelHashes)) {
        return Err(unsupported(Unsupported::NoKernelHashesSection));
    }
    vmsas(eip, cfg, cfg.guest_features, plan, b, cfg.svsm.is_some())
}

/// One VMSA per vCPU: the BSP starts at the reset vector, APs at the firmware's AP reset EIP.
fn vmsas(
    ap_eip: Option<u32>,
    cfg: &AmdConfig<'_>,
    features: u64,
    plan: &mut LaunchPlan,
    b: &mut Builder,
    svsm: bool,
) -> Result<(), PlanError> {
    if cfg.vcpus == 0 {
        return Ok(());
    }
    let ap_eip = ap_eip.ok_or(unsupported(Unsupported::NoResetBlock))?;
    let pages = if svsm {
        vec![("vmsa", vmsa::svsm_vmsa(ap_eip, cfg.vcpu_sig))]
    } else {
        let mut v = vec![("vmsa-bsp", vmsa::reset_vmsa(BSP_EIP, features, cfg.vcpu_sig, cfg.vmm))];
        if cfg.vcpus > 1 {
            if ap_eip == 0 {
                return Err(unsupported(Unsupported::ApResetEipZero));
            }
            v.push(("vmsa-ap", vmsa::reset_vmsa(ap_eip, features, cfg.vcpu_sig, cfg.vmm)));
        }
        v
    };
    for i in 0..cfg.vcpus {
        let name = if svsm {
            "vmsa"
        } else if i == 0 {
            "vmsa-bsp"
        } else {
            "vmsa-ap"
        };
        let mut op = Operation::new(VMSA_GPA, PAGE_SIZE, OpKind::Vmsa, Source::Page { page: name.into() });
        op.vcpu = Some(i);
        b.push(op, String::new());
    }
    for (name, page) in pages {
        plan.pages.insert(name.into(), PageBytes(page.to_vec()));
    }
    Ok(())
}
