//! Intel TDX: MRTD as the TDX module computes it while the VMM adds the TDVF sections, and the RTMRs
//! TDVF extends while it boots a kernel.

pub mod mrtd;
pub mod rtmr;
