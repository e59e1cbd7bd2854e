//! The TDX launch on real hardware: KVM_TDX_INIT_VM and one vCPU initialised with the TD HOB's GPA
//! when the platform is created, one KVM_TDX_INIT_MEM_REGION per populate attempt (with
//! KVM_TDX_MEASURE_MEMORY_REGION for the plan's `tdx_add_extend` operations; source 0 in place, else a
//! page-aligned source buffer; KVM writes the region back advanced when it stops early), then
//! KVM_TDX_FINALIZE_VM. KVM measures single-pass, so a two-pass plan is refused up front.

use prelaunch_measure::plan::{OpKind, PAGE_SIZE, PageOrder};

use super::tdx_ioctls::{TdParams, TdxIoctls, XFAM_BASE};
use super::{IoctlError, SourceBuffer};
use crate::kvm::uapi::{KVM_TDX_MEASURE_MEMORY_REGION, KvmTdxInitMemRegion};
use crate::memory::MemoryBackend;
use crate::platform::{DigestSource, Finish, Platform, PlatformError, PopulateCall};

/// The vCPU INIT_MEM_REGION is issued on.
const VCPU: u32 = 0;

fn status(code: u64) -> String {
    format!("TDX status {code:#018x}")
}

fn err(call: &'static str) -> impl Fn(IoctlError) -> PlatformError {
    move |e| e.into_platform(call, status)
}

/// A TD launch in progress.
pub struct HwTdx<I: TdxIoctls> {
    io: I,
}

impl<I: TdxIoctls> HwTdx<I> {
    /// Refuses a two-pass plan, then KVM_TDX_INIT_VM and KVM_TDX_INIT_VCPU (RCX = TD HOB GPA).
    pub fn start(mut io: I, order: PageOrder, hob_gpa: u64) -> Result<Self, PlatformError> {
        if order == PageOrder::TwoPass {
            return Err(PlatformError::Unsupported(
                "KVM's KVM_TDX_INIT_MEM_REGION measures single-pass (each page's PAGE_SIZE.ADD, then its 16 MR.EXTENDs); this plan is two-pass, so MRTD would differ from it: build the plan with --tdx-page-order single".into(),
            ));
        }
        let caps = io.capabilities().map_err(err("KVM_TDX_CAPABILITIES"))?;
        let params = TdParams { attributes: 0, xfam: XFAM_BASE };
        for (what, want, offered) in [("attributes", params.attributes, caps.supported_attrs), ("XFAM", params.xfam, caps.supported_xfam)] {
            if want & !offered != 0 {
                return Err(PlatformError::Unsupported(format!(
                    "the TD needs {what} {want:#x}, but this host's TDX module and KVM offer {offered:#x} (KVM_TDX_CAPABILITIES): bits {:#x} cannot be honoured, so the TD would not be the one measured",
                    want & !offered
                )));
            }
        }
        io.init_vm(&params).map_err(err("KVM_TDX_INIT_VM"))?;
        io.init_vcpu(VCPU, hob_gpa).map_err(err("KVM_TDX_INIT_VCPU"))?;
        Ok(HwTdx { io })
    }

    pub fn ioctls(&self) -> &I {
        &self.io
    }
}

