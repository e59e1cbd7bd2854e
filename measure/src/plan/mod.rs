//! The launch plan: the ordered populate operations that both the digest fold and the loader execute.
//!
//! A plan is built once from a firmware image and the launch parameters ([`snp`], [`tdx`]); `measure`
//! folds it into a digest, the loader replays it against guest memory. It is serde-serialisable so a
//! build pipeline can save it and a launch host can replay it.

pub mod check;
pub mod layout;
pub mod merge;
pub mod sev;
pub mod stats;
pub mod tdx;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::snp::PageType;

/// Plan format version.
pub const PLAN_VERSION: u32 = 1;
/// Alignment of every region (GPA, size and guest_memfd offset): one hugepage.
pub const REGION_ALIGN: u64 = 2 << 20;
pub const PAGE: u64 = 4096;

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
    File { file: String, offset: u64 },
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

/// A guest memory region (one memslot backed by one guest_memfd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
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

/// An input file the plan reads bytes from, identified by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
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

/// The TDX choices that change MRTD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TdxPolicy {
    pub page_order: PageOrder,
    pub page_aug: PageAugPolicy,
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
    pub tdx: Option<TdxPolicy>,
    /// The expected digest (hex), once folded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The bytes a plan's `File` sources refer to, by input name.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    files: Vec<(String, &'a [u8])>,
}

impl<'a> Inputs<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: &str, bytes: &'a [u8]) -> Self {
        self.files.push((name.to_owned(), bytes));
        self
    }

    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.files.iter().find(|f| f.0 == name).map(|f| f.1)
    }
}

/// Why a plan cannot be built or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{what} [{start:#x}, {end:#x}) overlaps {other} [{other_start:#x}, {other_end:#x})")]
    Overlap { what: String, start: u64, end: u64, other: String, other_start: u64, other_end: u64 },
    #[error("plan: {0}")]
    Invalid(String),
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
        }
    }

    /// The bytes an operation reads (`None` for `Source::None`). The plan must have passed
    /// [`check::check`] against these inputs, which guarantees the ranges exist.
    pub fn source_bytes<'a>(&'a self, op: &Operation, inputs: &Inputs<'a>) -> Option<&'a [u8]> {
        match &op.source {
            Source::None => None,
            Source::File { file, offset } => {
                let b = inputs.get(file)?;
                b.get(*offset as usize..(*offset + op.len) as usize)
            }
            Source::Page { page } => self.pages.get(page).map(|p| &p.0[..]),
        }
    }

    pub fn input(&self, name: &str) -> Option<&InputFile> {
        self.inputs.iter().find(|i| i.name == name)
    }
}
