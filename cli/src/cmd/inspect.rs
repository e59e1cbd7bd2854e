//! `prelaunch inspect`: what a firmware image carries and what it supports.

use std::path::PathBuf;

use clap::Args;
use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::FirmwareImage;
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::image::{FOUR_GIB, Support};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{CliError, Context};
use crate::outln;
use crate::output::{Doc, Out, Style, hex, print_doc};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Firmware image (OVMF.fd, OVMF_CODE*.fd, a TDVF or SVSM binary) or an IGVM file.
    pub firmware: PathBuf,
    /// Print a JSON document instead of the summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &InspectArgs, out: &Out) -> Result<(), CliError> {
    let file = Input::open(&a.firmware, Kind::FIRMWARE)?;
    if prelaunch_measure::igvm::looks_like_igvm(&file) {
        return super::igvm_inspect::run(&a.firmware, &file, a.json, out);
    }
    let img = FirmwareImage::parse(&file).in_file(&a.firmware)?;
    let support = img.support();
    let sha256 = hex::encode(Sha256::digest(&file));
    if a.json {
        print_doc(Doc::INSPECT, &document(&img, &support, &sha256))
    } else {
        summary(&a.firmware, &img, &support, &sha256, out);
        Ok(())
    }
}

#[derive(Serialize)]
struct Supports {
    snp: bool,
    sev_es: bool,
    kernel_hashes: bool,
    tdx: bool,
}

/// The stable JSON document (every number an integer).
pub fn document(img: &FirmwareImage<'_>, support: &Support, sha256: &str) -> Value {
    let footer: Vec<Value> = img
        .footer
        .iter()
        .flat_map(|t| &t.entries)
        .map(|e| json!({"guid": e.guid.to_string(), "name": e.name(), "data_hex": hex::encode(e.data)}))
        .collect();
    let sev_metadata = img
        .sev_metadata
        .as_ref()
        .map(|m| m.sections.iter().map(|s| json!({"gpa": s.gpa, "size": s.size, "kind": s.kind.name()})).collect::<Vec<_>>());
    let tdx_sections = img.tdvf.as_ref().map(|m| {
        m.sections
            .iter()
            .map(|s| {
                json!({"data_offset": s.data_offset, "raw_size": s.raw_size, "gpa": s.gpa, "memory_size": s.memory_size,
                       "kind": s.kind.name(), "mr_extend": s.mr_extend(), "page_aug": s.page_aug()})
            })
            .collect::<Vec<_>>()
    });
    json!({
        "size": img.len(),
        "sha256": sha256,
        "gpa_base": img.gpa_base(),
        "footer_entries": footer,
        "sev_es_reset_eip": img.sev_es_reset_eip,
        "sev_hashes_table": img.sev_hashes_table,
        "sev_secret_block": img.sev_secret_block,
        "svsm_entry_offset": img.svsm_entry_offset,
        "sev_metadata": sev_metadata,
        "tdx_sections": tdx_sections,
        "supports": Supports {
            snp: support.snp.is_empty(),
            sev_es: support.sev_es.is_empty(),
            kernel_hashes: support.kernel_hashes.is_empty(),
            tdx: support.tdx.is_empty(),
        },
        "problems": support.problems(),
    })
}

fn summary(path: &std::path::Path, img: &FirmwareImage<'_>, support: &Support, sha256: &str, out: &Out) {
    let b = |s: &str| out.paint(Style::Bold, s);
    outln!("{}", b(&show(path).to_string()));
    outln!("  size        {} ({} KiB)", hex(img.len()), img.len() / 1024);
    outln!("  sha256      {sha256}");
    outln!("  maps at     [{}, {}) (ends at 4 GiB)", hex(img.gpa_base()), hex(FOUR_GIB));
    match &img.footer {
        None => outln!("{}\n  none (no footer GUID at 32 bytes before the end)", b("Footer GUID table")),
        Some(t) => {
            outln!("{} ({} entries from {})", b("Footer GUID table"), t.entries.len(), hex(t.start as u64));
            for e in &t.entries {
                let what = match e.name() {
                    Some("sev_es_reset_block") => {
                        format!("SEV-ES reset block: AP reset EIP {}", img.sev_es_reset_eip.map_or("?".into(), |v| hex(v as u64)))
                    }
                    Some("sev_hash_table") => match img.sev_hashes_table {
                        Some(r) if r.gpa != 0 => format!("SEV hashes table at {} ({} bytes)", hex(r.gpa), r.size),
                        _ => "SEV hashes table: none reserved (GPA 0)".into(),
                    },
                    Some("sev_secret_block") => img
                        .sev_secret_block
                        .map_or("SEV secret block".into(), |r| format!("SEV secret block at {} ({} bytes)", hex(r.gpa), r.size)),
                    Some("sev_metadata") => "SEV metadata pointer".into(),
                    Some("tdx_metadata") => "TDX metadata pointer".into(),
                    Some("svsm_info") => {
                        format!("SVSM info: entry at base + {}", img.svsm_entry_offset.map_or("?".into(), |v| hex(v as u64)))
                    }
                    _ => format!("unknown entry, {} data bytes", e.data.len()),
                };
                outln!("  {}  {what}", out.paint(Style::Dim, &e.guid.to_string()));
            }
        }
    }
    if let Some(m) = &img.sev_metadata {
        outln!("{} (\"ASEV\" v{} at {}, {} sections)", b("SEV metadata"), m.version, hex(m.offset as u64), m.sections.len());
        for s in &m.sections {
            outln!("  [{:>10}, {:>10})  {:<18} {}", hex(s.gpa), hex(s.gpa + s.size), s.kind.name().to_uppercase(), s.kind.purpose());
        }
    }
    if let Some(m) = &img.tdvf {
        let how = if m.legacy_pointer { ", found through the legacy end-0x20 pointer" } else { "" };
        outln!("{} (\"TDVF\" at {}{how}, {} sections)", b("TDX metadata"), hex(m.offset as u64), m.sections.len());
        for s in &m.sections {
            let data =
                if s.raw_size > 0 { format!("file {}+{}", hex(s.data_offset as u64), hex(s.raw_size as u64)) } else { "no data".into() };
            let attrs = [(s.mr_extend(), "MR_EXTEND"), (s.page_aug(), "PAGE_AUG")]
                .iter()
                .filter(|a| a.0)
                .map(|a| a.1)
                .collect::<Vec<_>>()
                .join("|");
            outln!(
                "  [{:>10}, {:>10})  {:<13} {:<22} {:<10} {}",
                hex(s.gpa),
                hex(s.gpa + s.memory_size),
                s.kind.name().to_uppercase(),
                data,
                if attrs.is_empty() { "-".into() } else { attrs },
                s.kind.purpose()
            );
        }
    }
    outln!("{}", b("Supports"));
    for (name, reasons) in
        [("SEV-SNP", &support.snp), ("SEV-ES", &support.sev_es), ("kernel hashes", &support.kernel_hashes), ("TDX", &support.tdx)]
    {
        if reasons.is_empty() {
            outln!("  {name:<14} {}", out.paint(Style::Good, "yes"));
        } else {
            outln!("  {name:<14} {}: {}", out.paint(Style::Bad, "no"), reasons[0]);
            for r in &reasons[1..] {
                outln!("  {:<14}     {r}", "");
            }
        }
    }
}
