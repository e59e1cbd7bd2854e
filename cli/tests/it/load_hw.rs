//! `--platform hw` on a host without SEV-SNP or TDX fails before touching anything, with a message
//! that names what is missing (the VM types this KVM offers and the one the launch needs), never a
//! bare errno. On a real SNP/TDX host these tests say so and stop: the launch itself is tested there.

use crate::common;
use crate::load_support;

use std::io::Write;

use common::*;
use load_support::*;

fn offers(vm_type: u64) -> bool {
    prelaunch_loader::kvm::open_kvm().is_ok_and(|k| prelaunch_loader::kvm::offered_vm_types(&k) & (1 << vm_type) != 0)
}

#[test]
fn hw_without_snp_or_tdx_names_what_is_missing() {
    if !kvm_or_skip("hw_without_snp_or_tdx_names_what_is_missing") {
        return;
    }
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    for (vm_type, name, args) in [
        (4, "KVM_X86_SNP_VM (4)", vec!["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4"]),
        (5, "KVM_X86_TDX_VM (5)", vec!["--mode", "tdx"]),
    ] {
        if offers(vm_type) {
            let _ = writeln!(std::io::stderr().lock(), "SKIPPED {name}: this host offers it; the refusal cannot be tested here");
            continue;
        }
        let argv: Vec<&str> = ["load", "--platform", "hw", "--ovmf", &fw].iter().copied().chain(args).collect();
        let o = prelaunch(&argv);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        let e = stderr(&o);
        assert!(e.contains("KVM_CAP_VM_TYPES offers default (0)") && e.contains(name) && e.contains("--platform hw"), "{e}");
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn hw_refuses_what_it_does_not_drive() {
    let fw = firmware_dir().join("bookworm_OVMF.fd").display().to_string();
    let o = prelaunch(&["load", "--platform", "hw", "--mode", "seves", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", &fw]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("only modelled, by --platform sim"), "{}", stderr(&o));
    let o = prelaunch(&["load", "--platform", "hw", "--mode", "tdx", "--ovmf", &fw, "--sim-fault", "eintr=2"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = prelaunch(&["load", "--platform", "hw", "--mode", "tdx", "--ovmf", &fw, "--check-guest"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("private"), "{}", stderr(&o));
}
