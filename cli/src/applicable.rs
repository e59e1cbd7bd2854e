//! Options that do not apply to the chosen `--mode` are never silently ignored. prelaunch's own
//! options are refused (exit 2); sev-snp-measure's options, which it accepts in every mode and
//! ignores where they mean nothing, are accepted with a warning, so that a script written for it
//! still runs and its user learns what did not count.

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::error::CliError;
use crate::launch::{ModeArg, VcpuList};

/// Checks the launch options of the subcommand `name` against its `--mode`; returns the warnings.
pub fn check(name: &str, m: &ArgMatches) -> Result<Vec<String>, CliError> {
    let Ok(Some(&mode)) = m.try_get_one::<ModeArg>("mode") else { return Ok(vec![]) };
    // With --qemu-cmdline the mode is a placeholder: the command line decides.
    if m.value_source("mode") != Some(ValueSource::CommandLine) {
        return Ok(vec![]);
    }
    let given = |id: &str| matches!(m.try_contains_id(id), Ok(true)) && m.value_source(id) == Some(ValueSource::CommandLine);
    let flag = |id: &str| format!("--{}", id.replace('_', "-"));
    let mode_name = m.get_raw("mode").and_then(|mut v| v.next()).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default();
    let refuse = |ids: &[&str], why: &str| -> Result<(), CliError> {
        match ids.iter().find(|id| given(id)) {
            Some(id) => Err(CliError::Usage(format!("{} does not apply to --mode {mode_name}: {why}", flag(id)))),
            None => Ok(()),
        }
    };
    let mut warnings = Vec::new();
    let mut ignored = |ids: &[&str], why: &str| {
        for id in ids.iter().filter(|id| given(id)) {
            warnings.push(format!("{} is ignored with --mode {mode_name}: {why}", flag(id)));
        }
    };
    let amd_vcpu = ["vcpu_type", "vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping", "vmm_type"];
    let svsm = ["svsm", "vars_size", "vars_file"];
    if name == "measure" && given("policy") {
        return Err(CliError::Usage(
            "measure does not take --policy: the SNP guest policy is in the report, not in the launch digest (`load` takes it)".into(),
        ));
    }
    let list = m.try_get_one::<VcpuList>("vcpus").ok().flatten().is_some_and(|v| !v.is_single());
    match mode {
        ModeArg::Tdx => {
            refuse(&amd_vcpu, "a TD's MRTD has no VMSAs, vCPU signatures or VMM reset state")?;
            refuse(&["guest_features"], "SEV features are an AMD VMSA field")?;
            refuse(&["policy"], "the SNP guest policy is AMD's (TD attributes are fixed by the TDVF image)")?;
            refuse(&svsm, "an SVSM is an AMD SNP component")?;
        }
        _ => {
            refuse(&["tdx_page_order", "tdx_page_aug"], "it is a TDX page policy")?;
            if !matches!(mode, ModeArg::SnpSvsm) {
                ignored(&svsm, "only snp:svsm launches an SVSM");
            }
        }
    }
    match mode {
        ModeArg::Sev | ModeArg::SnpOvmfHash if list => {
            return Err(CliError::Usage(format!(
                "--vcpus with a list does not apply to --mode {mode_name}: its digest does not depend on the vCPU count"
            )));
        }
        ModeArg::Sev => {
            ignored(&["vcpus"], "a SEV digest covers the firmware only, no vCPU state");
            ignored(&amd_vcpu, "a SEV digest covers the firmware only, no vCPU state");
            ignored(&["guest_features"], "SEV has no VMSA");
        }
        ModeArg::SnpSvsm => ignored(&["guest_features", "vmm_type"], "the SVSM's VMSA carries SNPActive alone, in the SVSM's reset state"),
        ModeArg::Seves => ignored(&["guest_features"], "SEV-ES VMSAs carry no guest features (only SEV-SNP's do)"),
        ModeArg::SnpOvmfHash => {
            let why = "snp:ovmf-hash digests the firmware pages only (resume with --mode snp --snp-ovmf-hash)";
            ignored(&["vcpus"], why);
            ignored(&amd_vcpu, why);
            ignored(&["guest_features", "kernel", "initrd", "append", "kernel_hash", "initrd_hash"], why);
        }
        _ => {}
    }
    Ok(warnings)
}

/// Runs [`check`] on the parsed command line: prints its warnings (unless `quiet`), or exits 2.
pub fn enforce(matches: &ArgMatches, quiet: bool) {
    let Some((name, sub)) = matches.subcommand() else { return };
    match check(name, sub) {
        Ok(warnings) => {
            for w in warnings.iter().filter(|_| !quiet) {
                crate::errln!("prelaunch: warning: {w}");
            }
        }
        Err(e) => {
            crate::errln!("prelaunch: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
