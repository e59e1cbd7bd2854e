//! Every difference between two launch plans that can change a digest, named: pages only one plan
//! populates, pages populated with another type or other contents, a different page order, and the
//! VMSAs (count, GPA, position, each differing field). `--explain` uses it to say why an IGVM file
//! does not measure like the firmware it wraps, and why two loader profiles disagree.

use std::collections::HashMap;

use igvm::snp_defs::SevVmsa;
use zerocopy::FromBytes;

use crate::hash::{Sha384, Sha384Digest};
use crate::plan::{CheckedPlan, OpKind};

const PAGE: u64 = 4096;

/// One populated 4 KiB page (or one VMSA).
#[derive(Debug, Clone)]
struct Page<'a> {
    gpa: u64,
    kind: OpKind,
    /// Contents digest of measured pages.
    digest: Option<Sha384Digest>,
    bytes: Option<&'a [u8]>,
    vcpu: Option<u32>,
}

fn pages<'a>(plan: &'a CheckedPlan<'_>) -> Vec<Page<'a>> {
    let mut out = Vec::new();
    for op in &plan.operations {
        let src = if op.measured { plan.source_bytes(op) } else { None };
        if op.is_vmsa() {
            out.push(Page { gpa: op.gpa, kind: op.kind, digest: src.map(Sha384::digest), bytes: src, vcpu: op.vcpu });
            continue;
        }
        for i in 0..op.len / PAGE {
            let b = src.and_then(|s| s.get((i * PAGE) as usize..((i + 1) * PAGE) as usize));
            out.push(Page { gpa: op.gpa + i * PAGE, kind: op.kind, digest: b.map(Sha384::digest), bytes: b, vcpu: None });
        }
    }
    out
}

/// What differs, for one named reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// One of: "pages only in one launch", "page type", "page contents", "page order", "VMSA".
    pub what: &'static str,
    pub detail: String,
}

/// Contiguous GPA runs of `gpas` (sorted), as "[a, b)" strings with page counts.
fn runs(mut gpas: Vec<u64>) -> Vec<(u64, u64)> {
    gpas.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for g in gpas {
        match out.last_mut() {
            Some(r) if r.1 == g => r.1 += PAGE,
            _ => out.push((g, g + PAGE)),
        }
    }
    out
}

fn range(r: (u64, u64)) -> String {
    format!("[{:#x}, {:#x}) ({} pages)", r.0, r.1, (r.1 - r.0) / PAGE)
}

/// The differences between plan `a` (named `a_name`) and plan `b`. Linear in the page count, apart
/// from sorting.
pub fn compare(a: (&CheckedPlan<'_>, &str), b: (&CheckedPlan<'_>, &str)) -> Vec<Difference> {
    let (pa, pb) = (pages(a.0), pages(b.0));
    let (an, bn) = (a.1, b.1);
    let mem =
        |p: &[Page<'_>]| p.iter().enumerate().filter(|(_, x)| x.vcpu.is_none()).map(|(i, x)| (x.gpa, i)).collect::<HashMap<u64, usize>>();
    let (ma, mb) = (mem(&pa), mem(&pb));
    let mut out = Vec::new();
    for (only, this, other, name) in [("pages only in one launch", &ma, &mb, an), ("pages only in one launch", &mb, &ma, bn)] {
        let p = if std::ptr::eq(this, &ma) { &pa } else { &pb };
        let gpas: Vec<u64> = this.keys().filter(|g| !other.contains_key(g)).copied().collect();
        for r in runs(gpas) {
            let kind = p[this[&r.0]].kind.name();
            out.push(Difference { what: only, detail: format!("{} {kind}: populated only by {name}{}", range(r), mirror_note(r)) });
        }
    }
    // Same GPA, other type or contents.
    let mut by_types: HashMap<(&'static str, &'static str), Vec<u64>> = HashMap::new();
    let mut contents = Vec::new();
    for (&g, &ia) in &ma {
        let Some(&ib) = mb.get(&g) else { continue };
        let (x, y) = (&pa[ia], &pb[ib]);
        if x.kind != y.kind {
            by_types.entry((x.kind.name(), y.kind.name())).or_default().push(g);
        } else if x.digest != y.digest {
            contents.push(g);
        }
    }
    let mut types: Vec<_> = by_types.into_iter().collect();
    types.sort();
    for ((ka, kb), gpas) in types {
        for r in runs(gpas) {
            out.push(Difference { what: "page type", detail: format!("{}: {ka} in {an}, {kb} in {bn}", range(r)) });
        }
    }
    for r in runs(contents) {
        out.push(Difference { what: "page contents", detail: format!("{}: same type, other bytes", range(r)) });
    }
    out.extend(order(&pa, &mb, an, bn));
    out.extend(vmsas(&pa, &pb, an, bn));
    out
}

/// The ISA-BIOS window: a firmware's top 128 KiB mapped below 1 MiB.
fn mirror_note(r: (u64, u64)) -> &'static str {
    if r.0 >= 0xe0000 && r.1 <= 0x10_0000 { " (the 128 KiB below 1 MiB: the mirror of the firmware's top)" } else { "" }
}

