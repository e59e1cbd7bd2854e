//! AMD SEV-SNP: the launch-digest chain, VMSAs, the VMM profiles, vCPU signatures, the guest policy
//! and the kernel hashes table.

pub mod cpu;
pub mod digest;
pub mod gctx;
pub mod kernel_hashes;
pub mod policy;
pub mod vmm;
pub mod vmsa;

pub use gctx::{Gctx, PageType};
pub use kernel_hashes::KernelHashes;
pub use vmm::{Vmm, VmmProfile};
