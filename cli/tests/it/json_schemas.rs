//! Every JSON document the CLI prints names its schema (`format`, `version`) and validates against
//! the committed file under schema/ (Python jsonschema, testdata/schema/validate.py); every command
//! that has a JSON output is exercised; every schema file is listed in the README.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    repo().join("testdata/reports").join(name).display().to_string()
}

/// The subcommands (`firmware list` as `firmware`) whose help offers a JSON output.
fn commands_with_json() -> Vec<String> {
    let help = stdout(&prelaunch(&["--help"]));
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() > 8, "{help}");
    names
        .into_iter()
        .filter(|n| {
            let h = stdout(&prelaunch(&[n, "--help"])) + &stdout(&prelaunch(&[n, "list", "--help"]));
            h.contains("--json") || h.contains("json")
        })
        .collect()
}

#[test]
fn every_json_output_validates_against_its_committed_schema() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let amd = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let tdvf = firmware_dir().join("synth-tdvf.bin").display().to_string();
    let svsm_ovmf = firmware_dir().join("svsm_ovmf.fd").display().to_string();
    let svsm = firmware_dir().join("svsm.bin").display().to_string();
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let i = inputs_dir().join("initrd.bin").display().to_string();
    let ev = evidence_dir();
    let ccel = |n: &str| ev.join("ccel").join(n).display().to_string();
    let snp = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan"];
    let m = |extra: &[&str]| -> Vec<String> {
        let mut v = vec!["measure".to_string()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push("--output-format=json".into());
        v
    };
    let plan = dir.path().join("plan.json");
    let fw_dir = dir.path().join("descriptors");
    std::fs::create_dir(&fw_dir).unwrap();
    std::fs::write(
        fw_dir.join("60-ovmf.json"),
        format!(
            r#"{{"description": "x", "interface-types": ["uefi"], "mapping": {{"device": "flash", "executable": {{"filename": "{fw}", "format": "raw"}}}},
                "targets": [{{"architecture": "x86_64", "machines": ["pc-q35-*"]}}], "features": ["amd-sev-snp", "intel-tdx"]}}"#
        ),
    )
    .unwrap();
    std::fs::write(fw_dir.join("70-broken.json"), "{").unwrap();
    let ovmf_hash = {
        let o = prelaunch(&["measure", "--mode", "snp:ovmf-hash", "--ovmf", &fw]);
        stdout(&o).trim().to_owned()
    };
    let runs: Vec<(&str, Vec<String>, i32)> = vec![
        ("measure-snp", m(&[&snp[..], &["--ovmf", &fw]].concat()), 0),
        ("measure-table-explain", m(&["--mode", "snp", "--vcpus", "1-3", "--vcpu-type", "EPYC", "--ovmf", &fw, "--explain"]), 0),
        ("measure-kernel", m(&[&snp[..], &["--ovmf", &amd, "--kernel", &k, "--initrd", &i, "--append", "console=ttyS0"]].concat()), 0),
        ("measure-kernel-hash", m(&[&snp[..], &["--ovmf", &amd, "--kernel-hash", &"ab".repeat(32)]].concat()), 0),
        ("measure-sev", m(&["--mode", "sev", "--ovmf", &fw]), 0),
        ("measure-seves-ec2", m(&["--mode", "seves", "--vcpus", "3", "--vmm-type", "ec2", "--ovmf", &fw]), 0),
        ("measure-ovmf-hash", m(&["--mode", "snp:ovmf-hash", "--ovmf", &fw]), 0),
        ("measure-resumed-explain", m(&[&snp[..], &["--ovmf", &fw, "--snp-ovmf-hash", &ovmf_hash, "--explain"]].concat()), 0),
        (
            "measure-svsm",
            m(&[
                "--mode",
                "snp:svsm",
                "--vcpus",
                "2",
                "--vcpu-type",
                "EPYC-Genoa",
                "--ovmf",
                &svsm_ovmf,
                "--svsm",
                &svsm,
                "--vars-size",
                "540672",
            ]),
            0,
        ),
        ("measure-tdx-explain", m(&["--mode", "tdx", "--ovmf", &tdvf, "--explain"]), 0),
        ("inspect", vec!["inspect".into(), fw.clone(), "--json".into()], 0),
        ("inspect-tdvf", vec!["inspect".into(), tdvf.clone(), "--json".into()], 0),
        ("firmware-list", vec!["firmware".into(), "list".into(), "--json".into()], 0),
        ("probe", vec!["load".into(), "--platform".into(), "hw".into(), "--probe".into(), "--json".into()], 0),
        (
            "event-log",
            vec!["event-log".into(), ccel("gotdx_ccel_data.dat"), "--report".into(), ccel("gotdx_cos-113-tdx-quote.dat"), "--json".into()],
            0,
        ),
        (
            "id-block",
            vec![
                "id-block".into(),
                "--measurement".into(),
                "ab".repeat(48),
                "--id-key".into(),
                fixture("id-key.pem"),
                "--author-key".into(),
                fixture("author-key.pem"),
                "--json".into(),
            ],
            0,
        ),
        (
            "reference-values",
            ["reference-values", "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--ovmf", &fw, "--format", "json"]
                .map(String::from)
                .to_vec(),
            0,
        ),
        (
            "diagnose-miss",
            vec![
                "diagnose".into(),
                "--report".into(),
                fixture("snp-v2-genoa.bin"),
                "--ovmf".into(),
                fw.clone(),
                "--max-vcpus".into(),
                "2".into(),
                "--json".into(),
            ],
            3,
        ),
        (
            "diagnose-tdx",
            vec![
                "diagnose".into(),
                "--report".into(),
                fixture("tdx-quote-v4.bin"),
                "--ovmf".into(),
                fw.clone(),
                "--kernel".into(),
                k.clone(),
                "--json".into(),
            ],
            3,
        ),
    ];
    // The layout's plan, then load of that plan on the software platform.
    let layout_args: Vec<String> =
        ["layout", "--json", "--ovmf", &fw].iter().map(|s| s.to_string()).chain(snp.iter().map(|s| s.to_string())).collect();
    let mut runs = runs;
    runs.push(("layout", layout_args, 0));
    let mut docs = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for (name, args, code) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = Command::new(env!("CARGO_BIN_EXE_prelaunch")).args(&args).env("PRELAUNCH_QEMU_FIRMWARE_DIRS", &fw_dir).output().unwrap();
        expect_code(&o, *code, name);
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, &o.stdout).unwrap();
        if *name == "layout" {
            std::fs::copy(&p, &plan).unwrap();
        }
        docs.push(p);
        covered.insert(args[0].to_owned());
    }
    let plan_s = plan.display().to_string();
    let load = ["load", "--platform", "sim", "--memory", "memfd", "--plan", &plan_s, "--ovmf", &fw, "--json"];
    let mut load: Vec<&str> = load.to_vec();
    load.extend(snp);
    let o = prelaunch(&load);
    expect_code(&o, 0, "load --json");
    let p = dir.path().join("load.json");
    std::fs::write(&p, &o.stdout).unwrap();
    docs.push(p);
    covered.insert("load".into());

    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("testdata/schema/validate.py")).arg(repo().join("schema")).args(&docs);
    let o = cmd.output().expect("python3");
    let results = stdout(&o);
    assert!(o.status.success(), "schema validation failed (needs: pip install jsonschema):\n{results}{}", stderr(&o));
    assert_eq!(results.lines().filter(|l| l.contains("\"result\": \"valid\"")).count(), docs.len(), "{results}");

    // Every command with a JSON output is exercised above (verify is the verify work's; see README).
    for c in commands_with_json() {
        assert!(covered.contains(&c) || c == "verify", "{c} has a JSON output that no case here validates");
    }
    // And every schema is listed in the README.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for e in std::fs::read_dir(repo().join("schema")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        if n.ends_with(".schema.json") {
            assert!(readme.contains(&format!("schema/{n}")), "README does not list schema/{n}");
        }
    }
}

/// A document is refused by the validator when it lacks its `format`, names an unknown schema, or
/// breaks its schema (so the test above can fail).
#[test]
fn the_validator_refuses_what_the_schemas_do_not_describe() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("no-format", r#"{"mode": "snp"}"#),
        ("unknown", r#"{"format": "prelaunch-nothing", "version": 1}"#),
        (
            "null-digest",
            r#"{"format": "prelaunch-measure", "version": 1, "mode": "snp", "digest": null, "parameters": {}, "inputs": {"ovmf": {"path": "x", "size": 1, "sha256": "00"}}}"#,
        ),
        (
            "both",
            r#"{"format": "prelaunch-measure", "version": 1, "mode": "snp", "digest": "00", "vcpu_table": [], "parameters": {}, "inputs": {}}"#,
        ),
    ];
    for (name, text) in cases {
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, text).unwrap();
        let o =
            Command::new("python3").arg(repo().join("testdata/schema/validate.py")).arg(repo().join("schema")).arg(&p).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("invalid"), "{name}");
    }
}