/// Where the pages both plans populate come in a different order: `a`'s sequence cut into segments
/// that are in `b`'s order, each named with where `b` has it.
fn order(pa: &[Page<'_>], mb: &HashMap<u64, usize>, an: &str, bn: &str) -> Vec<Difference> {
    let common_a: Vec<(u64, usize)> =
        pa.iter().filter(|p| p.vcpu.is_none() && mb.contains_key(&p.gpa)).map(|p| (p.gpa, mb[&p.gpa])).collect();
    let mut rank: Vec<usize> = common_a.iter().map(|c| c.1).collect();
    rank.sort_unstable();
    let pos: HashMap<usize, usize> = rank.iter().enumerate().map(|(i, r)| (*r, i)).collect();
    let mut segs: Vec<(u64, u64, usize)> = Vec::new();
    let mut last: Option<usize> = None;
    for (g, ib) in &common_a {
        let p = pos[ib];
        match (segs.last_mut(), last) {
            (Some(s), Some(l)) if p == l + 1 && s.1 == *g => s.1 += PAGE,
            _ => segs.push((*g, g + PAGE, p)),
        }
        last = Some(p);
    }
    if segs.len() <= 1 {
        return Vec::new();
    }
    let list: Vec<String> = segs.iter().take(8).map(|s| format!("{} (#{} in {bn})", range((s.0, s.1)), s.2)).collect();
    let more = if segs.len() > 8 { format!(", and {} more", segs.len() - 8) } else { String::new() };
    vec![Difference {
        what: "page order",
        detail: format!("{an} populates the common pages in another order: {}{more}", list.join(", then ")),
    }]
}

/// VMSA fields by offset, for naming what differs.
fn vmsa_fields() -> Vec<(&'static str, usize, usize)> {
    use std::mem::offset_of;
    macro_rules! f {
        ($($n:ident),*) => { vec![$((stringify!($n), offset_of!(SevVmsa, $n), size_of_field(|v: &SevVmsa| &v.$n))),*] };
    }
    fn size_of_field<T>(_: impl Fn(&SevVmsa) -> &T) -> usize {
        size_of::<T>()
    }
    f!(
        es,
        cs,
        ss,
        ds,
        fs,
        gs,
        gdtr,
        ldtr,
        idtr,
        tr,
        cpl,
        efer,
        xss,
        cr4,
        cr3,
        cr0,
        dr7,
        dr6,
        rflags,
        rip,
        rsp,
        rax,
        cr2,
        pat,
        rcx,
        rdx,
        rbx,
        rbp,
        rsi,
        rdi,
        r8,
        r9,
        r10,
        r11,
        r12,
        r13,
        r14,
        r15,
        sev_features,
        xcr0,
        mxcsr,
        x87_ftw,
        x87_fcw
    )
}

fn field_diff(x: &[u8], y: &[u8]) -> String {
    let names: Vec<String> = vmsa_fields()
        .into_iter()
        .filter(|(_, o, n)| x.get(*o..o + n) != y.get(*o..o + n))
        .map(|(name, o, n)| format!("{name} {} vs {}", hex::encode(&x[o..o + n]), hex::encode(&y[o..o + n])))
        .collect();
    if names.is_empty() { "bytes outside the named registers differ".into() } else { names.join(", ") }
}

fn vmsa_list<'p, 'a>(p: &'p [Page<'a>]) -> Vec<(usize, &'p Page<'a>)> {
    p.iter().enumerate().filter(|(_, x)| x.kind == OpKind::Vmsa).collect()
}

fn vmsas(pa: &[Page<'_>], pb: &[Page<'_>], an: &str, bn: &str) -> Vec<Difference> {
    let (va, vb) = (vmsa_list(pa), vmsa_list(pb));
    let mut out = Vec::new();
    if va.len() != vb.len() {
        out.push(Difference { what: "VMSA", detail: format!("{} VMSAs measured in {an}, {} in {bn}", va.len(), vb.len()) });
    }
    let where_ = |i: usize, p: &[Page<'_>]| {
        if p[i..].iter().all(|x| x.kind == OpKind::Vmsa) { "after every page".to_string() } else { format!("as update #{i}") }
    };
    for ((ia, x), (ib, y)) in va.iter().zip(&vb) {
        let v = x.vcpu.unwrap_or(0);
        if x.gpa != y.gpa {
            out.push(Difference { what: "VMSA", detail: format!("vCPU {v}: measured at {:#x} in {an}, at {:#x} in {bn}", x.gpa, y.gpa) });
        }
        let (wa, wb) = (where_(*ia, pa), where_(*ib, pb));
        if wa != wb {
            out.push(Difference { what: "VMSA", detail: format!("vCPU {v}: measured {wa} in {an}, {wb} in {bn}") });
        }
        if x.digest != y.digest {
            let d = match (x.bytes, y.bytes) {
                (Some(a), Some(b)) if SevVmsa::ref_from_bytes(a).is_ok() => field_diff(a, b),
                _ => "contents differ".into(),
            };
            out.push(Difference { what: "VMSA", detail: format!("vCPU {v}: contents differ ({an} vs {bn}): {d}") });
        }
    }
    out
}
