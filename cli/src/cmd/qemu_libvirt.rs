//! `qemu-args --format libvirt`: the same launch as libvirt domain XML, with `<launchSecurity>`
//! (formatdomain.html "Launch Security"). What libvirt cannot express for the launch (family/model/
//! stepping overrides, debug-swap, legacy-vm-type) is refused rather than dropped.

use prelaunch_measure::qemu::model::{Firmware, Guest, QemuLaunch};
use quick_xml::Writer;
use quick_xml::events::BytesText;

use crate::error::CliError;

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn refuse(what: &str) -> CliError {
    CliError::Usage(format!("--format libvirt: libvirt has no way to express {what}; use --format args"))
}

/// The domain XML.
pub fn domain(l: &QemuLaunch) -> Result<String, CliError> {
    if l.cpu.family.is_some() || l.cpu.model_number.is_some() || l.cpu.stepping.is_some() {
        return Err(refuse("-cpu family/model/stepping overrides (the vCPU signature in the VMSA)"));
    }
    match &l.guest {
        Guest::Snp(g) if g.debug_swap => return Err(refuse("debug-swap")),
        Guest::SevEs(g) | Guest::Sev(g) if g.legacy_vm_type == Some(true) => return Err(refuse("legacy-vm-type=on")),
        _ => {}
    }
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let io = |e: std::io::Error| CliError::Failed(format!("cannot write the domain XML: {e}"));
    w.create_element("domain")
        .with_attribute(("type", "kvm"))
        .write_inner_content(|w| {
            text(w, "name", "prelaunch-guest")?;
            w.create_element("memory").with_attribute(("unit", "MiB")).write_text_content(BytesText::new(&l.memory_mib.to_string()))?;
            text(w, "vcpu", &l.vcpus.to_string())?;
            w.create_element("os").write_inner_content(|w| {
                w.create_element("type")
                    .with_attributes([("arch", "x86_64"), ("machine", l.machine.as_str())])
                    .write_text_content(BytesText::new("hvm"))?;
                match &l.firmware {
                    Firmware::Bios(p) => {
                        w.create_element("loader")
                            .with_attributes([("type", "rom"), ("stateless", "yes")])
                            .write_text_content(BytesText::new(p))?;
                    }
                    Firmware::Pflash { code, vars } => {
                        w.create_element("loader")
                            .with_attributes([("type", "pflash"), ("readonly", "yes")])
                            .write_text_content(BytesText::new(code))?;
                        if let Some(v) = vars {
                            text(w, "nvram", v)?;
                        }
                    }
                }
                for (name, v) in [("kernel", &l.kernel), ("initrd", &l.initrd), ("cmdline", &l.append)] {
                    if let Some(v) = v {
                        text(w, name, v)?;
                    }
                }
                Ok(())
            })?;
            if l.cpu.model == "host" {
                w.create_element("cpu").with_attribute(("mode", "host-passthrough")).write_empty()?;
            } else {
                w.create_element("cpu").with_attributes([("mode", "custom"), ("match", "exact"), ("check", "none")]).write_inner_content(
                    |w| {
                        w.create_element("model")
                            .with_attribute(("fallback", "forbid"))
                            .write_text_content(BytesText::new(&l.cpu.model))?;
                        Ok(())
                    },
                )?;
            }
            w.create_element("memoryBacking").write_inner_content(|w| {
                w.create_element("source").with_attribute(("type", "memfd")).write_empty()?;
                w.create_element("access").with_attribute(("mode", "shared")).write_empty()?;
                Ok(())
            })?;
            match &l.guest {
                Guest::Snp(g) => {
                    let mut ls =
                        w.create_element("launchSecurity").with_attributes([("type", "sev-snp"), ("kernelHashes", yes(g.kernel_hashes))]);
                    if g.id_auth.is_some() {
                        ls = ls.with_attribute(("authorKey", yes(g.author_key_enabled)));
                    }
                    ls.write_inner_content(|w| {
                        text(w, "cbitpos", &g.cbitpos.to_string())?;
                        text(w, "reducedPhysBits", &g.reduced_phys_bits.to_string())?;
                        text(w, "policy", &format!("{:#010x}", g.policy))?;
                        for (name, v) in [("idBlock", &g.id_block), ("idAuth", &g.id_auth), ("hostData", &g.host_data)] {
                            if let Some(v) = v {
                                text(w, name, v)?;
                            }
                        }
                        Ok(())
                    })?;
                }
                Guest::SevEs(g) | Guest::Sev(g) => {
                    w.create_element("launchSecurity")
                        .with_attributes([("type", "sev"), ("kernelHashes", yes(g.kernel_hashes))])
                        .write_inner_content(|w| {
                            text(w, "cbitpos", &g.cbitpos.to_string())?;
                            text(w, "reducedPhysBits", &g.reduced_phys_bits.to_string())?;
                            text(w, "policy", &format!("{:#06x}", g.policy))?;
                            Ok(())
                        })?;
                }
                Guest::Tdx(g) => {
                    w.create_element("launchSecurity").with_attribute(("type", "tdx")).write_inner_content(|w| {
                        if let Some(a) = g.attributes {
                            text(w, "policy", &format!("{a:#x}"))?;
                        }
                        for (name, v) in [("mrConfigId", &g.mrconfigid), ("mrOwner", &g.mrowner), ("mrOwnerConfig", &g.mrownerconfig)] {
                            if let Some(v) = v {
                                text(w, name, v)?;
                            }
                        }
                        Ok(())
                    })?;
                }
            }
            Ok(())
        })
        .map_err(io)?;
    let mut s = String::from_utf8(w.into_inner()).map_err(|e| CliError::Failed(format!("domain XML: {e}")))?;
    s.push('\n');
    Ok(s)
}
