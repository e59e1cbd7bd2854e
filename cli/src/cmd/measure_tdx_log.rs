//! `measure --mode tdx --event-log FILE`: the guest's own CC event log (the CCEL ACPI table's data)
//! against the events prelaunch expects; per register, the first event that differs and the input
//! it comes from, so a wrong RTMR names what to change.

use std::path::Path;

use prelaunch_measure::eventlog::EventLog;
use prelaunch_measure::tdx::boot::Expected;
use prelaunch_measure::tdx::compare::{Difference, first_differences};
use serde_json::{Value, json};

use crate::error::{CliError, Context};
use crate::outln;

/// The comparison of one log with one expected boot.
pub struct LogComparison {
    /// No register prelaunch computed differs.
    pub agrees: bool,
    pub json: Value,
    rows: Vec<(&'static str, Option<Difference>)>,
}

/// Reads `path` and compares it with `e`.
pub fn compare(path: &Path, e: &Expected) -> Result<LogComparison, CliError> {
    let (bytes, _) = super::event_log::load(path)?;
    let log = EventLog::parse(&bytes).in_file(path)?;
    let mut rows = Vec::new();
    let mut doc = Vec::new();
    for (r, d) in first_differences(e, &log).into_iter().enumerate() {
        // A register prelaunch could not compute is reported as not compared, not as a mismatch.
        let status = match (&d, e.rtmrs[r].is_some()) {
            (_, false) => "not compared",
            (None, true) => "agrees",
            (Some(_), true) => "differs",
        };
        doc.push(json!({"rtmr": r, "status": status, "first_difference": d}));
        rows.push((status, d));
    }
    Ok(LogComparison { agrees: rows.iter().all(|(s, _)| *s != "differs"), json: Value::Array(doc), rows })
}

impl LogComparison {
    pub fn print(&self, path: &Path, e: &Expected) {
        for (r, (status, d)) in self.rows.iter().enumerate() {
            print(path, r, status, d.as_ref(), e);
        }
    }
}

fn print(path: &Path, r: usize, status: &str, d: Option<&Difference>, e: &Expected) {
    let n = e.events.iter().filter(|x| x.rtmr == r).count();
    match (status, d) {
        ("agrees", _) => outln!("event log RTMR{r}: agrees ({n} events)"),
        ("not compared", _) => outln!("event log RTMR{r}: not compared: prelaunch needs {}", e.missing[r].join("; ")),
        (_, Some(d)) => {
            outln!("event log RTMR{r}: differs at its event {} ({})", d.position, path.display());
            match &d.expected {
                Some(x) => outln!(
                    "  expected {} {} {} (from {}; rule {})",
                    x.type_name(),
                    hex::encode(x.digest),
                    x.description,
                    input_name(&x.input),
                    x.change.id
                ),
                None => outln!("  expected no further event (prelaunch predicts {n})"),
            }
            match &d.logged {
                Some(l) => outln!("  logged   {} {} (log event {}, offset {:#x})", l.type_name, l.digest, l.index, l.offset),
                None => outln!("  logged   nothing: the log has fewer events for RTMR{r}"),
            }
        }
        _ => {}
    }
}

/// The input a user changes to change the event.
fn input_name(i: &prelaunch_measure::tdx::events::EventInput) -> String {
    use prelaunch_measure::tdx::events::EventInput as I;
    match i {
        I::TdHob { memory } => format!("the TD HOB: --memory {memory}"),
        I::Cfv => "the variable store (CFV, --vars-file)".into(),
        I::SecureBootVariable { name } => format!("Secure Boot variable {name} in the variable store"),
        I::Separator => "the firmware (separator)".into(),
        I::AcpiLoader => "QEMU's ACPI table loader (--acpi-loader)".into(),
        I::AcpiBlob { name } => format!("QEMU's ACPI blob {name}"),
        I::FwCfg { name } => format!("fw_cfg item {name} (--fw-cfg)"),
        I::Smbios => "the SMBIOS table (--smbios)".into(),
        I::BootVariable { name } => format!("boot variable {name} (--boot-var)"),
        I::Kernel { patched } => {
            format!("the kernel (--kernel; QEMU's setup-header patch {})", if *patched { "applied" } else { "not applied" })
        }
        I::Action => "the firmware (EFI action string)".into(),
        I::LoadOptions => "the command line (--append) as OVMF passes it".into(),
        I::Initrd => "the initrd (--initrd)".into(),
    }
}
