//! What the user asked for beyond authenticity, and which checks they waived.

use std::collections::BTreeMap;

/// A minimum SNP TCB (`--min-tcb bl,tee,snp,ucode[,fmc]`): each SVN at least this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinTcb {
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
    pub fmc: Option<u8>,
}

impl std::str::FromStr for MinTcb {
    type Err = String;

    fn from_str(s: &str) -> Result<MinTcb, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let n = |i: usize| -> Result<u8, String> {
            let p = parts.get(i).copied().unwrap_or("");
            let v = p.strip_prefix("0x").map_or_else(|| p.parse::<u8>(), |h| u8::from_str_radix(h, 16));
            v.map_err(|_| format!("{s:?}: component {} is {p:?}, expected a number 0..=255", i + 1))
        };
        match parts.len() {
            4 | 5 => Ok(MinTcb {
                bootloader: n(0)?,
                tee: n(1)?,
                snp: n(2)?,
                microcode: n(3)?,
                fmc: if parts.len() == 5 { Some(n(4)?) } else { None },
            }),
            k => Err(format!("{s:?}: {k} components, expected bl,tee,snp,ucode or bl,tee,snp,ucode,fmc")),
        }
    }
}

/// One expected RTMR value and where it came from (`--rtmr`, an event log replay, ...): so that a
/// mismatch names the source of the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmrExpectation {
    pub index: u8,
    pub value: [u8; 48],
    pub source: String,
}

/// Everything to compare the evidence's fields with. `None` or empty: not asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The launch measurement (SNP MEASUREMENT, TDX MRTD).
    pub measurement: Option<Vec<u8>>,
    /// Where the expected measurement came from, for messages ("--expect", "computed from ...").
    pub measurement_source: String,
    pub report_data: Option<[u8; 64]>,
    pub host_data: Option<[u8; 32]>,
    pub id_key_digest: Option<[u8; 48]>,
    pub author_key_digest: Option<[u8; 48]>,
    pub vmpl: Option<u32>,
    pub min_tcb: Option<MinTcb>,
    /// TDX TCB statuses accepted besides UpToDate (`--accept-tcb-status`).
    pub accept_tcb_status: Vec<String>,
    /// Expected RTMRs by index; several sources may name the same register.
    pub rtmrs: Vec<RtmrExpectation>,
    /// Debug guests (SNP policy DEBUG, TD_ATTRIBUTES.DEBUG) are refused unless this is set.
    pub allow_debug: bool,
}

impl Expectations {
    /// The RTMR expectations grouped by register.
    pub fn rtmrs_by_index(&self) -> BTreeMap<u8, Vec<&RtmrExpectation>> {
        let mut m: BTreeMap<u8, Vec<&RtmrExpectation>> = BTreeMap::new();
        for r in &self.rtmrs {
            m.entry(r.index).or_default().push(r);
        }
        m
    }
}

/// Checks the user waived, by the flag that waives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waivers {
    /// `--measurement-only`: every authenticity check.
    pub measurement_only: bool,
    /// `--no-tcb`: the checks that need TDX collateral (TCB status, QE and module identity).
    pub no_tcb: bool,
    /// `--no-crl`: revocation, when no CRL is at hand.
    pub no_crl: bool,
}

/// `Ok` when `got` equals `want`, else a message with both values and the first differing byte.
pub(crate) fn compare(field: &str, got: &[u8], want: &[u8], source: &str) -> Result<String, String> {
    if got == want {
        return Ok(format!("{field} equals {source}"));
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
    Err(format!("{field} is {}, {source} is {} (first difference at byte {first})", hex::encode(got), hex::encode(want)))
}

/// The launch measurement check both platforms share.
pub(crate) fn measurement(v: &mut super::Verdict, field: &str, got: &[u8; 48], e: &Expectations) {
    if let Some(want) = &e.measurement {
        let source = if e.measurement_source.is_empty() { "the expected value" } else { e.measurement_source.as_str() };
        let r = compare(field, got, want, source)
            .map_err(|m| format!("{m}; `prelaunch diagnose` searches the configurations that could explain it"));
        v.result("measurement", super::Class::Expectation, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_tcb_parses_four_or_five_components() {
        assert_eq!("3,0,8,115".parse::<MinTcb>(), Ok(MinTcb { bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: None }));
        assert_eq!("1,2,3,0x44,5".parse::<MinTcb>().unwrap().fmc, Some(5));
        assert!("1,2,3".parse::<MinTcb>().unwrap_err().contains("3 components"));
        assert!("1,2,3,256".parse::<MinTcb>().unwrap_err().contains("component 4"));
    }
}
