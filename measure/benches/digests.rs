//! Criterion benches of the digest folds, each beside the raw SHA-384 of the same bytes (the physical
//! limit of one core). Only in-process work is timed here: the process costs (exec, dynamic linking,
//! OpenSSL initialisation, rayon thread start, page faults on a fresh mapping) are what `bench/run.sh`
//! adds on top. Read the groups as ratios; every group reports throughput in bytes of image.
//!
//! - `snp_4MiB`: the SEV-SNP launch digest of a generated 4 MiB OVMF-like image (plan built outside
//!   the loop) for 1 and 64 vCPUs, plan build + fold for 64, `sha384_stream` of the image, and
//!   `page_info_chain_only`: the serial PAGE_INFO chain of the 64-vCPU plan alone (as many
//!   `Gctx::update`s as it has pages), the part of the fold that cannot run in parallel.
//! - `vcpu_table_4MiB`: `table_1..=512` (one walk, 512 digests) against `single_512`; target <= 1.5x.
//! - `tdx_2MiB`: MRTD of a generated 2 MiB TDVF image (stock sections, BFV = 7/8 of the file
//!   MR.EXTENDed) against `sha384_stream` of the image. MRTD hashes ~1.5x the extended bytes (a
//!   128-byte header per 256-byte chunk) in one serial stream, so ~1.34x the stream is its floor here.
//! - `sha384_4MiB`: the hash backends and call shapes: one stream through `prelaunch_measure::hash`
//!   (OpenSSL by default) and through the `sha2` crate, and per 4 KiB page with `Sha384::digest` vs
//!   `Sha384::new/update/finish`, serial and with rayon. A `digest`/`incremental` ratio above 1 is
//!   the per-call cost of the backend's one-shot path (OpenSSL 3's `SHA384()` fetches the algorithm
//!   on every call).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prelaunch_measure::hash::Sha384;
use prelaunch_measure::plan::{self, CheckedPlan, Mode, PAGE_SIZE as PLAN_PAGE, TdxPolicy, sev::AmdConfig};
use prelaunch_measure::snp::{Gctx, PageType};
use prelaunch_measure::{FirmwareImage, digest};
use prelaunch_testdata::ImageBuilder;
use rayon::prelude::*;

const SNP_SIZE: usize = 4 << 20;
const TDX_SIZE: usize = 2 << 20;
const PAGE: usize = 4096;

fn snp_image() -> Vec<u8> {
    ImageBuilder::ovmf_like(SNP_SIZE).seed(1).build()
}

fn snp_plan(bytes: &[u8], vcpus: u32) -> CheckedPlan<'_> {
    let img = FirmwareImage::parse(bytes).expect("generated image parses");
    let mut cfg = AmdConfig::new(Mode::Snp);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = prelaunch_measure::snp::cpu::by_name("EPYC-v4").expect("EPYC-v4 is known");
    plan::sev::build(&img, &cfg).expect("snp plan builds")
}

fn sha384_stream(bytes: &[u8]) -> [u8; 48] {
    let mut h = Sha384::new();
    h.update(bytes);
    h.finish()
}

fn snp(c: &mut Criterion) {
    let bytes = snp_image();
    let plan_1 = snp_plan(&bytes, 1);
    let plan_64 = snp_plan(&bytes, 64);

    let mut g = c.benchmark_group("snp_4MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("sha384_stream", |b| b.iter(|| sha384_stream(black_box(&bytes))));
    g.bench_function("fold_1_vcpu", |b| b.iter(|| digest::fold(black_box(&plan_1))));
    g.bench_function("fold_64_vcpus", |b| b.iter(|| digest::fold(black_box(&plan_64))));
    let chain_updates: u64 = plan_64.operations.iter().map(|op| op.len / PLAN_PAGE).sum();
    g.bench_function("page_info_chain_only", |b| {
        b.iter(|| {
            let mut gctx = Gctx::new();
            for i in 0..black_box(chain_updates) {
                gctx.update(PageType::Normal, i * PLAN_PAGE, &[1; 48]);
            }
            gctx.ld()
        })
    });
    g.bench_function("build_and_fold_64_vcpus", |b| {
        b.iter(|| {
            let plan = snp_plan(black_box(&bytes), 64);
            digest::fold(&plan)
        })
    });
    g.finish();
}

fn vcpu_table(c: &mut Criterion) {
    let bytes = snp_image();
    let plan_512 = snp_plan(&bytes, 512);
    let counts: Vec<u32> = (1..=512).collect();

    // Same answer for 512 either way, so the two benches measure the same work plus the table's.
    let table = digest::vcpu_table(&plan_512, None, &counts).unwrap();
    assert_eq!(table.last().map(|r| r.1), Some(digest::fold(&plan_512)));

    let mut g = c.benchmark_group("vcpu_table_4MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("single_512", |b| b.iter(|| digest::fold(black_box(&plan_512))));
    g.bench_function("table_1..=512", |b| b.iter(|| digest::vcpu_table(black_box(&plan_512), None, &counts).unwrap()));
    g.finish();
}

fn tdx(c: &mut Criterion) {
    let bytes = ImageBuilder::tdvf_only(TDX_SIZE).seed(1).build();
    let img = FirmwareImage::parse(&bytes).expect("generated TDVF image parses");
    let plan = plan::tdx::build(&img, TdxPolicy::default()).expect("tdx plan builds");

    let mut g = c.benchmark_group("tdx_2MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("sha384_stream", |b| b.iter(|| sha384_stream(black_box(&bytes))));
    g.bench_function("mrtd", |b| b.iter(|| digest::fold(black_box(&plan))));
    g.finish();
}

fn sha384(c: &mut Criterion) {
    let bytes = snp_image();

    let mut g = c.benchmark_group("sha384_4MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("stream_backend", |b| b.iter(|| sha384_stream(black_box(&bytes))));
    g.bench_function("stream_sha2_crate", |b| b.iter(|| <sha2::Sha384 as sha2::Digest>::digest(black_box(&bytes))));
    g.bench_function("pages_digest_serial", |b| b.iter(|| black_box(&bytes).chunks(PAGE).map(Sha384::digest).fold(0u8, |a, d| a ^ d[0])));
    g.bench_function("pages_incremental_serial", |b| {
        b.iter(|| black_box(&bytes).chunks(PAGE).map(sha384_stream).fold(0u8, |a, d| a ^ d[0]))
    });
    g.bench_function("pages_digest_rayon", |b| {
        b.iter(|| black_box(&bytes).par_chunks(PAGE).with_min_len(16).map(Sha384::digest).collect::<Vec<_>>())
    });
    g.bench_function("pages_incremental_rayon", |b| {
        b.iter(|| black_box(&bytes).par_chunks(PAGE).with_min_len(16).map(sha384_stream).collect::<Vec<_>>())
    });
    g.finish();
}

criterion_group!(benches, snp, vcpu_table, tdx, sha384);
criterion_main!(benches);
