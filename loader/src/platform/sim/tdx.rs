//! The TDX module's TDH.MEM.PAGE_SIZE.ADD, TDH.MR.EXTEND and TDH.MR.FINALIZE, modelled with measure's
//! `Mrtd`, in the plan's page order: single-pass (per page ADD then its 16 EXTENDs, as upstream KVM's
//! KVM_TDX_INIT_MEM_REGION does) or two-pass (all ADDs of one operation, then all its EXTENDs). An
//! operation resumed after partial progress is still one operation: its EXTENDs wait for its last ADD.

use prelaunch_measure::Measurement;
use prelaunch_measure::plan::{OpKind, PAGE_SIZE, PageOrder};
use prelaunch_measure::tdx::mrtd::Mrtd;

use super::pages::PageStates;
use super::{page_digests, read_pages, refusal};
use crate::memory::MemoryBackend;
use crate::platform::{PlatformError, PopulateCall};
use crate::record::PageRecord;

const ZERO_PAGE: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];

#[derive(Debug)]
pub(crate) struct TdxModule {
    mrtd: Mrtd,
    pub(crate) order: PageOrder,
    /// Two-pass: pages added but not yet extended.
    pending: Vec<u64>,
}

impl TdxModule {
    pub(crate) fn new(order: PageOrder) -> Self {
        TdxModule { mrtd: Mrtd::new(), order, pending: Vec::new() }
    }

    /// TDH.MR.EXTEND of each page of `gpas`, in order, from the bytes in guest memory now.
    fn extend(&mut self, gpas: &[u64], kind: OpKind, mem: &dyn MemoryBackend, record: &mut Vec<PageRecord>) -> Result<(), PlatformError> {
        let pages = gpas.iter().map(|&g| read_pages(mem, g, 1, "TDH.MR.EXTEND").map(|v| v[0])).collect::<Result<Vec<_>, _>>()?;
        for ((&gpa, bytes), d) in gpas.iter().zip(&pages).zip(page_digests(&pages)) {
            self.mrtd.extend_page(gpa, bytes);
            record.push(PageRecord { gpa, len: PAGE_SIZE as u32, kind, vcpu: None, contents: Some(d) });
        }
        Ok(())
    }

    pub(crate) fn populate(
        &mut self,
        call: &PopulateCall<'_>,
        max_pages: u64,
        mem: &dyn MemoryBackend,
        pages: &mut PageStates,
        record: &mut Vec<PageRecord>,
    ) -> Result<u64, PlatformError> {
        let op = call.op;
        let extend = match op.kind {
            OpKind::TdxAdd => false,
            OpKind::TdxAddExtend => true,
            k => return Err(PlatformError::Refused(format!("KVM_TDX_INIT_MEM_REGION: {} pages do not exist in a TD", k.name()))),
        };
        let gpa0 = call.gpa();
        let n = (call.remaining() / PAGE_SIZE).min(max_pages);
        for p in 0..n {
            let gpa = gpa0 + p * PAGE_SIZE;
            pages.check_populatable(gpa).map_err(|why| refusal("TDH.MEM.PAGE_SIZE.ADD", gpa, why, false))?;
        }
        // Single-pass: each page's PAGE_SIZE.ADD, then its EXTENDs; two-pass: the EXTENDs wait for the
        // operation's last PAGE_SIZE.ADD (an operation resumed after partial progress is still one call).
        let gpas: Vec<u64> = (0..n).map(|p| gpa0 + p * PAGE_SIZE).collect();
        let (contents, digests) = match (extend, self.order) {
            (true, PageOrder::Single) => {
                let c = read_pages(mem, gpa0, n, "TDH.MR.EXTEND")?;
                let d = page_digests(&c);
                (c, d)
            }
            _ => (Vec::new(), Vec::new()),
        };
        for (i, &gpa) in gpas.iter().enumerate() {
            self.mrtd.page_add(gpa);
            pages.set_populated(gpa);
            match (extend, self.order) {
                (false, _) => record.push(PageRecord::of(gpa, op.kind, None, &ZERO_PAGE)),
                (true, PageOrder::Single) => {
                    self.mrtd.extend_page(gpa, contents[i]);
                    record.push(PageRecord { gpa, len: PAGE_SIZE as u32, kind: op.kind, vcpu: None, contents: Some(digests[i]) });
                }
                (true, PageOrder::TwoPass) => self.pending.push(gpa),
            }
        }
        if call.done + n * PAGE_SIZE == op.len {
            let pending = std::mem::take(&mut self.pending);
            self.extend(&pending, op.kind, mem, record)?;
        }
        Ok(n * PAGE_SIZE)
    }

    /// TDH.MR.FINALIZE.
    pub(crate) fn finish(&mut self) -> Result<Measurement, PlatformError> {
        if !self.pending.is_empty() {
            return Err(PlatformError::Refused(format!("TDH.MR.FINALIZE: {} pages were added but never extended", self.pending.len())));
        }
        Ok(Measurement::Sha384(std::mem::take(&mut self.mrtd).finish()))
    }
}
