//! Loader profiles: how a VMM turns an IGVM file into populate calls. None of this is in the file,
//! and the VMMs differ, so each VMM's behaviour is written down here as data, citing the source it
//! follows; `plan` interprets the data and nothing else decides.

use crate::plan::Mode;

/// How page directives without file data (`file_offset` 0) are populated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroPages {
    /// SNP ZERO pages (contents not measured).
    Zero,
    /// NORMAL pages whose contents are 4 KiB of zeros (measured).
    NormalZeros,
}

/// In what order the pages reach the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Directive order.
    File,
    /// Directive order, except that a run of contiguous pages with equal attributes is issued only
    /// when the next page does not continue it (or at the end), so a parameter insert that follows
    /// such a run is populated before it (QEMU's region batching).
    QemuRuns,
    /// Every page sorted by GPA (stable), VMSA included.
    SortedByGpa,
}

/// How a parameter insert is populated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamInsert {
    /// Every 4 KiB page of the area, as UNMEASURED pages.
    EveryPage,
    /// Only the first page of the area (the rest is loaded but not imported).
    FirstPage,
}

/// PAGE_DATA with the `shared` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// Left out of the launch: host-visible, not measured.
    LeftOut,
    /// The flag is ignored: populated like the same page without it.
    Ignored,
}

/// 2 MiB PAGE_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargePages {
    /// The 512 4 KiB pages with the file's 2 MiB of data.
    Whole,
    /// 512 pages, but only the first 4 KiB of data reaches memory (the rest zeros): what a VMM gets
    /// through igvm 0.5's C API, which returns 4 KiB of data for a 2 MiB page.
    FirstDataThenZeros,
    /// One 4 KiB page with the first 4 KiB of data (the loader treats it as a 4 KiB page).
    OnePage,
}

/// Where the measured VMSA comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmsaSource {
    /// The file's VMSA bytes, measured at the VP context's GPA in directive order.
    File,
    /// The VMM loads the file's registers into the vCPU and KVM measures its own VMSA for every
    /// vCPU at SNP_LAUNCH_FINISH, at KVM's fixed GPA, after every page; vCPUs without a VP context
    /// keep the reset state.
    KvmRegisters,
}

/// Which vCPUs get a measured VMSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vcpus {
    /// One per VP context in the file; the VMM's vCPU count does not enter the digest.
    FileContexts,
    /// Only the VP context of vp_index 0.
    FirstContext,
    /// One per vCPU of the VM (`--vcpus`).
    VmCount,
}

/// A VMM's IGVM loader, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderProfile {
    pub name: &'static str,
    /// The source this profile follows.
    pub follows: &'static str,
    pub modes: &'static [Mode],
    pub zero_pages: ZeroPages,
    pub order: Order,
    pub param_insert: ParamInsert,
    pub shared: Shared,
    pub large_pages: LargePages,
    pub vmsa: VmsaSource,
    pub vcpus: Vcpus,
    /// What the VMM puts into the launch itself, beyond the file.
    pub adds: &'static str,
}

pub const QEMU: LoaderProfile = LoaderProfile {
    name: "qemu",
    follows: "QEMU backends/igvm.c (qigvm_process_mem_page/qigvm_process_mem_region: contiguous pages with equal flags, type, \
              mask and data presence form one region, issued when the next page does not continue it; a region without data is \
              CGS_PAGE_TYPE_ZERO; 2 MiB regions copy the igvm_get_buffer data (4 KiB from igvm 0.5) into zeroed memory; \
              qigvm_directive_parameter_insert: the whole area as CGS_PAGE_TYPE_UNMEASURED, at once) and target/i386/sev.c \
              (cgs_set_guest_state: SNP_LAUNCH_UPDATE in call order; shared flag not consulted; CPUID pages via \
              snp_launch_update_cpuid; check_vmsa_supported: VMSA GPA 0xFFFFFFFFF000 and only KVM-synchronised fields; \
              sev_apply_cpu_context loads them into the vCPU; KVM measures every vCPU's VMSA at SNP_LAUNCH_FINISH)",
    modes: &[Mode::Snp],
    zero_pages: ZeroPages::Zero,
    order: Order::QemuRuns,
    param_insert: ParamInsert::EveryPage,
    shared: Shared::Ignored,
    large_pages: LargePages::FirstDataThenZeros,
    vmsa: VmsaSource::KvmRegisters,
    vcpus: Vcpus::VmCount,
    adds: "the CPUID page's contents (KVM's CPUID table); the reset VMSA (BSP reset vector, RDX = vCPU signature) of every vCPU \
           without a VP context; KVM's forced bits in every VMSA (EFER.SVME, CR4.MCE, RFLAGS bit 1, CR0 without CD/NW); no \
           firmware and no ISA-BIOS mirror (with an IGVM file QEMU loads no ROM)",
};

