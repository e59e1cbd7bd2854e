//! MRTD: one running SHA-384 over 128-byte blocks (TDH.MEM.PAGE.ADD and TDH.MR.EXTEND records),
//! started at TDH.MNG.INIT and finalised at TDH.MR.FINALIZE. It is a single serial stream, so the work
//! here is keeping that stream fed in large contiguous updates.

use crate::digest::Observer;
use crate::hash::{Sha384, Sha384Digest};
use crate::plan::{CheckedPlan, OpKind, PAGE_SIZE, PageOrder};

const BLOCK: usize = 128;
const CHUNK: usize = 256;

/// The TDX module's MRTD accumulator.
///
/// Records are built on the stack and chunks hashed in place from the caller's bytes: with OpenSSL,
/// an update that starts on a block boundary compresses straight from its input, so nothing is
/// copied (a staging buffer measured about 10% slower end to end, most of it faulting the buffer in).
#[derive(Debug, Clone, Default)]
pub struct Mrtd {
    h: Sha384,
}

/// A 128-byte PAGE.ADD or MR.EXTEND record: the operation's name, then the GPA at byte 16.
fn record(tag: &[u8], gpa: u64) -> [u8; BLOCK] {
    let mut r = [0u8; BLOCK];
    r[..tag.len()].copy_from_slice(tag);
    r[16..24].copy_from_slice(&gpa.to_le_bytes());
    r
}

impl Mrtd {
    /// TDH.MNG.INIT: an empty stream.
    pub fn new() -> Self {
        Mrtd { h: Sha384::new() }
    }

    /// TDH.MEM.PAGE.ADD of the 4 KiB page at `gpa`.
    pub fn page_add(&mut self, gpa: u64) {
        self.h.update(&record(b"MEM.PAGE.ADD", gpa));
    }

    /// TDH.MR.EXTEND of one 256-byte chunk at `gpa`.
    pub fn extend_chunk(&mut self, gpa: u64, chunk: &[u8; CHUNK]) {
        self.h.update(&record(b"MR.EXTEND", gpa));
        self.h.update(chunk);
    }

    /// The 16 TDH.MR.EXTENDs of the 4 KiB page at `gpa` (`page` must be one page).
    pub fn extend_page(&mut self, gpa: u64, page: &[u8]) {
        for (c, chunk) in page.chunks_exact(CHUNK).enumerate() {
            self.h.update(&record(b"MR.EXTEND", gpa + (c * CHUNK) as u64));
            self.h.update(chunk);
        }
    }

    /// The value so far, as TDH.MR.FINALIZE would produce it now.
    pub fn current(&self) -> Sha384Digest {
        self.h.clone().finish()
    }

    /// TDH.MR.FINALIZE.
    pub fn finish(self) -> Sha384Digest {
        self.h.finish()
    }
}

/// MRTD of a tdx plan, calling `observe(op_index, mrtd_so_far)` after each operation when given.
/// The check guarantees page-aligned TDX operations whose bytes are present.
pub fn fold(plan: &CheckedPlan<'_>, mut observe: Option<Observer<'_, Sha384Digest>>) -> Sha384Digest {
    let order = plan.tdx.map(|t| t.page_order).unwrap_or_default();
    let zero = [0u8; PAGE_SIZE as usize];
    let mut m = Mrtd::new();
    for (i, op) in plan.operations.iter().enumerate() {
        let extend = op.kind == OpKind::TdxAddExtend;
        let src = plan.source_bytes(op);
        let page = |p: u64| -> &[u8] { src.and_then(|s| s.get((p * PAGE_SIZE) as usize..((p + 1) * PAGE_SIZE) as usize)).unwrap_or(&zero) };
        let pages = op.len / PAGE_SIZE;
        match order {
            PageOrder::Single => {
                for p in 0..pages {
                    m.page_add(op.gpa + p * PAGE_SIZE);
                    if extend {
                        m.extend_page(op.gpa + p * PAGE_SIZE, page(p));
                    }
                }
            }
            PageOrder::TwoPass => {
                for p in 0..pages {
                    m.page_add(op.gpa + p * PAGE_SIZE);
                }
                if extend {
                    for p in 0..pages {
                        m.extend_page(op.gpa + p * PAGE_SIZE, page(p));
                    }
                }
            }
        }
        if let Some(obs) = observe.as_deref_mut() {
            obs(i, &m.current());
        }
    }
    m.finish()
}
