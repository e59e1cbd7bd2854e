//! The AMD firmware's SNP_LAUNCH_UPDATE and SNP_LAUNCH_FINISH, modelled: one GCTX update per 4 KiB
//! page from the bytes in guest memory, then one per vCPU's VMSA at finish (in vCPU order, as KVM
//! walks its vCPUs in SNP_LAUNCH_FINISH).

use std::collections::BTreeMap;

use prelaunch_measure::Measurement;
use prelaunch_measure::hash::{Sha384, Sha384Digest};
use prelaunch_measure::plan::PAGE_SIZE;
use prelaunch_measure::snp::vmsa::VMSA_GPA;
use prelaunch_measure::snp::{Gctx, PageType};

use super::pages::PageStates;
use super::{page_digests, read_pages, refusal};
use crate::memory::MemoryBackend;
use crate::platform::{PlatformError, PopulateCall};
use crate::record::PageRecord;

const CALL: &str = "SNP_LAUNCH_UPDATE";

/// The SNP guest context.
#[derive(Debug, Default)]
pub(crate) struct SnpFirmware {
    gctx: Gctx,
    vmsas: BTreeMap<u32, Vec<u8>>,
}

impl SnpFirmware {
    pub(crate) fn populate(
        &mut self,
        call: &PopulateCall<'_>,
        max_pages: u64,
        mem: &dyn MemoryBackend,
        pages: &mut PageStates,
        record: &mut Vec<PageRecord>,
    ) -> Result<u64, PlatformError> {
        let op = call.op;
        let t = op.kind.page_type().ok_or_else(|| PlatformError::Refused(format!("{CALL}: {} is not an SNP page type", op.kind.name())))?;
        if t == PageType::Vmsa {
            return self.vmsa(call);
        }
        if matches!(t, PageType::Secrets | PageType::Cpuid) && op.len != PAGE_SIZE {
            return Err(PlatformError::Refused(format!(
                "{CALL} at GPA {:#x}: {} pages are single 4 KiB pages, this run is {:#x} bytes (INVALID_PAGE_SIZE, 0x19)",
                op.gpa,
                op.kind.name().to_uppercase(),
                op.len
            )));
        }
        let gpa0 = call.gpa();
        let n = (call.remaining() / PAGE_SIZE).min(max_pages);
        for p in 0..n {
            let gpa = gpa0 + p * PAGE_SIZE;
            pages.check_populatable(gpa).map_err(|why| refusal(CALL, gpa, why, true))?;
        }
        let contents: Vec<Option<Sha384Digest>> = if t.measures_contents() {
            page_digests(&read_pages(mem, gpa0, n, CALL)?).into_iter().map(Some).collect()
        } else {
            vec![None; n as usize]
        };
        for (p, c) in contents.into_iter().enumerate() {
            let gpa = gpa0 + p as u64 * PAGE_SIZE;
            match &c {
                Some(d) => self.gctx.update(t, gpa, d),
                None => self.gctx.update_unmeasured(t, gpa),
            }
            pages.set_populated(gpa);
            record.push(PageRecord { gpa, len: PAGE_SIZE as u32, kind: op.kind, vcpu: None, contents: c });
        }
        Ok(n * PAGE_SIZE)
    }

    /// A vCPU's initial state: the VMSA is measured at finish.
    fn vmsa(&mut self, call: &PopulateCall<'_>) -> Result<u64, PlatformError> {
        let vcpu = call.op.vcpu.ok_or_else(|| PlatformError::Refused("a VMSA without a vCPU index".into()))?;
        let bytes = call
            .source
            .filter(|s| s.len() as u64 == PAGE_SIZE && call.op.len == PAGE_SIZE)
            .ok_or_else(|| PlatformError::Refused(format!("VMSA of vCPU {vcpu}: a VMSA is one 4 KiB page (INVALID_PAGE_SIZE, 0x19)")))?;
        if self.vmsas.insert(vcpu, bytes.to_vec()).is_some() {
            return Err(PlatformError::Refused(format!("VMSA of vCPU {vcpu}: the vCPU already has one")));
        }
        Ok(PAGE_SIZE)
    }

    /// SNP_LAUNCH_FINISH: every vCPU's VMSA, then the launch digest.
    pub(crate) fn finish(&mut self, record: &mut Vec<PageRecord>) -> Measurement {
        for (&vcpu, page) in &self.vmsas {
            let d = Sha384::digest(page);
            self.gctx.update(PageType::Vmsa, VMSA_GPA, &d);
            record.push(PageRecord {
                gpa: VMSA_GPA,
                len: PAGE_SIZE as u32,
                kind: prelaunch_measure::plan::OpKind::Vmsa,
                vcpu: Some(vcpu),
                contents: Some(d),
            });
        }
        Measurement::Sha384(self.gctx.ld())
    }
}
