//! A 4 MiB load, phase by phase, beside a plain memcpy of the same bytes (run by bench/load.sh).
//!
//! Each iteration loads a plan with one 4 MiB operation (SNP NORMAL pages, or TDX PAGE.ADD + EXTEND)
//! read from a memory-mapped 4 MiB file, with the sim platform on guest_memfd (memfd where /dev/kvm is
//! unusable: the table says which). The baseline copies the same mapped bytes into a pre-faulted
//! buffer. Medians over the iterations; ratios are phase time / memcpy time.
//!
//! Environment: LOAD_BENCH_ITERS (default 31), LOAD_BENCH_OUT (a file to write the table to).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use prelaunch_files::{Input, Kind};
use prelaunch_loader::{CheckedPlan, LoadOptions, LoadReport, load};
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::plan::{
    InputFile, InputKind, Inputs, LaunchPlan, Mode, OpKind, Operation, PLAN_VERSION, Region, RegionPurpose, SnpLaunch, Source, TdxLaunch,
};
use prelaunch_measure::snp::Vmm;
use prelaunch_measure::snp::policy::DEFAULT_POLICY;

const SIZE: u64 = 4 << 20;
const BASE: u64 = (1 << 32) - SIZE;

fn plan(mode: Mode, kind: OpKind, image: &[u8]) -> LaunchPlan {
    let snp = SnpLaunch { vmm: Vmm::Qemu, vcpus: 0, vcpu_sig: 0, guest_features: 1, policy: DEFAULT_POLICY };
    LaunchPlan {
        version: PLAN_VERSION,
        mode,
        inputs: vec![InputFile { kind: InputKind::Firmware, size: SIZE, sha256: Some(Sha256::digest(image)) }],
        regions: vec![Region { name: "firmware".into(), purpose: RegionPurpose::Firmware, gpa: BASE, size: SIZE, gmem_offset: 0 }],
        operations: vec![Operation::new(BASE, SIZE, kind, Source::File { file: InputKind::Firmware, offset: 0 })],
        pages: BTreeMap::new(),
        snp: (mode == Mode::Snp).then_some(snp),
        tdx: (mode == Mode::Tdx).then(TdxLaunch::default),
        digest: None,
        vmsas_as_placed: false,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let iters: usize = std::env::var("LOAD_BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(31).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("image.bin");
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&path, &bytes).expect("write image");
    let file = Input::open(&path, Kind::FIRMWARE).expect("map image");

    // Baseline: the same mapped bytes into a buffer whose pages are already faulted in.
    let mut dst = vec![1u8; SIZE as usize];
    let memcpy = median(
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                dst.copy_from_slice(&file);
                std::hint::black_box(&dst);
                t.elapsed()
            })
            .collect(),
    );

    let mut table = String::new();
    table.push_str(&format!(
        "4 MiB load, median of {iters} runs; ratio = phase time / memcpy of the same 4 MiB ({:.0} us here)\n\n",
        memcpy.as_secs_f64() * 1e6
    ));
    table
        .push_str("| plan | memory | create | map | copy | convert | populate | finish | total |\n|---|---|---|---|---|---|---|---|---|\n");
    for (name, p) in [
        ("SNP, 1024 NORMAL pages", plan(Mode::Snp, OpKind::Normal, &file)),
        ("TDX, 1024 pages ADD+EXTEND", plan(Mode::Tdx, OpKind::TdxAddExtend, &file)),
    ] {
        let checked = CheckedPlan::new(p, Inputs::new().with(InputKind::Firmware, &file)).expect("plan");
        let runs: Vec<LoadReport> = (0..iters).map(|_| load(&checked, LoadOptions::default()).expect("load")).collect();
        let memory = runs[0].memory.name();
        let phase = |i: usize| median(runs.iter().map(|r| r.timings.phases()[i].1).collect());
        let total = median(runs.iter().map(|r| r.timings.phases().iter().map(|p| p.1).sum()).collect());
        let ratio = |d: Duration| format!("{:.2}", d.as_secs_f64() / memcpy.as_secs_f64());
        let cells: Vec<String> = (0..6).map(|i| ratio(phase(i))).collect();
        table.push_str(&format!("| {name} | {memory} | {} | {} |\n", cells.join(" | "), ratio(total)));
    }
    print!("{table}");
    if let Ok(out) = std::env::var("LOAD_BENCH_OUT") {
        std::fs::write(&out, &table).unwrap_or_else(|e| panic!("{out}: {e}"));
        eprintln!("wrote {out}");
    }
}
