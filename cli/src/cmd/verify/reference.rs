//! `verify --reference FILE`: the launch measurement (and, for TDX, RTMR0-2) looked up in a set of
//! reference values in any format `prelaunch reference-values` writes (JSON, CoRIM, signed CoRIM,
//! GCE, Trustee) instead of compared with one value. A match names the launch shape it stands for;
//! no match names the nearest entries and what differs.

use std::path::{Path, PathBuf};

use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::appraise::verdict::Waiver;
use prelaunch_measure::appraise::{Class, Verdict};
use prelaunch_measure::reference::matching::{self, Observed};
use prelaunch_measure::reference::{self, Platform, ReferenceError, ReferenceSet, Signature, cose};
use prelaunch_measure::report::Evidence;

use super::super::reference_values::REFERENCE_FILE;
use crate::error::{CliError, Context};

/// How many near entries a miss lists.
const NEAREST: usize = 3;

/// A reference set read for `verify`, and how its signature was handled.
pub struct Reference {
    path: PathBuf,
    format: &'static str,
    signature: Signature,
    set: ReferenceSet,
    /// `--no-reference-signature`: a signed file read without `--reference-key` is waived.
    waive_signature: bool,
}

impl Reference {
    /// Reads `file`; a signed CoRIM is verified with `key` (PEM public key or certificate) when
    /// given. A signature that does not verify is "not authentic" (exit 4), not a bad input.
    pub fn open(file: &Path, key: Option<&Path>, waive_signature: bool) -> Result<Reference, CliError> {
        let bytes = Input::open(file, REFERENCE_FILE)?;
        let key = key
            .map(|k| Input::open(k, Kind::CERTIFICATE).map_err(CliError::from).and_then(|b| cose::verifying_key(&b).in_file(k)))
            .transpose()?;
        let (format, signature, set) = match reference::decode(&bytes, key.as_ref()) {
            Err(ReferenceError::Cose(cose::CoseError::BadSignature)) => {
                return Err(CliError::NotAuthentic(format!(
                    "{}: the COSE_Sign1 signature does not verify with --reference-key",
                    show(file)
                )));
            }
            r => r.in_file(file)?,
        };
        if signature == Signature::None && key.is_some() {
            return Err(CliError::Usage(format!(
                "--reference-key: {} is not signed ({}), so there is nothing to verify it with",
                show(file),
                format.name()
            )));
        }
        if set.entries.is_empty() {
            return Err(CliError::Failed(format!("{}: no entries; nothing could match", show(file))));
        }
        Ok(Reference { path: file.to_path_buf(), format: format.name(), signature, set, waive_signature })
    }

    /// Adds the `reference.signature` and `measurement` checks (and `reference.policy` when the
    /// matched entries fix a policy) for `ev` to `v`.
    pub fn check(&self, ev: &Evidence, v: &mut Verdict) {
        let file = show(&self.path);
        match self.signature {
            Signature::None => {}
            Signature::Verified => {
                v.pass("reference.signature", Class::Authenticity, format!("{file}: COSE_Sign1 ES384 verified with --reference-key"))
            }
            Signature::Unchecked => v.not_run(
                "reference.signature",
                Class::Authenticity,
                &format!("{file} is a signed CoRIM and no --reference-key was given to verify it"),
                Waiver::by("--no-reference-signature", self.waive_signature),
            ),
        }
        let (platform, field) = match ev {
            Evidence::SnpReport(_) => (Platform::Snp, "MEASUREMENT"),
            _ => (Platform::Tdx, "MRTD"),
        };
        let launch = *ev.launch_measurement();
        let o = Observed {
            platform,
            launch,
            rtmrs: ev.td_fields().map(|t| [t.rtmr[0], t.rtmr[1], t.rtmr[2]]),
            policy: match ev {
                Evidence::SnpReport(r) => Some(r.policy),
                _ => None,
            },
        };
        let of_platform = self.set.entries.iter().filter(|e| e.platform == platform).count();
        if of_platform == 0 {
            let r = Err(format!("{file} ({}) holds no {} entries; the evidence is a {}", self.format, platform.name(), ev.kind()));
            v.result("measurement", Class::Expectation, r);
            return;
        }
        let l = matching::lookup(&self.set, &o, NEAREST);
        let Some(&first) = l.matched.first() else {
            let near: Vec<String> = l
                .nearest
                .iter()
                .map(|n| {
                    let e = &self.set.entries[n.index];
                    format!("entry {} ({}) differs in {}", n.index, e.shape.describe(), n.differ.join(", "))
                })
                .collect();
            let r = Err(format!(
                "{field} {} is in none of the {of_platform} {} entries of {file}; nearest: {}",
                hex::encode(launch),
                platform.name(),
                if near.is_empty() { "none".to_string() } else { near.join("; ") }
            ));
            v.result("measurement", Class::Expectation, r);
            return;
        };
        let shape = self.set.entries[first].shape.describe();
        let more = match l.matched.len() {
            1 => String::new(),
            n => format!(" (and {} more entries with the same values)", n - 1),
        };
        let what = if platform == Platform::Tdx && l.rtmrs_compared { format!("{field} and RTMR0-2") } else { field.to_string() };
        v.pass("measurement", Class::Expectation, format!("{what} match entry {first} of {file}: {shape}{more}"));
        if platform == Platform::Tdx && !l.rtmrs_compared {
            v.warn(format!("{file}: the matched entries do not fix RTMR0-2, so they were not compared (give --rtmr)"));
        }
        // The SNP policy is beside the measurement, not in it: an entry that fixes one must agree.
        if let Some(p) = o.policy {
            let fixed: Vec<u64> = l.matched.iter().filter_map(|&i| self.set.entries[i].shape.policy).collect();
            if !fixed.is_empty() {
                let r = if fixed.contains(&p) {
                    Ok(format!("policy {p:#x} is the matched entry's"))
                } else {
                    Err(format!("policy {p:#x}; the matched entries of {file} fix {:#x}", fixed[0]))
                };
                v.result("reference.policy", Class::Expectation, r);
            }
        }
    }
}
