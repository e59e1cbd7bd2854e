//! MRTD: one running SHA-384 over 128-byte blocks (TDH.MEM.PAGE.ADD and TDH.MR.EXTEND records),
//! started at TDH.MNG.INIT and finalised at TDH.MR.FINALIZE. It is a single serial stream, so the work
//! here is keeping that stream fed in large contiguous updates.

use crate::hash::{Sha384, Sha384Digest};
use crate::plan::{Inputs, LaunchPlan, Mode, OpKind, PAGE, PageOrder, PlanError};

const BLOCK: usize = 128;
const CHUNK: usize = 256;
const CHUNKS_PER_PAGE: usize = PAGE as usize / CHUNK;
/// Bytes of stream one page contributes when added and extended.
const PAGE_STREAM: usize = BLOCK + CHUNKS_PER_PAGE * (BLOCK + CHUNK);
/// Pages batched per hash update.
const BATCH_PAGES: usize = 32;

fn add_block(gpa: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b[..12].copy_from_slice(b"MEM.PAGE.ADD");
    b[16..24].copy_from_slice(&gpa.to_le_bytes());
    b
}

fn extend_header(gpa: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b[..9].copy_from_slice(b"MR.EXTEND");
    b[16..24].copy_from_slice(&gpa.to_le_bytes());
    b
}

/// Appends the 16 MR.EXTEND records of one page.
fn push_extends(buf: &mut Vec<u8>, gpa: u64, page: &[u8]) {
    for (c, chunk) in page.chunks(CHUNK).enumerate() {
        buf.extend_from_slice(&extend_header(gpa + (c * CHUNK) as u64));
        buf.extend_from_slice(chunk);
    }
}

/// MRTD, calling `observe(op_index, mrtd_so_far)` after each operation when `explain` is set.
pub fn fold(plan: &LaunchPlan, inputs: &Inputs<'_>, mut observe: Option<&mut dyn FnMut(usize, &Sha384Digest)>) -> Result<Sha384Digest, PlanError> {
    if plan.mode != Mode::Tdx {
        return Err(PlanError::Invalid(format!("MRTD needs a tdx plan, not {}", plan.mode.name())));
    }
    let order = plan.tdx.map(|t| t.page_order).unwrap_or_default();
    let zero = [0u8; PAGE as usize];
    let mut h = Sha384::new();
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH_PAGES * PAGE_STREAM);
    for (i, op) in plan.operations.iter().enumerate() {
        let extend = match op.kind {
            OpKind::TdxAdd => false,
            OpKind::TdxAddExtend => true,
            k => return Err(PlanError::Invalid(format!("operation {i}: {} in a tdx plan", k.name()))),
        };
        if op.len % PAGE != 0 || op.gpa % PAGE != 0 {
            return Err(PlanError::Invalid(format!("operation {i}: not page aligned")));
        }
        let src = plan.source_bytes(op, inputs);
        if extend && src.is_none() && op.source != crate::plan::Source::None {
            return Err(PlanError::Invalid(format!("operation {i}: its source bytes are missing")));
        }
        let page = |p: u64| -> &[u8] { src.map_or(&zero[..], |s| &s[(p * PAGE) as usize..((p + 1) * PAGE) as usize]) };
        let pages = op.len / PAGE;
        let flush = |buf: &mut Vec<u8>, h: &mut Sha384| {
            if buf.len() >= BATCH_PAGES * PAGE_STREAM - PAGE_STREAM {
                h.update(buf);
                buf.clear();
            }
        };
        match order {
            PageOrder::Single => {
                for p in 0..pages {
                    let gpa = op.gpa + p * PAGE;
                    buf.extend_from_slice(&add_block(gpa));
                    if extend {
                        push_extends(&mut buf, gpa, page(p));
                    }
                    flush(&mut buf, &mut h);
                }
            }
            PageOrder::TwoPass => {
                for p in 0..pages {
                    buf.extend_from_slice(&add_block(op.gpa + p * PAGE));
                    flush(&mut buf, &mut h);
                }
                if extend {
                    for p in 0..pages {
                        push_extends(&mut buf, op.gpa + p * PAGE, page(p));
                        flush(&mut buf, &mut h);
                    }
                }
            }
        }
        if let Some(obs) = observe.as_deref_mut() {
            h.update(&buf);
            buf.clear();
            obs(i, &h.clone().finish());
        }
    }
    h.update(&buf);
    Ok(h.finish())
}

/// MRTD of a plan.
pub fn mrtd(plan: &LaunchPlan, inputs: &Inputs<'_>) -> Result<Sha384Digest, PlanError> {
    fold(plan, inputs, None)
}
