//! `measure --mode tdx` with RTMRs: the registers of the peer reference cases through the CLI, the
//! JSON shape issue 12 asks for, and `--event-log` naming the first differing event and its input.

use crate::common::*;
use serde_json::Value;

struct Boot {
    _dir: tempfile::TempDir,
    fw: String,
    kernel: String,
    initrd: String,
    acpi: String,
}

/// Debian 13's combined OVMF, gen-image's PE kernel and ACPI blobs, a small initrd.
fn boot() -> Boot {
    let d = tempfile::tempdir().unwrap();
    let mut fw = std::fs::read(firmware_dir().join("trixie_OVMF_VARS_4M.fd")).unwrap();
    fw.extend(std::fs::read(firmware_dir().join("trixie_OVMF_CODE_4M.fd")).unwrap());
    let p = |n: &str| d.path().join(n).display().to_string();
    std::fs::write(p("OVMF.fd"), fw).unwrap();
    std::fs::write(p("kernel"), prelaunch_testdata::PeKernel { seed: 0, ..Default::default() }.build().bytes).unwrap();
    std::fs::write(p("initrd"), b"an initrd").unwrap();
    let a = prelaunch_testdata::acpi::build(1, 0);
    std::fs::create_dir(p("acpi")).unwrap();
    for (n, b) in [("table-loader", &a.loader), ("rsdp", &a.rsdp), ("tables", &a.tables)] {
        std::fs::write(d.path().join("acpi").join(n), b).unwrap();
    }
    Boot { fw: p("OVMF.fd"), kernel: p("kernel"), initrd: p("initrd"), acpi: p("acpi"), _dir: d }
}

fn args<'a>(b: &'a Boot, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["measure", "--mode", "tdx", "--ovmf", &b.fw, "--kernel", &b.kernel, "--initrd", &b.initrd];
    a.extend(["--append", "quiet", "--acpi-dir", &b.acpi, "--tdvf", "debian-13", "--qemu-version", "9.2"]);
    a.extend(["--kernel-stub-measures", "yes"]);
    a.extend(extra);
    a
}

#[test]
fn json_has_the_registers_and_every_event_with_its_rule() {
    let b = boot();
    let o = prelaunch(&args(&b, &["--memory", "2G", "--output-format", "json"]));
    expect_code(&o, 0, "measure --mode tdx --output-format json");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for k in ["mrtd", "rtmr0", "rtmr1", "rtmr2"] {
        assert_eq!(v[k].as_str().map(str::len), Some(96), "{k}: {v}");
    }
    let events = v["events"].as_array().unwrap();
    assert_eq!(events[0]["input"]["kind"], "td_hob");
    assert!(events.iter().any(|e| e["input"]["kind"] == "kernel" && e["register"] == "RTMR1"));
    assert!(events.iter().all(|e| e["change"]["upstream"].as_str().is_some_and(|s| !s.is_empty())));
    // The text form prints the same registers.
    let t = stdout(&prelaunch(&args(&b, &["--memory", "2G"])));
    assert!(t.contains(&format!("RTMR1 {}", v["rtmr1"].as_str().unwrap())), "{t}");
}

#[test]
fn a_memory_list_is_a_table_and_rtmr0_follows_the_memory() {
    let b = boot();
    let o = prelaunch(&args(&b, &["--memory", "2G,4G"]));
    expect_code(&o, 0, "memory table");
    let s = stdout(&o);
    let rows: Vec<Vec<&str>> = s.lines().skip(2).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{s}");
    assert_ne!(rows[0][2], rows[1][2], "RTMR0 holds the TD HOB");
    assert_eq!(rows[0][3], rows[1][3], "both sizes put 2 GiB below 4 GiB: the same patched kernel");
}

#[test]
fn event_log_names_the_first_differing_event_and_its_input() {
    let b = boot();
    let log = evidence_dir().join("ccel/trustee_CCEL_data_ovmf").display().to_string();
    let o = prelaunch(&args(&b, &["--memory", "2G", "--event-log", &log]));
    expect_code(&o, 3, "a log of another boot");
    let s = stdout(&o);
    // trustee's boot had dstack's TDVF and its own ACPI tables: the TD HOB (same sections, 2 GiB) and
    // CFV agree, so RTMR0's first difference is later, and RTMR1's is the kernel.
    assert!(s.contains("event log RTMR0: differs at its event"), "{s}");
    assert!(s.contains("event log RTMR1: differs at its event 0") && s.contains("from the kernel (--kernel"), "{s}");
    let o = prelaunch(&args(&b, &["--memory", "2G,4G", "--event-log", &log]));
    expect_code(&o, 2, "one boot at a time");
}
