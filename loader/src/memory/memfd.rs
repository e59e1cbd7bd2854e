//! The fallback backend where /dev/kvm is unusable: one memfd per region, mapped like guest_memfd
//! (MAP_SHARED | MAP_POPULATE, 2 MiB aligned). There is no VM: no memslots, no conversion, no vCPU.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use prelaunch_measure::plan::Region;

use super::convert::{ConvertError, HostConversion};
use super::mapping::AlignedMapping;
use super::{MAP_ALIGN, MappedRegion, MemoryBackend, MemoryError, MemoryKind, RegionMaps, region_size};

/// Guest memory in memfds.
#[derive(Debug)]
pub struct MemfdBackend {
    maps: RegionMaps,
    host: HostConversion,
}

fn memfd(name: &str, size: u64) -> io::Result<OwnedFd> {
    let cname = CString::new(format!("prelaunch:{name}").replace('\0', "?")).map_err(io::Error::other)?;
    // SAFETY: `cname` is a valid NUL-terminated string; memfd_create returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by memfd_create and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let file = std::fs::File::from(fd);
    file.set_len(size)?;
    Ok(file.into())
}

impl MemfdBackend {
    /// Maps every region.
    pub fn create(regions: &[Region]) -> Result<Self, MemoryError> {
        let mut maps = RegionMaps::default();
        for r in regions {
            let len = region_size(r)?;
            let err = |what, source| MemoryError::Region { region: r.name.clone(), gpa: r.gpa, what, source };
            let fd = memfd(&r.name, r.size).map_err(|e| err("memfd_create", e))?;
            // The mapping keeps the file alive; the descriptor is closed when `fd` drops here.
            let map = AlignedMapping::map_shared(fd.as_fd(), 0, len, MAP_ALIGN, true).map_err(|e| err("mmap", e))?;
            let info = MappedRegion { name: r.name.clone(), gpa: r.gpa, size: r.size, host_addr: map.addr(), gmem_offset: 0, slot: None };
            maps.push(info, map);
        }
        Ok(MemfdBackend { maps, host: HostConversion::none("memfd memory, no KVM VM") })
    }
}

impl MemoryBackend for MemfdBackend {
    fn kind(&self) -> MemoryKind {
        MemoryKind::Memfd
    }

    fn regions(&self) -> Vec<MappedRegion> {
        self.maps.regions()
    }

    fn bytes(&self, gpa: u64, len: u64) -> Option<&[u8]> {
        self.maps.bytes(gpa, len)
    }

    fn bytes_mut(&mut self, gpa: u64, len: u64) -> Option<&mut [u8]> {
        self.maps.bytes_mut(gpa, len)
    }

    fn host_conversion(&self) -> &HostConversion {
        &self.host
    }

    fn convert_once(&mut self, _gpa: u64, _len: u64) -> Result<(), ConvertError> {
        Err(ConvertError::Unsupported("memfd memory has no private state (no KVM)".into()))
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::RegionPurpose;

    use super::*;

    #[test]
    fn maps_regions_aligned_and_zeroed_and_finds_them_by_gpa() {
        let regions = [
            Region { name: "ram".into(), purpose: RegionPurpose::Ram, gpa: 0x80_0000, size: 2 << 20, gmem_offset: 0 },
            Region { name: "firmware".into(), purpose: RegionPurpose::Firmware, gpa: 0xffe0_0000, size: 2 << 20, gmem_offset: 0 },
        ];
        let mut m = MemfdBackend::create(&regions).unwrap();
        assert_eq!(m.kind(), MemoryKind::Memfd);
        for r in m.regions() {
            assert_eq!(r.host_addr % MAP_ALIGN as u64, 0, "{r:?}");
        }
        assert!(m.bytes(0xffe0_1000, 4096).unwrap().iter().all(|&b| b == 0));
        m.bytes_mut(0xffff_f000, 4).unwrap().copy_from_slice(b"OVMF");
        assert_eq!(m.bytes(0xffff_f000, 4).unwrap(), b"OVMF");
        assert!(m.bytes(0xffff_f000, 0x2000).is_none(), "crosses the end of the region");
        assert!(m.bytes(0x1000, 1).is_none());
        assert!(matches!(m.convert_once(0x80_0000, 4096), Err(ConvertError::Unsupported(_))));
    }
}
