//! From an IGVM file and a loader profile to a launch plan: the populate calls that VMM makes.

use std::collections::HashMap;

use igvm::snp_defs::SevVmsa;
use igvm_defs::IgvmPageDataType;
use zerocopy::IntoBytes;

use super::image::{Directive, IgvmImage, PageData};
use super::layout::{PAGE_2M, PAGE_4K, RawPage};
use super::profile::{LargePages, LoaderProfile, Order, ParamInsert, Shared, Vcpus, VmsaSource, ZeroPages};
use super::{IgvmError, kvm_vmsa};
use crate::plan::{
    CheckedPlan, InputFile, InputKind, Inputs, LaunchPlan, Mode, OpKind, Operation, PageBytes, PageOrder, PlanError, RegionPurpose,
    SnpLaunch, Source, TdxLaunch, TdxPolicy, Unsupported, layout, merge,
};
use crate::snp::vmsa::{BSP_EIP, VMSA_GPA, Vmm, reset_vmsa};

/// The IGVM file among a plan's inputs.
pub const INPUT: InputKind = InputKind::Igvm;
const ZERO_PAGE: &str = "zero";

/// What the plan is built for.
#[derive(Debug, Clone, Copy)]
pub struct IgvmConfig<'p> {
    pub mode: Mode,
    pub profile: &'p LoaderProfile,
    /// The VM's vCPU count (profiles that measure one VMSA per vCPU).
    pub vcpus: u32,
    /// CPUID 1 EAX, for the reset VMSAs a VMM gives vCPUs without a VP context.
    pub vcpu_sig: u32,
    pub tdx: TdxPolicy,
}

impl<'p> IgvmConfig<'p> {
    pub fn new(mode: Mode, profile: &'p LoaderProfile) -> Self {
        IgvmConfig { mode, profile, vcpus: 1, vcpu_sig: 0, tdx: TdxPolicy::default() }
    }
}

/// Something the profile did to this file that another profile might do differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub property: &'static str,
    pub detail: String,
}

/// A plan, bound to the IGVM file it reads, and what the profile decided on the way.
#[derive(Debug, Clone)]
pub struct IgvmPlan<'a> {
    pub plan: CheckedPlan<'a>,
    pub notes: Vec<Note>,
}

/// One populate event before ordering.
#[derive(Debug, Clone)]
struct Event {
    op: Operation,
    label: String,
}

struct Builder<'c, 'p> {
    cfg: &'c IgvmConfig<'p>,
    events: Vec<Event>,
    notes: Vec<Note>,
}

fn unsupported(msg: String) -> PlanError {
    PlanError::Unsupported(Unsupported::Igvm(msg))
}

impl Builder<'_, '_> {
    fn note(&mut self, property: &'static str, detail: String) {
        self.notes.push(Note { property, detail });
    }

    fn tdx(&self) -> bool {
        self.cfg.mode == Mode::Tdx
    }

    fn push(&mut self, gpa: u64, len: u64, kind: OpKind, source: Source, label: String) {
        self.events.push(Event { op: Operation::new(gpa, len, kind, source), label });
    }

    /// `pages` 4 KiB zero pages at `gpa`, measured as the profile measures zeros.
    fn zeros(&mut self, gpa: u64, pages: u64, label: &str) {
        for i in 0..pages {
            let g = gpa + i * PAGE_4K;
            match (self.tdx(), self.cfg.profile.zero_pages) {
                (true, _) => self.push(g, PAGE_4K, OpKind::TdxAddExtend, Source::Page { page: ZERO_PAGE.into() }, label.into()),
                (false, ZeroPages::Zero) => self.push(g, PAGE_4K, OpKind::Zero, Source::None, label.into()),
                (false, ZeroPages::NormalZeros) => {
                    self.push(g, PAGE_4K, OpKind::Normal, Source::Page { page: ZERO_PAGE.into() }, label.into())
                }
            }
        }
    }

    fn unmeasured(&mut self, gpa: u64, len: u64, label: String) {
        let kind = if self.tdx() { OpKind::TdxAdd } else { OpKind::Unmeasured };
        self.push(gpa, len, kind, Source::None, label);
    }

