//! `prelaunch load --platform hw --probe`: what this host offers for a confidential launch, and in
//! one line per platform whether SEV-SNP and TDX can launch here and by which path, or everything
//! that is missing. `--json` prints the facts and the verdicts.

use prelaunch_loader::kvm::probe::{HostFacts, probe};
use prelaunch_loader::kvm::verdict;
use prelaunch_loader::kvm::vm_type_names;
use serde_json::json;

use crate::error::CliError;
use crate::outln;
use crate::output::{Doc, Out, Style, print_doc};

/// Probes, prints, and exits 0 whatever the verdicts: the probe itself succeeded.
pub fn run(json: bool, out: &Out) -> Result<(), CliError> {
    let facts = probe();
    let verdicts = [verdict::snp(&facts), verdict::tdx(&facts)];
    if json {
        return print_doc(Doc::PROBE, &json!({"facts": facts, "verdicts": verdicts}));
    }
    for v in &verdicts {
        let line = v.line();
        outln!("{}", out.paint(if v.can_launch() { Style::Good } else { Style::Bad }, &line));
    }
    if !out.quiet {
        print_facts(&facts);
    }
    Ok(())
}

fn print_facts(f: &HostFacts) {
    let yes_no = |o: &prelaunch_loader::kvm::probe::Offer| o.reason().map_or("yes".to_owned(), |r| format!("no ({r})"));
    outln!("host:");
    outln!("  kernel               {}", f.kernel.as_deref().unwrap_or("?"));
    outln!(
        "  cpu                  {} ({}){}",
        f.cpu.vendor,
        f.cpu.model_name.as_deref().unwrap_or("?"),
        if f.cpu.hypervisor { ", a guest itself" } else { "" }
    );
    match &f.cpu.sev {
        Some(s) => outln!(
            "  CPUID Fn8000_001F    SEV {} SEV-ES {} SNP {}, C-bit {}, reduced phys bits {}",
            s.sev,
            s.sev_es,
            s.snp,
            s.cbitpos,
            s.reduced_phys_bits
        ),
        None => outln!("  CPUID Fn8000_001F    absent"),
    }
    outln!("  /dev/kvm             {}", yes_no(&f.kvm));
    outln!("  kvm modules          {}", f.kvm_modules.join(", "));
    outln!("  VM types             {}", vm_type_names(f.vm_types));
    for v in &f.vms {
        match v.create.reason() {
            Some(r) => outln!("  {:<8} VM          {r}", v.vm_type),
            None => outln!(
                "  {:<8} VM          guest_memfd {}, flags {:#x}, VM-level attributes {:#x}",
                v.vm_type,
                v.guest_memfd,
                v.guest_memfd_flags,
                v.memory_attributes
            ),
        }
    }
    let p = &f.in_place;
    let param =
        |m: &prelaunch_loader::kvm::probe::ModuleParam| format!("{}.{}={}", m.module, m.name, m.value.as_deref().unwrap_or("(absent)"));
    outln!(
        "  in-place conversion  {}; {}, {}",
        yes_no(&p.attributes2_ioctl),
        param(&p.gmem_in_place_conversion),
        param(&p.vm_memory_attributes)
    );
    for m in &f.params {
        outln!("  module parameter     {}", param(m));
    }
    outln!("  /dev/sev             {}", yes_no(&f.dev_sev));
    outln!("  SEV VMSA features    {}", f.sev_vmsa_features.map_or("not offered (KVM_X86_GRP_SEV)".into(), |v| format!("{v:#x}")));
    match &f.tdx_caps {
        None => outln!("  KVM_TDX_CAPABILITIES not asked (no TDX VM)"),
        Some(Err(e)) => outln!("  KVM_TDX_CAPABILITIES {e}"),
        Some(Ok(c)) => outln!(
            "  KVM_TDX_CAPABILITIES attributes {:#x}, XFAM {:#x}, {} configurable CPUID leaves",
            c.supported_attrs,
            c.supported_xfam,
            c.cpuid_leaves.len()
        ),
    }
}
