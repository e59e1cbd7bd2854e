//! An IGVM file as read by the `igvm` crate, joined with where each page's bytes lie in the file.

use igvm::snp_defs::SevVmsa;
use igvm::{IgvmDirectiveHeader, IgvmFile, IgvmInitializationHeader, IgvmPlatformHeader};
use igvm_defs::{IgvmPageDataFlags, IgvmPageDataType, IgvmPlatformType};

use super::IgvmError;
use super::layout::{self, Layout, PAGE_2M, PAGE_4K, RawPage};
use crate::plan::Mode;

/// A platform the file declares (one SUPPORTED_PLATFORM header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub compatibility_mask: u32,
    pub platform_type: IgvmPlatformType,
    pub highest_vtl: u8,
    pub shared_gpa_boundary: u64,
}

impl Platform {
    pub fn name(&self) -> &'static str {
        platform_name(self.platform_type)
    }

    /// The prelaunch mode that measures this platform, where there is one.
    pub fn mode(&self) -> Option<Mode> {
        match self.platform_type {
            IgvmPlatformType::SEV_SNP => Some(Mode::Snp),
            IgvmPlatformType::TDX => Some(Mode::Tdx),
            _ => None,
        }
    }
}

pub fn platform_name(t: IgvmPlatformType) -> &'static str {
    match t {
        IgvmPlatformType::NATIVE => "NATIVE",
        IgvmPlatformType::VSM_ISOLATION => "VSM_ISOLATION",
        IgvmPlatformType::SEV_SNP => "SEV_SNP",
        IgvmPlatformType::TDX => "TDX",
        IgvmPlatformType::SEV => "SEV",
        IgvmPlatformType::SEV_ES => "SEV_ES",
        IgvmPlatformType::CCA => "CCA",
        _ => "unknown",
    }
}

/// What a page directive asks for, in the terms the profiles reason about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageData<'a> {
    /// No data in the file (`file_offset` 0): a page of zeros.
    None,
    /// The page's bytes in the file (4 KiB, or all of a 2 MiB page).
    File { offset: u64, bytes: &'a [u8] },
}

/// One directive that matters to a launch, in file order.
#[derive(Debug, Clone)]
pub enum Directive<'a> {
    Page {
        index: usize,
        raw: RawPage,
        data: PageData<'a>,
    },
    ParameterArea {
        index: usize,
        area: u32,
        bytes: u64,
    },
    ParameterInsert {
        index: usize,
        gpa: u64,
        compatibility_mask: u32,
        area: u32,
    },
    SnpVpContext {
        index: usize,
        gpa: u64,
        compatibility_mask: u32,
        vp_index: u16,
        vmsa: &'a SevVmsa,
    },
    /// Any other directive (parameters, memory map, required memory, ID block ...): no pages.
    Other {
        index: usize,
        name: &'static str,
        compatibility_mask: Option<u32>,
    },
}

impl Directive<'_> {
    pub fn index(&self) -> usize {
        match self {
            Directive::Page { index, .. }
            | Directive::ParameterArea { index, .. }
            | Directive::ParameterInsert { index, .. }
            | Directive::SnpVpContext { index, .. }
            | Directive::Other { index, .. } => *index,
        }
    }
}

/// A parsed IGVM file and the bytes it was parsed from.
pub struct IgvmImage<'a> {
    bytes: &'a [u8],
    pub file: IgvmFile,
    pub layout: Layout,
}

impl std::fmt::Debug for IgvmImage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgvmImage").field("len", &self.bytes.len()).field("layout", &self.layout).finish()
    }
}

/// Whether the bytes start like an IGVM file (the magic), for format detection.
pub fn looks_like_igvm(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(b"IGVM")
}

