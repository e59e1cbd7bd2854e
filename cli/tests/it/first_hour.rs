//! A user's first hour (issue 15): sev-snp-measure's own command lines (option prefixes, pipes,
//! /dev/stdin) give its digests; `-v`/`-vv` say on stderr what was read and built; options that do
//! not apply to the mode are refused (prelaunch's) or warned about (the peer's); usage errors exit 2.

use crate::common;

use std::process::Command;

use common::*;
use prelaunch_measure::hash::Sha256;

/// sev-snp-measure 0.0.13 (required: a missing peer fails the test).
fn peer() -> String {
    if let Ok(o) = Command::new("sh").args(["-c", "command -v sev-snp-measure"]).output()
        && o.status.success()
    {
        return String::from_utf8_lossy(&o.stdout).trim().to_owned();
    }
    let ok = Command::new("python3").args(["-c", "import sevsnpmeasure"]).status().is_ok_and(|s| s.success());
    assert!(ok, "sev-snp-measure is not installed (pip install sev-snp-measure==0.0.13)");
    "python3 -m sevsnpmeasure.cli".into()
}

fn bash(script: &str) -> std::process::Output {
    Command::new("bash").args(["-c", script]).output().expect("bash")
}

#[test]
fn peer_command_lines_with_prefixes_and_pipes_give_its_digests() {
    let peer = peer();
    let ours = format!("{} measure", env!("CARGO_BIN_EXE_prelaunch"));
    let fw = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let big = firmware_dir().join("trixie_OVMF_CODE_4M.fd").display().to_string();
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let i = inputs_dir().join("initrd.bin").display().to_string();
    let cases = [
        format!("--mod snp --vcpus 4 --vcpu-t EPYC-Milan --ov {big}"),
        format!(
            "--mode snp --vcpus=2 --vcpu-ty=EPYC-v4 --ovmf <(cat {fw}) --ker <(cat {k}) --init {i} --app 'console=ttyS0 quiet' --output base64"
        ),
        format!("--mode seves --vcpus 3 --vcpu-si 0x800f12 --ovmf /dev/stdin < {fw}"),
        format!(
            "--mode snp --vcpus 1 --vcpu-fam 25 --vcpu-mod 1 --vcpu-step 1 --vmm ec2 --guest 0x21 --ovmf {fw} --kernel /dev/stdin < {k}"
        ),
        format!("--mode snp:ovmf-hash --ov <(cat {big})"),
        format!("-v --mode snp --vcpus 2 --vcpu-t EPYC --ovmf <(cat {big}) --dump"),
        format!("--mode sev --ovmf <(cat {fw}) --kernel <(cat {k}) --initrd <(cat {i})"),
    ];
    for args in &cases {
        let dir = tempfile::tempdir().unwrap();
        let cd = dir.path().display();
        let p = bash(&format!("cd {cd} && {peer} {args}"));
        let o = bash(&format!("cd {cd} && {ours} {args}"));
        assert!(p.status.success(), "peer refused {args}: {}", stderr(&p));
        expect_code(&o, 0, args);
        assert_eq!(stdout(&o), stdout(&p), "{args}");
    }
    // `-`: standard input by name, as the peer reads /dev/stdin.
    let p = bash(&format!("{peer} --mode snp --vcpus 2 --vcpu-type EPYC-Genoa --ovmf /dev/stdin < {big}"));
    let o = bash(&format!("{ours} --mode snp --vcpus 2 --vcpu-type EPYC-Genoa --ovmf - < {big}"));
    expect_code(&o, 0, "--ovmf -");
    assert_eq!(stdout(&o), stdout(&p));
    // A prefix ambiguous for the peer stays ambiguous (clap names the candidates).
    let o = bash(&format!("{ours} --mode snp --vcpus 2 --vcpu-s 1 --ovmf {fw}"));
    expect_code(&o, 2, "--vcpu-s");
}

