//! Why a plan cannot be built, read or used. Each variant's doc comment is its message; the fields
//! name the operation, region, input or parameter, what was found and what was expected, so callers
//! (and tests) match on the variant, never on the text.

use super::{InputKind, Mode, OpKind};

/// Why a plan cannot be built, read or used.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum PlanError {
    /// plan version {found}: this prelaunch reads version {expected} (regenerate the plan with `prelaunch layout --json`)
    Version { found: u64, expected: u32 },
    /// not a launch plan: {0}
    Json(String),
    /// {0}
    Unsupported(#[from] Unsupported),
    /// {what} [{start:#x}, {end:#x}) overlaps {other} [{other_start:#x}, {other_end:#x})
    Overlap { what: String, start: u64, end: u64, other: String, other_start: u64, other_end: u64 },
    /// {label} at {gpa:#x} + {len:#x} overflows the guest-physical address space
    AddressOverflow { label: String, gpa: u64, len: u64 },
    /// region {index} ({name}): {problem}
    Region { index: usize, name: String, problem: RegionProblem },
    /// regions total {total:#x} bytes; a launch plan covers firmware and metadata, at most {max:#x}
    TooMuchMemory { total: u64, max: u64 },
    /// operation {index} ({kind} at {gpa:#x}): {problem}
    Operation { index: usize, kind: OpKind, gpa: u64, problem: OpProblem },
    /// input {kind}: {problem}
    Input { kind: InputKind, problem: InputProblem },
    /// {0}
    Launch(#[from] LaunchProblem),
}

/// What is wrong with one region.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum RegionProblem {
    /// {field} {value:#x} is not a multiple of 2 MiB
    Misaligned { field: &'static str, value: u64 },
    /// size {size:#x} at {gpa:#x} is empty or overflows
    Empty { gpa: u64, size: u64 },
}

/// What is wrong with one operation.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum OpProblem {
    /// length 0
    Empty,
    /// length {len:#x} overflows
    Overflow { len: u64 },
    /// the kind does not belong to mode {mode}
    WrongMode { mode: Mode },
    /// measured is {measured}, but {kind} pages are {expected}
    MeasuredFlag { measured: bool, kind: OpKind, expected: &'static str },
    /// GPA and length {len:#x} must be {align}-byte multiples
    Unaligned { len: u64, align: u64 },
    /// {kind} pages need source bytes
    NeedsSource { kind: OpKind },
    /// {kind} pages take no source bytes
    TakesNoSource { kind: OpKind },
    /// unknown input file {kind}
    UnknownInput { kind: InputKind },
    /// bytes [{offset:#x}, +{len:#x}) lie outside {kind} ({size:#x} bytes)
    OutsideInput { kind: InputKind, offset: u64, len: u64, size: u64 },
    /// unknown generated page {page:?}
    UnknownPage { page: String },
    /// page {page:?} holds {held} bytes, the operation {len:#x}
    PageLength { page: String, held: usize, len: u64 },
    /// [{gpa:#x}, {end:#x}) is not inside any region
    OutsideRegions { gpa: u64, end: u64 },
    /// {kind} pages are single 4 KiB pages; this run is {len:#x} bytes (the firmware refuses others: INVALID_PAGE_SIZE)
    NotOnePage { kind: OpKind, len: u64 },
    /// a VMSA without a vcpu index
    VmsaWithoutVcpu,
    /// a vcpu index on a {kind} operation (only VMSAs belong to a vCPU)
    VcpuOnMemory { kind: OpKind },
    /// VMSA at {gpa:#x}: the firmware measures every VMSA at {expected:#x}
    VmsaGpa { gpa: u64, expected: u64 },
    /// VMSA of vCPU {vcpu} is number {position} of the plan's VMSAs: vCPUs are 0, 1, 2, ... in order (KVM measures them in that order at launch finish)
    VcpuOrder { vcpu: u32, position: usize },
    /// a {kind} operation after the VMSAs: the VMSAs are measured last (at launch finish), after every memory operation
    AfterVmsas { kind: OpKind },
    /// VMSA of vCPU {vcpu}: SEV_FEATURES {found:#x} in the page, but the launch parameters say guest features {expected:#x}
    VmsaFeatures { vcpu: u32, found: u64, expected: u64 },
}

/// What is wrong with one input.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum InputProblem {
    /// was not provided
    Missing,
    /// listed twice
    Duplicate,
    /// is {found} bytes, the plan was made for {expected}
    Size { found: u64, expected: u64 },
    /// has SHA-256 {found}, the plan was made for {expected}
    Sha256 { found: String, expected: String },
    /// has no SHA-256: a plan read from elsewhere must identify every input
    Unidentified,
}

