//! The `sim` platform: a software model of the AMD firmware (SNP, SEV, SEV-ES) and of the TDX module.
//!
//! It never folds the plan: it reads each page from the guest memory mapping when it is populated,
//! tracks every page's state (shared → private → populated), refuses what the firmware refuses
//! (populating a shared or already-populated page, a VMSA/SECRETS/CPUID run that is not one 4 KiB
//! page) and computes the digest itself with measure's primitives (`Gctx`, SHA-256, `Mrtd`).
//! Conversion to private is modelled here too: this host's KVM cannot convert, and a truly private
//! page could not be read back through the host mapping anyway.

pub mod faults;
pub mod pages;
mod sev;
mod snp;
mod tdx;

use prelaunch_measure::hash::{Sha384, Sha384Digest};
use prelaunch_measure::plan::{LaunchPlan, Mode, PAGE_SIZE, Region};
use rayon::prelude::*;

use self::faults::{Every, SimFaults};
use self::pages::{NotPopulatable, PageStates};
use super::{DigestSource, Finish, Platform, PlatformError, PopulateCall};
use crate::memory::MemoryBackend;
use crate::memory::convert::ConvertError;
use crate::record::PageRecord;

/// A refusal to populate `gpa`, with the status the real firmware returns.
fn refusal(call: &str, gpa: u64, why: NotPopulatable, amd: bool) -> PlatformError {
    let (what, status) = match why {
        NotPopulatable::NoMemory => ("no guest memory backs this page", " (KVM: no memslot, EINVAL)"),
        NotPopulatable::Shared => (
            "the page is shared; it must be converted to private first",
            if amd { " (INVALID_PAGE_STATE, 0x1a)" } else { " (KVM refuses shared GPAs, EINVAL)" },
        ),
        NotPopulatable::AlreadyPopulated => {
            ("the page was already populated", if amd { " (INVALID_PAGE_STATE, 0x1a)" } else { " (TDX_EPT_ENTRY_STATE_INCORRECT)" })
        }
    };
    PlatformError::Refused(format!("{call} at GPA {gpa:#x}: {what}{status}"))
}

/// The `n` pages from `gpa`, as slices of guest memory.
fn read_pages<'m>(mem: &'m dyn MemoryBackend, gpa: u64, n: u64, call: &str) -> Result<Vec<&'m [u8]>, PlatformError> {
    (0..n)
        .map(|p| {
            mem.bytes(gpa + p * PAGE_SIZE, PAGE_SIZE)
                .ok_or_else(|| PlatformError::Refused(format!("{call} at GPA {:#x}: no guest memory there", gpa + p * PAGE_SIZE)))
        })
        .collect()
}

/// SHA-384 of each page, on every core (the digest chains themselves stay serial).
fn page_digests(pages: &[&[u8]]) -> Vec<Sha384Digest> {
    pages.par_iter().with_min_len(16).map(|p| Sha384::digest(p)).collect()
}

enum Model {
    Snp(snp::SnpFirmware),
    Sev(sev::SevFirmware),
    Tdx(tdx::TdxModule),
}

/// The sim platform for one launch.
pub struct SimPlatform {
    mode: Mode,
    model: Model,
    pages: PageStates,
    faults: SimFaults,
    populate_attempts: Every,
    convert_attempts: Every,
    record: Vec<PageRecord>,
    finished: bool,
}

impl SimPlatform {
    /// A fresh launch of `plan`'s mode over `regions` (the ones mapped; every page shared).
    pub fn new(plan: &LaunchPlan, regions: &[Region], faults: SimFaults) -> Self {
        let model = match plan.mode {
            Mode::Snp => Model::Snp(snp::SnpFirmware::default()),
            Mode::Sev | Mode::SevEs => Model::Sev(sev::SevFirmware::new(plan.mode == Mode::SevEs)),
            Mode::Tdx => Model::Tdx(tdx::TdxModule::new(plan.tdx.unwrap_or_default().page_order)),
        };
        SimPlatform {
            mode: plan.mode,
            model,
            pages: PageStates::new(regions),
            faults,
            populate_attempts: Every::default(),
            convert_attempts: Every::default(),
            record: Vec::new(),
            finished: false,
        }
    }
}