    fn page(&mut self, index: usize, raw: RawPage, data: PageData<'_>) {
        let label = format!("IGVM directive {index} (PAGE_DATA)");
        if raw.flags.shared() && self.cfg.profile.shared == Shared::LeftOut {
            self.note("shared pages", format!("directive {index}: {:#x} bytes at {:#x} left out (host visible)", raw.size(), raw.gpa));
            return;
        }
        if raw.flags.shared() {
            self.note("shared pages", format!("directive {index}: the shared flag at {:#x} is ignored; populated as private", raw.gpa));
        }
        // A 2 MiB page: how much of it the profile populates, and with which bytes.
        let (len, data) = match (raw.size(), self.cfg.profile.large_pages, data) {
            (PAGE_2M, LargePages::Whole, d) => (PAGE_2M, d),
            (PAGE_2M, LargePages::OnePage, d) => {
                self.note("2 MiB pages", format!("directive {index}: only the first 4 KiB page at {:#x} is populated", raw.gpa));
                (PAGE_4K, first_page(d))
            }
            (PAGE_2M, LargePages::FirstDataThenZeros, d) => {
                if d != PageData::None {
                    self.note("2 MiB pages", format!("directive {index}: 4 KiB of data at {:#x}, then 511 pages of zeros", raw.gpa));
                }
                (PAGE_2M, first_page(d))
            }
            (_, _, d) => (PAGE_4K, d),
        };
        let t = IgvmPageDataType(raw.data_type);
        if !self.tdx() && t == IgvmPageDataType::SECRETS {
            return self.special(raw.gpa, len, OpKind::Secrets, label);
        }
        if !self.tdx() && matches!(t, IgvmPageDataType::CPUID_DATA | IgvmPageDataType::CPUID_XF) {
            return self.special(raw.gpa, len, OpKind::Cpuid, label);
        }
        if raw.flags.unmeasured() {
            return self.unmeasured(raw.gpa, len, label);
        }
        let kind = if self.tdx() { OpKind::TdxAddExtend } else { OpKind::Normal };
        match data {
            PageData::None => {
                if !self.tdx() && self.cfg.profile.zero_pages == ZeroPages::Zero {
                    self.note("pages without data", format!("directive {index}: {:#x} bytes at {:#x} as ZERO pages", len, raw.gpa));
                    self.push(raw.gpa, len, OpKind::Zero, Source::None, label);
                } else {
                    self.note("pages without data", format!("directive {index}: {:#x} bytes at {:#x} as NORMAL zeros", len, raw.gpa));
                    self.zeros(raw.gpa, len / PAGE_4K, &label);
                }
            }
            PageData::File { offset, bytes } => {
                let have = bytes.len() as u64;
                self.push(raw.gpa, have, kind, Source::File { file: INPUT, offset }, label.clone());
                self.zeros(raw.gpa + have, (len - have) / PAGE_4K, &label);
            }
        }
    }

    /// SECRETS and CPUID pages: one page per populate call, whatever the directive's size.
    fn special(&mut self, gpa: u64, len: u64, kind: OpKind, label: String) {
        for i in 0..len / PAGE_4K {
            self.push(gpa + i * PAGE_4K, PAGE_4K, kind, Source::None, label.clone());
        }
    }

    fn insert(&mut self, index: usize, gpa: u64, area: u32, bytes: u64) {
        let label = format!("IGVM directive {index} (PARAMETER_INSERT of area {area})");
        let len = match self.cfg.profile.param_insert {
            ParamInsert::EveryPage => bytes,
            ParamInsert::FirstPage => PAGE_4K.min(bytes),
        };
        self.note(
            "parameter inserts",
            format!("directive {index}: area {area} ({bytes:#x} bytes) at {gpa:#x}: {:#x} bytes UNMEASURED", len),
        );
        self.unmeasured(gpa, len, label);
    }
}

