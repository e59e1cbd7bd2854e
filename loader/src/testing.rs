//! Support for the project's tests (not part of the loader's API).

use std::io::Write;

/// Whether a test that needs KVM guest_memfd can run here. When it cannot, the test says so loudly
/// and should return (skip), unless `PRELAUNCH_REQUIRE_KVM=1` (as CI sets), which makes it panic:
/// a skip must never pass for a run there.
pub fn kvm_or_skip(test: &str) -> bool {
    match crate::kvm::guest_memfd_usable() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("PRELAUNCH_REQUIRE_KVM").as_deref() == Ok("1") {
                panic!("{test}: PRELAUNCH_REQUIRE_KVM=1 but KVM guest_memfd is unusable: {why}");
            }
            // Straight to the stderr stream, not eprintln!: the test harness swallows that for a
            // test that passes, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED {test}: KVM guest_memfd is unusable here ({why}); set PRELAUNCH_REQUIRE_KVM=1 to fail instead"
            );
            // And to the run's skip log, for scripts/test's summary line.
            if let Some(log) = std::env::var_os("PRELAUNCH_SKIP_LOG") {
                let f = std::fs::OpenOptions::new().create(true).append(true).open(log);
                let _ = f.and_then(|mut f| writeln!(f, "{test}: {why}"));
            }
            false
        }
    }
}
