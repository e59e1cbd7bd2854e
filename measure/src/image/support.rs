//! What an image supports, and for each platform the reasons it does not.

use serde::Serialize;

use super::overlap::Problems;
use super::{FOUR_GIB, FirmwareImage, PAGE_SIZE, SevSectionKind};

/// Per-feature verdicts: an empty reason list means supported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Support {
    pub snp: Vec<String>,
    pub sev_es: Vec<String>,
    pub kernel_hashes: Vec<String>,
    pub tdx: Vec<String>,
}

impl Support {
    pub fn of(img: &FirmwareImage<'_>) -> Support {
        let mut s = Support::default();
        let no_footer = "no footer GUID table (96b582de-...) at 32 bytes before the end: not an OVMF image built for confidential guests";
        if img.footer.is_none() {
            s.snp.push(no_footer.into());
            s.sev_es.push(no_footer.into());
            s.kernel_hashes.push(no_footer.into());
        }
        if img.footer.is_some() && img.sev_es_reset_eip.is_none() {
            let r = "no SEV-ES reset block (00f771de-...) in the footer table: the AP reset address is unknown";
            s.snp.push(r.into());
            s.sev_es.push(r.into());
        }
        match &img.sev_metadata {
            None if img.footer.is_some() => {
                s.snp.push(
                    "no SEV metadata (dc886566-...) in the footer table: the secrets, CPUID and pre-validated pages are unknown".into(),
                );
            }
            None => {}
            Some(md) => {
                for kind in [SevSectionKind::SnpSecrets, SevSectionKind::Cpuid] {
                    if !md.has(kind) {
                        s.snp.push(format!("SEV metadata has no {} section", kind.name().to_uppercase()));
                    }
                }
                let fw = (img.gpa_base(), FOUR_GIB);
                let name = |i: usize| {
                    let sec = &md.sections[i];
                    format!("SEV metadata item {i} ({}, GPA {:#x}, size {:#x})", sec.kind.name().to_uppercase(), sec.gpa, sec.size)
                };
                // A few messages per rule, then a count; overlaps by one sweep (O(n log n)).
                let mut p = Problems::default();
                for (i, sec) in md.sections.iter().enumerate() {
                    if sec.gpa % PAGE_SIZE != 0 || sec.size % PAGE_SIZE != 0 {
                        p.push("items not 4 KiB aligned", || format!("{}: not 4 KiB aligned", name(i)));
                    }
                    if sec.size == 0 {
                        p.push("empty items", || format!("{}: empty", name(i)));
                    }
                    if matches!(sec.kind, SevSectionKind::SnpSecrets | SevSectionKind::Cpuid) && sec.size != PAGE_SIZE {
                        p.push("SECRETS or CPUID items not of one page", || {
                            format!("{}: expected exactly one 4 KiB page (sev-snp-measure measures one page, QEMU the whole size)", name(i))
                        });
                    }
                    let end = sec.gpa + sec.size;
                    if sec.gpa < fw.1 && fw.0 < end {
                        p.push("items overlapping the firmware", || {
                            format!("{}: [{:#x}, {end:#x}) overlaps the firmware at [{:#x}, {:#x})", name(i), sec.gpa, fw.0, fw.1)
                        });
                    }
                }
                let ranges: Vec<(u64, u64)> = md.sections.iter().map(|x| (x.gpa, x.gpa + x.size)).collect();
                p.overlaps("overlapping item pairs", &ranges, |a, b| {
                    format!(
                        "{}: [{:#x}, {:#x}) overlaps item {b} [{:#x}, {:#x})",
                        name(a),
                        ranges[a].0,
                        ranges[a].1,
                        ranges[b].0,
                        ranges[b].1
                    )
                });
                s.snp.extend(p.finish());
            }
        }
        if img.footer.is_some() {
            match img.sev_hashes_table {
                None => s.kernel_hashes.push("no SEV hashes-table entry (7255371f-...) in the footer table".into()),
                Some(t) if t.gpa == 0 => s.kernel_hashes.push(
                    "the SEV hashes-table GPA is 0: this build does not reserve a page for kernel hashes (use an AmdSev OVMF build)".into(),
                ),
                Some(t) => {
                    let snp_section =
                        img.sev_metadata.as_ref().and_then(|m| m.sections.iter().find(|x| x.kind == SevSectionKind::SnpKernelHashes));
                    match snp_section {
                        None => s
                            .kernel_hashes
                            .push("SEV metadata has no SNP_KERNEL_HASHES section (SEV and SEV-ES can still measure kernel hashes)".into()),
                        Some(sec) if t.gpa < sec.gpa || t.gpa + 176 > sec.gpa + sec.size => s.kernel_hashes.push(format!(
                            "the hashes table at {:#x} is not inside the SNP_KERNEL_HASHES section [{:#x}, {:#x})",
                            t.gpa,
                            sec.gpa,
                            sec.gpa + sec.size
                        )),
                        Some(_) if (t.gpa & 0xfff) + 176 > PAGE_SIZE => {
                            s.kernel_hashes.push(format!("the hashes table at {:#x} crosses a page boundary", t.gpa))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        match &img.tdvf {
            None => s.tdx.push("no TDX metadata (e47a6535-...) in the footer table: not a TDVF image".into()),
            Some(md) => s.tdx.extend(md.problems(img.bytes().len())),
        }
        s
    }

    /// Every reason, prefixed with the feature it blocks.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in [("snp", &self.snp), ("sev_es", &self.sev_es), ("kernel_hashes", &self.kernel_hashes), ("tdx", &self.tdx)] {
            out.extend(v.iter().map(|r| format!("{name}: {r}")));
        }
        out
    }
}
