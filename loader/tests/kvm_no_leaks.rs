//! 100 loads in one process (guest_memfd, memslots, vCPUs of the guest check) leave no file
//! descriptor and no mapping behind. Its own test binary: nothing else runs while it counts.

#[path = "it/common/mod.rs"]
mod common;

use common::*;
use prelaunch_loader::{LoadOptions, MemoryChoice, MemoryKind, load};
use prelaunch_measure::plan::Mode;

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

#[test]
fn a_hundred_loads_leave_no_fd_or_mapping_behind() {
    if !kvm_or_skip("a_hundred_loads_leave_no_fd_or_mapping_behind") {
        return;
    }
    let fw = firmware("trixie_OVMF_CODE_4M.fd");
    let plan = amd_plan(&fw, Mode::Snp, 2);
    let checked = &plan;
    let opts = |i: usize| LoadOptions { memory: MemoryChoice::GuestMemfd, check_guest: i.is_multiple_of(10), ..Default::default() };
    // One load first: the allocator and the thread pool keep what they grow on first use.
    assert_eq!(load(checked, opts(0)).unwrap().memory, MemoryKind::GuestMemfd);
    let (fd0, map0) = (fds(), maps());
    for i in 0..100 {
        let r = load(checked, opts(i)).unwrap();
        assert!(r.digest.is_some());
    }
    let (fd1, map1) = (fds(), maps());
    assert_eq!(fd1, fd0, "file descriptors before and after 100 loads");
    assert!(map1 <= map0, "mappings before and after 100 loads: {map0} -> {map1}");
}
