//! Plan -> sim load: the contract between `plan::check` and the platforms. Valid plans (SNP, SEV-ES,
//! SEV, TDX single-pass and two-pass, from a generated image) are edited by the input (operations
//! moved, resized, retyped, renumbered, dropped or duplicated; regions and launch parameters changed),
//! and every edited plan the check accepts is loaded on the sim platform (memfd memory: no KVM).
//! The sim recomputes the digest from guest memory; a plan that passes the check but loads to another
//! digest than the fold, or that the modelled firmware refuses, is a crash.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prelaunch_loader::{LoadError, LoadOptions, MemoryChoice, PlatformChoice, SimFaults, load};
use prelaunch_measure::plan::sev::{AmdConfig, build};
use prelaunch_measure::plan::{self, CheckedPlan, LaunchPlan, Mode, OpKind, PageOrder, TdxPolicy};
use prelaunch_measure::{FirmwareImage, digest};

const KINDS: [OpKind; 8] =
    [OpKind::Normal, OpKind::Vmsa, OpKind::Zero, OpKind::Unmeasured, OpKind::Secrets, OpKind::Cpuid, OpKind::TdxAdd, OpKind::TdxAddExtend];

fn image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| prelaunch_testdata::ImageBuilder::touching_2m(64 << 10).seed(1).build())
}

fn base(which: u8, fw: &FirmwareImage<'static>) -> Option<CheckedPlan<'static>> {
    let amd = |mode: Mode, vcpus: u32| {
        let mut cfg = AmdConfig::new(mode);
        cfg.vcpus = vcpus;
        cfg.vcpu_sig = 0x800f12;
        build(fw, &cfg).ok()
    };
    match which % 5 {
        0 => amd(Mode::Snp, 3),
        1 => amd(Mode::SevEs, 2),
        2 => amd(Mode::Sev, 0),
        3 => plan::tdx::build(fw, TdxPolicy { page_order: PageOrder::Single, ..Default::default() }).ok(),
        _ => plan::tdx::build(fw, TdxPolicy { page_order: PageOrder::TwoPass, ..Default::default() }).ok(),
    }
}

/// One edit per 4 input bytes: (what, which operation, a value, a second value).
fn edit(p: &mut LaunchPlan, e: [u8; 4]) {
    let n = p.operations.len();
    if n == 0 {
        return;
    }
    let i = e[1] as usize % n;
    let j = e[2] as usize % n;
    let v = u64::from(e[2]) << 12 | u64::from(e[3]) << 20;
    match e[0] % 12 {
        0 => p.operations.swap(i, j),
        1 => {
            let op = p.operations.remove(i);
            p.operations.insert(j.min(p.operations.len()), op);
        }
        2 => drop(p.operations.remove(i)),
        3 => {
            let op = p.operations[i].clone();
            p.operations.insert(j, op);
        }
        4 => p.operations[i].gpa = p.operations[i].gpa.wrapping_add(v).wrapping_sub(8 << 20),
        5 => p.operations[i].len = (u64::from(e[2]) + 1) << 12,
        6 => {
            let kind = KINDS[e[2] as usize % KINDS.len()];
            p.operations[i].kind = kind;
            p.operations[i].measured = kind.measures_contents();
        }
        7 => p.operations[i].vcpu = if e[2] & 1 == 0 { None } else { Some(u32::from(e[3])) },
        8 => p.operations[i].measured ^= true,
        9 => {
            if let Some(s) = &mut p.snp {
                match e[2] % 3 {
                    0 => s.vcpus = u32::from(e[3]),
                    1 => s.guest_features = u64::from(e[3]),
                    _ => s.policy ^= 1 << (e[3] % 64),
                }
            }
        }
        10 => {
            let n = p.regions.len().max(1);
            if let Some(r) = p.regions.get_mut(e[2] as usize % n) {
                r.gpa = r.gpa.wrapping_add(u64::from(e[3]) << 21);
            }
        }
        _ => {
            if let Some(t) = &mut p.tdx {
                t.page_order = if e[3] & 1 == 0 { PageOrder::Single } else { PageOrder::TwoPass };
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, edits)) = data.split_first() else { return };
    let Ok(fw) = FirmwareImage::parse(image()) else { return };
    let Some(base) = base(which, &fw) else { return };
    let mut p = base.plan().clone();
    for e in edits.chunks_exact(4).take(64) {
        edit(&mut p, [e[0], e[1], e[2], e[3]]);
    }
    let Ok(checked) = base.with_plan(p) else { return };
    let want = digest::fold(&checked);
    let opts = LoadOptions { memory: MemoryChoice::Memfd, platform: PlatformChoice::Sim(SimFaults::default()), ..Default::default() };
    match load(&checked, opts) {
        Ok(r) => assert_eq!(r.digest, Some(want), "the check accepted a plan the sim platform measures differently: {:?}", checked.plan()),
        // The host running out of memory or descriptors says nothing about the plan.
        Err(LoadError::Memory(_)) => {}
        Err(e) => panic!("the check accepted a plan the sim platform refuses: {e}\n{:?}", checked.plan()),
    }
});
