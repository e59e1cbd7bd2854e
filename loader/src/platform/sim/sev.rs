//! The AMD firmware's SEV and SEV-ES launch measurement, modelled: SHA-256 over the bytes of every
//! LAUNCH_UPDATE_DATA (read from guest memory) and, for SEV-ES, every LAUNCH_UPDATE_VMSA, in order.
//! SEV has no private/shared page states: it encrypts in place.

use prelaunch_measure::Measurement;
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::plan::{OpKind, PAGE_SIZE};

use crate::memory::MemoryBackend;
use crate::platform::{PlatformError, PopulateCall};
use crate::record::PageRecord;

#[derive(Debug)]
pub(crate) struct SevFirmware {
    pub(crate) es: bool,
    h: Sha256,
}

impl SevFirmware {
    pub(crate) fn new(es: bool) -> Self {
        SevFirmware { es, h: Sha256::new() }
    }

    pub(crate) fn populate(
        &mut self,
        call: &PopulateCall<'_>,
        max_pages: u64,
        mem: &dyn MemoryBackend,
        record: &mut Vec<PageRecord>,
    ) -> Result<u64, PlatformError> {
        let op = call.op;
        match op.kind {
            OpKind::Normal => {
                let gpa = call.gpa();
                let n = call.remaining().min(max_pages.saturating_mul(PAGE_SIZE));
                let bytes = mem.bytes(gpa, n).ok_or_else(|| {
                    PlatformError::Refused(format!("LAUNCH_UPDATE_DATA at GPA {gpa:#x}: no guest memory there (INVALID_ADDRESS, 0x09)"))
                })?;
                self.h.update(bytes);
                for (i, chunk) in bytes.chunks(PAGE_SIZE as usize).enumerate() {
                    record.push(PageRecord::of(gpa + i as u64 * PAGE_SIZE, op.kind, None, chunk));
                }
                Ok(n)
            }
            OpKind::Vmsa if self.es => {
                let vcpu = op.vcpu.unwrap_or(0);
                let bytes = call.source.filter(|s| s.len() as u64 == PAGE_SIZE && op.len == PAGE_SIZE).ok_or_else(|| {
                    PlatformError::Refused(format!("LAUNCH_UPDATE_VMSA of vCPU {vcpu}: a VMSA is one 4 KiB page (INVALID_LEN, 0x04)"))
                })?;
                self.h.update(bytes);
                record.push(PageRecord::of(op.gpa, op.kind, op.vcpu, bytes));
                Ok(PAGE_SIZE)
            }
            OpKind::Vmsa => Err(PlatformError::Refused("LAUNCH_UPDATE_VMSA: SEV guests have no VMSAs (only SEV-ES guests do)".into())),
            k => Err(PlatformError::Refused(format!("{} pages do not exist in a SEV launch", k.name()))),
        }
    }

    /// LAUNCH_MEASURE's digest (before the nonce is mixed in).
    pub(crate) fn finish(&mut self) -> Measurement {
        Measurement::Sha256(std::mem::take(&mut self.h).finish())
    }
}
