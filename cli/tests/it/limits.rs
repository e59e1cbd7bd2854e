//! No input of at most 64 MiB makes any command take more than 2 s or 512 MiB: every command runs
//! on the worst shapes (`prelaunch_testdata::Stress`: thousands of overlapping or disjoint SEV items
//! and TDVF sections, the legacy TDVF pointer, sections of data then zeros, gigabytes of zero pages)
//! in 64 MiB images, under `ulimit -v 524288` (512 MiB of address space) and `ulimit -t 2` (2 s of
//! CPU, summed over threads), with a wall-clock limit only to catch hangs. CPU time rather than wall
//! time is the bound: this machine is shared, and wall time measures the neighbours.
//!
//! Before the O(n log n) checks and the caps, the first shape alone took 39 s and 1.9 GB (2 MiB image)
//! and wrote 1.2 GB to stdout.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prelaunch_testdata::{ImageBuilder, Stress};

const SIZE: usize = 64 << 20;
const CPU_SECONDS: f64 = 2.0;
const MEMORY_KIB: u64 = 512 * 1024;

fn shapes() -> Vec<(String, ImageBuilder)> {
    use Stress::*;
    let mib = |n: u64| n << 20;
    vec![
        ("sev-overlap 4000 (over the item cap)".into(), SevOverlap.builder(SIZE, 4000)),
        ("sev-overlap 510".into(), SevOverlap.builder(SIZE, 510)),
        ("sev-disjoint 510".into(), SevDisjoint.builder(SIZE, 510)),
        ("sev-large 1 x 15 MiB".into(), SevLarge.builder_total(SIZE, 1, mib(15))),
        ("sev-large 510 sharing 15 MiB".into(), SevLarge.builder_total(SIZE, 510, mib(15))),
        ("sev-large 1 x 255 MiB".into(), SevLarge.builder_total(SIZE, 1, mib(255))),
        ("sev-large 8 sharing 3.5 GiB".into(), SevLarge.builder(SIZE, 8)),
        ("tdvf-overlap 2 million (over the section cap)".into(), TdvfOverlap.builder(SIZE, usize::MAX)),
        ("tdvf-overlap 509".into(), TdvfOverlap.builder(SIZE, 509)),
        ("tdvf-disjoint 509".into(), TdvfDisjoint.builder(SIZE, 509)),
        ("tdvf-legacy 2 million".into(), TdvfLegacy.builder(SIZE, usize::MAX)),
        ("tdvf-legacy 509".into(), TdvfLegacy.builder(SIZE, 509)),
        ("tdvf-zeros 1 (64 MiB generated)".into(), TdvfZeros.builder(SIZE, 1)),
        ("tdvf-zeros 509".into(), TdvfZeros.builder(SIZE, 509)),
        ("tdvf-large 1 x 900 MiB".into(), TdvfLarge.builder_total(SIZE, 1, mib(900))),
        ("tdvf-large 509 sharing 900 MiB".into(), TdvfLarge.builder_total(SIZE, 509, mib(900))),
        ("tdvf-large 8 sharing 3.5 GiB".into(), TdvfLarge.builder(SIZE, 8)),
        ("amdsev-like 64 MiB".into(), ImageBuilder::amdsev_like(SIZE)),
    ]
}

fn commands(fw: &str, report: &str) -> Vec<Vec<String>> {
    let snp = ["--mode", "snp", "--vcpu-type", "EPYC-v4", "--ovmf", fw];
    let v = |parts: &[&[&str]]| parts.concat().iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&[&["inspect", fw]]),
        v(&[&["inspect", "--json", fw]]),
        v(&[&["measure", "--vcpus", "64"], &snp]),
        v(&[&["measure", "--vcpus", "1-512"], &snp]),
        v(&[&["measure", "--vcpus", "2", "--explain"], &snp]),
        v(&[&["measure", "--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC", "--ovmf", fw]]),
        v(&[&["measure", "--mode", "sev", "--ovmf", fw]]),
        v(&[&["measure", "--mode", "tdx", "--ovmf", fw]]),
        v(&[&["measure", "--mode", "tdx", "--tdx-page-order", "two-pass", "--explain", "--ovmf", fw]]),
        v(&[&["layout", "--json", "--vcpus", "2"], &snp]),
        v(&[&["layout", "--mode", "tdx", "--ovmf", fw]]),
        v(&[&["load", "--platform", "sim", "--vcpus", "2"], &snp]),
        v(&[&["load", "--platform", "sim", "--mode", "tdx", "--ovmf", fw]]),
        v(&[&["diagnose", "--report", report, "--ovmf", fw]]),
    ]
}