impl<'a> IgvmImage<'a> {
    /// Reads `bytes`: the framing first (refusing what would make the crate panic), then the crate.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, IgvmError> {
        let layout = layout::walk(bytes)?;
        // The crate is the parser; the walk above has refused every input known to make it panic, and
        // the catch is for the ones not yet known (the fuzz target looks for them).
        let parsed = std::panic::catch_unwind(|| IgvmFile::new_from_binary(bytes, None))
            .map_err(|_| IgvmError::CratePanic)?
            .map_err(|e| IgvmError::Crate(e.to_string()))?;
        let img = IgvmImage { bytes, file: parsed, layout };
        img.check_agreement()?;
        Ok(img)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The crate and the walk must see the same directives in the same order; a disagreement means
    /// one of them misread the file, and nothing built on either could be trusted.
    fn check_agreement(&self) -> Result<(), IgvmError> {
        let dirs = self.file.directives();
        if dirs.len() != self.layout.directives.len() {
            return Err(IgvmError::Disagree(format!(
                "the igvm crate read {} directives, the header walk {}",
                dirs.len(),
                self.layout.directives.len()
            )));
        }
        for (i, (d, raw)) in dirs.iter().zip(&self.layout.directives).enumerate() {
            if let (IgvmDirectiveHeader::PageData { gpa, flags, data_type, compatibility_mask, .. }, Some(p)) = (d, raw.page) {
                if *gpa != p.gpa || *flags != p.flags || data_type.0 != p.data_type || *compatibility_mask != p.compatibility_mask {
                    return Err(IgvmError::Disagree(format!(
                        "directive {i} (header at {:#x}): the PAGE_DATA fields differ",
                        raw.header_offset
                    )));
                }
            } else if matches!(d, IgvmDirectiveHeader::PageData { .. }) != raw.page.is_some() {
                return Err(IgvmError::Disagree(format!("directive {i} (header at {:#x}): type differs", raw.header_offset)));
            }
        }
        Ok(())
    }

    pub fn platforms(&self) -> Vec<Platform> {
        self.file
            .platforms()
            .iter()
            .map(|IgvmPlatformHeader::SupportedPlatform(p)| Platform {
                compatibility_mask: p.compatibility_mask,
                platform_type: p.platform_type,
                highest_vtl: p.highest_vtl,
                shared_gpa_boundary: p.shared_gpa_boundary,
            })
            .collect()
    }