impl<I: TdxIoctls> Platform for HwTdx<I> {
    fn name(&self) -> &'static str {
        "hw"
    }

    fn describe(&self) -> String {
        "Intel TDX module through KVM (KVM_TDX_INIT_MEM_REGION, KVM_TDX_FINALIZE_VM)".into()
    }

    fn models_conversion(&self) -> bool {
        false
    }

    fn populate(&mut self, call: &PopulateCall<'_>, _mem: &dyn MemoryBackend) -> Result<u64, PlatformError> {
        let flags = match call.op.kind {
            OpKind::TdxAdd => 0,
            OpKind::TdxAddExtend => KVM_TDX_MEASURE_MEMORY_REGION,
            k => return Err(PlatformError::Refused(format!("KVM_TDX_INIT_MEM_REGION: {} pages do not exist in a TD", k.name()))),
        };
        let remaining = call.remaining();
        let source = if call.in_place { None } else { Some(SourceBuffer::new(call.remaining_source(), remaining)?) };
        // In place, one page per call: tdx.c `tdx_vcpu_init_mem_region` advances source_addr
        // unconditionally, so a NULL source would become 0x1000 on the call's second page.
        let pages = if call.in_place { 1 } else { remaining / PAGE_SIZE };
        let mut region =
            KvmTdxInitMemRegion { source_addr: source.as_ref().map_or(0, SourceBuffer::addr), gpa: call.gpa(), nr_pages: pages };
        let result = self.io.init_mem_region(VCPU, flags, &mut region);
        let done = pages.checked_sub(region.nr_pages).ok_or_else(|| PlatformError::Ioctl {
            call: "KVM_TDX_INIT_MEM_REGION",
            errno: "bad progress".into(),
            detail: format!(": nr_pages went from {pages} to {}", region.nr_pages),
        })?;
        match result {
            Ok(()) => Ok(done * PAGE_SIZE),
            // Interrupted after some pages: that progress stands, the loader resumes from it.
            Err(e) if done > 0 && matches!(e.errno, libc::EINTR | libc::EAGAIN) => Ok(done * PAGE_SIZE),
            Err(e) => Err(err("KVM_TDX_INIT_MEM_REGION")(e)),
        }
    }

    fn finish(&mut self) -> Result<Finish, PlatformError> {
        self.io.finalize_vm().map_err(err("KVM_TDX_FINALIZE_VM"))?;
        Ok(Finish {
            digest: None,
            source: DigestSource::NotReadable("KVM does not give MRTD to the host: it is in the TD's TDREPORT and quotes".into()),
            record: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::{Operation, Region, Source};

    use prelaunch_measure::plan::{InputKind, RegionPurpose};

    use super::*;
    use crate::load::{PopulateStats, populate_op};
    use crate::memory::memfd::MemfdBackend;
    use crate::platform::hw::fake::{FakeTdx, Inject, TdxCall};

    const HOB: u64 = 0x80_9000;

    fn run(p: &mut HwTdx<FakeTdx>, ops: &[Operation], in_place: bool) -> PopulateStats {
        let mem = MemfdBackend::create(&[Region {
            name: "ram".into(),
            purpose: RegionPurpose::Ram,
            gpa: 0x80_0000,
            size: 0x20_0000,
            gmem_offset: 0,
        }])
        .unwrap();
        let src = vec![3u8; 0x4000];
        let mut stats = PopulateStats::default();
        for (i, op) in ops.iter().enumerate() {
            let s = (op.source != Source::None).then_some(&src[..op.len as usize]);
            populate_op(p, &mem, i, op, s, in_place, &mut stats).unwrap();
        }
        stats
    }

    #[test]
    fn tdx_sequence_measures_per_op_kind() {
        let mut p = HwTdx::start(FakeTdx::default(), PageOrder::Single, HOB).unwrap();
        let ops = [
            Operation::new(0x80_0000, 0x2000, OpKind::TdxAddExtend, Source::File { file: InputKind::Firmware, offset: 0 }),
            Operation::new(0x80_9000, 0x1000, OpKind::TdxAdd, Source::None),
        ];
        run(&mut p, &ops, true);
        let fin = p.finish().unwrap();
        assert_eq!(fin.digest, None);
        assert!(matches!(fin.source, DigestSource::NotReadable(_)));
        assert_eq!(
            p.ioctls().calls,
            vec![
                TdxCall::InitVm,
                TdxCall::InitVcpu { id: 0, rcx: HOB },
                TdxCall::MemRegion { gpa: 0x80_0000, nr_pages: 1, measure: true, source_zero: true },
                TdxCall::MemRegion { gpa: 0x80_1000, nr_pages: 1, measure: true, source_zero: true },
                TdxCall::MemRegion { gpa: 0x80_9000, nr_pages: 1, measure: false, source_zero: true },
                TdxCall::Finalize,
            ]
        );
    }

    #[test]
    fn interrupted_after_progress_resumes_from_the_written_back_region() {
        let mut fake = FakeTdx::default();
        fake.region_faults.extend([Inject::Partial(1, libc::EINTR), Inject::Fail(libc::EAGAIN, 0), Inject::Partial(2, libc::EAGAIN)]);
        let mut p = HwTdx::start(fake, PageOrder::Single, HOB).unwrap();
        let op = Operation::new(0x80_0000, 0x4000, OpKind::TdxAddExtend, Source::File { file: InputKind::Firmware, offset: 0 });
        let stats = run(&mut p, &[op], false);
        let regions: Vec<(u64, u64, bool)> = p
            .ioctls()
            .calls
            .iter()
            .filter_map(|c| match c {
                TdxCall::MemRegion { gpa, nr_pages, source_zero, .. } => Some((*gpa, *nr_pages, *source_zero)),
                _ => None,
            })
            .collect();
        assert_eq!(regions, vec![(0x80_0000, 4, false), (0x80_1000, 3, false), (0x80_1000, 3, false), (0x80_3000, 1, false)]);
        assert_eq!((stats.calls, stats.partial, stats.retries), (3, 2, 1));
    }

    #[test]
    fn two_pass_plans_are_refused_before_any_ioctl() {
        let e = HwTdx::start(FakeTdx::default(), PageOrder::TwoPass, HOB).err().unwrap();
        assert!(e.to_string().contains("single-pass"), "{e}");
    }
}
