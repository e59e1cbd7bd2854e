//! KVM uAPI that kvm-bindings 0.14 lacks, transcribed from torvalds/linux `include/uapi/linux/kvm.h`
//! and `arch/x86/include/uapi/asm/kvm.h` (and, for KVM_SET_MEMORY_ATTRIBUTES2, the guest_memfd
//! in-place conversion RFC). Every struct carries a compile-time size check; the tests pin offsets.
//! The SEV/SNP structs come from kvm-bindings; their sizes are checked against the kernel here too.

use std::mem::size_of;

use kvm_bindings::kvm_cpuid_entry2;

use crate::sys::{KVMIO, iow, iowr};

/// `KVM_CAP_USER_MEMORY2`.
pub const KVM_CAP_USER_MEMORY2: u64 = 231;
/// `KVM_CAP_MEMORY_ATTRIBUTES`: the VM-level attributes KVM_SET_MEMORY_ATTRIBUTES accepts.
pub const KVM_CAP_MEMORY_ATTRIBUTES: u64 = 233;
/// `KVM_CAP_GUEST_MEMFD`.
pub const KVM_CAP_GUEST_MEMFD: u64 = 234;
/// `KVM_CAP_VM_TYPES`: a bit mask of the VM types KVM_CREATE_VM accepts.
pub const KVM_CAP_VM_TYPES: u64 = 235;
/// `KVM_CAP_GUEST_MEMFD_FLAGS`: the KVM_CREATE_GUEST_MEMFD flags this VM accepts.
pub const KVM_CAP_GUEST_MEMFD_FLAGS: u64 = 244;

/// guest_memfd can be mmap()ed by the host.
pub const GUEST_MEMFD_FLAG_MMAP: u64 = 1 << 0;
/// guest_memfd memory starts shared (host-accessible) rather than private.
pub const GUEST_MEMFD_FLAG_INIT_SHARED: u64 = 1 << 1;

/// `KVM_MEMORY_ATTRIBUTE_PRIVATE`.
pub const KVM_MEMORY_ATTRIBUTE_PRIVATE: u64 = 1 << 3;

/// VM types (`KVM_X86_*_VM`).
pub const KVM_X86_DEFAULT_VM: u64 = 0;
pub const KVM_X86_SNP_VM: u64 = 4;
pub const KVM_X86_TDX_VM: u64 = 5;

/// `KVM_SET_MEMORY_ATTRIBUTES2` (RFC, on the guest_memfd fd): offsets are guest_memfd offsets.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KvmMemoryAttributes2 {
    pub offset: u64,
    pub size: u64,
    pub attributes: u64,
    pub flags: u64,
    /// Out: where the conversion stopped (with EAGAIN).
    pub error_offset: u64,
    pub reserved: [u64; 11],
}
const _: () = assert!(size_of::<KvmMemoryAttributes2>() == 128);

pub const KVM_SET_MEMORY_ATTRIBUTES2: u64 = iowr(KVMIO, 0xd2, size_of::<KvmMemoryAttributes2>());
/// `KVM_GET_DEVICE_ATTR`: `_IOW(KVMIO, 0xe2, struct kvm_device_attr)`, here on the /dev/kvm fd.
pub const KVM_GET_DEVICE_ATTR: u64 = iow(KVMIO, 0xe2, size_of::<kvm_bindings::kvm_device_attr>());
/// `KVM_X86_GRP_SEV` and its attribute `KVM_X86_SEV_VMSA_FEATURES` (arch/x86/include/uapi/asm/kvm.h):
/// the SEV features KVM_SEV_INIT2's `vmsa_features` may carry on this host.
pub const KVM_X86_GRP_SEV: u32 = 1;
pub const KVM_X86_SEV_VMSA_FEATURES: u64 = 0;
/// `KVM_MEMORY_ENCRYPT_OP`: `_IOWR(KVMIO, 0xba, unsigned long)`; kvm-ioctls only issues it on VM fds.
pub const KVM_MEMORY_ENCRYPT_OP: u64 = iowr(KVMIO, 0xba, size_of::<std::ffi::c_ulong>());

/// `enum kvm_tdx_cmd_id`.
pub const KVM_TDX_CAPABILITIES: u32 = 0;
pub const KVM_TDX_INIT_VM: u32 = 1;
pub const KVM_TDX_INIT_VCPU: u32 = 2;
pub const KVM_TDX_INIT_MEM_REGION: u32 = 3;
pub const KVM_TDX_FINALIZE_VM: u32 = 4;
/// `KVM_TDX_INIT_MEM_REGION` flag: also TDH.MR.EXTEND every 256-byte chunk.
pub const KVM_TDX_MEASURE_MEMORY_REGION: u32 = 1 << 0;