#[test]
fn verbose_says_on_stderr_what_was_read_built_and_how_long_it_took() {
    let fw = firmware_dir().join("ovmf_AmdSev_suffix.bin");
    let k = inputs_dir().join("kernel.bin");
    let sha = |p: &std::path::Path| hex::encode(Sha256::digest(&std::fs::read(p).unwrap()));
    let (fws, ks) = (fw.display().to_string(), k.display().to_string());
    let args = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", &fws, "--kernel", &ks];
    let plain = prelaunch(&args);
    expect_code(&plain, 0, "measure");
    let digest = stdout(&plain);
    let with = |flags: &[&str]| {
        let mut v: Vec<&str> = flags.to_vec();
        v.extend(args);
        let o = prelaunch(&v);
        expect_code(&o, 0, &format!("{flags:?}"));
        o
    };
    let v = with(&["-v"]);
    // stdout: the peer's line, where the peer prints it; nothing else.
    assert_eq!(stdout(&v), format!("Calculated SEV_SNP guest measurement: {digest}"));
    let e = stderr(&v);
    let size = std::fs::metadata(&fw).unwrap().len();
    assert!(e.contains(&format!("firmware {fws}: {size} bytes, mapped, sha256 {}", sha(&fw))), "{e}");
    assert!(e.contains(&format!("kernel {ks}: ")) && e.contains(&sha(&k)), "{e}");
    assert!(e.contains("plan: snp, ") && e.contains("2 VMSAs") && e.contains("digest folded in "), "{e}");
    assert!(!e.contains("region "), "regions only at -vv: {e}");
    let vv = stderr(&with(&["-vv"]));
    assert!(vv.contains("region firmware: [0x"), "{vv}");
    assert!(stderr(&with(&["-q", "-vv"])).is_empty(), "-q wins");
    // A pipe is read, not mapped, and says so.
    let o = bash(&format!(
        "cat {fws} | {} -v measure --mode snp --vcpus 2 --vcpu-type EPYC-v4 --ovmf - --kernel {ks}",
        env!("CARGO_BIN_EXE_prelaunch")
    ));
    expect_code(&o, 0, "--ovmf -");
    assert!(stderr(&o).contains(&format!("firmware standard input: {size} bytes, read, sha256 {}", sha(&fw))), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("Calculated SEV_SNP guest measurement: {digest}"));
}

#[test]
fn options_that_do_not_apply_are_refused_or_warned_about() {
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let snp = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC"];
    let refused: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--mode", "tdx", "--vmm-type", "ec2"], "--vmm-type does not apply to --mode tdx"),
        (vec!["--mode", "tdx", "--guest-features", "0x21"], "--guest-features does not apply to --mode tdx"),
        (vec!["--mode", "tdx", "--vcpu-type", "EPYC"], "--vcpu-type does not apply"),
        (vec!["--mode", "tdx", "--policy", "0x30000"], "--policy"),
        ([&snp[..], &["--tdx-page-order", "two-pass"]].concat(), "--tdx-page-order does not apply to --mode snp"),
        (vec!["--mode", "sev", "--vcpus", "1-3"], "does not depend on the vCPU count"),
        (vec!["--mode", "snp:ovmf-hash", "--vcpus", "1,2"], "does not depend on the vCPU count"),
        ([&snp[..], &["--policy", "0x30000"]].concat(), "measure does not take --policy"),
        (vec!["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC", "--snp-ovmf-hash", "00"], "--snp-ovmf-hash only works"),
    ];
    for (args, needle) in refused {
        let mut v = vec!["measure", "--ovmf", &fw];
        v.extend(&args);
        let o = prelaunch(&v);
        expect_code(&o, 2, &format!("{args:?}"));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    // The peer's options, which it ignores in these modes: accepted, with a warning, and the digest
    // is the one without them (so they really did not count).
    for (args, without, needle) in [
        (vec!["--mode", "sev", "--vcpus", "4", "--vcpu-type", "EPYC"], vec!["--mode", "sev"], "--vcpu-type is ignored with --mode sev"),
        (
            vec!["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC", "--guest-features", "0x21"],
            vec!["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC"],
            "--guest-features is ignored with --mode seves",
        ),
        (vec!["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC", "--vars-size", "4096"], snp.to_vec(), "--vars-size is ignored"),
    ] {
        let run = |a: &[&str]| {
            let mut v = vec!["measure", "--ovmf", &fw];
            v.extend(a);
            prelaunch(&v)
        };
        let (o, base) = (run(&args), run(&without));
        expect_code(&o, 0, &format!("{args:?}"));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), stdout(&base), "{args:?}");
    }
    let help = stdout(&prelaunch(&["measure", "--help"]));
    assert!(!help.contains("--policy") && help.contains("--vcpu-type"), "{help}");
    assert!(stdout(&prelaunch(&["load", "--help"])).contains("--policy"));
}
