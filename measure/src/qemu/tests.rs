//! Round trips (emit then parse gives the launch back) and the refusal table.

use super::model::{CpuModel, Firmware, Guest, QemuLaunch, SevGuest, SnpGuest, TdxGuest};
use super::profile::{by_version, latest};
use super::{QemuError, emit, parse};
use crate::plan::Mode;

fn snp() -> QemuLaunch {
    QemuLaunch {
        machine: "q35".into(),
        cpu: CpuModel::named("EPYC-Milan"),
        vcpus: 4,
        memory_mib: 2048,
        firmware: Firmware::Bios("/fw/OVMF, amd.fd".into()),
        kernel: Some("/k/vmlinuz".into()),
        initrd: Some("/k/initrd".into()),
        append: Some("  console=ttyS0,115200 ro".into()),
        guest: Guest::Snp(SnpGuest {
            policy: 0x30000,
            cbitpos: 51,
            reduced_phys_bits: 1,
            kernel_hashes: true,
            id_block: Some("AAAA".into()),
            id_auth: Some("BBBB".into()),
            host_data: Some("CCCC".into()),
            author_key_enabled: true,
            debug_swap: false,
        }),
    }
}

fn argv(l: &QemuLaunch, v: &str) -> Vec<String> {
    let mut a = vec!["qemu-system-x86_64".to_owned()];
    a.extend(emit::args(l, by_version(v).unwrap()));
    a
}

#[test]
fn emitted_command_lines_read_back_as_the_same_launch() {
    let l = snp();
    assert_eq!(parse::parse(&argv(&l, "10.0")).unwrap(), l);
    let mut es = snp();
    es.guest = Guest::SevEs(SevGuest { policy: 0x5, cbitpos: 47, reduced_phys_bits: 1, kernel_hashes: false, legacy_vm_type: Some(true) });
    es.firmware = Firmware::Pflash { code: "/fw/code.fd".into(), vars: Some("/fw/vars.fd".into()) };
    assert_eq!(parse::parse(&argv(&es, "10.0")).unwrap(), es);
    let mut tdx = snp();
    tdx.cpu = CpuModel::named("host");
    tdx.guest = Guest::Tdx(TdxGuest { attributes: Some(0x1000_0000), sept_ve_disable: Some(true), ..Default::default() });
    let back = parse::parse(&argv(&tdx, "10.1")).unwrap();
    assert_eq!(back, tdx);
}

#[test]
fn the_spec_follows_kernel_hashes_and_the_cpu_model() {
    let s = snp().spec(latest()).unwrap();
    assert_eq!((s.mode, s.vcpus, s.vcpu_sig, s.vcpu_type.as_deref()), (Mode::Snp, 4, 0xa00f11, Some("EPYC-Milan")));
    assert_eq!(s.kernel.as_deref(), Some("/k/vmlinuz"));
    assert_eq!(s.guest_features, 1);
    let mut l = snp();
    if let Guest::Snp(g) = &mut l.guest {
        g.kernel_hashes = false;
    }
    let s = l.spec(latest()).unwrap();
    assert_eq!((s.kernel, s.initrd, s.append), (None, None, None), "without kernel-hashes the payload is loaded unmeasured");
    l.cpu.family = Some(26);
    assert_eq!(l.spec(latest()).unwrap().vcpu_sig, crate::snp::cpu::signature(26, 1, 1));
    assert_eq!(l.spec(latest()).unwrap().vcpu_type, None);
}

