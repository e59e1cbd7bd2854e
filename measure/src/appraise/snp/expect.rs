//! What the user asked of an SNP report beyond authenticity: measurement, policy (debug refused
//! unless allowed), report data, host data, key digests, VMPL, minimum TCB.

use crate::appraise::expect::{Expectations, compare, measurement};
use crate::appraise::verdict::{Class, Verdict};
use crate::report::{SnpReport, TcbLayout};

pub fn appraise(r: &SnpReport, e: &Expectations, v: &mut Verdict) {
    let x = Class::Expectation;
    measurement(v, "MEASUREMENT", &r.measurement, e);
    let p = r.policy_bits();
    let yes = |b: bool| if b { "allowed" } else { "not allowed" };
    let summary = format!(
        "POLICY {p}: debugging {}, migration agent {}, SMT {}, single socket {}",
        yes(p.debug),
        yes(p.migrate_ma),
        yes(p.smt),
        if p.single_socket { "required" } else { "not required" }
    );
    if p.debug && !e.allow_debug {
        v.fail("snp.policy", x, format!("{summary}: the host can read and change this guest's memory (give --allow-debug to accept)"));
    } else if let Err(err) = crate::snp::policy::check(p.raw) {
        // The firmware refuses such a policy at SNP_LAUNCH_START, so no launch it signed has one.
        v.fail("snp.policy", x, format!("{summary}: {err}"));
    } else {
        v.pass("snp.policy", x, summary);
    }
    if let Some(want) = &e.report_data {
        v.result("report-data", x, compare("REPORT_DATA", &r.report_data, want, "--report-data"));
    }
    if let Some(want) = &e.host_data {
        v.result("snp.host-data", x, compare("HOST_DATA", &r.host_data, want, "--host-data"));
    }
    if let Some(want) = &e.id_key_digest {
        v.result("snp.id-key-digest", x, compare("ID_KEY_DIGEST", &r.id_key_digest, want, "--id-key-digest"));
    }
    if let Some(want) = &e.author_key_digest {
        v.result("snp.author-key-digest", x, compare("AUTHOR_KEY_DIGEST", &r.author_key_digest, want, "--author-key-digest"));
    }
    if let Some(want) = e.vmpl {
        let r = if r.vmpl == want {
            Ok(format!("VMPL is {want}"))
        } else {
            Err(format!("VMPL is {}{}, --vmpl is {want}", r.vmpl, if r.vmpl == u32::MAX { " (a report the host requested)" } else { "" }))
        };
        v.result("snp.vmpl", x, r);
    }
    if let Some(min) = e.min_tcb {
        let turin = min.fmc.is_some() || r.tcb_layout() == Some(TcbLayout::Turin);
        let p = r.reported_tcb.parts(if turin { TcbLayout::Turin } else { TcbLayout::MilanGenoa });
        let mut pairs = vec![
            ("bootloader", p.bootloader, min.bootloader),
            ("tee", p.tee, min.tee),
            ("snp", p.snp, min.snp),
            ("microcode", p.microcode, min.microcode),
        ];
        if let Some(f) = min.fmc {
            pairs.push(("fmc", p.fmc.unwrap_or(0), f));
        }
        let low: Vec<String> = pairs.iter().filter(|(_, h, m)| h < m).map(|(n, h, m)| format!("{n} {h} < {m}")).collect();
        let all = pairs.iter().map(|(n, h, _)| format!("{n} {h}")).collect::<Vec<_>>().join(", ");
        let res = if low.is_empty() {
            Ok(format!("REPORTED_TCB ({all}) meets --min-tcb"))
        } else {
            Err(format!("REPORTED_TCB is below --min-tcb: {}", low.join(", ")))
        };
        v.result("snp.min-tcb", x, res);
    }
}
