//! `load --platform hw --probe`: one line per platform (SEV-SNP, TDX) saying whether it can launch
//! here and how, or every missing piece; `--json` carries the same verdicts and the facts behind them.

use crate::common::*;

fn json_probe() -> serde_json::Value {
    let o = prelaunch(&["load", "--platform", "hw", "--probe", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("probe JSON")
}

#[test]
fn probe_prints_one_line_per_platform_agreeing_with_the_json_facts() {
    let o = prelaunch(&["load", "--platform", "hw", "--probe", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("SEV-SNP: ") && lines[1].starts_with("TDX: "), "{out}");

    let doc = json_probe();
    let facts = &doc["facts"];
    let vm_types = facts["vm_types"].as_u64().unwrap_or(0);
    for (line, verdict, bit, name) in [(lines[0], &doc["verdicts"][0], 4, "snp (4)"), (lines[1], &doc["verdicts"][1], 5, "tdx (5)")] {
        let missing = verdict["missing"].as_array().expect("missing list");
        if missing.is_empty() {
            assert!(line.contains(": can launch ("), "{line}");
            continue;
        }
        assert!(line.contains(": cannot launch: "), "{line}");
        for m in missing {
            assert!(line.contains(m.as_str().unwrap()), "{line} lacks {m}");
        }
        if facts["kvm"]["offered"] == "yes" && vm_types & (1 << bit) == 0 {
            assert!(line.contains(&format!("not {name}")), "the VM type this KVM lacks is named: {line}");
        }
    }
    if facts["dev_sev"]["offered"] != "yes" {
        assert!(lines[0].contains("/dev/sev"), "{}", lines[0]);
    }
    let vendor = facts["cpu"]["vendor"].as_str().unwrap();
    if vendor != "AuthenticAMD" {
        assert!(lines[0].contains(&format!("the CPU is {vendor}")), "{}", lines[0]);
    }
    if vendor != "GenuineIntel" {
        assert!(lines[1].contains(&format!("the CPU is {vendor}")), "{}", lines[1]);
    }
}

#[test]
fn probe_json_reports_in_place_conversion_by_ioctl_and_parameter() {
    let doc = json_probe();
    let ip = &doc["facts"]["in_place"];
    assert!(ip["attributes2_ioctl"]["offered"].is_string(), "{ip}");
    assert_eq!(ip["gmem_in_place_conversion"]["name"], "gmem_in_place_conversion");
    assert_eq!(ip["vm_memory_attributes"]["name"], "vm_memory_attributes");
    if doc["facts"]["kvm"]["offered"] == "yes" {
        let vms = doc["facts"]["vms"].as_array().unwrap();
        assert_eq!(vms.iter().map(|v| v["vm_type"].as_str().unwrap()).collect::<Vec<_>>(), ["default", "snp", "tdx"]);
        // The default VM is always creatable, and its guest_memfd flags are what the memory path uses.
        assert_eq!(vms[0]["create"]["offered"], "yes");
    }
}

#[test]
fn probe_is_for_the_hw_platform_only() {
    let o = prelaunch(&["load", "--platform", "sim", "--probe"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--platform hw"));
    let o = prelaunch(&["load", "--platform", "hw"]);
    assert_eq!(o.status.code(), Some(2), "without --probe the launch arguments stay required");
}
