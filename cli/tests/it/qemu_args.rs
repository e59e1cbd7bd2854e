//! `qemu-args` and `measure --qemu-cmdline`: for every SNP vector, the command line qemu-args writes
//! measures (read back) to the vector's digest; every property it writes is one a real QEMU lists
//! (QMP qom-list-properties and object-add on QEMU 10.0, `-cpu help`, `-help`), and tdx-guest's are
//! QEMU 10.1's (testdata/qemu); what a release cannot launch is refused.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::*;

const HOST_SEV: [&str; 4] = ["--cbitpos", "51", "--reduced-phys-bits", "1"];

/// The SNP vectors a QEMU command line can express: mode snp, QEMU's reset state, a firmware file.
fn qemu_snp_vectors() -> Vec<(String, Vec<String>, String)> {
    let doc = vectors("snp.json");
    let mut out = Vec::new();
    for v in doc["vectors"].as_array().unwrap() {
        let args: Vec<String> = v["args"].as_array().unwrap().iter().map(|a| resolve(a.as_str().unwrap())).collect();
        let snp = args.iter().any(|a| a == "--mode=snp");
        let qemu = !args.iter().any(|a| a.starts_with("--vmm-type=") && a != "--vmm-type=QEMU");
        if snp && qemu && v["error"].is_null() && !args.iter().any(|a| a.starts_with("--snp-ovmf-hash")) {
            out.push((v["id"].as_str().unwrap().to_owned(), args, v["digest"].as_str().unwrap().to_owned()));
        }
    }
    assert!(out.len() >= 25, "only {} QEMU SNP vectors", out.len());
    out
}

fn qemu_args(args: &[String], version: &str) -> std::process::Output {
    let mut argv: Vec<String> = vec!["qemu-args".into(), "--qemu-version".into(), version.into()];
    argv.extend(HOST_SEV.iter().map(|s| s.to_string()));
    argv.extend(args.iter().cloned());
    prelaunch(&argv.iter().map(String::as_str).collect::<Vec<_>>())
}

fn measure_cmdline(path: &std::path::Path, version: &str) -> String {
    let o = prelaunch(&["measure", "--qemu-version", version, "--qemu-cmdline", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o).trim().to_owned()
}

#[test]
fn every_snp_vector_round_trips_through_its_qemu_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (id, args, digest) in qemu_snp_vectors() {
        let o = qemu_args(&args, "10.2");
        assert_eq!(o.status.code(), Some(0), "{id}: {}", stderr(&o));
        let f = dir.path().join(format!("{id}.args"));
        std::fs::write(&f, &o.stdout).unwrap();
        assert_eq!(measure_cmdline(&f, "10.2"), digest, "{id}: measure --qemu-cmdline of qemu-args's output");
        // The same command line written as a shell line reads back the same.
        let shell: Vec<String> = stdout(&o).lines().map(|l| shlex::try_quote(l).unwrap().into_owned()).collect();
        let sf = dir.path().join(format!("{id}.sh"));
        std::fs::write(&sf, shell.join(" \\\n  ") + "\n").unwrap();
        assert_eq!(measure_cmdline(&sf, "10.2"), digest, "{id}: as a shell command line");
        compared += 1;
    }
    assert!(compared >= 25);
}