pub const CLOUD_HYPERVISOR: LoaderProfile = LoaderProfile {
    name: "cloud-hypervisor",
    follows: "cloud-hypervisor vmm/src/igvm/igvm_loader.rs (load_igvm: every PAGE_DATA imported as one 4 KiB page, NORMAL \
              whether or not it has data, shared flag not consulted; a parameter insert recorded as one UNMEASURED page; only \
              vp_index 0's VMSA, at its file GPA; all pages sorted by GPA and imported grouped by type through MSHV \
              import_isolated_pages)",
    modes: &[Mode::Snp],
    zero_pages: ZeroPages::NormalZeros,
    order: Order::SortedByGpa,
    param_insert: ParamInsert::FirstPage,
    shared: Shared::Ignored,
    large_pages: LargePages::OnePage,
    vmsa: VmsaSource::File,
    vcpus: Vcpus::FirstContext,
    adds: "the CPUID page's output values (from its CPUID leaves); nothing measured",
};

pub const OPENVMM: LoaderProfile = LoaderProfile {
    name: "openvmm",
    follows: "openvmm vm/loader/igvmfilegen/src/signed_measurement/snp.rs (generate_snp_measurement, the digest OpenHCL's \
              SNP ID block signs: directive order, pages without data as NORMAL zeros, shared pages skipped, every page of a \
              parameter insert UNMEASURED, each SNP VP context's VMSA at its GPA; page data longer than 4 KiB is not \
              measurable there, and igvm 0.5 hands it 4 KiB of a 2 MiB page)",
    modes: &[Mode::Snp],
    zero_pages: ZeroPages::NormalZeros,
    order: Order::File,
    param_insert: ParamInsert::EveryPage,
    shared: Shared::LeftOut,
    large_pages: LargePages::OnePage,
    vmsa: VmsaSource::File,
    vcpus: Vcpus::FileContexts,
    adds: "nothing measured",
};

pub const IGVM_SPEC: LoaderProfile = LoaderProfile {
    name: "igvm-spec",
    follows: "the IGVM specification as igvm_defs 0.5 states it (IGVM_VHS_PAGE_DATA: file_offset 0 loads a normal private \
              page of zeros; is_2mb_page: a 2 MiB page; IgvmPageDataFlags::shared: host visible, not part of the launch \
              measurement; IGVM_VHS_PARAMETER_INSERT: the area is imported as a set of unmeasured pages, lowest GPA first; \
              IGVM_VHS_VP_CONTEXT: the VMSA at its GPA) and the platforms' 4 KiB populate granularity (KVM \
              SNP_LAUNCH_UPDATE / TDH.MEM.PAGE.ADD)",
    modes: &[Mode::Snp, Mode::Tdx],
    zero_pages: ZeroPages::NormalZeros,
    order: Order::File,
    param_insert: ParamInsert::EveryPage,
    shared: Shared::LeftOut,
    large_pages: LargePages::Whole,
    vmsa: VmsaSource::File,
    vcpus: Vcpus::FileContexts,
    adds: "nothing",
};

pub const ALL: [&LoaderProfile; 4] = [&QEMU, &CLOUD_HYPERVISOR, &OPENVMM, &IGVM_SPEC];

pub fn by_name(name: &str) -> Option<&'static LoaderProfile> {
    ALL.into_iter().find(|p| p.name == name)
}

impl LoaderProfile {
    pub fn loads(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// One line per property: what `--explain` prints for a profile.
    pub fn properties(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "pages without data",
                match self.zero_pages {
                    ZeroPages::Zero => "SNP ZERO pages",
                    ZeroPages::NormalZeros => "NORMAL pages of zeros",
                },
            ),
            (
                "page order",
                match self.order {
                    Order::File => "directive order",
                    Order::QemuRuns => "directive order, runs of like pages issued when the next page breaks them",
                    Order::SortedByGpa => "sorted by GPA",
                },
            ),
            (
                "parameter inserts",
                match self.param_insert {
                    ParamInsert::EveryPage => "every page UNMEASURED",
                    ParamInsert::FirstPage => "first page UNMEASURED",
                },
            ),
            (
                "shared pages",
                match self.shared {
                    Shared::LeftOut => "left out",
                    Shared::Ignored => "flag ignored (populated)",
                },
            ),
            (
                "2 MiB pages",
                match self.large_pages {
                    LargePages::Whole => "512 4 KiB pages of the file's data",
                    LargePages::FirstDataThenZeros => "512 pages: the first 4 KiB of data, then zeros",
                    LargePages::OnePage => "one 4 KiB page",
                },
            ),
            (
                "VMSA",
                match self.vmsa {
                    VmsaSource::File => "the file's bytes at the VP context's GPA, in directive order",
                    VmsaSource::KvmRegisters => "KVM's, from the file's registers, at 0xFFFFFFFFF000 after every page",
                },
            ),
            (
                "vCPUs measured",
                match self.vcpus {
                    Vcpus::FileContexts => "one per VP context",
                    Vcpus::FirstContext => "vp_index 0 only",
                    Vcpus::VmCount => "every vCPU of the VM",
                },
            ),
        ]
    }
}