struct Run {
    code: Option<i32>,
    cpu: f64,
    stdout_len: u64,
    stderr: String,
}

/// Runs prelaunch under the limits; the shell's `times` reports the child's CPU time.
fn limited(args: &[String], out: &Path) -> Run {
    let script = format!(
        r#"ulimit -v {MEMORY_KIB} && ulimit -t {} || exit 99; "$0" "$@" >"$PRELAUNCH_LIMITS_OUT"; rc=$?; times; exit $rc"#,
        CPU_SECONDS as u64
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_prelaunch"))
        .args(args)
        .env("PRELAUNCH_LIMITS_OUT", out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("{args:?}: still running after 120 s of wall time");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    let times = String::from_utf8_lossy(&o.stdout);
    // The second line of `times` is the children's user and system time: "0m0.312s 0m0.015s".
    let secs = |t: &str| -> f64 {
        let (m, s) = t.trim_end_matches('s').split_once('m').unwrap_or(("0", "0"));
        m.parse::<f64>().unwrap_or(0.0) * 60.0 + s.parse::<f64>().unwrap_or(0.0)
    };
    let cpu = times.lines().nth(1).map_or(f64::NAN, |l| l.split_whitespace().map(secs).sum());
    Run {
        code: o.status.code(),
        cpu,
        stdout_len: std::fs::metadata(out).map_or(0, |m| m.len()),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn no_64_mib_input_takes_more_than_2_s_of_cpu_or_512_mib() {
    let dir = tempfile::tempdir().unwrap();
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports/snp-v2-genoa.bin").display().to_string();
    let out = dir.path().join("stdout");
    let mut worst: Vec<(f64, String)> = Vec::new();
    let mut outcomes = [0usize; 4];
    for (name, builder) in shapes() {
        let fw = dir.path().join("fw.fd");
        let bytes = builder.build();
        assert!(bytes.len() <= SIZE, "{name}");
        std::fs::write(&fw, bytes).unwrap();
        for args in commands(fw.to_str().unwrap(), &report) {
            let what = format!("{name}: prelaunch {}", args.join(" ").replace(fw.to_str().unwrap(), "FW"));
            let r = limited(&args, &out);
            assert!(
                matches!(r.code, Some(0 | 1 | 3)),
                "{what}: exit {:?} (152: CPU limit, 134: allocation failed, 101: panic)\n{}",
                r.code,
                r.stderr
            );
            assert!(!r.stderr.contains("panicked") && !r.stderr.contains("memory allocation"), "{what}: {}", r.stderr);
            if r.code == Some(1) {
                assert!(r.stderr.contains("prelaunch: error: "), "{what}: exit 1 without an error line: {}", r.stderr);
            }
            assert!(r.cpu <= CPU_SECONDS, "{what}: {:.2} s of CPU", r.cpu);
            assert!(r.stdout_len < 16 << 20, "{what}: {} bytes of output", r.stdout_len);
            outcomes[r.code.unwrap() as usize] += 1;
            worst.push((r.cpu, what));
        }
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (cpu, what) in worst.iter().take(8) {
        eprintln!("{cpu:6.2} s CPU  {what}");
    }
    // Both outcomes occur: the worst accepted shapes are measured, not only refused.
    assert!(outcomes[0] > 20 && outcomes[1] > 20, "exit 0 / 1 / 3: {outcomes:?}");
}
