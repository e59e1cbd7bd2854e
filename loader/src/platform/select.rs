//! Which VM, memory and platform a load uses: one decision from the plan's mode and the options,
//! made (and anything unsupported refused) before a VM, a mapping or a file descriptor exists. A new
//! platform is one more [`PlatformPlan`] variant here and one module beside `sim` and `hw`.

use std::sync::Arc;

use prelaunch_measure::Measurement;
use prelaunch_measure::plan::{LaunchPlan, Mode, PageOrder, Region};

use super::hw::snp::{HwSnp, SnpParams};
use super::hw::snp_ioctls::KvmSnpIoctls;
use super::hw::tdx::HwTdx;
use super::hw::tdx_ioctls::KvmTdxIoctls;
use super::sim::SimPlatform;
use super::sim::faults::SimFaults;
use super::{Platform, PlatformError};
use crate::error::{LoadError, Unsupported};
use crate::kvm::{Vm, VmType};
use crate::load::{LoadOptions, PlatformChoice};
use crate::memory::guest_memfd::GuestMemfdBackend;
use crate::memory::memfd::MemfdBackend;
use crate::memory::{MemoryBackend, MemoryChoice, MemoryError};

/// The VM a load needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmPlan {
    /// No VM: memfd memory (the reason is reported).
    None { why: String },
    /// A default-type VM for guest_memfd; where it cannot be made and `fallback` is set, memfd.
    Default { fallback: bool },
    /// A confidential VM of this type (hw).
    Confidential(VmType),
}

/// The platform a load drives.
#[derive(Debug, Clone)]
pub enum PlatformPlan {
    Sim(SimFaults),
    HwSnp(Box<SnpParams>),
    HwTdx { order: PageOrder, td_hob_gpa: u64 },
}

/// Everything decided about a load before it starts.
#[derive(Debug, Clone)]
pub struct Selection {
    pub vm: VmPlan,
    pub platform: PlatformPlan,
    /// The regions that get memory: those the plan populates (a region no operation touches is
    /// never mapped; see [`Selection::unpopulated`]).
    pub regions: Vec<Region>,
    /// Regions of the plan that no operation populates.
    pub unpopulated: usize,
}

/// Decides the VM, memory and platform for `plan` under `opts`, refusing what cannot work.
pub fn select(plan: &LaunchPlan, opts: &LoadOptions) -> Result<Selection, LoadError> {
    let (regions, unpopulated) = populated_regions(plan);
    let total: u64 = regions.iter().map(|r| r.size).sum();
    if total > opts.max_memory {
        return Err(Unsupported::TooMuchMemory { total, regions: regions.len(), max: opts.max_memory }.into());
    }
    let (vm, platform) = match &opts.platform {
        PlatformChoice::Sim(faults) => {
            let vm = match opts.memory {
                MemoryChoice::Memfd => VmPlan::None { why: "--memory memfd was asked for".into() },
                choice => VmPlan::Default { fallback: choice == MemoryChoice::Auto },
            };
            (vm, PlatformPlan::Sim(faults.clone()))
        }
        PlatformChoice::Hw(hw) => {
            if opts.check_guest {
                return Err(Unsupported::HwGuestCheck.into());
            }
            if opts.memory == MemoryChoice::Memfd {
                return Err(Unsupported::HwMemfd.into());
            }
            match plan.mode {
                Mode::Snp => {
                    let Some(Measurement::Sha384(expected)) = hw.expected else { return Err(Unsupported::HwNoExpectedDigest.into()) };
                    // The check guarantees an snp block in an snp plan.
                    let snp = plan.snp.as_ref().ok_or(Unsupported::HwNoSnpParameters)?;
                    let params = SnpParams { policy: snp.policy, guest_features: snp.guest_features, expected, id_key: hw.id_key.clone() };
                    (VmPlan::Confidential(VmType::Snp), PlatformPlan::HwSnp(Box::new(params)))
                }
                Mode::Tdx => {
                    let tdx = plan.tdx.unwrap_or_default();
                    let td_hob_gpa = tdx.td_hob_gpa.ok_or(Unsupported::NoTdHob)?;
                    (VmPlan::Confidential(VmType::Tdx), PlatformPlan::HwTdx { order: tdx.page_order, td_hob_gpa })
                }
                mode => return Err(Unsupported::HwMode { mode }.into()),
            }
        }
    };
    Ok(Selection { vm, platform, regions, unpopulated })
}

/// The plan's regions that at least one memory operation lies in, and how many it leaves out.
/// Both lists are sorted, so this is O(n log n) in their sizes.
fn populated_regions(plan: &LaunchPlan) -> (Vec<Region>, usize) {
    let mut sorted: Vec<&Region> = plan.regions.iter().collect();
    sorted.sort_by_key(|r| r.gpa);
    let mut used = vec![false; sorted.len()];
    for op in plan.operations.iter().filter(|o| !o.is_vmsa()) {
        let i = sorted.partition_point(|r| r.gpa <= op.gpa);
        if i > 0 && sorted[i - 1].contains(op.gpa, op.len) {
            used[i - 1] = true;
        }
    }
    let out: Vec<Region> = sorted.iter().zip(&used).filter(|(_, u)| **u).map(|(r, _)| (*r).clone()).collect();
    let skipped = sorted.len() - out.len();
    (out, skipped)
}