/// `struct kvm_tdx_cmd`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KvmTdxCmd {
    pub id: u32,
    pub flags: u32,
    pub data: u64,
    pub hw_error: u64,
}
const _: () = assert!(size_of::<KvmTdxCmd>() == 24);

/// `struct kvm_tdx_init_mem_region`; the kernel writes it back advanced when it stops early.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KvmTdxInitMemRegion {
    pub source_addr: u64,
    pub gpa: u64,
    pub nr_pages: u64,
}
const _: () = assert!(size_of::<KvmTdxInitMemRegion>() == 24);

/// `KVM_MAX_CPUID_ENTRIES`.
pub const KVM_MAX_CPUID_ENTRIES: usize = 256;

/// `struct kvm_cpuid2` with room for the maximum number of entries.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Cpuid2 {
    pub nent: u32,
    pub padding: u32,
    pub entries: [kvm_cpuid_entry2; KVM_MAX_CPUID_ENTRIES],
}
const _: () = assert!(size_of::<Cpuid2>() == 8 + 40 * KVM_MAX_CPUID_ENTRIES);

impl Default for Cpuid2 {
    fn default() -> Self {
        Cpuid2 { nent: 0, padding: 0, entries: [kvm_cpuid_entry2::default(); KVM_MAX_CPUID_ENTRIES] }
    }
}

/// `struct kvm_tdx_capabilities` followed by its `struct kvm_cpuid2`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct KvmTdxCapabilities {
    pub supported_attrs: u64,
    pub supported_xfam: u64,
    pub kernel_tdvmcallinfo_1_r11: u64,
    pub user_tdvmcallinfo_1_r11: u64,
    pub kernel_tdvmcallinfo_1_r12: u64,
    pub user_tdvmcallinfo_1_r12: u64,
    pub reserved: [u64; 250],
    pub cpuid: Cpuid2,
}
const _: () = assert!(size_of::<KvmTdxCapabilities>() == 2048 + size_of::<Cpuid2>());

impl Default for KvmTdxCapabilities {
    fn default() -> Self {
        KvmTdxCapabilities {
            supported_attrs: 0,
            supported_xfam: 0,
            kernel_tdvmcallinfo_1_r11: 0,
            user_tdvmcallinfo_1_r11: 0,
            kernel_tdvmcallinfo_1_r12: 0,
            user_tdvmcallinfo_1_r12: 0,
            reserved: [0; 250],
            cpuid: Cpuid2::default(),
        }
    }
}

/// `struct kvm_tdx_init_vm` followed by its `struct kvm_cpuid2`: 256 bytes of TD_PARAMS fields.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct KvmTdxInitVm {
    pub attributes: u64,
    pub xfam: u64,
    pub mrconfigid: [u64; 6],
    pub mrowner: [u64; 6],
    pub mrownerconfig: [u64; 6],
    pub reserved: [u64; 12],
    pub cpuid: Cpuid2,
}
const _: () = assert!(size_of::<KvmTdxInitVm>() == 256 + size_of::<Cpuid2>());

// The SEV/SNP structs kvm-bindings provides, pinned to the kernel's sizes (struct kvm_sev_cmd,
// kvm_sev_init, kvm_sev_snp_launch_start/update/finish in arch/x86/include/uapi/asm/kvm.h).
const _: () = assert!(size_of::<kvm_bindings::kvm_sev_cmd>() == 24);
const _: () = assert!(size_of::<kvm_bindings::kvm_sev_init>() == 48);
const _: () = assert!(size_of::<kvm_bindings::kvm_sev_snp_launch_start>() == 64);
const _: () = assert!(size_of::<kvm_bindings::kvm_sev_snp_launch_update>() == 64);
const _: () = assert!(size_of::<kvm_bindings::kvm_sev_snp_launch_finish>() == 88);
const _: () = assert!(size_of::<kvm_bindings::kvm_userspace_memory_region2>() == 160);
const _: () = assert!(size_of::<kvm_bindings::kvm_create_guest_memfd>() == 64);
const _: () = assert!(size_of::<kvm_bindings::kvm_memory_attributes>() == 32);

