//! Checks and the verdict they add up to.

use serde::Serialize;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// Could not run (a certificate or collateral is missing); fails the verdict.
    NotRun,
    /// Could not run, or was not run, and the user waived it by name.
    Waived,
}

/// What a failed check means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The evidence is not shown genuine (exit 4).
    Authenticity,
    /// Genuine, but not what was asked for (exit 3).
    Expectation,
}

/// One check: its name (`snp.report-signature`, `tdx.rtmr2`...), result and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub class: Class,
    pub detail: String,
}

/// The three answers a verifier gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Mismatch,
    NotAuthentic,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Mismatch => "mismatch",
            Outcome::NotAuthentic => "not-authentic",
        }
    }
}

/// Every check made on one piece of evidence, in order, with warnings about the input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
}

impl Verdict {
    pub fn push(&mut self, check: impl Into<String>, class: Class, status: Status, detail: impl Into<String>) {
        self.checks.push(Check { check: check.into(), status, class, detail: detail.into() });
    }

    pub fn pass(&mut self, check: impl Into<String>, class: Class, detail: impl Into<String>) {
        self.push(check, class, Status::Pass, detail);
    }

    pub fn fail(&mut self, check: impl Into<String>, class: Class, detail: impl Into<String>) {
        self.push(check, class, Status::Fail, detail);
    }

    /// Records `pass` or `fail` from a result.
    pub fn result(&mut self, check: impl Into<String>, class: Class, r: Result<String, String>) {
        match r {
            Ok(d) => self.pass(check, class, d),
            Err(d) => self.fail(check, class, d),
        }
    }

    /// Pass, fail, or (for `Ok(None)`) could not run for the reason `why`.
    pub fn result_or_not_run(
        &mut self,
        check: impl Into<String>,
        class: Class,
        r: Result<Option<String>, String>,
        why: &str,
        waiver: Waiver,
    ) {
        match r {
            Ok(Some(d)) => self.pass(check, class, d),
            Ok(None) => self.not_run(check, class, why, waiver),
            Err(d) => self.fail(check, class, d),
        }
    }

    /// A check that could not run: waived when `waiver` names a flag the user gave, else a failure.
    pub fn not_run(&mut self, check: impl Into<String>, class: Class, why: &str, waiver: Waiver) {
        match waiver {
            Waiver::Given(flag) => self.push(check, class, Status::Waived, format!("{why}; waived by {flag}")),
            Waiver::Available(flag) => self.push(check, class, Status::NotRun, format!("{why} (give {flag} to waive this)")),
            Waiver::None => self.push(check, class, Status::NotRun, why.to_string()),
        }
    }

    pub fn warn(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }

    pub fn get(&self, check: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == check)
    }

    /// Not authentic if any authenticity check did not pass (or was not waived); else a mismatch if
    /// any expectation did not; else ok.
    pub fn outcome(&self) -> Outcome {
        let failed = |class: Class| self.checks.iter().any(|c| c.class == class && matches!(c.status, Status::Fail | Status::NotRun));
        if failed(Class::Authenticity) {
            Outcome::NotAuthentic
        } else if failed(Class::Expectation) {
            Outcome::Mismatch
        } else {
            Outcome::Ok
        }
    }

    /// The checks that made the outcome what it is.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::NotRun))
    }
}

/// Whether a check that cannot run may be waived, and whether it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiver {
    /// The user gave this flag.
    Given(&'static str),
    /// This flag would waive it.
    Available(&'static str),
    /// Nothing waives it.
    None,
}

impl Waiver {
    pub fn by(flag: &'static str, given: bool) -> Waiver {
        if given { Waiver::Given(flag) } else { Waiver::Available(flag) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_passes_by_default() {
        let mut v = Verdict::default();
        assert_eq!(v.outcome(), Outcome::Ok);
        v.pass("a", Class::Authenticity, "fine");
        v.fail("m", Class::Expectation, "differs");
        assert_eq!(v.outcome(), Outcome::Mismatch);
        v.not_run("crl", Class::Authenticity, "no CRL", Waiver::by("--no-crl", false));
        assert_eq!(v.outcome(), Outcome::NotAuthentic);
        assert_eq!(v.get("crl").unwrap().detail, "no CRL (give --no-crl to waive this)");
        let mut w = Verdict::default();
        w.not_run("crl", Class::Authenticity, "no CRL", Waiver::by("--no-crl", true));
        assert_eq!((w.outcome(), w.checks[0].status), (Outcome::Ok, Status::Waived));
        assert_eq!(w.failures().count(), 0);
    }
}