    /// The platform `mode` launches, or why the file cannot be launched that way.
    pub fn platform_for(&self, mode: Mode) -> Result<Platform, IgvmError> {
        let ps = self.platforms();
        ps.iter().copied().find(|p| p.mode() == Some(mode)).ok_or_else(|| IgvmError::NoPlatform {
            mode: mode.name(),
            declared: ps.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The SNP guest policy the file sets for `mask`, if any.
    pub fn guest_policy(&self, mask: u32) -> Option<u64> {
        self.file.initializations().iter().find_map(|h| match h {
            IgvmInitializationHeader::GuestPolicy { policy, compatibility_mask } if compatibility_mask & mask != 0 => Some(*policy),
            _ => None,
        })
    }

    /// The directives, with page data pointing into the file.
    pub fn directives(&self) -> Vec<Directive<'_>> {
        self.file
            .directives()
            .iter()
            .zip(&self.layout.directives)
            .enumerate()
            .map(|(index, (d, raw))| match d {
                IgvmDirectiveHeader::PageData { .. } => {
                    // check_agreement guarantees the raw page is there; the walk bounded its bytes.
                    let p = raw.page.unwrap_or(RawPage {
                        gpa: 0,
                        compatibility_mask: 0,
                        file_offset: 0,
                        flags: IgvmPageDataFlags::new(),
                        data_type: 0,
                    });
                    let data = if p.has_data() {
                        let start = p.file_offset as usize;
                        PageData::File { offset: start as u64, bytes: &self.bytes[start..start + p.size() as usize] }
                    } else {
                        PageData::None
                    };
                    Directive::Page { index, raw: p, data }
                }
                IgvmDirectiveHeader::ParameterArea { number_of_bytes, parameter_area_index, .. } => {
                    Directive::ParameterArea { index, area: *parameter_area_index, bytes: *number_of_bytes }
                }
                IgvmDirectiveHeader::ParameterInsert(p) => {
                    Directive::ParameterInsert { index, gpa: p.gpa, compatibility_mask: p.compatibility_mask, area: p.parameter_area_index }
                }
                IgvmDirectiveHeader::SnpVpContext { gpa, compatibility_mask, vp_index, vmsa } => {
                    Directive::SnpVpContext { index, gpa: *gpa, compatibility_mask: *compatibility_mask, vp_index: *vp_index, vmsa }
                }
                other => Directive::Other { index, name: directive_name(other), compatibility_mask: other.compatibility_mask() },
            })
            .collect()
    }

    /// The firmware image the file carries for platform `mask`: the longest run of 4 KiB pages with
    /// data that ends at 4 GiB (where a flash image maps), reassembled. `None` if there is none.
    pub fn embedded_firmware(&self, mask: u32) -> Option<Vec<u8>> {
        const TOP: u64 = 1 << 32;
        let mut pages: std::collections::HashMap<u64, &[u8]> = std::collections::HashMap::new();
        for d in self.directives() {
            if let Directive::Page { raw, data: PageData::File { bytes, .. }, .. } = d
                && raw.compatibility_mask & mask != 0
                && raw.size() == PAGE_4K
                && !raw.flags.shared()
            {
                pages.insert(raw.gpa, bytes);
            }
        }
        let mut base = TOP;
        while base >= PAGE_4K && pages.contains_key(&(base - PAGE_4K)) {
            base -= PAGE_4K;
        }
        if base == TOP {
            return None;
        }
        let mut out = Vec::with_capacity((TOP - base) as usize);
        for g in (base..TOP).step_by(PAGE_4K as usize) {
            out.extend_from_slice(pages[&g]);
        }
        Some(out)
    }

    /// Page counts by kind for one platform (what `inspect` lists).
    pub fn page_summary(&self, mask: u32) -> PageSummary {
        let mut s = PageSummary::default();
        for d in self.directives() {
            if let Directive::Page { raw, .. } = d {
                if raw.compatibility_mask & mask == 0 {
                    continue;
                }
                let pages = raw.size() / PAGE_4K;
                let slot = if raw.flags.shared() {
                    &mut s.shared
                } else {
                    match IgvmPageDataType(raw.data_type) {
                        IgvmPageDataType::SECRETS => &mut s.secrets,
                        IgvmPageDataType::CPUID_DATA | IgvmPageDataType::CPUID_XF => &mut s.cpuid,
                        _ if raw.flags.unmeasured() => &mut s.unmeasured,
                        _ if !raw.has_data() => &mut s.zero,
                        _ => &mut s.normal,
                    }
                };
                *slot += pages;
                if raw.size() == PAGE_2M {
                    s.large_pages += 1;
                }
            }
        }
        s
    }
}

/// 4 KiB pages of each kind, and how many directives were 2 MiB pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageSummary {
    pub normal: u64,
    pub zero: u64,
    pub unmeasured: u64,
    pub shared: u64,
    pub secrets: u64,
    pub cpuid: u64,
    pub large_pages: u64,
}

pub fn directive_name(d: &IgvmDirectiveHeader) -> &'static str {
    match d {
        IgvmDirectiveHeader::PageData { .. } => "PAGE_DATA",
        IgvmDirectiveHeader::ParameterArea { .. } => "PARAMETER_AREA",
        IgvmDirectiveHeader::VpCount(_) => "VP_COUNT_PARAMETER",
        IgvmDirectiveHeader::EnvironmentInfo(_) => "ENVIRONMENT_INFO_PARAMETER",
        IgvmDirectiveHeader::Srat(_) => "SRAT",
        IgvmDirectiveHeader::Madt(_) => "MADT",
        IgvmDirectiveHeader::Slit(_) => "SLIT",
        IgvmDirectiveHeader::Pptt(_) => "PPTT",
        IgvmDirectiveHeader::MmioRanges(_) => "MMIO_RANGES",
        IgvmDirectiveHeader::MemoryMap(_) => "MEMORY_MAP",
        IgvmDirectiveHeader::CommandLine(_) => "COMMAND_LINE",
        IgvmDirectiveHeader::DeviceTree(_) => "DEVICE_TREE",
        IgvmDirectiveHeader::RequiredMemory { .. } => "REQUIRED_MEMORY",
        IgvmDirectiveHeader::SnpVpContext { .. } => "VP_CONTEXT (SNP)",
        IgvmDirectiveHeader::X64NativeVpContext { .. } => "VP_CONTEXT (native)",
        IgvmDirectiveHeader::X64VbsVpContext { .. } => "VP_CONTEXT (VBS)",
        IgvmDirectiveHeader::AArch64VbsVpContext { .. } => "VP_CONTEXT (VBS AArch64)",
        IgvmDirectiveHeader::AArch64CcaVpContext { .. } => "VP_CONTEXT (CCA)",
        IgvmDirectiveHeader::ParameterInsert(_) => "PARAMETER_INSERT",
        IgvmDirectiveHeader::ErrorRange { .. } => "ERROR_RANGE",
        IgvmDirectiveHeader::SnpIdBlock { .. } => "SNP_ID_BLOCK",
        IgvmDirectiveHeader::VbsMeasurement { .. } => "VBS_MEASUREMENT",
    }
}
