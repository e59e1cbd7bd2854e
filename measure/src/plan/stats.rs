//! Layout statistics: populate calls, and how much of the firmware sits in whole 2 MiB frames.

use serde::Serialize;

use super::{LaunchPlan, PAGE_SIZE, REGION_ALIGN, Source};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionStats {
    pub name: String,
    pub frames_2m: u64,
    /// Frames every byte of which is populated from a file (firmware or SVSM).
    pub frames_file_only: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Populate calls if every 4 KiB page were its own call.
    pub calls_4k: u64,
    /// Populate calls with merged runs (VMSAs excluded: they are vCPU state).
    pub calls_merged: u64,
    pub vmsas: u64,
    pub file_bytes: u64,
    pub file_bytes_in_whole_frames: u64,
    /// `file_bytes_in_whole_frames / file_bytes`.
    pub whole_frame_share: f64,
    pub regions: Vec<RegionStats>,
}

pub fn stats(plan: &LaunchPlan) -> Stats {
    let mem_ops: Vec<_> = plan.operations.iter().filter(|o| !o.is_vmsa()).collect();
    let file_ops: Vec<_> = mem_ops.iter().filter(|o| matches!(o.source, Source::File { .. })).collect();
    let covered = |lo: u64, hi: u64| -> u64 { file_ops.iter().map(|o| o.end().min(hi).saturating_sub(o.gpa.max(lo))).sum() };
    let mut regions = Vec::new();
    let mut in_whole = 0;
    for r in &plan.regions {
        let frames = r.size / REGION_ALIGN;
        let mut full = 0;
        for f in 0..frames {
            let lo = r.gpa + f * REGION_ALIGN;
            if covered(lo, lo + REGION_ALIGN) == REGION_ALIGN {
                full += 1;
            }
        }
        in_whole += full * REGION_ALIGN;
        regions.push(RegionStats { name: r.name.clone(), frames_2m: frames, frames_file_only: full });
    }
    let file_bytes: u64 = file_ops.iter().map(|o| o.len).sum();
    Stats {
        calls_4k: mem_ops.iter().map(|o| o.len.div_ceil(PAGE_SIZE)).sum(),
        calls_merged: mem_ops.len() as u64,
        vmsas: (plan.operations.len() - mem_ops.len()) as u64,
        file_bytes,
        file_bytes_in_whole_frames: in_whole,
        whole_frame_share: if file_bytes == 0 { 0.0 } else { in_whole as f64 / file_bytes as f64 },
        regions,
    }
}