/// What is wrong with the plan's launch parameters (the `snp` and `tdx` blocks) or its vCPUs.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum LaunchProblem {
    /// mode snp without an snp block (vmm, vcpus, vcpu_sig, guest_features, policy)
    MissingSnp,
    /// mode tdx without a tdx block (page_order, page_aug)
    MissingTdx,
    /// an snp block in a {mode} plan
    UnexpectedSnp { mode: Mode },
    /// a tdx block in a {mode} plan
    UnexpectedTdx { mode: Mode },
    /// snp.vcpus is {declared}, but the plan holds {vmsas} VMSAs
    VcpuCount { declared: u32, vmsas: usize },
    /// {vmsas} VMSAs; at most {max} vCPUs are supported
    TooManyVcpus { vmsas: usize, max: usize },
    /// {mode} plans have no VMSAs (a SEV guest's vCPUs are not encrypted)
    VmsaInSev { mode: Mode },
    /// {0}
    Policy(#[from] crate::snp::policy::PolicyError),
    /// resuming from a known digest only applies to snp plans, not {mode}
    ResumeMode { mode: Mode },
    /// resuming after {after} operations, but the plan has {ops}
    ResumePastEnd { after: usize, ops: usize },
    /// the plan holds no VMSA for {0} vCPUs
    NoVmsaFor(u32),
}

/// Why an image and launch parameters cannot be made into a plan.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum Unsupported {
    /// the firmware has no SEV-ES reset block (00f771de-...) in its footer table: the vCPUs' reset state is unknown
    NoResetBlock,
    /// the SEV-ES reset block holds AP reset EIP 0: APs cannot start
    ApResetEipZero,
    /// a kernel was given, but the firmware has no usable SEV hashes table (its footer entry is missing or its GPA is 0): this build cannot measure a kernel; use an AmdSev OVMF build
    NoHashesTable,
    /// a kernel was given, but the firmware's footer table has no SEV hashes-table entry (7255371f-...) to place it
    NoHashesTableEntry,
    /// a kernel was given, but the firmware's SEV metadata has no SNP_KERNEL_HASHES section: this build cannot measure a kernel under SNP; use an AmdSev OVMF build
    NoKernelHashesSection,
    /// {label}: size {size:#x}; the kernel hashes page must be exactly 4 KiB
    KernelHashesPageSize { label: String, size: u64 },
    /// the hashes table at {gpa:#x} would cross its page boundary
    HashesTableCrossesPage { gpa: u64 },
    /// an SVSM can only be launched with SEV-SNP
    SvsmNeedsSnp,
    /// an SVSM launch is only modelled for QEMU, not {vmm}
    SvsmVmm { vmm: &'static str },
    /// a kernel cannot be measured in an SVSM launch (the SVSM's metadata has no kernel hashes page)
    SvsmWithKernel,
    /// the variable store ({vars_size:#x} bytes) and SVSM do not fit below the firmware at {firmware_gpa:#x}
    SvsmDoesNotFit { vars_size: u64, firmware_gpa: u64 },
    /// the SVSM binary has no SVSM info entry (a789a612-...) in its footer table: its entry point is unknown
    SvsmNoEntry,
    /// the SVSM entry point (base {base:#x} + offset {offset:#x}) lies above 4 GiB
    SvsmEntryAbove4G { base: u64, offset: u32 },
    /// the firmware has no TDX metadata (footer entry e47a6535-...): it is not a TDVF image; use an OVMF build with TDX support (e.g. Debian's OVMF.fd)
    NotTdvf,
    /// the TDX metadata cannot be launched: {0}
    TdvfProblems(String),
    /// TDVF section {index}: {raw:#x} data bytes followed by {zeros:#x} zero bytes; sections that mix data and zeros are supported up to {max:#x} bytes in all
    TdvfMixedTooLarge { index: usize, raw: u64, zeros: u64, max: u64 },
    /// {mode} plans are built by plan::{builder}
    WrongBuilder { mode: Mode, builder: &'static str },
    /// {0}
    Igvm(String),
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