impl Platform for SimPlatform {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn describe(&self) -> String {
        match &self.model {
            Model::Snp(_) => "software model of the AMD SEV-SNP firmware".into(),
            Model::Sev(s) => format!("software model of the AMD {} firmware", if s.es { "SEV-ES" } else { "SEV" }),
            Model::Tdx(t) => format!("software model of the TDX module ({} page order)", t.order.describe()),
        }
    }

    fn models_conversion(&self) -> bool {
        true
    }

    fn convert_private(&mut self, gpa: u64, len: u64) -> Result<(), ConvertError> {
        let bad = || ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES2 (modelled)", errno: "EINVAL: no guest memory there".into() };
        if self.convert_attempts.fires(self.faults.eagain_every) {
            // Convert the first half, then stop as if its pages were still referenced.
            let half = (len / 2) & !(PAGE_SIZE - 1);
            if half > 0 {
                self.pages.make_private(gpa, half).ok_or_else(bad)?;
            }
            return Err(ConvertError::Again { at_gpa: gpa + half });
        }
        self.pages.make_private(gpa, len).ok_or_else(bad)
    }

    fn after_copy(&mut self, mem: &mut dyn MemoryBackend) -> Result<(), PlatformError> {
        for &gpa in &self.faults.corrupt {
            let b = mem
                .bytes_mut(gpa, 1)
                .ok_or_else(|| PlatformError::Unsupported(format!("fault corrupt={gpa:#x}: no guest memory at that address")))?;
            b[0] ^= 0xff;
        }
        Ok(())
    }

    fn populate(&mut self, call: &PopulateCall<'_>, mem: &dyn MemoryBackend) -> Result<u64, PlatformError> {
        if self.finished {
            return Err(PlatformError::Refused(format!("the {} launch is already finished", self.mode.name())));
        }
        if self.populate_attempts.fires(self.faults.eintr_every) {
            return Err(PlatformError::Interrupted);
        }
        let max_pages = self.faults.partial_pages.unwrap_or(u64::MAX);
        match &mut self.model {
            Model::Snp(m) => m.populate(call, max_pages, mem, &mut self.pages, &mut self.record),
            Model::Sev(m) => m.populate(call, max_pages, mem, &mut self.record),
            Model::Tdx(m) => m.populate(call, max_pages, mem, &mut self.pages, &mut self.record),
        }
    }

