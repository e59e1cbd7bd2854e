//! Guest memory: one host mapping per plan region, 2 MiB aligned, behind [`MemoryBackend`].
//!
//! - [`guest_memfd`]: the real path: a KVM guest_memfd per region (MMAP | INIT_SHARED), mapped
//!   MAP_SHARED | MAP_POPULATE, bound as a memslot with KVM_SET_USER_MEMORY_REGION2.
//! - [`memfd`]: the fallback where /dev/kvm is unusable: memfd_create + mmap, no VM.
//! - [`convert`]: conversion to private (KVM_SET_MEMORY_ATTRIBUTES2 / KVM_SET_MEMORY_ATTRIBUTES) and
//!   its bounded EAGAIN retry.

pub mod convert;
pub mod guest_memfd;
pub mod mapping;
pub mod memfd;

use std::io;

use serde::Serialize;

use convert::{ConvertError, HostConversion};
use mapping::AlignedMapping;

/// Alignment of every host mapping.
pub const MAP_ALIGN: usize = 2 << 20;

/// Which backend holds guest memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    GuestMemfd,
    Memfd,
}

impl MemoryKind {
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::GuestMemfd => "guest_memfd",
            MemoryKind::Memfd => "memfd",
        }
    }
}

/// The backend a load asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryChoice {
    /// guest_memfd, or memfd (said loudly) where /dev/kvm is unusable.
    #[default]
    Auto,
    GuestMemfd,
    Memfd,
}

/// Why guest memory cannot be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// An OS call on a region failed; EMFILE and ENOMEM say what to do.
    #[error("region {region} at {gpa:#x}: {what}: {}", crate::sys::describe_os_error(source))]
    Region { region: String, gpa: u64, what: &'static str, source: io::Error },
    #[error("region {region} at {gpa:#x}: {what}: {errno}")]
    Ioctl { region: String, gpa: u64, what: &'static str, errno: String },
    #[error("no guest memory at [{gpa:#x}, +{len:#x})")]
    OutOfRange { gpa: u64, len: u64 },
    #[error("converting [{gpa:#x}, +{len:#x}) to private: {source}")]
    Convert { gpa: u64, len: u64, source: ConvertError },
    #[error("converting to private stopped at GPA {at_gpa:#x}: pages still in use (EAGAIN) after {tries} tries")]
    ConvertStuck { at_gpa: u64, tries: u32 },
    #[error(transparent)]
    Kvm(#[from] crate::kvm::KvmError),
}

/// One region as mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedRegion {
    pub name: String,
    pub gpa: u64,
    pub size: u64,
    /// Host address of the mapping.
    pub host_addr: u64,
    /// Offset of the region in its guest_memfd (guest_memfd only).
    pub gmem_offset: u64,
    /// KVM memslot (guest_memfd only).
    pub slot: Option<u32>,
}

impl MappedRegion {
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        gpa >= self.gpa && gpa.checked_add(len).is_some_and(|e| e <= self.gpa + self.size)
    }
}

/// Guest memory as the loader and the platforms see it.
pub trait MemoryBackend {
    fn kind(&self) -> MemoryKind;
    fn regions(&self) -> Vec<MappedRegion>;
    /// Whether bytes written through the host mapping are what the guest gets (false for the legacy
    /// private guest_memfd layout, where populate copies from a source buffer instead).
    fn host_accessible(&self) -> bool {
        true
    }
    /// `len` bytes of guest memory at `gpa`, if inside one region.
    fn bytes(&self, gpa: u64, len: u64) -> Option<&[u8]>;
    fn bytes_mut(&mut self, gpa: u64, len: u64) -> Option<&mut [u8]>;
    /// What this host offers for conversion to private.
    fn host_conversion(&self) -> &HostConversion;
    /// One conversion attempt of `[gpa, gpa + len)` (inside one region) to private.
    fn convert_once(&mut self, gpa: u64, len: u64) -> Result<(), ConvertError>;
    /// The VM, for backends that have one.
    fn vm(&self) -> Option<&std::sync::Arc<crate::kvm::Vm>> {
        None
    }
}

/// Mapped regions with address lookup, shared by the backends. Entries are kept sorted by GPA
/// (regions are disjoint), so a lookup, done for every page populated, is a binary search.
#[derive(Debug, Default)]
pub(crate) struct RegionMaps {
    entries: Vec<(MappedRegion, AlignedMapping)>,
}

impl RegionMaps {
    /// Adds a mapped region, keeping the order; its index now.
    pub(crate) fn push(&mut self, region: MappedRegion, map: AlignedMapping) -> usize {
        let at = self.entries.partition_point(|(r, _)| r.gpa < region.gpa);
        self.entries.insert(at, (region, map));
        at
    }

    pub(crate) fn entries(&self) -> &[(MappedRegion, AlignedMapping)] {
        &self.entries
    }

    pub(crate) fn entries_mut(&mut self) -> &mut [(MappedRegion, AlignedMapping)] {
        &mut self.entries
    }

    pub(crate) fn find(&self, gpa: u64, len: u64) -> Option<(usize, usize)> {
        let i = self.entries.partition_point(|(r, _)| r.gpa <= gpa).checked_sub(1)?;
        self.entries[i].0.contains(gpa, len).then(|| (i, (gpa - self.entries[i].0.gpa) as usize))
    }

    pub(crate) fn bytes(&self, gpa: u64, len: u64) -> Option<&[u8]> {
        let (i, off) = self.find(gpa, len)?;
        self.entries[i].1.bytes(off, usize::try_from(len).ok()?)
    }

    pub(crate) fn bytes_mut(&mut self, gpa: u64, len: u64) -> Option<&mut [u8]> {
        let (i, off) = self.find(gpa, len)?;
        self.entries[i].1.bytes_mut(off, usize::try_from(len).ok()?)
    }

    pub(crate) fn regions(&self) -> Vec<MappedRegion> {
        self.entries.iter().map(|(r, _)| r.clone()).collect()
    }
}

fn region_size(r: &prelaunch_measure::plan::Region) -> Result<usize, MemoryError> {
    usize::try_from(r.size).map_err(|_| MemoryError::Region {
        region: r.name.clone(),
        gpa: r.gpa,
        what: "size",
        source: io::Error::new(io::ErrorKind::InvalidInput, "does not fit this host's address space"),
    })
}