#[test]
fn qemu_10_0_refuses_what_it_cannot_launch_as_measured() {
    let mut refused = 0;
    for (id, args, _) in qemu_snp_vectors() {
        let o = qemu_args(&args, "10.0");
        if args.iter().any(|a| a == "--guest-features=0x21") {
            assert_eq!(o.status.code(), Some(2), "{id}");
            assert!(stderr(&o).contains("debug-swap needs QEMU 10.2"), "{id}: {}", stderr(&o));
            refused += 1;
        } else {
            assert_eq!(o.status.code(), Some(0), "{id}: {}", stderr(&o));
        }
    }
    assert!(refused >= 4);
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    for (args, says) in [
        (vec!["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--vmm-type", "ec2", "--ovmf", &fw], "--vmm-type ec2"),
        (vec!["--mode", "snp:ovmf-hash", "--ovmf", &fw], "not a launch"),
        (vec!["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-Turin", "--ovmf", &fw], "arrived in QEMU 10.1"),
        (vec!["--mode", "snp", "--vcpus", "1-4", "--vcpu-type", "EPYC-v4", "--ovmf", &fw], "single count"),
        (
            vec!["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--guest-features", "0x3", "--ovmf", &fw],
            "no other SEV features",
        ),
    ] {
        let o = qemu_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "10.0");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn unmodelled_options_in_a_command_line_are_refused() {
    let (_, args, _) = qemu_snp_vectors().remove(0);
    let o = qemu_args(&args, "10.0");
    let dir = tempfile::tempdir().unwrap();
    for (extra, says) in
        [("-global\nsev-snp-guest.policy=0x0\n", "-global"), ("-fw_cfg\nname=opt/x,string=y\n", "-fw_cfg"), ("-frob\n", "-frob")]
    {
        let f = dir.path().join("x.args");
        std::fs::write(&f, [o.stdout.clone(), extra.as_bytes().to_vec()].concat()).unwrap();
        let r = prelaunch(&["measure", "--qemu-version", "10.0", "--qemu-cmdline", f.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(1), "{extra}");
        assert!(stderr(&r).contains(says) && stderr(&r).contains("refused"), "{}", stderr(&r));
    }
    let r = prelaunch(&["measure", "--qemu-cmdline", "/nonexistent", "--ovmf", "x"]);
    assert_eq!(r.status.code(), Some(2), "a command line and launch arguments contradict: {}", stderr(&r));
}

/// QEMU over QMP on stdio (`-machine none`: no guest, no KVM needed).
struct Qmp {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

fn qemu_binary() -> PathBuf {
    let p = std::env::var_os("PRELAUNCH_QEMU").map(PathBuf::from).unwrap_or_else(|| "qemu-system-x86_64".into());
    let v = Command::new(&p).arg("--version").output().unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the property check needs QEMU 10.0 (.ci/run installs qemu-system-x86 from bookworm-backports; set PRELAUNCH_QEMU)",
            p.display()
        )
    });
    let text = String::from_utf8_lossy(&v.stdout).into_owned();
    assert!(text.contains("version 10.0"), "{}: {text}: the SNP property check is against QEMU 10.0", p.display());
    p
}

