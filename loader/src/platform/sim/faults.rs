//! Faults the sim platform injects, to show that the loader resumes correctly (partial progress,
//! EINTR, EAGAIN) and that a changed byte is caught and located.

use std::str::FromStr;

/// The faults of one sim launch. The default injects none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimFaults {
    /// Each populate call does at most this many 4 KiB pages (partial progress, as KVM reports it
    /// by advancing gfn_start/uaddr/len or nr_pages).
    pub partial_pages: Option<u64>,
    /// Every n-th populate attempt fails with EINTR before doing anything.
    pub eintr_every: Option<u32>,
    /// Every n-th conversion attempt converts the first half of its range and fails with EAGAIN,
    /// reporting where it stopped (error_offset).
    pub eagain_every: Option<u32>,
    /// Bytes flipped in guest memory after the image was copied in, before it is measured.
    pub corrupt: Vec<u64>,
}

impl SimFaults {
    pub fn is_empty(&self) -> bool {
        *self == SimFaults::default()
    }

    /// Adds one fault from `NAME=VALUE`: `partial=PAGES`, `eintr=EVERY`, `eagain=EVERY`, `corrupt=GPA`.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        let (name, value) = spec.split_once('=').ok_or_else(|| format!("{spec:?}: expected NAME=VALUE"))?;
        let num = |v: &str| -> Result<u64, String> {
            let v = v.trim();
            let r = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => u64::from_str(v),
            };
            r.map_err(|_| format!("{spec:?}: {v:?} is not a number"))
        };
        let every = |v: &str| -> Result<u32, String> {
            u32::try_from(num(v)?).ok().filter(|&n| n > 0).ok_or_else(|| format!("{spec:?}: expected a count from 1"))
        };
        match name.trim() {
            "partial" => self.partial_pages = Some(num(value)?.max(1)),
            "eintr" => self.eintr_every = Some(every(value)?),
            "eagain" => self.eagain_every = Some(every(value)?),
            "corrupt" => self.corrupt.push(num(value)?),
            other => return Err(format!("unknown fault {other:?}; known: partial=PAGES, eintr=EVERY, eagain=EVERY, corrupt=GPA")),
        }
        Ok(())
    }
}

/// Counts attempts and says when the n-th one is due to fail.
#[derive(Debug, Clone, Default)]
pub(crate) struct Every {
    attempts: u32,
}

impl Every {
    pub(crate) fn fires(&mut self, every: Option<u32>) -> bool {
        self.attempts = self.attempts.wrapping_add(1);
        every.is_some_and(|n| self.attempts % n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_specs() {
        let mut f = SimFaults::default();
        assert!(f.is_empty());
        f.add("partial=3").unwrap();
        f.add("eintr=2").unwrap();
        f.add("eagain=1").unwrap();
        f.add("corrupt=0xffff1234").unwrap();
        assert_eq!(f, SimFaults { partial_pages: Some(3), eintr_every: Some(2), eagain_every: Some(1), corrupt: vec![0xffff_1234] });
        assert!(f.add("eintr=0").is_err());
        assert!(f.add("bogus=1").unwrap_err().contains("known"));
        assert!(f.add("partial").is_err());
        assert!(f.add("corrupt=xyz").is_err());
    }

    #[test]
    fn every_fires_on_multiples() {
        let mut e = Every::default();
        let fired: Vec<bool> = (0..6).map(|_| e.fires(Some(3))).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
        assert!(!Every::default().fires(None));
    }
}
