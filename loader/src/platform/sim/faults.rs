//! Faults the sim platform injects, to show that the loader resumes correctly (partial progress,
//! EINTR, EAGAIN) and that a changed byte is caught and located.

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
}

/// Counts attempts and says when the n-th one is due to fail.
#[derive(Debug, Clone, Default)]
pub(crate) struct Every {
    attempts: u32,
}

impl Every {
    pub(crate) fn fires(&mut self, every: Option<u32>) -> bool {
        self.attempts = self.attempts.wrapping_add(1);
        every.is_some_and(|n| self.attempts.is_multiple_of(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fires_on_multiples() {
        let mut e = Every::default();
        let fired: Vec<bool> = (0..6).map(|_| e.fires(Some(3))).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
        assert!(!Every::default().fires(None));
    }
}
