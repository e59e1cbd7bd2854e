//! Hostile files and streams: closed pipes and full disks on output, FIFOs, pipes, devices and
//! standard input as inputs, inputs that shrink while mapped, symbolic links where outputs go, and
//! control characters in file names. Each case panicked, hung, died of a signal or wrote through a
//! link before `prelaunch-files` and `output.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use prelaunch_testdata::{ImageBuilder, Stress};

const BIN: &str = env!("CARGO_BIN_EXE_prelaunch");

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/reports").join(name).display().to_string()
}

/// Waits at most `secs` for `cmd`; a process still running then is killed and the test fails.
fn within(secs: u64, mut cmd: Command, what: &str) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("{what}: still running after {secs} s (hangs)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

fn image(dir: &Path, name: &str, b: ImageBuilder) -> String {
    let p = dir.join(name);
    std::fs::write(&p, b.build()).unwrap();
    p.display().to_string()
}

fn mkfifo(p: &Path) {
    let s = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(s.success());
}

/// The commands whose output used to panic, with enough output to fill a pipe where it matters.
fn output_commands(dir: &Path) -> Vec<(String, Vec<String>, i32)> {
    let fw = image(dir, "fw.fd", ImageBuilder::amdsev_like(2 << 20));
    let big = image(dir, "many.fd", Stress::SevDisjoint.builder(2 << 20, 500));
    let tdvf = image(dir, "tdvf.fd", ImageBuilder::tdvf_only(2 << 20));
    let snp = |extra: &[&str]| {
        let mut v: Vec<String> =
            ["measure", "--mode", "snp", "--vcpu-type", "EPYC-v4", "--ovmf", &fw].iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("inspect".into(), s(&["inspect", &big]), 0),
        ("inspect --json".into(), s(&["inspect", "--json", &big]), 0),
        ("layout".into(), s(&["layout", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &big]), 0),
        ("layout --json".into(), s(&["layout", "--json", "--mode", "tdx", "--ovmf", &tdvf]), 0),
        ("measure".into(), snp(&["--vcpus", "2"]), 0),
        ("measure --vcpus 1-4096".into(), snp(&["--vcpus", "1-4096"]), 0),
        (
            "measure --explain".into(),
            s(&["measure", "--explain", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &big]),
            0,
        ),
        ("measure json".into(), snp(&["--vcpus", "2", "--output-format", "json"]), 0),
        ("load --json".into(), s(&["load", "--json", "--platform", "sim", "--mode", "tdx", "--ovmf", &tdvf]), 0),
        ("completions".into(), s(&["completions", "bash"]), 0),
        ("man".into(), s(&["man"]), 0),
        ("--help".into(), s(&["--help"]), 0),
        // A mismatch stays a mismatch when the reader went away: a closed pipe is no yes.
        (
            "verify mismatch".into(),
            s(&["verify", "--report", &fixture("snp-v2-genoa.bin"), "--measurement-only", "--expect", &"00".repeat(48)]),
            3,
        ),
    ]
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_commands_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args, code) in output_commands(dir.path()) {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(BIN).args(&args).stdout(writer).stderr(Stdio::piped()).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{what}: exit {:?}, stderr: {err}", o.status.code());
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{what}: {err}");
    }
}

