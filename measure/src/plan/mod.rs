//! The launch plan: the ordered populate operations that both the digest fold and the loader execute.
//!
//! A plan is built once from an image and the launch parameters ([`sev`], [`tdx`]); the builders
//! return a [`CheckedPlan`], the only thing the folds (`measure::digest`) and the loader accept. A
//! plan read from elsewhere ([`LaunchPlan::from_json`]) becomes one through [`CheckedPlan::new`],
//! which runs the same rules ([`check`]) and identifies every input by size and SHA-256. It is
//! serde-serialisable so a build pipeline can save it ([`CheckedPlan::portable`]) and a launch host
//! can replay it.

pub mod check;
mod checked;
mod error;
mod input;
pub mod layout;
pub mod merge;
pub mod sev;
pub mod stats;
pub mod tdx;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use self::check::{MAX_PLAN_MEMORY, MAX_VCPUS};
pub use self::checked::CheckedPlan;
pub use self::error::{InputProblem, LaunchProblem, OpProblem, PlanError, RegionProblem, Unsupported};
pub use self::input::{InputFile, InputKind, Inputs};
pub use crate::PAGE_SIZE;
use crate::snp::PageType;

/// Plan format version. 2: typed input kinds (`inputs[].kind`), region purposes, the TD HOB address,
/// every input identified by SHA-256.
pub const PLAN_VERSION: u32 = 2;
/// Alignment of every region (GPA, size and guest_memfd offset): one hugepage.
pub const REGION_ALIGN: u64 = 2 << 20;

/// The platform mode the plan measures for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Sev,
    #[serde(rename = "seves")]
    SevEs,
    Snp,
    Tdx,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sev => "sev",
            Mode::SevEs => "seves",
            Mode::Snp => "snp",
            Mode::Tdx => "tdx",
        }
    }
}

/// What one populate operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// SNP page types. For SEV and SEV-ES, `normal` is LAUNCH_UPDATE_DATA and `vmsa` LAUNCH_UPDATE_VMSA.
    Normal,
    Vmsa,
    Zero,
    Unmeasured,
    Secrets,
    Cpuid,
    /// TDX: TDH.MEM.PAGE.ADD only.
    TdxAdd,
    /// TDX: TDH.MEM.PAGE.ADD and TDH.MR.EXTEND of every 256-byte chunk.
    TdxAddExtend,
}

impl OpKind {
    /// The SNP page type, for the AMD kinds.
    pub fn page_type(self) -> Option<PageType> {
        Some(match self {
            OpKind::Normal => PageType::Normal,
            OpKind::Vmsa => PageType::Vmsa,
            OpKind::Zero => PageType::Zero,
            OpKind::Unmeasured => PageType::Unmeasured,
            OpKind::Secrets => PageType::Secrets,
            OpKind::Cpuid => PageType::Cpuid,
            OpKind::TdxAdd | OpKind::TdxAddExtend => return None,
        })
    }

    pub fn from_page_type(t: PageType) -> Self {
        match t {
            PageType::Normal => OpKind::Normal,
            PageType::Vmsa => OpKind::Vmsa,
            PageType::Zero => OpKind::Zero,
            PageType::Unmeasured => OpKind::Unmeasured,
            PageType::Secrets => OpKind::Secrets,
            PageType::Cpuid => OpKind::Cpuid,
        }
    }

    pub fn is_tdx(self) -> bool {
        matches!(self, OpKind::TdxAdd | OpKind::TdxAddExtend)
    }

    /// Whether the bytes of the operation enter the digest.
    pub fn measures_contents(self) -> bool {
        matches!(self, OpKind::Normal | OpKind::Vmsa | OpKind::TdxAddExtend)
    }

    /// Whether the operation must have source bytes.
    pub fn needs_source(self) -> bool {
        matches!(self, OpKind::Normal | OpKind::Vmsa | OpKind::TdxAddExtend)
    }