    fn finish(&mut self) -> Result<Finish, PlatformError> {
        if self.finished {
            return Err(PlatformError::Refused("the launch is already finished".into()));
        }
        self.finished = true;
        let digest = match &mut self.model {
            Model::Snp(m) => m.finish(&mut self.record),
            Model::Sev(m) => m.finish(),
            Model::Tdx(m) => m.finish()?,
        };
        Ok(Finish { digest: Some(digest), source: DigestSource::Computed, record: std::mem::take(&mut self.record) })
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::{OpKind, Operation, Source};
    use prelaunch_measure::snp::vmsa::VMSA_GPA;

    use super::*;
    use crate::memory::memfd::MemfdBackend;

    const RAM: u64 = 0x80_0000;

    fn plan(mode: &str) -> LaunchPlan {
        serde_json::from_value(serde_json::json!({
            "version": 2, "mode": mode, "inputs": [],
            "regions": [{"name": "ram", "purpose": "ram", "gpa": RAM, "size": 0x200000, "gmem_offset": 0}], "operations": [],
            "tdx": {"page_order": "single", "page_aug": "add"}
        }))
        .unwrap()
    }

    fn mem(p: &LaunchPlan) -> MemfdBackend {
        MemfdBackend::create(&p.regions).unwrap()
    }

    fn call<'a>(op: &'a Operation, source: Option<&'a [u8]>) -> PopulateCall<'a> {
        PopulateCall { op, done: 0, source, in_place: true }
    }

    #[test]
    fn refuses_shared_and_repopulated_pages_like_the_firmware() {
        for mode in ["snp", "tdx"] {
            let p = plan(mode);
            let m = mem(&p);
            let mut sim = SimPlatform::new(&p, &p.regions, SimFaults::default());
            let kind = if mode == "snp" { OpKind::Normal } else { OpKind::TdxAddExtend };
            let op = Operation::new(RAM, 0x2000, kind, Source::None);
            let e = sim.populate(&call(&op, None), &m).unwrap_err().to_string();
            assert!(e.contains("GPA 0x800000") && e.contains("shared"), "{mode}: {e}");
            sim.convert_private(RAM, 0x1000).unwrap();
            let e = sim.populate(&call(&op, None), &m).unwrap_err().to_string();
            assert!(e.contains("GPA 0x801000") && e.contains("shared"), "{mode}: only the first page was converted: {e}");
            sim.convert_private(RAM, 0x2000).unwrap();
            assert_eq!(sim.populate(&call(&op, None), &m), Ok(0x2000));
            let again = Operation::new(RAM + 0x1000, 0x1000, kind, Source::None);
            let e = sim.populate(&call(&again, None), &m).unwrap_err().to_string();
            assert!(e.contains("GPA 0x801000") && e.contains("already populated"), "{mode}: {e}");
            let outside = Operation::new(0x40_0000, 0x1000, kind, Source::None);
            assert!(sim.populate(&call(&outside, None), &m).unwrap_err().to_string().contains("no guest memory"));
            sim.finish().unwrap();
            assert!(sim.populate(&call(&again, None), &m).unwrap_err().to_string().contains("finished"));
        }
    }

    #[test]
    fn refuses_special_pages_that_are_not_single_4k_pages() {
        let p = plan("snp");
        let m = mem(&p);
        let mut sim = SimPlatform::new(&p, &p.regions, SimFaults::default());
        sim.convert_private(RAM, 0x4000).unwrap();
        for kind in [OpKind::Secrets, OpKind::Cpuid] {
            let op = Operation::new(RAM, 0x2000, kind, Source::None);
            let e = sim.populate(&call(&op, None), &m).unwrap_err().to_string();
            assert!(e.contains("single 4 KiB pages") && e.contains("INVALID_PAGE_SIZE"), "{e}");
        }
        let mut vmsa = Operation::new(VMSA_GPA, 0x2000, OpKind::Vmsa, Source::None);
        vmsa.vcpu = Some(0);
        let two = [0u8; 0x2000];
        assert!(sim.populate(&call(&vmsa, Some(&two)), &m).unwrap_err().to_string().contains("one 4 KiB page"));
        vmsa.len = 0x1000;
        assert_eq!(sim.populate(&call(&vmsa, Some(&two[..0x1000])), &m), Ok(0x1000));
        assert!(sim.populate(&call(&vmsa, Some(&two[..0x1000])), &m).unwrap_err().to_string().contains("already has one"));
        let tdx_kind = Operation::new(RAM, 0x1000, OpKind::TdxAdd, Source::None);
        assert!(sim.populate(&call(&tdx_kind, None), &m).is_err(), "TDX pages in an SNP launch");
    }

    #[test]
    fn measures_the_bytes_in_guest_memory_at_populate_time() {
        let p = plan("snp");
        let mut m = mem(&p);
        let op = Operation::new(RAM, 0x1000, OpKind::Normal, Source::None);
        let digest_with = |m: &MemfdBackend| {
            let mut sim = SimPlatform::new(&p, &p.regions, SimFaults::default());
            sim.convert_private(RAM, 0x1000).unwrap();
            sim.populate(&call(&op, None), m).unwrap();
            let f = sim.finish().unwrap();
            (f.digest.unwrap(), f.record[0].contents.unwrap())
        };
        let before = digest_with(&m);
        m.bytes_mut(RAM + 7, 1).unwrap()[0] = 1;
        let after = digest_with(&m);
        assert_ne!(before.0, after.0);
        assert_eq!(after.1, prelaunch_measure::hash::Sha384::digest(m.bytes(RAM, 0x1000).unwrap()));
    }

    #[test]
    fn modelled_conversion_stops_halfway_with_eagain_when_told() {
        let p = plan("tdx");
        let mut sim = SimPlatform::new(&p, &p.regions, SimFaults { eagain_every: Some(2), ..Default::default() });
        sim.convert_private(RAM, 0x1000).unwrap();
        assert_eq!(sim.convert_private(RAM + 0x1000, 0x4000), Err(ConvertError::Again { at_gpa: RAM + 0x3000 }));
        assert_eq!(sim.pages.get(RAM + 0x2000), Some(pages::PageState::Private));
        assert_eq!(sim.pages.get(RAM + 0x3000), Some(pages::PageState::Shared));
        assert!(matches!(sim.convert_private(0x1000, 0x1000), Err(ConvertError::Failed { .. })), "outside guest memory");
    }
}
