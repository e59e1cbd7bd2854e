//! `prelaunch firmware list`: the system's firmware descriptors beside what the images really support.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::descriptors::{self, CC_FEATURES, Descriptor};
use crate::error::CliError;
use crate::outln;
use crate::output::{Doc, Out, Style, print_doc};

#[derive(Subcommand, Debug)]
pub enum FirmwareCommand {
    /// List firmware descriptors (in QEMU's order of preference) with what inspection finds.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print a JSON document (schema/firmware-list.v1.schema.json) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: &FirmwareCommand, out: &Out) -> Result<(), CliError> {
    let FirmwareCommand::List(a) = c;
    let (found, skipped) = descriptors::load();
    let rows: Vec<Value> = found.iter().map(row).collect();
    if a.json {
        return print_doc(
            Doc::FIRMWARE_LIST,
            &json!({
                "search_dirs": descriptors::dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
                "descriptors": rows,
                "skipped": skipped.iter().map(|s| json!({"source": s.source.display().to_string(), "reason": s.reason})).collect::<Vec<_>>(),
            }),
        );
    }
    if found.is_empty() && skipped.is_empty() {
        outln!(
            "no firmware descriptors found in {}",
            descriptors::dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    for (d, r) in found.iter().zip(&rows) {
        outln!("{}", out.paint(Style::Bold, &d.source.display().to_string()));
        if !d.description.is_empty() {
            outln!("  {}", d.description);
        }
        outln!("  executable   {} ({}, {}, {})", d.executable.display(), d.device, d.mode, d.format);
        let cc: Vec<&str> = d.features.iter().map(String::as_str).filter(|f| CC_FEATURES.contains(f)).collect();
        outln!("  advertises   {}", if cc.is_empty() { "no confidential-computing features".into() } else { cc.join(", ") });
        match r["image"].as_object() {
            Some(img) => {
                let yn = |k: &str| if img[k].as_bool() == Some(true) { "yes" } else { "no" };
                outln!(
                    "  image        SEV-SNP {}, SEV-ES {}, kernel hashes {}, TDX {}",
                    yn("snp"),
                    yn("sev_es"),
                    yn("kernel_hashes"),
                    yn("tdx")
                );
            }
            None => outln!("  image        {}", out.paint(Style::Warn, r["image_error"].as_str().unwrap_or("unreadable"))),
        }
        for m in r["mismatches"].as_array().into_iter().flatten() {
            outln!("  {} {}", out.paint(Style::Bad, "!"), m.as_str().unwrap_or_default());
        }
    }
    for s in &skipped {
        out.warn(&format!("{}: skipped: {}", s.source.display(), s.reason));
    }
    Ok(())
}

fn row(d: &Descriptor) -> Value {
    let verdict = descriptors::verdict(d);
    let mut mismatches = Vec::new();
    let image_error = if verdict.is_some() {
        None
    } else if d.format != "raw" {
        Some(format!("{} images are not inspected", d.format))
    } else {
        Some(match prelaunch_files::Input::open(&d.executable, prelaunch_files::Kind::FIRMWARE) {
            Err(e) => e.to_string(),
            Ok(f) => match prelaunch_measure::FirmwareImage::parse(&f) {
                Err(e) => format!("{}: {e}", prelaunch_files::show(&d.executable)),
                Ok(_) => "unreadable".into(),
            },
        })
    };
    if let Some(v) = &verdict {
        for f in CC_FEATURES {
            let claims = d.features.iter().any(|x| x == f);
            if claims && !v.supports(f) {
                let why = match f {
                    "amd-sev-snp" => "the image cannot launch under SNP (see `prelaunch inspect`)",
                    "intel-tdx" => "the image has no usable TDX metadata",
                    _ => "the image lacks the structures it needs",
                };
                mismatches.push(format!("claims {f}, but {why}"));
            }
        }
    }
    json!({
        "source": d.source.display().to_string(),
        "description": d.description,
        "device": d.device,
        "mode": d.mode,
        "executable": d.executable.display().to_string(),
        "format": d.format,
        "nvram_template": d.nvram_template.as_ref().map(|p| p.display().to_string()),
        "features": d.features,
        "x86_64": d.x86_64,
        "uefi": d.uefi,
        "image": verdict,
        "image_error": image_error,
        "mismatches": mismatches,
    })
}