    /// Whether the operation may have source bytes (TDX PAGE.ADD copies them without measuring them;
    /// the firmware fills SECRETS and CPUID pages itself; ZERO and UNMEASURED pages are zero).
    pub fn takes_source(self) -> bool {
        matches!(self, OpKind::Normal | OpKind::Vmsa | OpKind::TdxAdd | OpKind::TdxAddExtend)
    }

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Normal => "normal",
            OpKind::Vmsa => "vmsa",
            OpKind::Zero => "zero",
            OpKind::Unmeasured => "unmeasured",
            OpKind::Secrets => "secrets",
            OpKind::Cpuid => "cpuid",
            OpKind::TdxAdd => "tdx_add",
            OpKind::TdxAddExtend => "tdx_add_extend",
        }
    }
}

/// Where the bytes of an operation come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// No bytes: the memory is zero (or the firmware fills it, as for SECRETS and CPUID pages).
    None,
    /// A range of an input file, starting at `offset`.
    File { file: InputKind, offset: u64 },
    /// A page the plan generates (VMSAs, the kernel hashes page), stored in [`LaunchPlan::pages`].
    Page { page: String },
}

/// One populate operation (a run of pages; one populate call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Guest-physical address; for VMSAs the address the PSP measures them at.
    pub gpa: u64,
    pub len: u64,
    pub kind: OpKind,
    pub source: Source,
    /// Whether the bytes enter the digest (derived from `kind`; recorded for readers, checked on load).
    pub measured: bool,
    /// For VMSAs: the vCPU index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
}

impl Operation {
    pub fn new(gpa: u64, len: u64, kind: OpKind, source: Source) -> Self {
        Operation { gpa, len, kind, source, measured: kind.measures_contents(), vcpu: None }
    }

    pub fn end(&self) -> u64 {
        self.gpa + self.len
    }

    /// VMSAs are not in guest memory: they are the vCPUs' initial state.
    pub fn is_vmsa(&self) -> bool {
        self.kind == OpKind::Vmsa
    }
}

/// What a region holds, as the builder knows it (never parsed from the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionPurpose {
    /// The firmware image (ending at 4 GiB).
    Firmware,
    /// An SVSM binary.
    Svsm,
    /// Pages of an IGVM file.
    Igvm,
    /// Guest RAM the image's metadata reserves (zero, secrets, CPUID pages, TDVF RAM sections).
    Ram,
}

impl RegionPurpose {
    pub fn name(self) -> &'static str {
        match self {
            RegionPurpose::Firmware => "firmware",
            RegionPurpose::Svsm => "svsm",
            RegionPurpose::Igvm => "igvm",
            RegionPurpose::Ram => "ram",
        }
    }

    /// The region an input's image is loaded into.
    pub fn of_input(kind: InputKind) -> Self {
        match kind {
            InputKind::Firmware => RegionPurpose::Firmware,
            InputKind::Svsm => RegionPurpose::Svsm,
            InputKind::Igvm => RegionPurpose::Igvm,
            InputKind::Kernel | InputKind::Initrd => RegionPurpose::Ram,
        }
    }
}

/// A guest memory region (one memslot backed by one guest_memfd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// For display: the purposes of what it holds joined by `+`, `@GPA` where a name repeats.
    pub name: String,
    /// What it holds (for a region merged from several, the file-backed one).
    pub purpose: RegionPurpose,
    pub gpa: u64,
    pub size: u64,
    /// Offset of the region in its guest_memfd.
    pub gmem_offset: u64,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.gpa + self.size
    }
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        gpa >= self.gpa && gpa.checked_add(len).is_some_and(|e| e <= self.end())
    }
}

/// TDX: the order the platform adds and extends pages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PageOrder {
    /// Per page: PAGE.ADD then its 16 MR.EXTENDs (upstream KVM, QEMU >= 10.1).
    #[default]
    Single,
    /// Per populate call: every PAGE.ADD, then every MR.EXTEND (QEMU 8.2-era TDX trees).
    TwoPass,
}

impl PageOrder {
    pub const ALL: [PageOrder; 2] = [PageOrder::Single, PageOrder::TwoPass];

    /// The plan format's and the CLI's name (`single`, `two-pass`).
    pub fn name(self) -> &'static str {
        match self {
            PageOrder::Single => "single",
            PageOrder::TwoPass => "two-pass",
        }
    }

    /// How messages describe it.
    pub fn describe(self) -> &'static str {
        match self {
            PageOrder::Single => "single-pass",
            PageOrder::TwoPass => "two-pass",
        }
    }
}

