//! KVM guest_memfd memory: one guest_memfd per plan region, created with GUEST_MEMFD_FLAG_MMAP |
//! GUEST_MEMFD_FLAG_INIT_SHARED, mapped MAP_SHARED | MAP_POPULATE at a 2 MiB-aligned address and bound
//! as a memslot with KVM_SET_USER_MEMORY_REGION2 (KVM_MEM_GUEST_MEMFD, userspace_addr = that mapping:
//! the host writes the image straight into guest memory, and a vCPU reads it through the same pages).
//!
//! Where the VM's guest_memfd cannot be mapped (confidential VM types on kernels without the in-place
//! series), the guest_memfd is private-only and the memslot's shared half is anonymous memory; the
//! platform then populates from a source buffer ([`MemoryBackend::host_accessible`] is false).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use kvm_bindings::{KVM_MEM_GUEST_MEMFD, kvm_create_guest_memfd, kvm_memory_attributes, kvm_userspace_memory_region2};
use prelaunch_measure::plan::Region;

use super::convert::{ConvertError, HostConversion, Offer};
use super::mapping::AlignedMapping;
use super::{MAP_ALIGN, MappedRegion, MemoryBackend, MemoryError, MemoryKind, RegionMaps, region_size};
use crate::kvm::uapi::{
    GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_SET_MEMORY_ATTRIBUTES2, KvmMemoryAttributes2,
};
use crate::kvm::{KvmError, Vm, VmType};
use crate::sys::{errno_name, ioctl_ptr};

/// Guest memory in guest_memfds bound to a VM.
#[derive(Debug)]
pub struct GuestMemfdBackend {
    vm: Arc<Vm>,
    maps: RegionMaps,
    /// One per region, in region order.
    fds: Vec<OwnedFd>,
    mappable: bool,
    host: HostConversion,
}

/// `KVM_SET_MEMORY_ATTRIBUTES2` on a guest_memfd.
fn set_attributes2(fd: &OwnedFd, attrs: &mut KvmMemoryAttributes2) -> Result<(), i32> {
    // SAFETY: `attrs` is a live KvmMemoryAttributes2, the 128-byte struct the request encodes; the
    // kernel reads it and may write `error_offset` back.
    unsafe { ioctl_ptr(fd, KVM_SET_MEMORY_ATTRIBUTES2, attrs as *mut KvmMemoryAttributes2) }.map(|_| ())
}

impl GuestMemfdBackend {
    /// Creates, maps and binds one guest_memfd per region (memslots 0..n).
    pub fn create(vm: Arc<Vm>, regions: &[Region]) -> Result<Self, MemoryError> {
        let offered = vm.guest_memfd_flags()?;
        let want = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
        let mappable = offered & want == want;
        if !mappable && vm.vm_type() == VmType::Default {
            return Err(KvmError::NotMappable { flags: offered }.into());
        }
        let mut me =
            GuestMemfdBackend { vm, maps: RegionMaps::default(), fds: Vec::new(), mappable, host: HostConversion::none("not probed") };
        for (i, r) in regions.iter().enumerate() {
            me.add_region(i as u32, r, if mappable { want } else { 0 })?;
        }
        me.host = me.probe_conversion();
        Ok(me)
    }