fn first_page(d: PageData<'_>) -> PageData<'_> {
    match d {
        PageData::File { offset, bytes } => PageData::File { offset, bytes: &bytes[..PAGE_4K as usize] },
        PageData::None => PageData::None,
    }
}

/// Builds the plan `cfg.profile` makes of `img` for `cfg.mode`.
pub fn build<'a>(img: &IgvmImage<'a>, cfg: &IgvmConfig<'_>) -> Result<IgvmPlan<'a>, IgvmError> {
    let platform = img.platform_for(cfg.mode)?;
    let profile = cfg.profile;
    if !profile.loads(cfg.mode) {
        return Err(IgvmError::Plan(unsupported(format!(
            "the {} loader profile does not load {} IGVM files (it follows {})",
            profile.name,
            cfg.mode.name(),
            profile.follows.split(" (").next().unwrap_or(profile.follows)
        ))));
    }
    let mask = platform.compatibility_mask;
    let mut b = Builder { cfg, events: Vec::new(), notes: Vec::new() };
    let mut areas: HashMap<u32, u64> = HashMap::new();
    let mut contexts: Vec<(usize, u16, u64, &SevVmsa)> = Vec::new();
    // QEMU's pending run of pages: its events are held back until a page breaks the run.
    let mut run: Vec<Event> = Vec::new();
    let mut run_prev: Option<(usize, RawPage)> = None;
    let matches = |m: u32| m & mask != 0;
    let dirs = img.directives();
    for d in &dirs {
        match *d {
            Directive::Page { index, raw, data } if matches(raw.compatibility_mask) => {
                if profile.order == Order::QemuRuns {
                    let continues = run_prev.is_some_and(|(pi, p)| {
                        pi + 1 == index
                            && p.flags == raw.flags
                            && p.data_type == raw.data_type
                            && p.compatibility_mask == raw.compatibility_mask
                            && p.has_data() == raw.has_data()
                            && p.gpa + p.size() == raw.gpa
                    });
                    if !continues {
                        b.events.append(&mut run);
                    }
                    let before = b.events.len();
                    b.page(index, raw, data);
                    run.extend(b.events.drain(before..));
                    run_prev = Some((index, raw));
                } else {
                    b.page(index, raw, data);
                }
            }
            Directive::ParameterArea { area, bytes, .. } => {
                areas.insert(area, bytes);
            }
            Directive::ParameterInsert { index, gpa, compatibility_mask, area } if matches(compatibility_mask) => {
                let bytes = areas.get(&area).copied().ok_or_else(|| {
                    IgvmError::Plan(unsupported(format!(
                        "directive {index}: parameter insert of area {area}, which no earlier PARAMETER_AREA declares"
                    )))
                })?;
                if profile.order == Order::QemuRuns && !run.is_empty() {
                    b.note(
                        "page order",
                        format!("directive {index}: the parameter insert is populated before the run of pages that precedes it"),
                    );
                }
                b.insert(index, gpa, area, bytes);
            }
            Directive::SnpVpContext { index, gpa, compatibility_mask, vp_index, vmsa } if matches(compatibility_mask) => {
                if cfg.mode == Mode::Tdx {
                    continue;
                }
                contexts.push((index, vp_index, gpa, vmsa));
                if profile.vmsa == VmsaSource::File && (profile.vcpus != Vcpus::FirstContext || vp_index == 0) {
                    let page = format!("vmsa-d{index}");
                    let mut op = Operation::new(gpa, PAGE_4K, OpKind::Vmsa, Source::Page { page });
                    op.vcpu = Some(u32::from(vp_index));
                    b.events.push(Event { op, label: String::new() });
                }
            }
            _ => {}
        }
    }
    b.events.append(&mut run);
    if cfg.mode == Mode::Tdx && dirs.iter().any(|d| matches!(d, Directive::SnpVpContext { .. })) {
        b.note("VMSA", "SNP VP contexts do not apply to TDX (the TD's vCPUs start in the architectural reset state)".into());
    }
    let mut plan = LaunchPlan::empty(cfg.mode);
    plan.inputs.push(InputFile::built(INPUT, img.len()));
    plan.vmsas_as_placed = cfg.mode == Mode::Snp && profile.vmsa == VmsaSource::File;
    let (mut events, notes) = (b.events, b.notes);
    let mut notes = notes;
    if profile.order == Order::SortedByGpa {
        events.sort_by_key(|e| e.op.gpa);
    }
    if cfg.mode == Mode::Snp {
        let vmsas = vmsas(&contexts, cfg, &mut notes)?;
        let features = vmsas.features;
        for (name, bytes) in vmsas.pages {
            plan.pages.insert(name, PageBytes(bytes));
        }
        events.extend(vmsas.events);
        if profile.vmsa == VmsaSource::File {
            let used: Vec<String> = events
                .iter()
                .filter_map(|e| match &e.op.source {
                    Source::Page { page } if page.starts_with("vmsa-d") => Some(page.clone()),
                    _ => None,
                })
                .collect();
            for (index, _, _, v) in &contexts {
                let name = format!("vmsa-d{index}");
                if used.contains(&name) {
                    plan.pages.insert(name, PageBytes(v.as_bytes().to_vec()));
                }
            }
        }
        let count = events.iter().filter(|e| e.op.is_vmsa()).count() as u32;
        plan.snp = Some(SnpLaunch {
            vmm: Vmm::Qemu,
            vcpus: count,
            vcpu_sig: cfg.vcpu_sig,
            guest_features: features,
            policy: img.guest_policy(mask).unwrap_or(crate::plan::sev::DEFAULT_POLICY),
        });
    } else {
        plan.tdx = Some(TdxLaunch { page_order: cfg.tdx.page_order, page_aug: cfg.tdx.page_aug, td_hob_gpa: None });
    }
    if events.iter().any(|e| matches!(&e.op.source, Source::Page { page } if page == ZERO_PAGE)) {
        plan.pages.insert(ZERO_PAGE.into(), PageBytes(vec![0; PAGE_4K as usize]));
    }
    let spans: Vec<layout::Span> = events
        .iter()
        .filter(|e| !e.op.is_vmsa())
        .map(|e| layout::Span::new(e.op.gpa, e.op.len, e.label.clone()).with_purpose(RegionPurpose::Igvm))
        .collect();
    layout::check_disjoint(&spans)?;
    plan.regions = layout::regions(&spans)?;
    let ops: Vec<Operation> = events.into_iter().map(|e| e.op).collect();
    plan.operations =
        if cfg.mode == Mode::Tdx && cfg.tdx.page_order == PageOrder::TwoPass { ops } else { merge::merge(ops, &plan.regions) };
    let plan = CheckedPlan::built(plan, Inputs::new().with(INPUT, img.bytes()))?;
    Ok(IgvmPlan { plan, notes })
}

struct Vmsas {
    events: Vec<Event>,
    pages: Vec<(String, Vec<u8>)>,
    features: u64,
}

/// The VMSAs measured after every page (KVM's, for the QEMU profile).
fn vmsas(contexts: &[(usize, u16, u64, &SevVmsa)], cfg: &IgvmConfig<'_>, notes: &mut Vec<Note>) -> Result<Vmsas, IgvmError> {
    let first = contexts.iter().find(|c| c.1 == 0);
    let file_features = first.map_or(1, |c| c.3.sev_features.into_bits());
    let mut out = Vmsas { events: Vec::new(), pages: Vec::new(), features: file_features };
    if cfg.profile.vmsa == VmsaSource::File {
        if contexts.is_empty() {
            notes.push(Note { property: "VMSA", detail: "the file has no SNP VP context: no VMSA is measured".into() });
        }
        return Ok(out);
    }
    if cfg.vcpus == 0 {
        return Err(IgvmError::Plan(unsupported("0 vCPUs: an SNP guest needs at least one".into())));
    }
    for &(index, vp, gpa, v) in contexts {
        if u32::from(vp) >= cfg.vcpus {
            return Err(IgvmError::Plan(unsupported(format!(
                "directive {index}: a VP context for vCPU {vp}, but the VM has {} vCPUs; QEMU refuses it (sev_set_cpu_context: out of bounds CPU index)",
                cfg.vcpus
            ))));
        }
        kvm_vmsa::check(gpa, v).map_err(|e| IgvmError::Plan(unsupported(format!("directive {index} (VP context of vCPU {vp}): {e}"))))?;
    }
    let reset = reset_vmsa(BSP_EIP, file_features, cfg.vcpu_sig, Vmm::Qemu);
    let mut have_reset = false;
    // QEMU replaces an earlier context of the same vCPU with a later one.
    let by_vcpu: HashMap<u32, &(usize, u16, u64, &SevVmsa)> = contexts.iter().map(|c| (u32::from(c.1), c)).collect();
    for i in 0..cfg.vcpus {
        let page = match by_vcpu.get(&i) {
            Some(c) => {
                let name = format!("vmsa-kvm-{i}");
                out.pages.push((name.clone(), kvm_vmsa::render(c.3, file_features).to_vec()));
                name
            }
            None => {
                have_reset = true;
                "vmsa-reset".to_string()
            }
        };
        let mut op = Operation::new(VMSA_GPA, PAGE_4K, OpKind::Vmsa, Source::Page { page });
        op.vcpu = Some(i);
        out.events.push(Event { op, label: String::new() });
    }
    if have_reset {
        out.pages.push(("vmsa-reset".into(), reset.to_vec()));
        let n = (0..cfg.vcpus).filter(|i| !by_vcpu.contains_key(i)).count();
        notes.push(Note {
            property: "vCPUs measured",
            detail: format!("{n} of {} vCPUs have no VP context: KVM measures the reset state (BSP reset vector) for them", cfg.vcpus),
        });
    }
    Ok(out)
}
