//! How a verdict is shown: the fields `verify` always printed, then every check and the verdict;
//! `--json` keeps the earlier fields and adds `verdict`, `checks` and `warnings`.

use std::path::Path;

use prelaunch_measure::appraise::{Expectations, Outcome, Status, Verdict};
use prelaunch_measure::report::Evidence;
use serde_json::{Value, json};

use prelaunch_files::show;

use crate::error::CliError;
use crate::output::{Out, Style, print_json};

fn write_line(s: &str) -> Result<(), CliError> {
    crate::outln!("{s}");
    Ok(())
}

/// The signature check's result in the earlier `signature` field's shape.
fn signature_field(v: &Verdict) -> Value {
    let c = v.get("snp.report-signature").or_else(|| v.get("tdx.quote-signature"));
    match c.map(|c| (c.status, &c.detail)) {
        Some((Status::Pass, _)) => json!("valid"),
        Some((Status::Fail, d)) => json!({ "invalid": d }),
        _ => Value::Null,
    }
}

fn document(ev: &Evidence, v: &Verdict, e: &Expectations) -> Value {
    let got = ev.launch_measurement();
    let mut doc = json!({
        "kind": ev.kind(),
        "measurement": hex::encode(got),
        "expected": e.measurement.as_ref().map(hex::encode),
        "match": e.measurement.as_ref().map(|m| m[..] == got[..]),
        "report_data": hex::encode(ev.report_data()),
        "signature": signature_field(v),
    });
    if let Evidence::SnpReport(r) = ev {
        doc["version"] = json!(r.version);
        doc["policy"] = json!(r.policy);
        doc["policy_bits"] = json!(r.policy_bits());
        doc["vmpl"] = json!(r.vmpl);
        doc["host_data"] = json!(hex::encode(r.host_data));
        doc["id_key_digest"] = json!(hex::encode(r.id_key_digest));
        doc["author_key_digest"] = json!(hex::encode(r.author_key_digest));
    }
    if let Evidence::TdxQuote(q) = ev {
        doc["version"] = json!(q.version);
        doc["body_type"] = json!(q.body_kind.body_type());
    }
    if let Some(td) = ev.td_fields() {
        doc["td_attributes"] = json!(td.attributes);
        doc["debug"] = json!(td.debug());
        doc["xfam"] = json!(td.xfam);
        doc["rtmr"] = json!(td.rtmr.iter().map(hex::encode).collect::<Vec<_>>());
        doc["mr_config_id"] = json!(hex::encode(td.mr_config_id));
    }
    doc["verdict"] = json!(v.outcome().as_str());
    doc["checks"] = json!(v.checks);
    doc["warnings"] = json!(v.warnings);
    doc
}

fn outcome_word(o: Outcome, out: &Out) -> String {
    match o {
        Outcome::Ok => out.paint(Style::Good, "ok"),
        Outcome::Mismatch => out.paint(Style::Bad, "MISMATCH"),
        Outcome::NotAuthentic => out.paint(Style::Bad, "NOT AUTHENTIC"),
    }
}

/// One piece of evidence, in full.
pub fn single(ev: &Evidence, v: &Verdict, e: &Expectations, json: bool, out: &Out) -> Result<(), CliError> {
    for w in &v.warnings {
        out.warn(w);
    }
    if json {
        return print_json(&document(ev, v, e));
    }
    let got = ev.launch_measurement();
    let label = if matches!(ev, Evidence::SnpReport(_)) { "MEASUREMENT" } else { "MRTD" };
    let mut lines = vec![out.paint(Style::Bold, ev.kind()), format!("  {label:<12} {}", hex::encode(got))];
    if let Some(want) = &e.measurement {
        lines.push(format!("  {:<12} {}", "expected", hex::encode(want)));
        let matches = want[..] == got[..];
        if !matches {
            let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
            lines.push(format!("  {:<12} {}^ first differing byte: {first}", "", " ".repeat(first * 2)));
        }
        lines.push(format!("  {:<12} {}", "match", if matches { out.paint(Style::Good, "yes") } else { out.paint(Style::Bad, "NO") }));
    }
    lines.push(format!("  {:<12} {}", "report data", hex::encode(ev.report_data())));
    if let Evidence::SnpReport(r) = ev {
        lines.push(format!("  {:<12} {}", "policy", r.policy_bits()));
        if r.id_key_digest.iter().any(|&b| b != 0) {
            lines.push(format!("  {:<12} {}", "id key", hex::encode(r.id_key_digest)));
        }
    }
    if let Some(td) = ev.td_fields() {
        lines.push(format!("  {:<12} {:#018x}{}", "attributes", td.attributes, if td.debug() { " (DEBUG)" } else { "" }));
        for (i, r) in td.rtmr.iter().enumerate() {
            lines.push(format!("  {:<12} {}", format!("RTMR{i}"), hex::encode(r)));
        }
    }
    lines.push("  checks".to_string());
    for c in &v.checks {
        let status = match c.status {
            Status::Pass => out.paint(Style::Good, "pass   "),
            Status::Fail => out.paint(Style::Bad, "FAIL   "),
            Status::NotRun => out.paint(Style::Bad, "NOT RUN"),
            Status::Waived => out.paint(Style::Warn, "waived "),
        };
        lines.push(format!("    {status} {:<24} {}", c.check, c.detail));
    }
    lines.push(format!("  {:<12} {}", "verdict", outcome_word(v.outcome(), out)));
    write_line(&lines.join("\n"))
}

/// One line per evidence file in batch use.
pub fn batch_line(path: &Path, ev: &Evidence, v: &Verdict, e: &Expectations, json: bool, out: &Out) -> Result<(), CliError> {
    if json {
        let mut doc = document(ev, v, e);
        doc["file"] = json!(show(path).to_string());
        return write_line(&serde_json::to_string(&doc).map_err(|e| CliError::Failed(e.to_string()))?);
    }
    let failed: Vec<String> = v.failures().map(|c| format!("{}: {}", c.check, c.detail)).collect();
    let why = if failed.is_empty() { String::new() } else { format!(" ({})", failed.join("; ")) };
    write_line(&format!("{}: {}{why}", show(path), outcome_word(v.outcome(), out)))
}

/// A file that could not be read, in batch use.
pub fn batch_error(path: &Path, e: &CliError, json: bool) -> Result<(), CliError> {
    if json {
        let doc = json!({ "file": show(path).to_string(), "error": e.to_string() });
        return write_line(&doc.to_string());
    }
    crate::errln!("prelaunch: error: {e}");
    Ok(())
}