    fn add_region(&mut self, slot: u32, r: &Region, flags: u64) -> Result<(), MemoryError> {
        let len = region_size(r)?;
        let ioctl_err = |what, errno: i32| MemoryError::Ioctl {
            region: r.name.clone(),
            gpa: r.gpa,
            what,
            errno: format!("{}{}", errno_name(errno), crate::sys::errno_hint(errno)),
        };
        let size = r.gmem_offset.checked_add(r.size).ok_or_else(|| MemoryError::Region {
            region: r.name.clone(),
            gpa: r.gpa,
            what: "guest_memfd size",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("offset {:#x} + size {:#x} overflows", r.gmem_offset, r.size),
            ),
        })?;
        let gmem = kvm_create_guest_memfd { size, flags, reserved: [0; 6] };
        let raw = self.vm.fd().create_guest_memfd(gmem).map_err(|e| ioctl_err("KVM_CREATE_GUEST_MEMFD", e.errno()))?;
        // SAFETY: `raw` is a new descriptor returned by KVM_CREATE_GUEST_MEMFD, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let map = if self.mappable {
            AlignedMapping::map_shared(fd.as_fd(), r.gmem_offset, len, MAP_ALIGN, true)
        } else {
            AlignedMapping::anonymous(len, MAP_ALIGN)
        }
        .map_err(|source| MemoryError::Region { region: r.name.clone(), gpa: r.gpa, what: "mmap", source })?;
        let slot_def = kvm_userspace_memory_region2 {
            slot,
            flags: KVM_MEM_GUEST_MEMFD,
            guest_phys_addr: r.gpa,
            memory_size: r.size,
            userspace_addr: map.addr(),
            guest_memfd_offset: r.gmem_offset,
            guest_memfd: fd.as_raw_fd() as u32,
            pad1: 0,
            pad2: [0; 14],
        };
        let info =
            MappedRegion { name: r.name.clone(), gpa: r.gpa, size: r.size, host_addr: map.addr(), gmem_offset: r.gmem_offset, slot: None };
        // Kept before binding so that Drop unmaps it whatever happens next.
        let at = self.maps.push(info, map);
        self.fds.push(fd);
        // SAFETY: userspace_addr is a mapping of `memory_size` bytes owned by this backend; the slot is
        // deleted in Drop before the mapping goes. KVM only accesses it while the VM runs a vCPU or
        // populates memory, which the loader does while this backend is alive.
        unsafe { self.vm.fd().set_user_memory_region2(slot_def) }.map_err(|e| ioctl_err("KVM_SET_USER_MEMORY_REGION2", e.errno()))?;
        if let Some((info, _)) = self.maps.entries_mut().get_mut(at) {
            info.slot = Some(slot);
        }
        Ok(())
    }

    /// Probes both conversion ioctls without converting anything: a zero-length request is refused
    /// with EINVAL by a kernel that knows the ioctl and ENOTTY by one that does not.
    fn probe_conversion(&self) -> HostConversion {
        let attributes2 = match self.fds.first() {
            None => Offer::No("no guest_memfd".into()),
            Some(fd) => {
                let mut a = KvmMemoryAttributes2 { attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
                match set_attributes2(fd, &mut a) {
                    Ok(()) | Err(libc::EINVAL) => Offer::Yes,
                    Err(e) => Offer::No(errno_name(e)),
                }
            }
        };
        let probe = kvm_memory_attributes { address: 0, size: 0, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 };
        let vm_attributes = match self.vm.fd().set_memory_attributes(probe) {
            Err(e) if e.errno() != libc::EINVAL => Offer::No(errno_name(e.errno())),
            _ => {
                let attrs = self.vm.check(KVM_CAP_MEMORY_ATTRIBUTES).max(0) as u64;
                if attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE != 0 {
                    Offer::Yes
                } else {
                    Offer::No(format!("KVM_CAP_MEMORY_ATTRIBUTES is {attrs:#x}: no PRIVATE attribute for this VM type"))
                }
            }
        };
        HostConversion { attributes2, vm_attributes }
    }
}

impl MemoryBackend for GuestMemfdBackend {
    fn kind(&self) -> MemoryKind {
        MemoryKind::GuestMemfd
    }

    fn regions(&self) -> Vec<MappedRegion> {
        self.maps.regions()
    }

    fn host_accessible(&self) -> bool {
        self.mappable
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

    fn convert_once(&mut self, gpa: u64, len: u64) -> Result<(), ConvertError> {
        let (i, _) = self.maps.find(gpa, len).ok_or_else(|| ConvertError::Unsupported(format!("no region holds [{gpa:#x}, +{len:#x})")))?;
        let region = &self.maps.entries()[i].0;
        if self.host.attributes2.offered() {
            let offset = region.gmem_offset + (gpa - region.gpa);
            let mut a = KvmMemoryAttributes2 { offset, size: len, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, ..Default::default() };
            return match set_attributes2(&self.fds[i], &mut a) {
                Ok(()) => Ok(()),
                Err(libc::EAGAIN) => {
                    let stopped = a.error_offset.clamp(offset, offset + len);
                    Err(ConvertError::Again { at_gpa: region.gpa + (stopped - region.gmem_offset) })
                }
                Err(e) => Err(ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES2", errno: errno_name(e) }),
            };
        }
        if self.host.vm_attributes.offered() {
            let a = kvm_memory_attributes { address: gpa, size: len, attributes: KVM_MEMORY_ATTRIBUTE_PRIVATE, flags: 0 };
            return match self.vm.fd().set_memory_attributes(a) {
                Ok(()) => Ok(()),
                Err(e) if e.errno() == libc::EAGAIN => Err(ConvertError::Again { at_gpa: gpa }),
                Err(e) => Err(ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES", errno: errno_name(e.errno()) }),
            };
        }
        Err(ConvertError::Unsupported(self.host.describe()))
    }

    fn vm(&self) -> Option<&Arc<Vm>> {
        Some(&self.vm)
    }
}

impl Drop for GuestMemfdBackend {
    fn drop(&mut self) {
        for (info, _) in self.maps.entries() {
            if let Some(slot) = info.slot {
                let delete = kvm_userspace_memory_region2 { slot, ..Default::default() };
                // SAFETY: a zero-sized region deletes the slot; no host memory is referenced.
                let _ = unsafe { self.vm.fd().set_user_memory_region2(delete) };
            }
        }
    }
}
