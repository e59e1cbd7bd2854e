//! Executing a launch plan, phase by phase: **create** (the VM and the platform), **map** (guest
//! memory), **copy** (each input byte once, from its file mapping into guest memory), **convert**
//! (to private), **populate** (each operation, resumed after partial progress, EINTR and EAGAIN
//! retried a bounded number of times), **finish** (the platform's digest), and optionally the
//! **guest check** (a vCPU reads the loaded bytes back).

use std::time::{Duration, Instant};

use prelaunch_measure::Measurement;
use prelaunch_measure::idblock::IdKey;
use prelaunch_measure::plan::{CheckedPlan, LaunchPlan, Mode, Operation};
use serde::Serialize;

use crate::error::{LoadError, Unsupported};
use crate::guest_check::{self, GuestCheckError, GuestCheckReport};
use crate::memory::convert::{ConversionPath, HostConversion, convert_with_retry};
use crate::memory::{MappedRegion, MemoryBackend, MemoryChoice, MemoryError, MemoryKind};
use crate::platform::sim::faults::SimFaults;
use crate::platform::{DigestSource, Platform, PopulateCall, select};
use crate::record::PageRecord;

/// Consecutive populate attempts without progress (EINTR, EAGAIN, zero progress) before giving up.
pub const MAX_POPULATE_RETRIES: u32 = 8;

/// The hardware platform's inputs besides the plan.
#[derive(Debug, Clone, Default)]
pub struct HwOptions {
    /// The digest SNP_LAUNCH_FINISH's ID block makes the firmware enforce.
    pub expected: Option<Measurement>,
    /// The ID key (an ephemeral one otherwise).
    pub id_key: Option<IdKey>,
}

/// Which platform runs the launch.
#[derive(Debug, Clone)]
pub enum PlatformChoice {
    Sim(SimFaults),
    Hw(Box<HwOptions>),
}

/// The guest memory a load maps unless told otherwise: launch plans hold firmware and its metadata
/// (a few MiB), so a plan asking for more is refused before the host is asked for it.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub memory: MemoryChoice,
    pub platform: PlatformChoice,
    /// Run the guest probe after the launch.
    pub check_guest: bool,
    /// The most guest memory (bytes, over the regions the plan populates) this load may map.
    pub max_memory: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            memory: MemoryChoice::Auto,
            platform: PlatformChoice::Sim(SimFaults::default()),
            check_guest: false,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// Wall-clock time of each phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings {
    pub create: Duration,
    pub map: Duration,
    pub copy: Duration,
    pub convert: Duration,
    pub populate: Duration,
    pub finish: Duration,
    pub guest_check: Option<Duration>,
}

impl Timings {
    /// The launch phases, in order (the guest check is separate).
    pub fn phases(&self) -> [(&'static str, Duration); 6] {
        [
            ("create", self.create),
            ("map", self.map),
            ("copy", self.copy),
            ("convert", self.convert),
            ("populate", self.populate),
            ("finish", self.finish),
        ]
    }
}

/// How conversion to private went.
#[derive(Debug, Clone, Serialize)]
pub struct ConversionReport {
    pub path: ConversionPath,
    /// What the host offers (probed at run time).
    pub host: HostConversion,
    pub ranges: u64,
    /// EAGAIN retries.
    pub retries: u64,
}

/// How populate went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PopulateStats {
    /// From guest memory (uaddr/source 0) rather than from a source buffer.
    pub in_place: bool,
    /// Successful populate calls.
    pub calls: u64,
    /// Calls that did part of what they were asked.
    pub partial: u64,
    /// EINTR/EAGAIN/zero-progress attempts retried.
    pub retries: u64,
}

/// What a load did.
#[derive(Debug)]
pub struct LoadReport {
    pub memory: MemoryKind,
    /// Why memory is not guest_memfd (only for `memfd`).
    pub memory_fallback: Option<String>,
    pub regions: Vec<MappedRegion>,
    /// Regions of the plan that no operation populates, so were never mapped.
    pub unpopulated_regions: usize,
    pub platform: &'static str,
    pub platform_detail: String,
    pub copied_bytes: u64,
    pub conversion: ConversionReport,
    pub populate: PopulateStats,
    pub digest: Option<Measurement>,
    pub digest_source: DigestSource,
    /// The platform's per-page record, in measurement order (empty for `hw`).
    pub record: Vec<PageRecord>,
    pub guest_check: Option<GuestCheckReport>,
    pub timings: Timings,
}

