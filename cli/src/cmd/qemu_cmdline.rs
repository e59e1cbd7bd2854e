//! `measure --qemu-cmdline FILE|-`: measure what a QEMU command line launches. The file holds one
//! argument per line (what `qemu-args` writes), or a shell command line (quotes, backslash-newline
//! continuations), told apart by its first line: a lone word is one argument per line. Options the
//! model does not know are refused, never ignored (prelaunch_measure::qemu::parse).

use std::path::Path;

use prelaunch_files::{Input, Kind};

use prelaunch_measure::Mode;
use prelaunch_measure::qemu::parse::parse;

use crate::error::{CliError, usage};
use crate::launch::{LaunchArgs, ModeArg, PageOrderArg, VcpuList};

/// A command line is text a person wrote or a tool printed: a megabyte is far beyond any real one.
const CMDLINE: Kind = Kind { what: "QEMU command line", max: 1 << 20, map: false };

fn read(path: &Path) -> Result<String, CliError> {
    let input = Input::open(path, CMDLINE)?;
    String::from_utf8(input.to_vec())
        .map_err(|e| CliError::Failed(format!("{}: not UTF-8 at byte {}", prelaunch_files::show(path), e.utf8_error().valid_up_to())))
}

/// The arguments of the file: one per line, or shell words.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let first = body.lines().next().unwrap_or("");
    if first.split_whitespace().count() > 1 || first.contains(['"', '\'']) {
        let joined = body.replace("\\\n", " ");
        shlex::split(&joined).ok_or_else(|| "unbalanced quotes in the shell command line".to_owned())
    } else {
        Ok(body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect())
    }
}

/// The launch arguments the command line stands for (SEV-ES as a legacy VM type included).
pub fn launch_args(path: &Path, base: &LaunchArgs) -> Result<LaunchArgs, CliError> {
    let given = [
        ("--ovmf", base.ovmf.is_some()),
        ("--vcpus", base.vcpus.is_some()),
        ("--vcpu-type", base.vcpu_type.is_some()),
        ("--vcpu-sig", base.vcpu_sig.is_some()),
        ("--vcpu-family", base.vcpu_family.is_some()),
        ("--kernel", base.kernel.is_some() || base.kernel_hash.is_some()),
        ("--initrd", base.initrd.is_some() || base.initrd_hash.is_some()),
        ("--append", base.append.is_some()),
        ("--svsm", base.svsm.is_some()),
        ("--snp-ovmf-hash", base.snp_ovmf_hash.is_some()),
    ];
    if let Some((name, _)) = given.iter().find(|g| g.1) {
        return usage(format!("--qemu-cmdline gives the whole launch; {name} would contradict it"));
    }
    let text = read(path)?;
    let argv = split(&text).map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    let launch = parse(&argv).map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    let profile = base.qemu_profile();
    let spec = launch.spec(profile).map_err(|e| CliError::Failed(format!("{}: QEMU {}: {e}", path.display(), profile.version)))?;
    let mut a = base.clone();
    a.mode = match spec.mode {
        Mode::Snp => ModeArg::Snp,
        Mode::SevEs => ModeArg::Seves,
        Mode::Sev => ModeArg::Sev,
        Mode::Tdx => ModeArg::Tdx,
    };
    a.vcpus = Some(VcpuList(vec![spec.vcpus]));
    a.vcpu_type = spec.vcpu_type.filter(|_| matches!(spec.mode, Mode::Snp | Mode::SevEs));
    a.vcpu_sig = (a.vcpu_type.is_none() && matches!(spec.mode, Mode::Snp | Mode::SevEs)).then_some(spec.vcpu_sig);
    a.ovmf = Some(spec.firmware.into());
    a.kernel = spec.kernel.map(Into::into);
    a.initrd = spec.initrd.map(Into::into);
    a.append = spec.append.map(Into::into);
    a.guest_features = spec.guest_features;
    a.policy = spec.policy;
    a.tdx_page_order = PageOrderArg(spec.tdx_page_order);
    a.legacy_sev_es = spec.legacy_sev_es;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn one_argument_per_line_or_shell_words() {
        assert_eq!(split("qemu-system-x86_64\n-append\n  quiet\n-m\n\n").unwrap(), ["qemu-system-x86_64", "-append", "  quiet", "-m", ""]);
        assert_eq!(
            split("qemu-system-x86_64 -append 'console=ttyS0 ro' \\\n  -m 2G\n").unwrap(),
            ["qemu-system-x86_64", "-append", "console=ttyS0 ro", "-m", "2G"]
        );
        assert!(split("qemu -append 'unbalanced").is_err());
    }
}
