//! The SEV-SNP CPUID page, filled from KVM_GET_SUPPORTED_CPUID in the table layout QEMU fills
//! (target/i386/sev.c `SnpCpuidInfo`/`SnpCpuidFunc`, `sev_snp_cpuid_info_fill`), and the AMD
//! firmware's correction of it read back entry by entry. The firmware checks every entry against
//! what the platform can offer; when one is wrong, SNP_LAUNCH_UPDATE fails with INVALID_PARAM and
//! KVM copies the page the firmware corrected back into the source buffer
//! (arch/x86/kvm/svm/sev.c `sev_gmem_post_populate`). QEMU reports each differing entry and fails;
//! so does the loader: a corrected page is never silently used.

use kvm_bindings::kvm_cpuid_entry2;

/// `SNP_CPUID_FUNCTION_MAXCOUNT`.
pub const MAX_ENTRIES: usize = 64;
/// `sizeof(SnpCpuidFunc)`: eax_in, ecx_in (u32), xcr0_in, xss_in (u64), eax..edx (u32), reserved (u64).
pub const ENTRY_LEN: usize = 48;
/// `sizeof(SnpCpuidInfo)` header: count (u32), reserved1 (u32), reserved2 (u64).
pub const HEADER_LEN: usize = 16;
/// `KVM_CPUID_FLAG_SIGNIFCANT_INDEX` (sic, the uAPI spelling).
const SIGNIFICANT_INDEX: u32 = 1;

/// One CPUID table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuidFunc {
    pub eax_in: u32,
    pub ecx_in: u32,
    pub xcr0_in: u64,
    pub xss_in: u64,
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

impl CpuidFunc {
    fn write(&self, p: &mut [u8]) {
        p[0..4].copy_from_slice(&self.eax_in.to_le_bytes());
        p[4..8].copy_from_slice(&self.ecx_in.to_le_bytes());
        p[8..16].copy_from_slice(&self.xcr0_in.to_le_bytes());
        p[16..24].copy_from_slice(&self.xss_in.to_le_bytes());
        p[24..28].copy_from_slice(&self.eax.to_le_bytes());
        p[28..32].copy_from_slice(&self.ebx.to_le_bytes());
        p[32..36].copy_from_slice(&self.ecx.to_le_bytes());
        p[36..40].copy_from_slice(&self.edx.to_le_bytes());
    }

    fn read(p: &[u8]) -> Self {
        let u32_at = |at: usize| u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        CpuidFunc {
            eax_in: u32_at(0),
            ecx_in: u32_at(4),
            xcr0_in: u64_at(8),
            xss_in: u64_at(16),
            eax: u32_at(24),
            ebx: u32_at(28),
            ecx: u32_at(32),
            edx: u32_at(36),
        }
    }
}

/// The table as QEMU fills it from KVM's CPUID entries; refused above 64 entries as QEMU refuses.
pub fn fill(entries: &[kvm_cpuid_entry2]) -> Result<Vec<CpuidFunc>, String> {
    if entries.len() > MAX_ENTRIES {
        return Err(format!("SEV-SNP: CPUID entry count ({}) exceeds max ({MAX_ENTRIES})", entries.len()));
    }
    Ok(entries
        .iter()
        .map(|e| {
            let mut f = CpuidFunc {
                eax_in: e.function,
                ecx_in: if e.flags == SIGNIFICANT_INDEX { e.index } else { 0 },
                eax: e.eax,
                ebx: e.ebx,
                ecx: e.ecx,
                edx: e.edx,
                ..Default::default()
            };
            // Guests compute XSAVE sizes from the 0xD sub-leaves: only the base size for XCR0 = x87.
            if f.eax_in == 0xd && f.ecx_in <= 1 {
                f.ebx = 0x240;
                f.xcr0_in = 1;
                f.xss_in = 0;
            }
            f
        })
        .collect())
}

/// The 4096-byte page.
pub fn page(table: &[CpuidFunc]) -> Vec<u8> {
    let mut p = vec![0u8; 4096];
    p[0..4].copy_from_slice(&(table.len() as u32).to_le_bytes());
    for (i, f) in table.iter().enumerate() {
        let at = HEADER_LEN + i * ENTRY_LEN;
        f.write(&mut p[at..at + ENTRY_LEN]);
    }
    p
}

/// Reads a page back (the count bounded by the table's capacity).
pub fn read(p: &[u8]) -> Vec<CpuidFunc> {
    if p.len() < HEADER_LEN + MAX_ENTRIES * ENTRY_LEN {
        return Vec::new();
    }
    let count = (u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize).min(MAX_ENTRIES);
    (0..count).map(|i| CpuidFunc::read(&p[HEADER_LEN + i * ENTRY_LEN..HEADER_LEN + (i + 1) * ENTRY_LEN])).collect()
}

/// Each entry the firmware changed, in QEMU's words (`sev_snp_cpuid_report_mismatches`).
pub fn corrections(sent: &[CpuidFunc], returned: &[CpuidFunc]) -> Vec<String> {
    let mut out: Vec<String> = sent
        .iter()
        .zip(returned)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| {
            format!(
                "CPUID function {:#x} index {:#x}: provided eax {:#010x} ebx {:#010x} ecx {:#010x} edx {:#010x}, the firmware expects eax {:#010x} ebx {:#010x} ecx {:#010x} edx {:#010x}",
                a.eax_in, a.ecx_in, a.eax, a.ebx, a.ecx, a.edx, b.eax, b.ebx, b.ecx, b.edx
            )
        })
        .collect();
    if sent.len() != returned.len() {
        out.push(format!("the firmware returned {} entries for the {} provided", returned.len(), sent.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(function: u32, index: u32, flags: u32, ebx: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 { function, index, flags, eax: 1, ebx, ecx: 3, edx: 4, ..Default::default() }
    }

    #[test]
    fn filled_as_qemu_fills_it() {
        let t = fill(&[e(0, 5, 0, 2), e(7, 1, SIGNIFICANT_INDEX, 2), e(0xd, 1, SIGNIFICANT_INDEX, 0x988)]).unwrap();
        assert_eq!(t[0].ecx_in, 0, "an insignificant index is not an input");
        assert_eq!(t[1].ecx_in, 1);
        assert_eq!((t[2].ebx, t[2].xcr0_in), (0x240, 1), "XSAVE base size for XCR0 = x87");
        let p = page(&t);
        assert_eq!(&p[0..4], &3u32.to_le_bytes());
        assert_eq!(&p[HEADER_LEN + ENTRY_LEN..HEADER_LEN + ENTRY_LEN + 4], &7u32.to_le_bytes());
        assert_eq!(read(&p), t);
        assert_eq!(HEADER_LEN + MAX_ENTRIES * ENTRY_LEN, 3088, "sizeof(SnpCpuidInfo)");
        assert!(fill(&vec![e(0, 0, 0, 0); 65]).unwrap_err().contains("exceeds max (64)"));
    }

    #[test]
    fn corrections_are_reported_entry_by_entry() {
        let sent = fill(&[e(1, 0, 0, 2), e(7, 0, SIGNIFICANT_INDEX, 0xffff_ffff)]).unwrap();
        let mut back = sent.clone();
        back[1].ebx = 0x0000_00ff;
        let c = corrections(&sent, &back);
        assert_eq!(c.len(), 1);
        assert!(c[0].contains("function 0x7 index 0x0") && c[0].contains("ebx 0xffffffff") && c[0].contains("ebx 0x000000ff"), "{}", c[0]);
        assert!(corrections(&sent, &sent).is_empty());
    }
}