/// Runs a checked plan (only a [`CheckedPlan`] is accepted, so a plan that fails the rules or whose
/// inputs are not the ones it names is refused before any memory is created).
pub fn load(checked: &CheckedPlan<'_>, opts: LoadOptions) -> Result<LoadReport, LoadError> {
    let plan = checked.plan();
    // Everything unsupported is refused here, before any resource exists.
    let selection = select::select(plan, &opts)?;
    let mut t = Timings::default();
    let mut clock = Instant::now();
    let mut lap = |slot: &mut Duration| {
        let now = Instant::now();
        *slot = now - clock;
        clock = now;
    };

    let (vm, mut fallback) = selection.create_vm()?;
    let mut platform = selection.start_platform(plan, vm.as_ref())?;
    lap(&mut t.create);

    let mut mem = selection.map_memory(vm, &mut fallback)?;
    lap(&mut t.map);

    let Phases { copied, conversion, populate, finish: fin } = run_phases(checked, mem.as_mut(), platform.as_mut(), &mut t)?;

    let guest_check = if opts.check_guest {
        let vm = mem.vm().cloned().ok_or_else(|| GuestCheckError::NoVm(fallback.clone().unwrap_or_else(|| "no VM".into())))?;
        let ranges: Vec<(u64, &[u8])> =
            plan.operations.iter().filter(|o| !o.is_vmsa()).filter_map(|o| checked.source_bytes(o).map(|s| (o.gpa, s))).collect();
        let started = Instant::now();
        let report = guest_check::run(&vm, &mem.regions(), &ranges)?;
        t.guest_check = Some(started.elapsed());
        Some(report)
    } else {
        None
    };

    Ok(LoadReport {
        memory: mem.kind(),
        memory_fallback: if mem.kind() == MemoryKind::Memfd { fallback } else { None },
        regions: mem.regions(),
        unpopulated_regions: selection.unpopulated,
        platform: platform.name(),
        platform_detail: platform.describe(),
        copied_bytes: copied,
        conversion,
        populate,
        digest: fin.digest,
        digest_source: fin.source,
        record: fin.record,
        guest_check,
        timings: t,
    })
}

/// What copy, convert, populate and finish did.
pub(crate) struct Phases {
    pub copied: u64,
    pub conversion: ConversionReport,
    pub populate: PopulateStats,
    pub finish: crate::platform::Finish,
}

/// The phases after create and map, on any memory and platform (the fake kernels run these too):
/// copy, convert, populate, finish, each timed into `t`.
pub(crate) fn run_phases(
    checked: &CheckedPlan<'_>,
    mem: &mut dyn MemoryBackend,
    platform: &mut dyn Platform,
    t: &mut Timings,
) -> Result<Phases, LoadError> {
    let mut clock = Instant::now();
    let mut lap = |slot: &mut Duration| {
        let now = Instant::now();
        *slot = now - clock;
        clock = now;
    };
    let plan = checked.plan();
    let copied = copy_image(checked, mem)?;
    platform.after_copy(mem).map_err(|source| LoadError::Platform { phase: "copy", source })?;
    lap(&mut t.copy);

    let conversion = convert(plan, platform, mem)?;
    lap(&mut t.convert);

    let in_place = mem.host_accessible()
        && matches!(conversion.path, ConversionPath::Attributes2 | ConversionPath::Modelled | ConversionPath::NotNeeded);
    let mut populate = PopulateStats { in_place, ..Default::default() };
    for (i, op) in plan.operations.iter().enumerate() {
        populate_op(platform, mem, i, op, checked.source_bytes(op), in_place, &mut populate)?;
    }
    lap(&mut t.populate);

    let finish = platform.finish().map_err(|source| LoadError::Platform { phase: "finish", source })?;
    lap(&mut t.finish);
    Ok(Phases { copied, conversion, populate, finish })
}

/// Copies each source byte once, from its (memory-mapped) input straight into guest memory. Memory
/// the host cannot write for the guest (private-only guest_memfd) is populated from the inputs instead.
fn copy_image(plan: &CheckedPlan<'_>, mem: &mut dyn MemoryBackend) -> Result<u64, LoadError> {
    if !mem.host_accessible() {
        return Ok(0);
    }
    let mut copied = 0;
    for op in plan.operations.iter().filter(|o| !o.is_vmsa()) {
        let Some(src) = plan.source_bytes(op) else { continue };
        let dst = mem.bytes_mut(op.gpa, op.len).ok_or(MemoryError::OutOfRange { gpa: op.gpa, len: op.len })?;
        dst.copy_from_slice(src);
        copied += op.len;
    }
    Ok(copied)
}