impl Selection {
    /// The VM, and why there is none (memfd) where there is none.
    pub(crate) fn create_vm(&self) -> Result<(Option<Arc<Vm>>, Option<String>), LoadError> {
        match &self.vm {
            VmPlan::None { why } => Ok((None, Some(why.clone()))),
            VmPlan::Confidential(t) => Ok((Some(Arc::new(Vm::create(*t)?)), None)),
            VmPlan::Default { fallback } => match Vm::create(VmType::Default) {
                Ok(vm) => Ok((Some(Arc::new(vm)), None)),
                Err(e) if *fallback => Ok((None, Some(e.to_string()))),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// The platform for the launch.
    pub(crate) fn start_platform(&self, plan: &LaunchPlan, vm: Option<&Arc<Vm>>) -> Result<Box<dyn Platform>, LoadError> {
        let start = |source: PlatformError| LoadError::Platform { phase: "create", source };
        match &self.platform {
            PlatformPlan::Sim(faults) => Ok(Box::new(SimPlatform::new(plan, &self.regions, faults.clone()))),
            PlatformPlan::HwSnp(params) => {
                let vm = vm.ok_or(Unsupported::HwNoVm)?;
                let io = KvmSnpIoctls::open(vm.clone()).map_err(start)?;
                Ok(Box::new(HwSnp::start(io, (**params).clone()).map_err(start)?))
            }
            PlatformPlan::HwTdx { order, td_hob_gpa } => {
                let vm = vm.ok_or(Unsupported::HwNoVm)?;
                Ok(Box::new(HwTdx::start(KvmTdxIoctls::new(vm.clone()), *order, *td_hob_gpa).map_err(start)?))
            }
        }
    }

    /// guest_memfd memory for the VM, or memfd (recording why in `fallback`) where allowed.
    pub(crate) fn map_memory(&self, vm: Option<Arc<Vm>>, fallback: &mut Option<String>) -> Result<Box<dyn MemoryBackend>, LoadError> {
        let Some(vm) = vm else {
            return Ok(Box::new(MemfdBackend::create(&self.regions)?));
        };
        match GuestMemfdBackend::create(vm, &self.regions) {
            Ok(m) => Ok(Box::new(m)),
            Err(e @ MemoryError::Kvm(_)) if self.vm == (VmPlan::Default { fallback: true }) => {
                let m = MemfdBackend::create(&self.regions)?;
                *fallback = Some(e.to_string());
                Ok(Box::new(m))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::{OpKind, Operation, RegionPurpose, Source};

    use super::*;

    fn plan(mode: Mode, regions: usize) -> LaunchPlan {
        let mut p: LaunchPlan = serde_json::from_value(serde_json::json!({
            "version": 2, "mode": mode, "inputs": [], "regions": [], "operations": [],
        }))
        .unwrap();
        for i in 0..regions as u64 {
            let gpa = (1 + i) << 21;
            p.regions.push(Region { name: format!("ram@{gpa:#x}"), purpose: RegionPurpose::Ram, gpa, size: 2 << 20, gmem_offset: 0 });
        }
        p
    }

    fn hw() -> LoadOptions {
        LoadOptions { platform: PlatformChoice::Hw(Box::default()), ..Default::default() }
    }

    #[test]
    fn only_populated_regions_get_memory() {
        let mut p = plan(Mode::Snp, 1000);
        p.operations.push(Operation::new(500 << 21, 0x1000, OpKind::Zero, Source::None));
        p.operations.push(Operation::new(7 << 21, 0x1000, OpKind::Zero, Source::None));
        let s = select(&p, &LoadOptions::default()).unwrap();
        assert_eq!(s.regions.iter().map(|r| r.gpa).collect::<Vec<_>>(), [7 << 21, 500 << 21]);
        assert_eq!(s.unpopulated, 998);
    }

    #[test]
    fn guest_memory_is_bounded_unless_raised() {
        let mut p = plan(Mode::Snp, 600);
        for r in p.regions.clone() {
            p.operations.push(Operation::new(r.gpa, 0x1000, OpKind::Zero, Source::None));
        }
        let e = select(&p, &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, LoadError::Unsupported(Unsupported::TooMuchMemory { regions: 600, .. })), "{e:?}");
        assert!(e.to_string().contains("--max-guest-memory"), "{e}");
        assert!(select(&p, &LoadOptions { max_memory: 2 << 30, ..Default::default() }).is_ok());
    }

    #[test]
    fn hw_refusals_come_before_anything_is_created() {
        let p = plan(Mode::Snp, 0);
        assert!(matches!(select(&p, &hw()).unwrap_err(), LoadError::Unsupported(Unsupported::HwNoExpectedDigest)));
        let e = select(&p, &LoadOptions { check_guest: true, ..hw() }).unwrap_err();
        assert!(matches!(e, LoadError::Unsupported(Unsupported::HwGuestCheck)), "{e:?}");
        let e = select(&p, &LoadOptions { memory: MemoryChoice::Memfd, ..hw() }).unwrap_err();
        assert!(matches!(e, LoadError::Unsupported(Unsupported::HwMemfd)), "{e:?}");
        for mode in [Mode::Sev, Mode::SevEs] {
            assert!(matches!(select(&plan(mode, 0), &hw()).unwrap_err(), LoadError::Unsupported(Unsupported::HwMode { .. })));
        }
        let mut tdx = plan(Mode::Tdx, 0);
        tdx.tdx = Some(Default::default());
        assert!(matches!(select(&tdx, &hw()).unwrap_err(), LoadError::Unsupported(Unsupported::NoTdHob)));
        let s = select(&plan(Mode::Snp, 0), &LoadOptions { memory: MemoryChoice::Memfd, ..Default::default() }).unwrap();
        assert!(matches!(s.vm, VmPlan::None { .. }) && matches!(s.platform, PlatformPlan::Sim(_)));
    }
}
