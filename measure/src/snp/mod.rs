//! AMD SEV-SNP: the launch-digest chain, VMSAs, vCPU signatures and the kernel hashes table.

pub mod cpu;
pub mod digest;
pub mod gctx;
pub mod kernel_hashes;
pub mod vmsa;

pub use gctx::{Gctx, PageType};
pub use kernel_hashes::KernelHashes;
pub use vmsa::Vmm;