/// Converts what the plan populates to private: modelled by the sim platform, else with the best
/// ioctl this host offers. SEV and SEV-ES need no conversion.
fn convert(plan: &LaunchPlan, platform: &mut dyn Platform, mem: &mut dyn MemoryBackend) -> Result<ConversionReport, LoadError> {
    let host = mem.host_conversion().clone();
    let path = if !matches!(plan.mode, Mode::Snp | Mode::Tdx) {
        ConversionPath::NotNeeded
    } else if platform.models_conversion() {
        ConversionPath::Modelled
    } else if host.attributes2.offered() {
        ConversionPath::Attributes2
    } else if host.vm_attributes.offered() {
        ConversionPath::VmAttributes
    } else {
        return Err(Unsupported::NoConversion(host.describe()).into());
    };
    let ranges = if path == ConversionPath::NotNeeded { Vec::new() } else { private_ranges(plan) };
    let mut retries = 0;
    for &(gpa, len) in &ranges {
        retries += u64::from(match path {
            ConversionPath::Modelled => convert_with_retry(gpa, len, |g, l| platform.convert_private(g, l))?,
            _ => convert_with_retry(gpa, len, |g, l| mem.convert_once(g, l))?,
        });
    }
    Ok(ConversionReport { path, host, ranges: ranges.len() as u64, retries })
}

/// The guest-memory ranges the plan populates, merged where contiguous inside one region.
fn private_ranges(plan: &LaunchPlan) -> Vec<(u64, u64)> {
    let mut ops: Vec<&Operation> = plan.operations.iter().filter(|o| !o.is_vmsa()).collect();
    ops.sort_by_key(|o| o.gpa);
    let mut starts: Vec<u64> = plan.regions.iter().map(|r| r.gpa).collect();
    starts.sort_unstable();
    // The check put every operation inside one region: the last starting at or below it.
    let region_of = |gpa: u64| starts.partition_point(|&s| s <= gpa);
    let mut out: Vec<(u64, u64)> = Vec::new();
    for op in ops {
        match out.last_mut() {
            Some((g, l)) if *g + *l == op.gpa && region_of(*g) == region_of(op.gpa) => *l += op.len,
            _ => out.push((op.gpa, op.len)),
        }
    }
    out
}

/// Populates one operation: re-issues after partial progress, retries EINTR/EAGAIN (and calls that
/// make no progress) up to [`MAX_POPULATE_RETRIES`] times in a row.
pub(crate) fn populate_op(
    platform: &mut dyn Platform,
    mem: &dyn MemoryBackend,
    op_index: usize,
    op: &Operation,
    source: Option<&[u8]>,
    in_place: bool,
    stats: &mut PopulateStats,
) -> Result<(), LoadError> {
    let mut done = 0;
    let mut stalled = 0;
    while done < op.len {
        let call = PopulateCall { op, done, source, in_place };
        let fail = |source| LoadError::Populate { op: op_index, kind: op.kind, gpa: call.gpa(), source };
        let last = match platform.populate(&call, mem) {
            Ok(n) if n > call.remaining() => {
                return Err(LoadError::Unsupported(Unsupported::Overreported { done: n, asked: call.remaining() }));
            }
            Ok(0) => "no progress".to_owned(),
            Ok(n) => {
                done += n;
                stalled = 0;
                stats.calls += 1;
                stats.partial += u64::from(done < op.len);
                continue;
            }
            Err(e) if e.retryable() => e.to_string(),
            Err(e) => return Err(fail(e)),
        };
        stalled += 1;
        stats.retries += 1;
        if stalled >= MAX_POPULATE_RETRIES {
            return Err(LoadError::Stalled { op: op_index, kind: op.kind, gpa: call.gpa(), tries: stalled, last });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::{OpKind, Source};

    use super::*;

    fn plan_json(mode: &str, ops: serde_json::Value) -> LaunchPlan {
        serde_json::from_value(serde_json::json!({
            "version": 2, "mode": mode, "inputs": [],
            "regions": [
                {"name": "ram", "purpose": "ram", "gpa": 0x200000u64, "size": 0x200000, "gmem_offset": 0},
                {"name": "ram@0x400000", "purpose": "ram", "gpa": 0x400000u64, "size": 0x200000, "gmem_offset": 0}
            ],
            "operations": ops
        }))
        .unwrap()
    }

    #[test]
    fn private_ranges_merge_contiguous_runs_but_not_across_regions() {
        let mut plan = plan_json("snp", serde_json::json!([]));
        plan.operations = vec![
            Operation::new(0x3ff000, 0x1000, OpKind::Zero, Source::None),
            Operation::new(0x201000, 0x1000, OpKind::Zero, Source::None),
            Operation::new(0x200000, 0x1000, OpKind::Secrets, Source::None),
            Operation::new(0x400000, 0x1000, OpKind::Zero, Source::None),
        ];
        assert_eq!(private_ranges(&plan), vec![(0x200000, 0x2000), (0x3ff000, 0x1000), (0x400000, 0x1000)]);
    }
}
