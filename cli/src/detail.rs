//! What `-v` and `-vv` say on stderr: the files read (how, how large, their SHA-256), the plan built
//! and how long each step took. Kept apart from the commands so that their stdout stays the result.

use std::time::Instant;

use prelaunch_files::Input;
use prelaunch_measure::hash::{Sha256, Sha256Digest};
use prelaunch_measure::plan::{LaunchPlan, PAGE_SIZE, stats};

use crate::output::Out;

/// `-v`: one line per input file read (`sha`: its SHA-256, when the caller has it already).
pub fn input(out: &Out, what: &str, f: &Input, sha: Option<&Sha256Digest>) {
    out.detail(1, || {
        let how = if f.is_mapped() { "mapped" } else { "read" };
        format!(
            "{what} {}: {} bytes, {how}, sha256 {}",
            prelaunch_files::show(f.path()),
            f.len(),
            sha.map_or_else(|| hex::encode(Sha256::digest(f)), hex::encode)
        )
    });
}

/// `-v`: the plan's shape and the time it took to build; `-vv`: its regions.
pub fn plan(out: &Out, plan: &LaunchPlan, started: Instant) {
    out.detail(1, || {
        let s = stats::stats(plan);
        let measured: u64 = plan.operations.iter().filter(|o| o.measured && !o.is_vmsa()).map(|o| o.len.div_ceil(PAGE_SIZE)).sum();
        format!(
            "plan: {}, {} operations ({} pages, {measured} measured; {} VMSAs), {} regions, {} generated pages; payload hashed and plan built in {:.1} ms",
            plan.mode.name(),
            plan.operations.len(),
            s.calls_4k,
            s.vmsas,
            plan.regions.len(),
            plan.pages.len(),
            ms(started)
        )
    });
    for r in &plan.regions {
        out.detail(2, || format!("region {}: [{:#x}, {:#x}) {}", r.name, r.gpa, r.end(), r.purpose.name()));
    }
}

/// `-v`: how long a step took.
pub fn timing(out: &Out, step: &str, started: Instant) {
    out.detail(1, || format!("{step} in {:.1} ms", ms(started)));
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