/// SEV command ids (`enum sev_cmd_id`).
pub const KVM_SEV_INIT2: u32 = 22;
pub const KVM_SEV_SNP_LAUNCH_START: u32 = 100;
pub const KVM_SEV_SNP_LAUNCH_UPDATE: u32 = 101;
pub const KVM_SEV_SNP_LAUNCH_FINISH: u32 = 102;

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use kvm_bindings::{
        kvm_sev_cmd, kvm_sev_init, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update,
        kvm_userspace_memory_region2,
    };

    use super::*;

    #[test]
    fn memory_attributes2_layout() {
        assert_eq!(offset_of!(KvmMemoryAttributes2, offset), 0);
        assert_eq!(offset_of!(KvmMemoryAttributes2, size), 8);
        assert_eq!(offset_of!(KvmMemoryAttributes2, attributes), 16);
        assert_eq!(offset_of!(KvmMemoryAttributes2, flags), 24);
        assert_eq!(offset_of!(KvmMemoryAttributes2, error_offset), 32);
        assert_eq!(offset_of!(KvmMemoryAttributes2, reserved), 40);
        assert_eq!(KVM_SET_MEMORY_ATTRIBUTES2, 0xc080_aed2);
        assert_eq!(KVM_MEMORY_ENCRYPT_OP, 0xc008_aeba);
        assert_eq!(KVM_GET_DEVICE_ATTR, 0x4018_aee2);
    }

    #[test]
    fn tdx_layouts_match_the_kernel() {
        assert_eq!((offset_of!(KvmTdxCmd, flags), offset_of!(KvmTdxCmd, data), offset_of!(KvmTdxCmd, hw_error)), (4, 8, 16));
        assert_eq!((offset_of!(KvmTdxInitMemRegion, gpa), offset_of!(KvmTdxInitMemRegion, nr_pages)), (8, 16));
        assert_eq!(offset_of!(KvmTdxInitVm, xfam), 8);
        assert_eq!(offset_of!(KvmTdxInitVm, mrconfigid), 16);
        assert_eq!(offset_of!(KvmTdxInitVm, mrowner), 64);
        assert_eq!(offset_of!(KvmTdxInitVm, mrownerconfig), 112);
        assert_eq!(offset_of!(KvmTdxInitVm, reserved), 160);
        assert_eq!(offset_of!(KvmTdxInitVm, cpuid), 256, "TD_PARAMS fields take 256 bytes before the CPUIDs");
        assert_eq!(offset_of!(KvmTdxCapabilities, user_tdvmcallinfo_1_r12), 40);
        assert_eq!(offset_of!(KvmTdxCapabilities, cpuid), 2048);
        assert_eq!(offset_of!(Cpuid2, entries), 8);
        assert_eq!(size_of::<kvm_cpuid_entry2>(), 40);
    }

    #[test]
    fn sev_snp_layouts_match_the_kernel() {
        assert_eq!((offset_of!(kvm_sev_cmd, data), offset_of!(kvm_sev_cmd, error), offset_of!(kvm_sev_cmd, sev_fd)), (8, 16, 20));
        assert_eq!((offset_of!(kvm_sev_init, flags), offset_of!(kvm_sev_init, ghcb_version), offset_of!(kvm_sev_init, pad2)), (8, 12, 16));
        assert_eq!((offset_of!(kvm_sev_snp_launch_start, gosvw), offset_of!(kvm_sev_snp_launch_start, flags)), (8, 24));
        assert_eq!(offset_of!(kvm_sev_snp_launch_update, len), 16);
        assert_eq!(offset_of!(kvm_sev_snp_launch_update, type_), 24);
        assert_eq!(offset_of!(kvm_sev_snp_launch_update, flags), 26);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, id_block_en), 16);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, vcek_disabled), 18, "the sev crate 8.0.0 lacks this field");
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, host_data), 19);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, flags), 54);
        assert_eq!(offset_of!(kvm_userspace_memory_region2, guest_memfd_offset), 32);
        assert_eq!(offset_of!(kvm_userspace_memory_region2, guest_memfd), 40);
    }

    #[test]
    fn snp_command_ids_match_kvm_bindings() {
        assert_eq!(KVM_SEV_INIT2, kvm_bindings::sev_cmd_id_KVM_SEV_INIT2);
        assert_eq!(KVM_SEV_SNP_LAUNCH_START, kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_START);
        assert_eq!(KVM_SEV_SNP_LAUNCH_UPDATE, kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_UPDATE);
        assert_eq!(KVM_SEV_SNP_LAUNCH_FINISH, kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_FINISH);
        assert_eq!(KVM_X86_SNP_VM, kvm_bindings::KVM_X86_SNP_VM as u64);
        assert_eq!(KVM_X86_TDX_VM, kvm_bindings::KVM_X86_TDX_VM as u64);
        assert_eq!(KVM_MEMORY_ATTRIBUTE_PRIVATE, kvm_bindings::KVM_MEMORY_ATTRIBUTE_PRIVATE as u64);
    }
}
