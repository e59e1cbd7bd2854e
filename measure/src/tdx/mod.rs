//! Intel TDX: MRTD as the TDX module computes it while the VMM adds the TDVF sections.

pub mod mrtd;
