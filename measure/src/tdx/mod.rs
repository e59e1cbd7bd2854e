//! Intel TDX: MRTD as the TDX module computes it while the VMM adds the TDVF sections, and the RTMRs
//! TDVF extends while it boots a kernel.

pub mod acpi;
pub mod boot;
pub mod boot_options;
pub mod compare;
pub mod events;
pub mod kernel_setup;
pub mod mrtd;
pub mod profiles;
pub mod rtmr;
pub mod smbios;
pub mod td_hob;
pub mod varstore;