/// TDX: what to do with sections carrying the PAGE_AUG attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PageAugPolicy {
    /// Add them like any other section (QEMU ignores the attribute).
    #[default]
    Add,
    /// Leave them out of the launch; the guest accepts them later (td-shim's reading).
    Skip,
}

impl PageAugPolicy {
    pub const ALL: [PageAugPolicy; 2] = [PageAugPolicy::Add, PageAugPolicy::Skip];

    /// The plan format's and the CLI's name (`add`, `skip`).
    pub fn name(self) -> &'static str {
        match self {
            PageAugPolicy::Add => "add",
            PageAugPolicy::Skip => "skip",
        }
    }
}

/// The TDX choices that change MRTD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TdxPolicy {
    pub page_order: PageOrder,
    pub page_aug: PageAugPolicy,
}

/// The TDX launch parameters: the choices that change MRTD, and what the vCPUs need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TdxLaunch {
    pub page_order: PageOrder,
    pub page_aug: PageAugPolicy,
    /// The TD HOB's GPA (the TDVF TD_HOB section), handed to the BSP in RCX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub td_hob_gpa: Option<u64>,
}

impl TdxLaunch {
    pub fn policy(&self) -> TdxPolicy {
        TdxPolicy { page_order: self.page_order, page_aug: self.page_aug }
    }
}

/// The SNP launch parameters a loader needs besides the operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnpLaunch {
    pub vmm: crate::snp::Vmm,
    pub vcpus: u32,
    pub vcpu_sig: u32,
    pub guest_features: u64,
    /// Guest policy for SNP_LAUNCH_START.
    pub policy: u64,
}

/// A generated page's bytes, base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageBytes(pub Vec<u8>);

impl Serialize for PageBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for PageBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).map(PageBytes).map_err(serde::de::Error::custom)
    }
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPlan {
    pub version: u32,
    pub mode: Mode,
    pub inputs: Vec<InputFile>,
    pub regions: Vec<Region>,
    pub operations: Vec<Operation>,
    #[serde(default)]
    pub pages: BTreeMap<String, PageBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snp: Option<SnpLaunch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx: Option<TdxLaunch>,
    /// The expected digest (hex), once folded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// VMSAs measured where an IGVM file places them (directive order, the file's GPAs, the file's
    /// SEV features): the plan models a VMM other than KVM (the igvm-spec, openvmm and
    /// cloud-hypervisor loader profiles). It folds; no KVM launch can load it, since KVM measures
    /// every VMSA after the pages, at its fixed GPA.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vmsas_as_placed: bool,
}

impl LaunchPlan {
    /// An empty plan for `mode`; builders fill it.
    pub(crate) fn empty(mode: Mode) -> Self {
        LaunchPlan {
            version: PLAN_VERSION,
            mode,
            inputs: Vec::new(),
            regions: Vec::new(),
            operations: Vec::new(),
            pages: BTreeMap::new(),
            snp: None,
            tdx: None,
            digest: None,
            vmsas_as_placed: false,
        }
    }

    /// Reads a plan written by `prelaunch layout --json` (or any [`CheckedPlan::portable`] plan): the
    /// version first, so that a plan of another format version is refused by name rather than by the
    /// first field that moved. The result still has to pass [`CheckedPlan::new`].
    pub fn from_json(text: &[u8]) -> Result<LaunchPlan, PlanError> {
        #[derive(Deserialize)]
        struct Header {
            version: u64,
        }
        let h: Header = serde_json::from_slice(text).map_err(|e| PlanError::Json(e.to_string()))?;
        if h.version != u64::from(PLAN_VERSION) {
            return Err(PlanError::Version { found: h.version, expected: PLAN_VERSION });
        }
        serde_json::from_slice(text).map_err(|e| PlanError::Json(e.to_string()))
    }

    pub fn input(&self, kind: InputKind) -> Option<&InputFile> {
        self.inputs.iter().find(|i| i.kind == kind)
    }

    /// The VMSA operations (vCPU initial state, not guest memory).
    pub fn vmsas(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(|o| o.is_vmsa())
    }
}
