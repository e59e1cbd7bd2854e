//! vCPU signatures: the CPUID Fn0000_0001_EAX value QEMU puts in RDX at reset (AMD pub. 25481).

/// The EAX signature for a family, model and stepping.
pub fn signature(family: u32, model: u32, stepping: u32) -> u32 {
    let (fam_lo, fam_hi) = if family > 0xf { (0xf, (family - 0xf) & 0xff) } else { (family, 0) };
    (fam_hi << 20) | (((model >> 4) & 0xf) << 16) | (fam_lo << 8) | ((model & 0xf) << 4) | (stepping & 0xf)
}

/// QEMU's EPYC models (builtin_x86_defs): name, family, model, stepping.
pub const CPU_TYPES: &[(&str, u32, u32, u32)] = &[
    ("EPYC", 23, 1, 2),
    ("EPYC-v1", 23, 1, 2),
    ("EPYC-v2", 23, 1, 2),
    ("EPYC-IBPB", 23, 1, 2),
    ("EPYC-v3", 23, 1, 2),
    ("EPYC-v4", 23, 1, 2),
    ("EPYC-Rome", 23, 49, 0),
    ("EPYC-Rome-v1", 23, 49, 0),
    ("EPYC-Rome-v2", 23, 49, 0),
    ("EPYC-Rome-v3", 23, 49, 0),
    ("EPYC-Milan", 25, 1, 1),
    ("EPYC-Milan-v1", 25, 1, 1),
    ("EPYC-Milan-v2", 25, 1, 1),
    ("EPYC-Genoa", 25, 17, 0),
    ("EPYC-Genoa-v1", 25, 17, 0),
    ("EPYC-Turin", 26, 0, 0),
];

/// The signature of a named QEMU CPU model.
pub fn by_name(name: &str) -> Option<u32> {
    CPU_TYPES.iter().find(|t| t.0 == name).map(|t| signature(t.1, t.2, t.3))
}

/// Names with distinct signatures, one per signature (what `diagnose` searches).
pub fn distinct() -> Vec<(&'static str, u32)> {
    let mut out: Vec<(&'static str, u32)> = Vec::new();
    for t in CPU_TYPES {
        let sig = signature(t.1, t.2, t.3);
        if !out.iter().any(|o| o.1 == sig) {
            out.push((t.0, sig));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_documented_values() {
        assert_eq!(by_name("EPYC-v4"), Some(0x800f12));
        assert_eq!(by_name("EPYC-Rome"), Some(0x830f10));
        assert_eq!(by_name("EPYC-Milan"), Some(0xa00f11));
        assert_eq!(by_name("EPYC-Genoa"), Some(0xa10f10));
        assert_eq!(by_name("EPYC-Turin"), Some(0xb00f00));
        assert_eq!(by_name("Skylake"), None);
        assert_eq!(signature(6, 0x55, 4), 0x50654);
        assert_eq!(distinct().len(), 5);
    }
}