impl Qmp {
    fn start() -> Qmp {
        let mut child = Command::new(qemu_binary())
            .args(["-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut q = Qmp { child, out };
        q.read(); // greeting
        q.cmd(json!({"execute": "qmp_capabilities"}));
        q
    }

    fn read(&mut self) -> Value {
        loop {
            let mut line = String::new();
            assert!(self.out.read_line(&mut line).unwrap() > 0, "QEMU closed QMP");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v.get("event").is_none() {
                return v;
            }
        }
    }

    fn cmd(&mut self, c: Value) -> Value {
        writeln!(self.child.stdin.as_mut().unwrap(), "{c}").unwrap();
        self.read()
    }

    fn properties(&mut self, typename: &str) -> Vec<String> {
        let r = self.cmd(json!({"execute": "qom-list-properties", "arguments": {"typename": typename}}));
        let list = r["return"].as_array().unwrap_or_else(|| panic!("{typename}: {r}"));
        list.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    }
}

impl Drop for Qmp {
    fn drop(&mut self) {
        let _ = writeln!(self.child.stdin.as_mut().unwrap(), "{}", json!({"execute": "quit"}));
        let _ = self.child.wait();
    }
}

/// `key=value` pairs of a QemuOpts value after its implied first element.
fn opts(v: &str) -> (String, Vec<(String, String)>) {
    let mut parts = v.split(',');
    let head = parts.next().unwrap().to_owned();
    (head, parts.map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap()).collect())
}

#[test]
fn every_property_qemu_args_writes_for_snp_is_one_qemu_10_0_lists_and_accepts() {
    let mut qmp = Qmp::start();
    let help = String::from_utf8_lossy(&Command::new(qemu_binary()).arg("-help").output().unwrap().stdout).into_owned();
    let cpus = String::from_utf8_lossy(&Command::new(qemu_binary()).args(["-cpu", "help"]).output().unwrap().stdout).into_owned();
    let machine = qmp.properties("pc-q35-10.0-machine");
    let mut snp = qmp.properties("sev-snp-guest");
    snp.sort();
    assert_eq!(
        snp,
        prelaunch_measure::qemu::profile::by_version("10.0").unwrap().snp_properties(),
        "the 10.0 profile's sev-snp-guest list is QEMU 10.0's"
    );
    let mut checked = std::collections::BTreeSet::new();
    let mut objects = 0;
    for (id, args, _) in qemu_snp_vectors().into_iter().filter(|v| !v.1.iter().any(|a| a == "--guest-features=0x21")) {
        let o = qemu_args(&args, "10.0");
        let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        for w in lines[1..].windows(2) {
            if w[0].starts_with('-') {
                assert!(
                    help.lines().any(|l| l.starts_with(&format!("{} ", w[0])) || l.trim_end() == w[0]),
                    "{id}: {} is not a QEMU 10.0 option",
                    w[0]
                );
            }
            match w[0].as_str() {
                "-object" => {
                    let (ty, props) = opts(&w[1]);
                    let listed = qmp.properties(&ty);
                    for (k, _) in &props {
                        assert!(k == "id" || listed.contains(k), "{id}: {ty} has no property {k} in QEMU 10.0 ({listed:?})");
                        checked.insert(format!("{ty}.{k}"));
                    }
                    // QEMU itself takes the object with these values (no guest is started).
                    let mut arguments = serde_json::Map::new();
                    arguments.insert("qom-type".into(), json!(ty));
                    objects += 1;
                    arguments.insert("id".into(), json!(format!("o{objects}")));
                    for (k, v) in props.iter().filter(|(k, _)| k != "id") {
                        let value = match v.as_str() {
                            "on" => json!(true),
                            "off" => json!(false),
                            _ if k == "size" => json!(v.trim_end_matches('M').parse::<u64>().unwrap() << 20),
                            _ if v.starts_with("0x") => json!(u64::from_str_radix(&v[2..], 16).unwrap()),
                            _ => v.parse::<u64>().map(|n| json!(n)).unwrap_or(json!(v)),
                        };
                        arguments.insert(k.clone(), value);
                    }
                    let r = qmp.cmd(json!({"execute": "object-add", "arguments": arguments}));
                    assert!(r.get("return").is_some(), "{id}: QEMU 10.0 refuses -object {}: {r}", w[1]);
                }
                "-machine" => {
                    let (ty, props) = opts(&w[1]);
                    assert_eq!(ty, "q35");
                    for (k, _) in props {
                        assert!(machine.contains(&k), "{id}: q35 has no property {k}");
                        checked.insert(format!("machine.{k}"));
                    }
                }
                "-cpu" => {
                    assert!(
                        cpus.lines().any(|l| l.split_whitespace().next() == Some(w[1].as_str())),
                        "{id}: -cpu {} is not in QEMU 10.0's -cpu help",
                        w[1]
                    );
                    checked.insert(format!("cpu {}", w[1]));
                }
                _ => {}
            }
        }
    }
    for must in [
        "sev-snp-guest.policy",
        "sev-snp-guest.cbitpos",
        "sev-snp-guest.reduced-phys-bits",
        "sev-snp-guest.kernel-hashes",
        "memory-backend-memfd.share",
        "machine.confidential-guest-support",
        "machine.memory-backend",
        "cpu EPYC-Milan",
    ] {
        assert!(checked.contains(must), "{must} never checked: {checked:?}");
    }
}

#[test]
fn id_block_host_data_and_author_key_are_properties_qemu_10_0_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (block, auth) = (dir.path().join("id_block.bin"), dir.path().join("id_auth.bin"));
    std::fs::write(&block, [1u8; 96]).unwrap();
    std::fs::write(&auth, [2u8; 4096]).unwrap();
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let args: Vec<String> = [
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        &fw,
        "--id-block",
        block.to_str().unwrap(),
        "--id-auth",
        auth.to_str().unwrap(),
        "--host-data",
        &"ab".repeat(32),
        "--author-key-enabled",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = qemu_args(&args, "10.0");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let obj = stdout(&o).lines().find(|l| l.starts_with("sev-snp-guest")).unwrap().to_owned();
    let listed = Qmp::start().properties("sev-snp-guest");
    for k in ["id-block", "id-auth", "host-data", "author-key-enabled"] {
        assert!(obj.contains(&format!("{k}=")) && listed.iter().any(|l| l == k), "{k}: {obj}");
    }
}

#[test]
fn tdx_guest_properties_are_qemu_10_1s() {
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/qemu/qemu-10.1-tdx-guest-properties.txt")).unwrap();
    let listed: Vec<&str> = reference.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    let profile = prelaunch_measure::qemu::profile::by_version("10.1").unwrap();
    assert_eq!(profile.tdx_properties(), &listed[..], "the profile's tdx-guest list is the reference's");
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let o = prelaunch(&["qemu-args", "--qemu-version", "10.1", "--mode", "tdx", "--ovmf", &fw]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let obj = stdout(&o).lines().find(|l| l.starts_with("tdx-guest")).unwrap().to_owned();
    for (k, _) in opts(&obj).1 {
        assert!(k == "id" || listed.contains(&k.as_str()), "tdx-guest {k} is not a QEMU 10.1 property");
    }
    assert!(stdout(&o).contains("kernel-irqchip=split"));
    let o = prelaunch(&["qemu-args", "--qemu-version", "10.0", "--mode", "tdx", "--ovmf", &fw]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("TDX arrived in QEMU 10.1"), "{}", stderr(&o));
    // And it measures back to the MRTD of the same firmware.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tdx.args");
    std::fs::write(&f, prelaunch(&["qemu-args", "--qemu-version", "10.1", "--mode", "tdx", "--ovmf", &fw]).stdout).unwrap();
    let direct = prelaunch(&["measure", "--mode", "tdx", "--ovmf", &fw]);
    assert_eq!(measure_cmdline(&f, "10.1"), stdout(&direct).trim());
}

#[test]
fn libvirt_xml_carries_launch_security_and_refuses_what_it_cannot_express() {
    let fw = firmware_dir().join("ovmf_AmdSev_suffix.bin").display().to_string();
    let k = inputs_dir().join("kernel.bin").display().to_string();
    let mut a: Vec<String> = [
        "--format",
        "libvirt",
        "--mode",
        "snp",
        "--vcpus",
        "4",
        "--vcpu-type",
        "EPYC-Milan",
        "--ovmf",
        &fw,
        "--kernel",
        &k,
        "--append",
        "console=ttyS0 <&>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = qemu_args(&a, "10.0");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let x = stdout(&o);
    for want in [
        "<launchSecurity type=\"sev-snp\" kernelHashes=\"yes\">",
        "<cbitpos>51</cbitpos>",
        "<policy>0x00030000</policy>",
        "<vcpu>4</vcpu>",
        "<model fallback=\"forbid\">EPYC-Milan</model>",
        "console=ttyS0 &lt;&amp;&gt;",
        "<source type=\"memfd\"/>",
    ] {
        assert!(x.contains(want), "{want} missing:\n{x}");
    }
    a.extend(["--vcpu-family", "25", "--vcpu-model", "1", "--vcpu-stepping", "2"].map(String::from));
    let i = a.iter().position(|s| s == "--vcpu-type").unwrap();
    a.drain(i..i + 2);
    let o = qemu_args(&a, "10.0");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("libvirt has no way to express"), "{}", stderr(&o));
}
