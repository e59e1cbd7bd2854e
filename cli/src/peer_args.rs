//! sev-snp-measure's option prefixes for `measure`.
//!
//! Its argparse accepts any unambiguous prefix of a long option (`--vcpu-t`, `--output`), and scripts
//! written for it use them. clap's `infer_long_args` resolves a prefix against prelaunch's own
//! options, where a prefix unique among the peer's can be ambiguous (`--ker`: `--kernel` or
//! `--kernel-hash`), so prefixes are first resolved against the peer's option list, as the peer
//! would; whatever is left goes to clap's inference over prelaunch's options.

use std::ffi::OsString;

/// sev-snp-measure 0.0.13's long options (sevsnpmeasure/cli.py) and whether each takes a value.
const PEER: &[(&str, bool)] = &[
    ("help", false),
    ("version", false),
    ("verbose", false),
    ("mode", true),
    ("vcpus", true),
    ("vcpu-type", true),
    ("vcpu-sig", true),
    ("vcpu-family", true),
    ("vcpu-model", true),
    ("vcpu-stepping", true),
    ("vmm-type", true),
    ("ovmf", true),
    ("kernel", true),
    ("initrd", true),
    ("append", true),
    ("guest-features", true),
    ("output-format", true),
    ("snp-ovmf-hash", true),
    ("dump-vmsa", false),
    ("svsm", true),
    ("vars-size", true),
    ("vars-file", true),
];

/// Rewrites, after the `measure` subcommand, each long option that is a unique prefix of one of the
/// peer's options to that option's full name. Exact names, values and everything after `--` are
/// left alone; `cmd` says which of prelaunch's options take a value (to skip their values).
pub fn expand(args: Vec<OsString>, cmd: &clap::Command) -> Vec<OsString> {
    // The subcommand is the first token that is neither a global flag nor `--color`'s value.
    let mut at = 1;
    while at < args.len() && args[at].to_string_lossy().starts_with('-') {
        at += if args[at] == "--color" { 2 } else { 1 };
    }
    if args.get(at).is_none_or(|a| a != "measure") {
        return args;
    }
    let Some(measure) = cmd.find_subcommand("measure") else { return args };
    let takes_value = |name: &str| {
        measure.get_arguments().chain(cmd.get_arguments()).find(|a| a.get_long() == Some(name)).map(|a| a.get_action().takes_values())
    };
    let mut out: Vec<OsString> = args[..=at].to_vec();
    let mut rest = args[at + 1..].iter();
    while let Some(arg) = rest.next() {
        let s = arg.to_string_lossy();
        if s == "--" {
            out.push(arg.clone());
            out.extend(rest.cloned());
            break;
        }
        let Some(long) = s.strip_prefix("--") else {
            out.push(arg.clone());
            continue;
        };
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let full = match takes_value(name) {
            Some(_) => name.to_owned(),
            None => {
                let hits: Vec<&(&str, bool)> = PEER.iter().filter(|(p, _)| p.starts_with(name)).collect();
                match hits.as_slice() {
                    [(p, _)] if !name.is_empty() => (*p).to_owned(),
                    _ => name.to_owned(),
                }
            }
        };
        match (value, arg.to_str()) {
            (_, None) => out.push(arg.clone()),
            (Some(v), Some(_)) => out.push(format!("--{full}={v}").into()),
            (None, Some(_)) => {
                out.push(format!("--{full}").into());
                if takes_value(&full) == Some(true) {
                    out.extend(rest.next().cloned());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        let v = args.iter().map(OsString::from).collect();
        expand(v, &crate::command()).into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn peer_prefixes_resolve_as_the_peer_resolves_them() {
        assert_eq!(
            run(&["p", "-v", "measure", "--mod", "snp", "--vcpu-t=EPYC", "--ker", "k", "--output", "base64", "--ov", "--vcpu-t"]),
            ["p", "-v", "measure", "--mode", "snp", "--vcpu-type=EPYC", "--kernel", "k", "--output-format", "base64", "--ovmf", "--vcpu-t"]
        );
        // Ambiguous for the peer too: left to clap, which refuses it.
        assert_eq!(run(&["p", "measure", "--vcpu-s", "1"]), ["p", "measure", "--vcpu-s", "1"]);
        // Exact names of prelaunch's own options, values that look like options, and `--`.
        assert_eq!(
            run(&["p", "--color", "never", "measure", "--kernel-hash", "00", "--ov", "f", "--append", "--ov"]),
            ["p", "--color", "never", "measure", "--kernel-hash", "00", "--ovmf", "f", "--append", "--ov"]
        );
        assert_eq!(run(&["p", "measure", "--", "--ov"]), ["p", "measure", "--", "--ov"]);
        // Another subcommand, or `measure` as a value, is not touched.
        assert_eq!(run(&["p", "inspect", "measure", "--ov"]), ["p", "inspect", "measure", "--ov"]);
    }
}
