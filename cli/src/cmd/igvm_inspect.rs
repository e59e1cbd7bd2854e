//! `prelaunch inspect FILE` for an IGVM file: headers, platforms, pages by type, parameter areas
//! and inserts, VP contexts, and the other directives.

use std::path::Path;

use prelaunch_files::show;
use prelaunch_measure::hash::Sha256;
use prelaunch_measure::igvm::IgvmImage;
use prelaunch_measure::igvm::image::Directive;
use serde_json::{Value, json};

use crate::error::{CliError, Context};
use crate::outln;
use crate::output::{Out, Style, hex, print_json};

/// The stable JSON document (every number an integer).
pub fn document(img: &IgvmImage<'_>, sha256: &str) -> Value {
    let dirs = img.directives();
    let platforms: Vec<Value> = img
        .platforms()
        .iter()
        .map(|p| {
            let m = p.compatibility_mask;
            let areas: Vec<Value> = dirs
                .iter()
                .filter_map(|d| match d {
                    Directive::ParameterArea { index, area, bytes } => Some(json!({"directive": index, "area": area, "bytes": bytes})),
                    _ => None,
                })
                .collect();
            let inserts: Vec<Value> = dirs
                .iter()
                .filter_map(|d| match d {
                    Directive::ParameterInsert { index, gpa, compatibility_mask, area } if compatibility_mask & m != 0 => {
                        Some(json!({"directive": index, "gpa": gpa, "area": area}))
                    }
                    _ => None,
                })
                .collect();
            let contexts: Vec<Value> = dirs
                .iter()
                .filter_map(|d| match d {
                    Directive::SnpVpContext { index, gpa, compatibility_mask, vp_index, vmsa } if compatibility_mask & m != 0 => Some(
                        json!({"directive": index, "gpa": gpa, "vp_index": vp_index, "rip": vmsa.rip, "sev_features": vmsa.sev_features.into_bits()}),
                    ),
                    _ => None,
                })
                .collect();
            let mut other: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
            for d in &dirs {
                if let Directive::Other { name, compatibility_mask, .. } = d
                    && compatibility_mask.is_none_or(|c| c & m != 0)
                {
                    *other.entry(name).or_default() += 1;
                }
            }
            json!({
                "platform": p.name(),
                "compatibility_mask": m,
                "highest_vtl": p.highest_vtl,
                "shared_gpa_boundary": p.shared_gpa_boundary,
                "guest_policy": img.guest_policy(m),
                "pages_4k": img.page_summary(m),
                "parameter_areas": areas,
                "parameter_inserts": inserts,
                "vp_contexts": contexts,
                "other_directives": other,
            })
        })
        .collect();
    json!({
        "format": "igvm",
        "format_version": img.layout.format_version,
        "size": img.len(),
        "sha256": sha256,
        "variable_headers": {"offset": img.layout.variable_header_offset, "size": img.layout.variable_header_size},
        "initialization_headers": img.layout.initialization_headers,
        "directives": dirs.len(),
        "platforms": platforms,
    })
}

pub fn run(path: &Path, bytes: &[u8], json: bool, out: &Out) -> Result<(), CliError> {
    let img = IgvmImage::parse(bytes).in_file(path)?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    let doc = document(&img, &sha256);
    if json {
        return print_json(&doc);
    }
    let b = |s: &str| out.paint(Style::Bold, s);
    outln!("{} (IGVM, format version {})", b(&show(path).to_string()), img.layout.format_version);
    outln!("  size        {} ({} KiB)", hex(img.len()), img.len() / 1024);
    outln!("  sha256      {sha256}");
    outln!("  headers     {} initialization, {} directives", img.layout.initialization_headers, doc["directives"]);
    for p in doc["platforms"].as_array().into_iter().flatten() {
        outln!(
            "{} mask {:#x}, highest VTL {}, shared GPA boundary {}",
            b(p["platform"].as_str().unwrap_or("?")),
            p["compatibility_mask"].as_u64().unwrap_or(0),
            p["highest_vtl"],
            hex(p["shared_gpa_boundary"].as_u64().unwrap_or(0))
        );
        if let Some(pol) = p["guest_policy"].as_u64() {
            outln!("  guest policy {}", hex(pol));
        }
        let s = &p["pages_4k"];
        outln!(
            "  4 KiB pages: {} normal, {} zero (no data), {} unmeasured, {} shared, {} secrets, {} CPUID; {} directives are 2 MiB pages",
            s["normal"],
            s["zero"],
            s["unmeasured"],
            s["shared"],
            s["secrets"],
            s["cpuid"],
            s["large_pages"]
        );
        for a in p["parameter_areas"].as_array().into_iter().flatten() {
            outln!("  parameter area {} ({} bytes), directive {}", a["area"], hex(a["bytes"].as_u64().unwrap_or(0)), a["directive"]);
        }
        for i in p["parameter_inserts"].as_array().into_iter().flatten() {
            outln!("  parameter insert of area {} at {}, directive {}", i["area"], hex(i["gpa"].as_u64().unwrap_or(0)), i["directive"]);
        }
        for c in p["vp_contexts"].as_array().into_iter().flatten() {
            outln!(
                "  VP context vCPU {} at {}: RIP {}, SEV features {}, directive {}",
                c["vp_index"],
                hex(c["gpa"].as_u64().unwrap_or(0)),
                hex(c["rip"].as_u64().unwrap_or(0)),
                hex(c["sev_features"].as_u64().unwrap_or(0)),
                c["directive"]
            );
        }
        for (name, n) in p["other_directives"].as_object().into_iter().flatten() {
            outln!("  {n} x {name}");
        }
    }
    Ok(())
}