#[test]
fn releases_refuse_what_they_cannot_launch() {
    let mut l = snp();
    if let Guest::Snp(g) = &mut l.guest {
        g.debug_swap = true;
    }
    let e = l.spec(by_version("10.0").unwrap()).unwrap_err().to_string();
    assert!(e.contains("debug-swap needs QEMU 10.2"), "{e}");
    assert_eq!(l.spec(by_version("10.2").unwrap()).unwrap().guest_features, 0x21);
    assert!(snp().spec(by_version("9.0").unwrap()).unwrap_err().to_string().contains("9.1"));
    let mut turin = snp();
    turin.cpu = CpuModel::named("EPYC-Turin");
    assert!(turin.spec(by_version("10.0").unwrap()).unwrap_err().to_string().contains("arrived in QEMU 10.1"));
    let mut pflash = snp();
    pflash.firmware = Firmware::Pflash { code: "c".into(), vars: None };
    assert!(pflash.spec(latest()).unwrap_err().to_string().contains("-bios"));
}

#[test]
fn legacy_sev_es_is_chosen_by_release_and_property() {
    let mut es = snp();
    es.guest = Guest::SevEs(SevGuest { policy: 0x5, legacy_vm_type: None, ..Default::default() });
    assert!(es.spec(by_version("9.0").unwrap()).unwrap().legacy_sev_es, "before 9.1 every SEV-ES VM is legacy");
    assert!(!es.spec(by_version("10.0").unwrap()).unwrap().legacy_sev_es);
    if let Guest::SevEs(g) = &mut es.guest {
        g.legacy_vm_type = Some(true);
    }
    assert!(es.spec(by_version("10.0").unwrap()).unwrap().legacy_sev_es);
    assert!(es.spec(by_version("9.0").unwrap()).is_err(), "9.0 has no legacy-vm-type property");
}

fn refused(args: &[&str]) -> String {
    let mut a: Vec<String> = argv(&snp(), "10.0");
    a.extend(args.iter().map(|s| s.to_string()));
    match parse::parse(&a) {
        Err(e @ (QemuError::Unsupported(_) | QemuError::Syntax(_))) => e.to_string(),
        Ok(_) => panic!("{args:?} was accepted"),
    }
}

#[test]
fn options_not_modelled_are_refused_by_name() {
    for (args, says) in [
        (&["-global", "sev-snp-guest.policy=0x0"][..], "-global"),
        (&["-fw_cfg", "name=opt/x,file=y"], "-fw_cfg"),
        (&["-frobnicate"], "-frobnicate: refused"),
        (&["-object", "tls-creds-x509,id=t"], "tls-creds-x509"),
        (&["-object", "sev-snp-guest,id=other"], "not the machine's confidential-guest-support"),
        (&["-smp", "2"], "-smp is given twice"),
        (&["-bios", "x"], "-bios is given twice"),
        (&["-drive", "if=pflash,file=x,unit=0"], "both -bios and pflash"),
        (&["-accel", "tcg"], "-accel is given twice"),
        (&["-kernel"], "-kernel needs a value"),
    ] {
        let e = refused(args);
        assert!(e.contains(says), "{args:?}: {e}");
    }
    let base = |f: &dyn Fn(&mut Vec<String>)| {
        let mut a = argv(&snp(), "10.0");
        f(&mut a);
        parse::parse(&a).unwrap_err().to_string()
    };
    let mut host = snp();
    host.cpu = CpuModel::named("host");
    assert!(host.spec(latest()).unwrap_err().to_string().contains("-cpu host"));
    let e = base(&|a| {
        let i = a.iter().position(|x| x.starts_with("sev-snp-guest")).unwrap();
        a[i].push_str(",secure-tsc=on");
    });
    assert!(e.contains("secure-tsc= is not modelled"), "{e}");
    let e = base(&|a| {
        let i = a.iter().position(|x| x == "-machine").unwrap();
        a[i + 1].push_str(",igvm-cfg=igvm0");
    });
    assert!(e.contains("igvm-cfg"), "{e}");
}

#[test]
fn neutral_options_are_accepted_and_change_nothing() {
    let mut a = argv(&snp(), "10.0");
    a.extend(
        ["-device", "virtio-net-pci,netdev=n0", "-netdev", "user,id=n0", "-serial", "stdio", "--no-reboot", "-name=guest"]
            .map(String::from),
    );
    assert_eq!(parse::parse(&a).unwrap(), snp());
}
