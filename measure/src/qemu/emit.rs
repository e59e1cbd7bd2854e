//! A [`QemuLaunch`] as QEMU arguments, one per element: what `prelaunch qemu-args` prints, and
//! what [`super::parse`] reads back. Only properties the chosen release has are written, and
//! defaults are written out where an older or newer default would change the measurement.

use super::model::{Firmware, Guest, QemuLaunch};
use super::opts::escape;
use super::profile::QemuProfile;

/// The id of the confidential guest object and of the RAM backend.
pub const CGS_ID: &str = "cgs0";
pub const RAM_ID: &str = "ram0";

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// The `-object` value for the confidential guest.
fn guest_object(l: &QemuLaunch, profile: &QemuProfile) -> String {
    let mut o = Vec::new();
    match &l.guest {
        Guest::Snp(g) => {
            o.push("sev-snp-guest".to_owned());
            o.push(format!("id={CGS_ID}"));
            o.push(format!("policy={:#x}", g.policy));
            o.push(format!("cbitpos={}", g.cbitpos));
            o.push(format!("reduced-phys-bits={}", g.reduced_phys_bits));
            o.push(format!("kernel-hashes={}", on(g.kernel_hashes)));
            if profile.debug_swap {
                o.push(format!("debug-swap={}", on(g.debug_swap)));
            }
            for (k, v) in [("id-block", &g.id_block), ("id-auth", &g.id_auth), ("host-data", &g.host_data)] {
                if let Some(v) = v {
                    o.push(format!("{k}={}", escape(v)));
                }
            }
            if g.id_auth.is_some() || g.author_key_enabled {
                o.push(format!("author-key-enabled={}", on(g.author_key_enabled)));
            }
        }
        Guest::SevEs(g) | Guest::Sev(g) => {
            o.push("sev-guest".to_owned());
            o.push(format!("id={CGS_ID}"));
            o.push(format!("policy={:#x}", g.policy));
            o.push(format!("cbitpos={}", g.cbitpos));
            o.push(format!("reduced-phys-bits={}", g.reduced_phys_bits));
            o.push(format!("kernel-hashes={}", on(g.kernel_hashes)));
            if let (true, Some(legacy)) = (profile.sev_init2, g.legacy_vm_type) {
                o.push(format!("legacy-vm-type={}", on(legacy)));
            }
        }
        Guest::Tdx(g) => {
            o.push("tdx-guest".to_owned());
            o.push(format!("id={CGS_ID}"));
            if let Some(a) = g.attributes {
                o.push(format!("attributes={a:#x}"));
            }
            if let Some(s) = g.sept_ve_disable {
                o.push(format!("sept-ve-disable={}", on(s)));
            }
            for (k, v) in [("mrconfigid", &g.mrconfigid), ("mrowner", &g.mrowner), ("mrownerconfig", &g.mrownerconfig)] {
                if let Some(v) = v {
                    o.push(format!("{k}={}", escape(v)));
                }
            }
        }
    }
    o.join(",")
}

/// The arguments (without the binary), one per element.
pub fn args(l: &QemuLaunch, profile: &QemuProfile) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |k: &str, v: String| {
        a.push(k.to_owned());
        a.push(v);
    };
    let mut machine = format!("{},confidential-guest-support={CGS_ID},memory-backend={RAM_ID}", escape(&l.machine));
    if matches!(l.guest, Guest::Tdx(_)) {
        // TD vCPUs need the local APIC in KVM and the IOAPIC in QEMU.
        machine.push_str(",kernel-irqchip=split");
    }
    push("-machine", machine);
    push("-accel", "kvm".into());
    let mut cpu = escape(&l.cpu.model);
    for (k, v) in [("family", l.cpu.family), ("model", l.cpu.model_number), ("stepping", l.cpu.stepping)] {
        if let Some(v) = v {
            cpu.push_str(&format!(",{k}={v}"));
        }
    }
    push("-cpu", cpu);
    push("-smp", l.vcpus.to_string());
    push("-m", format!("{}M", l.memory_mib));
    // guest_memfd-backed RAM: QEMU gives confidential guests guest_memfd for private memory; the
    // shared half comes from this backend.
    push("-object", format!("memory-backend-memfd,id={RAM_ID},size={}M,share=on,prealloc=off", l.memory_mib));
    push("-object", guest_object(l, profile));
    match &l.firmware {
        Firmware::Bios(p) => push("-bios", p.clone()),
        Firmware::Pflash { code, vars } => {
            push("-drive", format!("if=pflash,format=raw,unit=0,readonly=on,file={}", escape(code)));
            if let Some(v) = vars {
                push("-drive", format!("if=pflash,format=raw,unit=1,file={}", escape(v)));
            }
        }
    }
    if let Some(k) = &l.kernel {
        push("-kernel", k.clone());
    }
    if let Some(i) = &l.initrd {
        push("-initrd", i.clone());
    }
    if let Some(c) = &l.append {
        push("-append", c.clone());
    }
    a.push("-nodefaults".into());
    a.push("-nographic".into());
    a
}
