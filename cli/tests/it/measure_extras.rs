//! What `measure` does beyond sev-snp-measure: vCPU tables, JSON, precomputed payload hashes,
//! --explain, --snp-ovmf-hash resumption, and --dump-vmsa byte-equal to the peer's.

use crate::common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn fw(name: &str) -> String {
    firmware_dir().join(name).display().to_string()
}

fn measure(args: &[&str]) -> String {
    let mut a = vec!["measure"];
    a.extend(args);
    let o = prelaunch(&a);
    expect_code(&o, 0, &format!("{args:?}"));
    stdout(&o)
}

#[test]
fn a_vcpu_table_equals_the_single_digests() {
    let f = fw("trixie_OVMF_CODE_4M.fd");
    let table = measure(&["--mode", "snp", "--vcpus", "1-3,8,64", "--vcpu-type", "EPYC-Milan", "--ovmf", &f]);
    let rows: Vec<(&str, &str)> = table.lines().map(|l| l.split_once('\t').expect("N<TAB>digest")).collect();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), ["1", "2", "3", "8", "64"]);
    for (n, d) in rows {
        assert_eq!(measure(&["--mode", "snp", "--vcpus", n, "--vcpu-type", "EPYC-Milan", "--ovmf", &f]).trim(), d, "{n} vCPUs");
    }
    let t = measure(&["--mode", "seves", "--vcpus", "2,5", "--vcpu-type", "EPYC-Milan", "--ovmf", &f]);
    let five = t.lines().nth(1).unwrap().split_once('\t').unwrap().1;
    assert_eq!(measure(&["--mode", "seves", "--vcpus", "5", "--vcpu-type", "EPYC-Milan", "--ovmf", &f]).trim(), five);
}

#[test]
fn json_records_parameters_inputs_and_the_resumable_prefix() {
    let f = fw("ovmf_AmdSev_suffix.bin");
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let i = inputs_dir().join("initrd.bin").display().to_string();
    let args =
        ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Genoa", "--ovmf", &f, "--kernel", &k, "--initrd", &i, "--append", "ro ü"];
    let hex_digest = measure(&args);
    let mut j = args.to_vec();
    j.extend(["--output-format", "json"]);
    let doc: Value = serde_json::from_str(&measure(&j)).unwrap();
    assert_eq!(doc["digest"].as_str().unwrap(), hex_digest.trim());
    assert_eq!(doc["mode"], "snp");
    assert_eq!(doc["parameters"]["vcpus"], 2);
    assert_eq!(doc["parameters"]["vcpu_sig"], 0xa10f10);
    assert_eq!(doc["parameters"]["guest_features"], 1);
    let sha = |p: &str| {
        let o = Command::new("sha256sum").arg(p).output().unwrap();
        String::from_utf8(o.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
    };
    assert_eq!(doc["inputs"]["ovmf"]["sha256"].as_str().unwrap(), sha(&f));
    assert_eq!(doc["inputs"]["kernel"]["sha256"].as_str().unwrap(), sha(&k));
    assert_eq!(doc["inputs"]["initrd"]["sha256"].as_str().unwrap(), sha(&i));
    let prefix = measure(&["--mode", "snp:ovmf-hash", "--ovmf", &f]);
    assert_eq!(doc["firmware_digest"].as_str().unwrap(), prefix.trim());

    // The same digest from precomputed payload hashes, and from the resumed prefix.
    let kh = sha(&k);
    let ih = sha(&i);
    let with_hashes = [
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-Genoa",
        "--ovmf",
        &f,
        "--kernel-hash",
        &kh,
        "--initrd-hash",
        &ih,
        "--append",
        "ro ü",
    ];
    assert_eq!(measure(&with_hashes), hex_digest);
    let mut resumed = args.to_vec();
    let seed = prefix.trim().to_owned();
    resumed.extend(["--snp-ovmf-hash", &seed]);
    assert_eq!(measure(&resumed), hex_digest);
}

#[test]
fn explain_lists_runs_and_ends_at_the_digest() {
    for (args, runs_at_least) in [
        (vec!["--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-v4", "--vmm-type", "ec2"], 8),
        (vec!["--mode", "tdx", "--tdx-page-order", "two-pass"], 6),
    ] {
        let f = fw("bookworm_OVMF.fd");
        let mut a = args.clone();
        a.extend(["--ovmf", &f]);
        let digest = measure(&a);
        a.push("--explain");
        let out = measure(&a);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() >= runs_at_least + 2, "{out}");
        assert!(lines[0].contains("GPA range") && lines[0].contains("digest after"));
        let last_run = lines[lines.len() - 2];
        assert!(last_run.ends_with(digest.trim()), "the last run's digest is the result:\n{out}");
        assert_eq!(lines[lines.len() - 1], digest.trim());
    }
    // EC2 moves the CPUID page after the other sections; the explanation shows it.
    let f = fw("bookworm_OVMF.fd");
    let out = measure(&["--mode", "snp", "--vcpus", "1", "--vmm-type", "ec2", "--ovmf", &f, "--explain"]);
    let known = ["normal", "zero", "secrets", "cpuid", "vmsa", "unmeasured"];
    let kinds: Vec<&str> = out.lines().skip(1).filter_map(|l| l.split_whitespace().find(|t| known.contains(t))).collect();
    let cpuid = kinds.iter().position(|k| *k == "cpuid").unwrap();
    assert!(kinds[..cpuid].contains(&"secrets") && kinds[cpuid + 1..].iter().all(|k| *k == "vmsa"), "{kinds:?}");
}

#[test]
fn dump_vmsa_writes_the_peers_bytes() {
    let f = fw("bookworm_OVMF.fd");
    for vmm in ["QEMU", "ec2", "gce"] {
        let ours = tempfile::tempdir().unwrap();
        let peer = tempfile::tempdir().unwrap();
        let args = ["--mode=snp", "--vcpus=3", "--vcpu-type=EPYC-Genoa", "--guest-features=0x21", "--dump-vmsa"];
        let o = Command::new(env!("CARGO_BIN_EXE_prelaunch"))
            .arg("measure")
            .args(args)
            .arg(format!("--vmm-type={vmm}"))
            .arg(format!("--ovmf={f}"))
            .current_dir(ours.path())
            .output()
            .unwrap();
        expect_code(&o, 0, vmm);
        let p = Command::new("sev-snp-measure")
            .args(args)
            .arg(format!("--vmm-type={vmm}"))
            .arg(format!("--ovmf={f}"))
            .current_dir(peer.path())
            .output()
            .expect("sev-snp-measure must be installed (pip install sev-snp-measure==0.0.13)");
        assert!(p.status.success(), "peer: {}", String::from_utf8_lossy(&p.stderr));
        assert_eq!(o.stdout, p.stdout, "{vmm} digest");
        for i in 0..3 {
            let name = format!("vmsa{i}.bin");
            assert_eq!(std::fs::read(ours.path().join(&name)).unwrap(), std::fs::read(peer.path().join(&name)).unwrap(), "{vmm} {name}");
        }
    }
}
