//! `prelaunch verify`: does a report or quote carry the expected launch measurement?

use std::path::PathBuf;

use clap::Args;
use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::Mode;
use prelaunch_measure::digest;
use prelaunch_measure::report::{Evidence, Vcek};
use serde_json::{Value, json};

use crate::error::{CliError, Context, usage};
use crate::launch::{Files, LaunchArgs};
use crate::outln;
use crate::output::{Out, Style, print_json};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// SNP attestation report (1184 bytes), TDX quote (v4/v5) or raw TDREPORT (1024 bytes).
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// The expected measurement (hex); otherwise computed from the launch arguments.
    #[arg(long, value_name = "HEX", conflicts_with = "mode")]
    pub expect: Option<String>,
    /// VCEK certificate (PEM or DER) to check an SNP report's signature offline.
    #[arg(long, value_name = "PEM")]
    pub vcek: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub launch: Option<LaunchArgs>,
}

/// Maps and recognises evidence, naming the file in errors; the mapping is kept for signature checks.
pub fn read_evidence(path: &std::path::Path) -> Result<(Input, Evidence), CliError> {
    let f = Input::open(path, Kind::EVIDENCE)?;
    let ev = Evidence::detect(&f).in_file(path)?;
    Ok((f, ev))
}

pub fn parse_expected(hex_str: &str) -> Result<Vec<u8>, CliError> {
    let b = hex::decode(hex_str.trim().trim_start_matches("0x"))
        .map_err(|e| CliError::Usage(format!("--expect {hex_str:?}: not hex ({e})")))?;
    if b.len() != 48 && b.len() != 32 {
        return usage(format!("--expect: {} bytes; expected a 48-byte (SNP, TDX) or 32-byte (SEV) measurement", b.len()));
    }
    Ok(b)
}

pub fn run(a: &VerifyArgs, out: &Out) -> Result<(), CliError> {
    let (report_bytes, ev) = read_evidence(&a.report)?;
    let expected: Vec<u8> = match (&a.expect, &a.launch) {
        (Some(e), _) => parse_expected(e)?,
        (None, Some(l)) => {
            let want = match ev {
                Evidence::SnpReport(_) => Mode::Snp,
                _ => Mode::Tdx,
            };
            if l.mode.mode() != want {
                return usage(format!("{} is a {}, but --mode {} was given", show(&a.report), ev.kind(), l.mode_name()));
            }
            let files = Files::default();
            let launch = l.build(out, &files)?;
            if !launch.vcpus.is_single() {
                return usage("verify takes one --vcpus count; use `prelaunch diagnose` to search several");
            }
            let m = digest::fold_observed(&launch.plan, launch.resume, None)
                .map_err(|e| CliError::Failed(format!("{}: {e}", launch.firmware_path().display())))?;
            m.as_bytes().to_vec()
        }
        (None, None) => return usage("give --expect HEX or the launch arguments (--mode, --ovmf, ...) to compute it"),
    };
    let signature = match (&a.vcek, &ev) {
        (None, _) => None,
        (Some(p), Evidence::SnpReport(_)) => {
            let cert = Input::open(p, Kind::CERTIFICATE)?;
            let vcek = Vcek::from_pem_or_der(&cert).in_file(p)?;
            Some(vcek.verify(&report_bytes).map(|_| ()).map_err(|e| e.to_string()))
        }
        (Some(_), _) => return usage("--vcek applies to SNP reports only"),
    };
    let got = ev.launch_measurement();
    let matches = got[..] == expected[..];
    if a.json {
        let mut doc = json!({
            "kind": ev.kind(),
            "measurement": hex::encode(got),
            "expected": hex::encode(&expected),
            "match": matches,
            "report_data": hex::encode(ev.report_data()),
            "signature": signature.as_ref().map(|s| match s { Ok(()) => json!("valid"), Err(e) => json!({"invalid": e}) }),
        });
        add_details(&mut doc, &ev);
        print_json(&doc)?;
    } else {
        print_human(&ev, got, &expected, matches, signature.as_ref(), out);
    }
    if let Some(Err(e)) = signature {
        return Err(CliError::Failed(format!("{}: the report's signature does not verify with the VCEK: {e}", show(&a.report))));
    }
    if !matches {
        return Err(CliError::Mismatch(format!(
            "{}: measurement differs from the expected value; `prelaunch diagnose` searches the configurations that could explain it",
            show(&a.report)
        )));
    }
    Ok(())
}

fn add_details(doc: &mut Value, ev: &Evidence) {
    if let Evidence::SnpReport(r) = ev {
        doc["version"] = json!(r.version);
        doc["policy"] = json!(r.policy);
        doc["vmpl"] = json!(r.vmpl);
        doc["host_data"] = json!(hex::encode(r.host_data));
        doc["id_key_digest"] = json!(hex::encode(r.id_key_digest));
        doc["author_key_digest"] = json!(hex::encode(r.author_key_digest));
    }
    if let Evidence::TdxQuote(q) = ev {
        doc["version"] = json!(q.version);
    }
    if let Some(td) = ev.td_fields() {
        doc["td_attributes"] = json!(td.attributes);
        doc["debug"] = json!(td.debug());
        doc["xfam"] = json!(td.xfam);
        doc["rtmr"] = json!(td.rtmr.iter().map(hex::encode).collect::<Vec<_>>());
        doc["mr_config_id"] = json!(hex::encode(td.mr_config_id));
    }
}

fn print_human(ev: &Evidence, got: &[u8; 48], expected: &[u8], matches: bool, sig: Option<&Result<(), String>>, out: &Out) {
    let label = match ev {
        Evidence::SnpReport(_) => "MEASUREMENT",
        _ => "MRTD",
    };
    outln!("{}", out.paint(Style::Bold, ev.kind()));
    outln!("  {label:<12} {}", hex::encode(got));
    outln!("  {:<12} {}", "expected", hex::encode(expected));
    if !matches {
        let first = got.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
        outln!("  {:<12} {}^ first differing byte: {first}", "", " ".repeat(first * 2));
    }
    outln!("  {:<12} {}", "match", if matches { out.paint(Style::Good, "yes") } else { out.paint(Style::Bad, "NO") });
    match sig {
        Some(Ok(())) => outln!("  {:<12} {}", "signature", out.paint(Style::Good, "valid (VCEK)")),
        Some(Err(e)) => outln!("  {:<12} {}", "signature", out.paint(Style::Bad, &format!("INVALID: {e}"))),
        None => {}
    }
    outln!("  {:<12} {}", "report data", hex::encode(ev.report_data()));
    if let Evidence::SnpReport(r) = ev {
        outln!("  {:<12} {:#x}", "policy", r.policy);
        if r.id_key_digest.iter().any(|&b| b != 0) {
            outln!("  {:<12} {}", "id key", hex::encode(r.id_key_digest));
        }
    }
    let td = ev.td_fields();
    if let Some(td) = td {
        outln!("  {:<12} {:#018x}{}", "attributes", td.attributes, if td.debug() { " (DEBUG)" } else { "" });
    }
    let rtmrs = td.map(|t| t.rtmr);
    for (i, r) in rtmrs.into_iter().flatten().enumerate() {
        outln!("  {:<12} {}", format!("RTMR{i}"), hex::encode(r));
    }
}