#[test]
fn a_full_disk_is_exit_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args, _) in output_commands(dir.path()) {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = Command::new(BIN).args(&args).stdout(full).stderr(Stdio::piped()).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: exit {:?}, stderr: {err}", o.status.code());
        assert!(err.contains("prelaunch: error: cannot write to standard output: No space left on device"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn fifo_inputs_without_a_writer_fail_at_once_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fw = image(d, "fw.fd", ImageBuilder::amdsev_like(2 << 20));
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let report = fixture("snp-v2-genoa.bin");
    let zeros = "00".repeat(48);
    let snp = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC"];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("inspect", vec!["inspect", f]),
        ("--ovmf", [&snp[..], &["--ovmf", f]].concat()),
        ("--kernel", [&snp[..], &["--ovmf", &fw, "--kernel", f]].concat()),
        ("--initrd", [&snp[..], &["--ovmf", &fw, "--kernel", &fw, "--initrd", f]].concat()),
        (
            "--svsm",
            vec!["measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &fw, "--svsm", f, "--vars-size", "4096"],
        ),
        ("--report", vec!["verify", "--report", f, "--expect", &zeros]),
        ("--vcek", vec!["verify", "--report", &report, "--expect", &zeros, "--vcek", f]),
        ("--plan", vec!["load", "--platform", "sim", "--mode", "snp", "--ovmf", &fw, "--plan", f]),
        ("--id-key", vec!["id-block", "--measurement", &zeros, "--id-key", f]),
    ];
    for (what, args) in cases {
        let o = within(10, cmd(&args), what);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(&format!("{f}: a FIFO with no writer")), "{what}: {err}");
    }
    // A FIFO among the QEMU firmware descriptors is skipped with its reason, not waited on.
    let descs = d.join("descriptors");
    std::fs::create_dir(&descs).unwrap();
    mkfifo(&descs.join("50-fifo.json"));
    let mut c = cmd(&["firmware", "list", "--json"]);
    c.env("PRELAUNCH_QEMU_FIRMWARE_DIRS", &descs);
    let o = within(10, c, "firmware list");
    expect_code(&o, 0, "firmware list");
    assert!(stdout(&o).contains("a FIFO with no writer"), "{}", stdout(&o));
}

fn digest(args: &[&str]) -> String {
    let o = prelaunch(args);
    expect_code(&o, 0, &args.join(" "));
    stdout(&o)
}

/// `sh -c SCRIPT` with the binary as $0 and `args` as $1...
fn shell(script: &str, args: &[&str]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c").arg(script).arg(BIN).args(args);
    within(30, c, script)
}

#[test]
fn pipes_process_substitution_and_stdin_give_the_files_digest() {
    let dir = tempfile::tempdir().unwrap();
    let fw = image(dir.path(), "fw.fd", ImageBuilder::amdsev_like(2 << 20));
    let kernel = dir.path().join("kernel");
    std::fs::write(&kernel, vec![0x5a; 300_000]).unwrap();
    let k = kernel.to_str().unwrap();
    let want = digest(&["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC", "--ovmf", &fw, "--kernel", k, "--append", "x"]);
    let m = r#""$0" measure --mode snp --vcpus 2 --vcpu-type EPYC --append x"#;
    for script in [
        format!(r#"{m} --ovmf <(cat "$1") --kernel <(cat "$2")"#),
        format!(r#"cat "$1" | {m} --ovmf - --kernel "$2""#),
        format!(r#"{m} --ovmf - --kernel "$2" < "$1""#),
        format!(r#"cat "$1" | {m} --ovmf /dev/stdin --kernel <(cat "$2")"#),
        format!(r#"cat "$2" | {m} --ovmf "$1" --kernel -"#),
    ] {
        let o = shell(&script, &[&fw, k]);
        expect_code(&o, 0, &script);
        assert_eq!(stdout(&o), want, "{script}");
    }
    let o = shell(&format!(r#"cat "$1" | {m} --ovmf - --kernel /dev/stdin"#), &[&fw, k]);
    expect_code(&o, 1, "stdin twice");
    assert!(stderr(&o).contains("/dev/stdin: the same pipe as standard input"), "{}", stderr(&o));
    let o = shell(r#""$0" inspect <(cat "$1") >/dev/null"#, &[&fw]);
    expect_code(&o, 0, "inspect <(...)");
}

#[test]
fn devices_are_read_only_up_to_each_inputs_bound() {
    let report = fixture("snp-v2-genoa.bin");
    let zeros = "00".repeat(48);
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "--vcek /dev/zero",
            vec!["verify", "--report", &report, "--expect", &zeros, "--vcek", "/dev/zero"],
            "a certificate, CRL or certificate table is at most 1048576 bytes",
        ),
        ("--report /dev/zero", vec!["verify", "--report", "/dev/zero", "--expect", &zeros], "a report or quote is at most 1048576 bytes"),
        ("--id-key /dev/zero", vec!["id-block", "--measurement", &zeros, "--id-key", "/dev/zero"], "a private key is at most 65536 bytes"),
        (
            "--ovmf /dev/zero",
            vec!["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", "/dev/zero"],
            "a firmware image is at most",
        ),
    ];
    for (what, args, want) in cases {
        let o = within(20, cmd(&args), what);
        expect_code(&o, 1, what);
        assert!(stderr(&o).contains("/dev/zero: more than") && stderr(&o).contains(want), "{what}: {}", stderr(&o));
    }
}

/// Truncates the firmware after prelaunch has mapped it, while it waits for its kernel on a FIFO:
/// the fold then reads pages past the new end. Exit 1 naming the file, not a silent SIGBUS (135).
#[test]
fn a_firmware_that_shrinks_while_mapped_is_named_not_a_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let fw = image(dir.path(), "shrinking.fd", ImageBuilder::amdsev_like(8 << 20));
    let fifo = dir.path().join("kernel");
    mkfifo(&fifo);
    // Hold a writer end (O_RDWR does not block) so that prelaunch's open finds a writer and waits.
    let mut writer = std::fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
    let child =
        cmd(&["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &fw, "--kernel", fifo.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    // Wait until the firmware is mapped and the kernel FIFO is open (so that the bytes written below
    // reach prelaunch rather than a FIFO nobody reads).
    let maps = PathBuf::from(format!("/proc/{}/maps", child.id()));
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let fifo_open =
        || std::fs::read_dir(&fds).into_iter().flatten().flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == fifo));
    let start = Instant::now();
    while !(std::fs::read_to_string(&maps).unwrap_or_default().contains("shrinking.fd") && fifo_open()) {
        assert!(start.elapsed() < Duration::from_secs(10), "prelaunch never mapped the firmware and opened the kernel");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::OpenOptions::new().write(true).open(&fw).unwrap().set_len(4096).unwrap();
    std::io::Write::write_all(&mut writer, b"kernel bytes").unwrap();
    drop(writer);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "exit {:?} (signal {:?}): {err}",
        o.status.code(),
        std::os::unix::process::ExitStatusExt::signal(&o.status)
    );
    assert!(err.contains("shrinking.fd: the file shrank while it was being read (it had 8388608 bytes when opened)"), "{err}");
}

#[test]
fn outputs_never_write_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fw = image(d, "fw.fd", ImageBuilder::amdsev_like(2 << 20));
    let precious = d.join("precious");
    std::fs::write(&precious, b"keep me").unwrap();

    let work = d.join("vmsa");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(&precious, work.join("vmsa0.bin")).unwrap();
    let o = cmd(&["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", &fw, "--dump-vmsa"])
        .current_dir(&work)
        .output()
        .unwrap();
    expect_code(&o, 1, "--dump-vmsa through a link");
    assert!(stderr(&o).contains("vmsa0.bin: is a symbolic link; refusing to write through it"), "{}", stderr(&o));

    let out = d.join("idb");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&precious, out.join("id_block.bin")).unwrap();
    let zeros = "00".repeat(48);
    let o = prelaunch(&["id-block", "--measurement", &zeros, "--id-key", &fixture("id-key.pem"), "--out-dir", out.to_str().unwrap()]);
    expect_code(&o, 1, "id-block through a link");
    assert!(stderr(&o).contains("id_block.bin: is a symbolic link"), "{}", stderr(&o));

    let man = d.join("man");
    std::fs::create_dir(&man).unwrap();
    std::os::unix::fs::symlink(&precious, man.join("prelaunch.1")).unwrap();
    let o = prelaunch(&["man", "--out-dir", man.to_str().unwrap()]);
    expect_code(&o, 1, "man through a link");

    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    // Without links the same commands write their files, and leave no temporary files behind.
    std::fs::remove_file(work.join("vmsa0.bin")).unwrap();
    let o = cmd(&["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC", "--ovmf", &fw, "--dump-vmsa"])
        .current_dir(&work)
        .output()
        .unwrap();
    expect_code(&o, 0, "--dump-vmsa");
    let names: Vec<String> = std::fs::read_dir(&work).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(std::fs::metadata(work.join("vmsa1.bin")).unwrap().len(), 4096);
}

#[test]
fn control_characters_in_file_names_are_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("fw\x1b[2J\rprelaunch: ok\n.fd");
    std::fs::write(&evil, vec![0u8; 4097]).unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["inspect", evil.to_str().unwrap()],
        vec!["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", evil.to_str().unwrap()],
        vec!["verify", "--report", evil.to_str().unwrap(), "--expect", "00"],
    ];
    for args in cases {
        let o = prelaunch(&args);
        let err = stderr(&o);
        assert!(o.status.code() == Some(1) || o.status.code() == Some(2), "{args:?}: {err}");
        assert!(
            !err.contains('\x1b') && !err.contains('\r') && err.trim_end().lines().count() == 1,
            "{args:?}: raw control characters: {err:?}"
        );
        if o.status.code() == Some(1) {
            assert!(err.contains("fw\\x1b[2J\\x0dprelaunch: ok\\x0a.fd"), "{args:?}: {err:?}");
        }
    }
}
