//! Page states as the firmware tracks them (the RMP on AMD, the Secure-EPT on TDX): every 4 KiB page
//! of every region starts shared; conversion makes it private; populate makes it populated, once.

use prelaunch_measure::plan::{PAGE_SIZE, Region};

/// One page's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    Shared,
    Private,
    Populated,
}

/// Why a page cannot be populated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPopulatable {
    NoMemory,
    Shared,
    AlreadyPopulated,
}

/// The state of every page of the mapped regions (sorted by GPA, so a lookup is a binary search).
#[derive(Debug, Clone)]
pub struct PageStates {
    regions: Vec<(u64, Vec<PageState>)>,
}

impl PageStates {
    pub fn new(regions: &[Region]) -> Self {
        let mut regions: Vec<(u64, Vec<PageState>)> =
            regions.iter().map(|r| (r.gpa, vec![PageState::Shared; (r.size / PAGE_SIZE) as usize])).collect();
        regions.sort_by_key(|r| r.0);
        PageStates { regions }
    }

    /// The region that would hold `gpa`: the last starting at or below it.
    fn region(&self, gpa: u64) -> Option<(usize, usize)> {
        let i = self.regions.partition_point(|r| r.0 <= gpa).checked_sub(1)?;
        let page = usize::try_from((gpa - self.regions[i].0) / PAGE_SIZE).ok()?;
        (page < self.regions[i].1.len()).then_some((i, page))
    }

    fn slot(&mut self, gpa: u64) -> Option<&mut PageState> {
        let (i, page) = self.region(gpa)?;
        self.regions[i].1.get_mut(page)
    }

    pub fn get(&self, gpa: u64) -> Option<PageState> {
        let (i, page) = self.region(gpa)?;
        self.regions[i].1.get(page).copied()
    }

    /// Marks `[gpa, gpa + len)` private (populated pages stay populated). `None` if any page lies
    /// outside guest memory; nothing changes then.
    pub fn make_private(&mut self, gpa: u64, len: u64) -> Option<()> {
        let pages = len.div_ceil(PAGE_SIZE);
        let first = gpa & !(PAGE_SIZE - 1);
        (0..pages).try_for_each(|p| self.get(first + p * PAGE_SIZE).map(|_| ()))?;
        for p in 0..pages {
            if let Some(s) = self.slot(first + p * PAGE_SIZE)
                && *s == PageState::Shared
            {
                *s = PageState::Private;
            }
        }
        Some(())
    }

    /// Whether the page at `gpa` may be populated now.
    pub fn check_populatable(&self, gpa: u64) -> Result<(), NotPopulatable> {
        match self.get(gpa) {
            None => Err(NotPopulatable::NoMemory),
            Some(PageState::Shared) => Err(NotPopulatable::Shared),
            Some(PageState::Populated) => Err(NotPopulatable::AlreadyPopulated),
            Some(PageState::Private) => Ok(()),
        }
    }

    pub fn set_populated(&mut self, gpa: u64) {
        if let Some(s) = self.slot(gpa) {
            *s = PageState::Populated;
        }
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::RegionPurpose;

    use super::*;

    #[test]
    fn pages_go_shared_private_populated() {
        let mut s =
            PageStates::new(&[Region { name: "r".into(), purpose: RegionPurpose::Ram, gpa: 0x20_0000, size: 0x20_0000, gmem_offset: 0 }]);
        assert_eq!(s.check_populatable(0x20_0000), Err(NotPopulatable::Shared));
        assert_eq!(s.check_populatable(0x1000), Err(NotPopulatable::NoMemory));
        assert!(s.make_private(0x20_0000, 0x2000).is_some());
        assert!(s.check_populatable(0x20_1000).is_ok());
        assert_eq!(s.check_populatable(0x20_2000), Err(NotPopulatable::Shared));
        s.set_populated(0x20_1000);
        assert_eq!(s.check_populatable(0x20_1000), Err(NotPopulatable::AlreadyPopulated));
        assert!(s.make_private(0x20_0000, 0x2000).is_some());
        assert_eq!(s.get(0x20_1000), Some(PageState::Populated), "conversion leaves populated pages alone");
        assert!(s.make_private(0x3f_f000, 0x2000).is_none(), "runs past the region");
        assert_eq!(s.get(0x3f_f000), Some(PageState::Shared), "a refused conversion changes nothing");
    }
}
