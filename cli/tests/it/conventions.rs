//! CLI conventions: usage errors exit 2, help carries examples, completions and man pages render,
//! colour only when asked or on a terminal, unreadable paths are named.

use crate::common;

use common::*;

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    for (args, needle) in [
        (vec!["measure", "--mode", "snp", "--ovmf", "x"], "--vcpus"),
        (vec!["measure", "--mode", "nope", "--ovmf", "x"], "nope"),
        (vec!["measure", "--mode", "snp", "--vcpus", "1", "--vmm-type", "xen", "--ovmf", "x"], "xen"),
        (vec!["measure", "--mode", "sev", "--initrd", "i", "--ovmf", "x"], "--kernel"),
        (vec!["measure", "--mode", "snp", "--vcpus", "3-1", "--vcpu-type", "EPYC", "--ovmf", "x"], "backwards"),
        (vec!["measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", "x"], "--svsm"),
        (vec!["measure", "--mode", "snp", "--vcpus", "0", "--vcpu-type", "EPYC", "--ovmf", "x"], "at least one"),
        (vec!["measure", "--mode", "seves", "--vcpus", "0-2", "--vcpu-type", "EPYC", "--ovmf", "x"], "at least one"),
        (vec!["measure", "--mode", "snp", "--vcpus", "1-4096,1-8", "--vcpu-type", "EPYC", "--ovmf", "x"], "more than 4096"),
        (vec!["layout", "--mode", "snp", "--vcpus", "1,8", "--vcpu-type", "EPYC", "--ovmf", "x"], "single count"),
        (vec!["verify", "--report", "r"], "--mode"),
        (
            vec!["load", "--platform", "sim", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", "x", "--id-key", "k"],
            "--id-key",
        ),
        (vec!["inspect"], "FIRMWARE"),
        (vec!["bogus"], "bogus"),
    ] {
        let o = prelaunch(&args);
        expect_code(&o, 2, &format!("{args:?}"));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn help_has_examples_and_exit_codes() {
    let o = prelaunch(&["--help"]);
    expect_code(&o, 0, "--help");
    let s = stdout(&o);
    assert!(
        s.contains("Examples:") && s.contains("prelaunch measure --mode snp") && s.contains("3 mismatch") && s.contains("4 not authentic"),
        "{s}"
    );
}

#[test]
fn completions_and_man_pages_render() {
    for shell in ["bash", "zsh", "fish"] {
        let o = prelaunch(&["completions", shell]);
        expect_code(&o, 0, shell);
        assert!(stdout(&o).contains("inspect") && stdout(&o).contains("vcpu-type"), "{shell}");
    }
    let o = prelaunch(&["man"]);
    expect_code(&o, 0, "man");
    assert!(stdout(&o).starts_with(".ie") || stdout(&o).contains(".TH"), "roff expected");
    let dir = tempfile::tempdir().unwrap();
    expect_code(&prelaunch(&["man", "--out-dir", dir.path().to_str().unwrap()]), 0, "man --out-dir");
    assert!(dir.path().join("prelaunch.1").exists() && dir.path().join("prelaunch-measure.1").exists());
    // Every page says what the exit codes and the environment variables mean.
    for page in ["prelaunch.1", "prelaunch-measure.1", "prelaunch-diagnose.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        for needle in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", "PRELAUNCH_QEMU_FIRMWARE_DIRS", "NO_COLOR", "Usage: arguments"] {
            assert!(text.contains(needle), "{page} lacks {needle}");
        }
        assert!(text.find(".SH OPTIONS").unwrap() < text.find(".SH \"EXIT STATUS\"").unwrap(), "{page}: section order");
    }
}

#[test]
fn colour_only_when_asked_off_a_terminal() {
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let plain = prelaunch(&["inspect", &fw]);
    expect_code(&plain, 0, "inspect");
    assert!(!stdout(&plain).contains('\x1b'), "no colour when stdout is not a terminal");
    let coloured = prelaunch(&["--color", "always", "inspect", &fw]);
    assert!(stdout(&coloured).contains("\x1b["));
}

#[test]
fn quiet_suppresses_warnings_and_verbose_prints_the_peer_line() {
    let fw = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let kernel = inputs_dir().join("kernel.bin").display().to_string();
    let args = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", &fw, "--kernel", &kernel];
    let o = prelaunch(&args);
    expect_code(&o, 0, "measure");
    assert!(stderr(&o).contains("not a bootable kernel"), "{}", stderr(&o));
    let mut q = vec!["-q"];
    q.extend(args);
    assert!(stderr(&prelaunch(&q)).is_empty());
    let mut v = vec!["-v"];
    v.extend(args);
    assert!(stdout(&prelaunch(&v)).starts_with("Calculated SEV_SNP guest measurement: "));
}

#[test]
fn unreadable_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = prelaunch(&["inspect", d]);
    expect_code(&o, 1, "directory");
    assert!(stderr(&o).contains(d) && stderr(&o).contains("directory"));
    let missing = dir.path().join("missing.fd");
    let o = prelaunch(&["inspect", missing.to_str().unwrap()]);
    expect_code(&o, 1, "missing");
    assert!(stderr(&o).contains("missing.fd"));
    let empty = dir.path().join("empty.fd");
    std::fs::write(&empty, b"").unwrap();
    let o = prelaunch(&["inspect", empty.to_str().unwrap()]);
    expect_code(&o, 1, "empty");
    assert!(stderr(&o).contains("empty"));
}
