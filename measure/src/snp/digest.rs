//! Folding a plan into the SNP launch digest. Page contents are hashed in parallel; only the PAGE_INFO
//! chain, which is inherently serial, runs on one core. Each distinct generated page (VMSA, kernel
//! hashes page) is hashed once however many vCPUs use it.

use std::collections::HashMap;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Gctx, PageType};
use crate::digest::Observer;
use crate::hash::{Sha384, Sha384Digest};
use crate::plan::{CheckedPlan, InputKind, LaunchPlan, PAGE_SIZE, Source};

/// Pages per chunk of parallel work: a multiple of every SIMD lane count, large enough to amortise
/// handing it out, small enough that the chain starts early.
const CHUNK: usize = 64;

/// Starts the fold after the first `after_ops` operations with a known digest (sev-snp-measure's
/// `--snp-ovmf-hash`: the firmware pages' digest computed elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub ld: Sha384Digest,
    pub after_ops: usize,
}

/// Where the contents digest of each measured page comes from.
enum Contents {
    /// Index of the operation's first page in the work list; pages follow consecutively.
    Pages(usize),
    /// Index of a shared generated page.
    Shared(usize),
    Unmeasured,
}

/// The launch digest of an snp plan, calling `observe(op_index, ld)` after each operation when
/// given; with `resume`, the chain starts after its prefix. The check guarantees SNP page types,
/// whole pages and present source bytes.
pub fn fold(plan: &CheckedPlan<'_>, resume: Option<Resume>, mut observe: Option<Observer<'_, Sha384Digest>>) -> Sha384Digest {
    let start = resume.map_or(0, |r| r.after_ops);
    let ops = plan.operations.get(start..).unwrap_or(&[]);

    let mut work: Vec<&[u8]> = Vec::new();
    let mut shared: HashMap<&str, usize> = HashMap::new();
    let mut contents = Vec::with_capacity(ops.len());
    for op in ops {
        let measured = op.kind.page_type().is_some_and(PageType::measures_contents);
        let Some(bytes) = plan.source_bytes(op).filter(|_| measured) else {
            contents.push(Contents::Unmeasured);
            continue;
        };
        match &op.source {
            Source::Page { page } if op.len == PAGE_SIZE => {
                let idx = *shared.entry(page.as_str()).or_insert_with(|| {
                    work.push(bytes);
                    work.len() - 1
                });
                contents.push(Contents::Shared(idx));
            }
            _ => {
                contents.push(Contents::Pages(work.len()));
                work.extend(bytes.chunks(PAGE_SIZE as usize));
            }
        }
    }
    let digests = PageDigests::new(&work);
    std::thread::scope(|scope| {
        for _ in 0..digests.helpers() {
            scope.spawn(|| while digests.hash_next_chunk() {});
        }
        chain(ops, &contents, &digests, start, resume, &mut observe)
    })
}

/// The serial part: one PAGE_INFO update per page, in plan order, taking each page's contents digest
/// as soon as it is ready.
fn chain(
    ops: &[crate::plan::Operation],
    contents: &[Contents],
    digests: &PageDigests<'_>,
    start: usize,
    resume: Option<Resume>,
    observe: &mut Option<Observer<'_, Sha384Digest>>,
) -> Sha384Digest {
    let mut gctx = resume.map_or_else(Gctx::new, |r| Gctx::resume(r.ld));
    for (i, (op, c)) in ops.iter().zip(contents).enumerate() {
        let t = op.kind.page_type().unwrap_or(PageType::Normal);
        let pages = op.len / PAGE_SIZE;
        for p in 0..pages {
            let gpa = if t == PageType::Vmsa { op.gpa } else { op.gpa + p * PAGE_SIZE };
            match c {
                Contents::Pages(first) => gctx.update(t, gpa, &digests.get(first + p as usize)),
                Contents::Shared(idx) => gctx.update(t, gpa, &digests.get(*idx)),
                Contents::Unmeasured => gctx.update_unmeasured(t, gpa),
            }
        }
        if let Some(o) = observe.as_deref_mut() {
            o(start + i, &gctx.ld());
        }
    }
    gctx.ld()
}

/// The launch digest.
pub fn launch_digest(plan: &CheckedPlan<'_>) -> Sha384Digest {
    fold(plan, None, None)
}

/// Number of leading operations that read the firmware file: the prefix `--snp-ovmf-hash` replaces.
pub fn firmware_prefix(plan: &LaunchPlan) -> usize {
    plan.operations.iter().take_while(|o| matches!(&o.source, Source::File { file: InputKind::Firmware, .. })).count()
}

/// Contents digests of the measured pages, computed in chunks by helper threads and by the chain's
/// own thread whenever the chunk it needs next is not ready. Chunks are handed out in order, so the
/// chain rarely waits and runs while the rest is still being hashed.
///
/// Plain scoped threads rather than a rayon pool: a whole digest takes about as long as starting a
/// pool of workers, and the chain needs its own thread anyway.
struct PageDigests<'w> {
    work: &'w [&'w [u8]],
    chunks: Vec<OnceLock<Vec<Sha384Digest>>>,
    next: AtomicUsize,
}

impl<'w> PageDigests<'w> {
    fn new(work: &'w [&'w [u8]]) -> Self {
        PageDigests { work, chunks: (0..work.len().div_ceil(CHUNK)).map(|_| OnceLock::new()).collect(), next: AtomicUsize::new(0) }
    }

    /// Helper threads worth starting: one per further core, none for a few chunks.
    fn helpers(&self) -> usize {
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if self.chunks.len() < 4 { 0 } else { (cores - 1).min(self.chunks.len() / 2) }
    }

    /// Claims and hashes the next chunk; `false` when all are claimed.
    fn hash_next_chunk(&self) -> bool {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.chunks.get(k) else { return false };
        let pages = &self.work[k * CHUNK..((k + 1) * CHUNK).min(self.work.len())];
        let mut out = vec![[0u8; 48]; pages.len()];
        prelaunch_mbhash::sha384_many(pages, &mut out, Sha384::digest);
        let _ = slot.set(out);
        true
    }

    /// The digest of page `i`, hashing other chunks while waiting for its chunk.
    fn get(&self, i: usize) -> Sha384Digest {
        let slot = &self.chunks[i / CHUNK];
        loop {
            if let Some(c) = slot.get() {
                return c[i % CHUNK];
            }
            if !self.hash_next_chunk() {
                std::hint::spin_loop();
            }
        }
    }
}
