//! Every reference vector reproduces through the CLI: sev-snp-measure 0.0.13's digests (or its
//! refusals) and the TDX MRTD values agreed by independent tools.

use crate::common;

use common::*;

#[test]
fn snp_sev_vectors_reproduce() {
    let doc = vectors("snp.json");
    let list = doc["vectors"].as_array().expect("vectors");
    assert!(list.len() >= 50, "expected the full vector set, found {}", list.len());
    let mut failures = Vec::new();
    for v in list {
        let id = v["id"].as_str().unwrap();
        let mut args = vec!["measure".to_owned()];
        args.extend(v["args"].as_array().unwrap().iter().map(|a| resolve(a.as_str().unwrap())));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = prelaunch(&argv);
        match (v["digest"].as_str(), v["error"].as_str()) {
            (Some(d), _) => {
                if o.status.code() != Some(0) || stdout(&o).trim() != d {
                    failures.push(format!("{id}: expected {d}, got exit {:?} {} {}", o.status.code(), stdout(&o), stderr(&o)));
                }
            }
            (None, Some(e)) => {
                // The peer refused; so must we, with a message (exit 1, nothing on stdout).
                if o.status.code() != Some(1) || !stdout(&o).is_empty() || stderr(&o).trim().is_empty() {
                    failures.push(format!("{id}: peer refused ({e}); we gave exit {:?} {} {}", o.status.code(), stdout(&o), stderr(&o)));
                }
            }
            _ => panic!("{id}: vector has neither digest nor error"),
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), list.len(), failures.join("\n"));
}

#[test]
fn tdx_vectors_reproduce() {
    let doc = vectors("tdx.json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for c in cases {
        let fw = resolve(c["firmware"].as_str().unwrap());
        let order = c["page_order"].as_str().unwrap();
        let order = if order == "single" { "single" } else { "two-pass" };
        let aug = c["page_aug"].as_str().unwrap();
        let o = prelaunch(&["measure", "--mode", "tdx", "--ovmf", &fw, "--tdx-page-order", order, "--tdx-page-aug", aug]);
        expect_code(&o, 0, &fw);
        assert_eq!(stdout(&o).trim(), c["mrtd"].as_str().unwrap(), "{fw} {order} {aug}");
    }
}

#[test]
fn inspect_reports_the_tdvf_sections_of_the_vectors() {
    let doc = vectors("tdx.json");
    let map = doc["tdvf_sections"].as_object().expect("tdvf_sections");
    let num = |v: &serde_json::Value| -> u64 {
        match v {
            serde_json::Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
            other => other.as_u64().unwrap(),
        }
    };
    for (name, sections) in map {
        let fw = resolve(name);
        let o = prelaunch(&["inspect", "--json", &fw]);
        expect_code(&o, 0, &fw);
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got = got["tdx_sections"].as_array().expect("tdx_sections");
        let want = sections.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let kinds = ["bfv", "cfv", "td_hob", "temp_mem", "perm_mem", "payload", "payload_param", "td_info", "td_params"];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["data_offset"].as_u64().unwrap(), num(&w["data_offset"]), "{name}");
            assert_eq!(g["raw_size"].as_u64().unwrap(), num(&w["raw_data_size"]), "{name}");
            assert_eq!(g["gpa"].as_u64().unwrap(), num(&w["memory_address"]), "{name}");
            assert_eq!(g["memory_size"].as_u64().unwrap(), num(&w["memory_data_size"]), "{name}");
            assert_eq!(g["kind"].as_str().unwrap(), kinds[num(&w["type"]) as usize], "{name}");
            let attrs = num(&w["attributes"]);
            assert_eq!(g["mr_extend"].as_bool().unwrap(), attrs & 1 != 0, "{name}");
            assert_eq!(g["page_aug"].as_bool().unwrap(), attrs & 2 != 0, "{name}");
        }
    }
}
