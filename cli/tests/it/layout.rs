//! `prelaunch layout --json` on every real image and mode it supports: 2 MiB-aligned regions, no
//! measured padding, no overlaps, and the plan's digest equals `measure`'s.

use crate::common;

use common::*;
use serde_json::Value;

const ALIGN: u64 = 2 << 20;

fn modes_for(inspect: &Value) -> Vec<Vec<&'static str>> {
    let mut m = Vec::new();
    if inspect["supports"]["snp"].as_bool() == Some(true) {
        m.push(vec!["--mode", "snp", "--vcpus", "4", "--vcpu-type", "EPYC-Milan"]);
        m.push(vec!["--mode", "snp", "--vcpus", "2", "--vmm-type", "ec2"]);
    }
    if inspect["supports"]["sev_es"].as_bool() == Some(true) {
        m.push(vec!["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC-v4"]);
    }
    if inspect["supports"]["tdx"].as_bool() == Some(true) {
        m.push(vec!["--mode", "tdx"]);
        m.push(vec!["--mode", "tdx", "--tdx-page-order", "two-pass"]);
    }
    m
}

#[test]
fn real_images_lay_out_aligned_without_padding_or_overlaps() {
    let mut checked = 0;
    for entry in std::fs::read_dir(firmware_dir()).unwrap() {
        let path = entry.unwrap().path();
        let fw = path.to_str().unwrap();
        let o = prelaunch(&["inspect", "--json", fw]);
        expect_code(&o, 0, fw);
        let inspect: Value = serde_json::from_slice(&o.stdout).unwrap();
        let size = inspect["size"].as_u64().unwrap();
        for mode in modes_for(&inspect) {
            let mut args = vec!["layout", "--json", "--ovmf", fw];
            args.extend(&mode);
            let o = prelaunch(&args);
            expect_code(&o, 0, &format!("{fw} {mode:?}"));
            let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
            let what = format!("{fw} {mode:?}");
            let regions = plan["regions"].as_array().unwrap();
            for r in regions {
                for k in ["gpa", "size", "gmem_offset"] {
                    assert_eq!(r[k].as_u64().unwrap() % ALIGN, 0, "{what}: region {k}");
                }
            }
            let mut spans: Vec<(u64, u64)> = Vec::new();
            for op in plan["operations"].as_array().unwrap() {
                if op["kind"] == "vmsa" {
                    continue;
                }
                let (gpa, len) = (op["gpa"].as_u64().unwrap(), op["len"].as_u64().unwrap());
                assert!(
                    regions.iter().any(|r| gpa >= r["gpa"].as_u64().unwrap() && gpa + len <= r["gpa"].as_u64().unwrap() + r["size"].as_u64().unwrap()),
                    "{what}: operation at {gpa:#x} outside every region"
                );
                // Bytes from the firmware file land exactly where the file maps (ending at 4 GiB); any
                // other populated byte is metadata, never alignment padding of the firmware region.
                if op["source"]["type"] == "file" && op["source"]["file"] == "firmware" {
                    let off = op["source"]["offset"].as_u64().unwrap();
                    if mode[1] != "tdx" {
                        assert_eq!(gpa, (1u64 << 32) - size + off, "{what}: firmware bytes off their GPA");
                    }
                } else {
                    let fw_region = ((1u64 << 32) - size) & !(ALIGN - 1);
                    let padding = (fw_region, (1u64 << 32) - size);
                    assert!(gpa + len <= padding.0 || gpa >= padding.1, "{what}: operation at {gpa:#x} populates padding");
                }
                spans.push((gpa, gpa + len));
            }
            spans.sort();
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0, "{what}: operations overlap at {:#x}", w[1].0);
            }
            let mut margs = vec!["measure", "--ovmf", fw];
            margs.extend(&mode);
            let m = prelaunch(&margs);
            expect_code(&m, 0, &what);
            assert_eq!(plan["digest"].as_str().unwrap(), stdout(&m).trim(), "{what}: plan digest differs from measure");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} image/mode pairs laid out");
}
