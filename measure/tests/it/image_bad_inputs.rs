//! The table of bad images: every named corruption of the generator, applied to every preset it fits,
//! must get the verdict the generator documents, with an error that names where and what was expected.

use prelaunch_measure::FirmwareImage;
use prelaunch_measure::image::ImageError;
use prelaunch_testdata::{Corruption, Expect, ImageBuilder, Part, Platform, apply};

fn presets() -> Vec<(&'static str, ImageBuilder)> {
    vec![
        ("ovmf_like", ImageBuilder::ovmf_like(2 << 20).seed(1)),
        ("amdsev_like", ImageBuilder::amdsev_like(1 << 20).seed(2)),
        ("tdvf_only", ImageBuilder::tdvf_only(256 << 10).seed(3)),
        ("svsm_like", ImageBuilder::svsm_like(64 << 10).seed(4)),
    ]
}

/// The words a message about `part` must contain.
fn part_words(part: Part) -> &'static [&'static str] {
    match part {
        Part::File => &["4096", "empty"],
        Part::FooterTable => &["footer table"],
        Part::FooterEntry => &["footer entry"],
        Part::SevMetadata => &["SEV metadata"],
        Part::TdvfMetadata => &["TDX metadata"],
    }
}

#[test]
fn every_corruption_gets_its_documented_verdict() {
    let mut checked = 0;
    for (name, preset) in presets() {
        for c in Corruption::all() {
            let mut built = preset.built();
            if apply(&mut built, c).is_err() {
                continue;
            }
            checked += 1;
            let what = format!("{name} + {}", c.name());
            let result = FirmwareImage::parse(&built.bytes);
            match c.expect() {
                Expect::Reject(part) => {
                    let e = result.err().unwrap_or_else(|| panic!("{what}: parsed, expected a {part} error"));
                    let msg = e.to_string();
                    assert!(part_words(part).iter().any(|w| msg.contains(w)), "{what}: {msg:?} does not name the {part}");
                    if part != Part::File || !matches!(e, ImageError::Empty) {
                        assert!(
                            msg.contains("expected") || msg.contains("0x") || msg.contains("4096"),
                            "{what}: {msg:?} gives no offset or expectation"
                        );
                    }
                }
                Expect::NoFooter => {
                    let img = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(img.footer.is_none(), "{what}: a footer table was still found");
                    assert!(img.support().snp.iter().any(|r| r.contains("footer")), "{what}");
                }
                Expect::Unsupported(platform) => {
                    let img = result.unwrap_or_else(|e| panic!("{what}: expected to read, got {e}"));
                    let s = img.support();
                    let reasons = match platform {
                        Platform::Snp => &s.snp,
                        Platform::Tdx => &s.tdx,
                    };
                    assert!(!reasons.is_empty(), "{what}: still reported as supported");
                    assert!(reasons.iter().any(|r| r.contains("section")), "{what}: {reasons:?} names no section");
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} corruption cases applied");
}

#[test]
fn presets_parse_to_what_the_builder_declared() {
    for (name, preset) in presets() {
        let built = preset.built();
        let img = FirmwareImage::parse(&built.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let table = img.footer.as_ref().expect("footer");
        assert_eq!(Some(table.start), built.footer_table_start, "{name}");
        assert_eq!(table.entries.len(), built.entries.len(), "{name}");
        for e in &built.entries {
            let got = table.entries.iter().find(|g| g.guid.0 == e.guid.0).unwrap_or_else(|| panic!("{name}: {} missing", e.name));
            assert_eq!((got.offset, got.data.len()), (e.data_offset, e.data_len), "{name}: {}", e.name);
        }
        assert_eq!(img.sev_es_reset_eip, preset.reset_eip, "{name}");
        assert_eq!(img.sev_metadata.as_ref().map(|m| m.offset), built.sev_metadata_offset, "{name}");
        if let (Some(m), Some(items)) = (&img.sev_metadata, &preset.sev_metadata) {
            let got: Vec<(u64, u64, u32)> = m.sections.iter().map(|s| (s.gpa, s.size, s.kind.raw())).collect();
            let want: Vec<(u64, u64, u32)> = items.iter().map(|i| (i.gpa as u64, i.size as u64, i.kind.0)).collect();
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(img.tdvf.as_ref().map(|m| m.offset), built.tdvf_offset, "{name}");
        if let (Some(m), Some(secs)) = (&img.tdvf, &preset.tdvf) {
            assert_eq!(m.sections.len(), secs.len(), "{name}");
            for (g, w) in m.sections.iter().zip(secs) {
                assert_eq!(
                    (g.data_offset, g.raw_size, g.gpa, g.memory_size, g.attributes),
                    (w.data_offset, w.raw_size, w.gpa, w.mem_size, w.attributes),
                    "{name}"
                );
            }
            assert!(m.has_descriptor_guid, "{name}");
        }
    }
}

#[test]
fn random_valid_layouts_parse_and_are_supported() {
    for seed in 0..150 {
        let b = prelaunch_testdata::random_snp_layout(seed).built();
        let img = FirmwareImage::parse(&b.bytes).unwrap_or_else(|e| panic!("snp seed {seed}: {e}"));
        assert!(img.support().snp.is_empty(), "snp seed {seed}: {:?}", img.support().snp);
        let b = prelaunch_testdata::random_tdx_layout(seed).built();
        let img = FirmwareImage::parse(&b.bytes).unwrap_or_else(|e| panic!("tdx seed {seed}: {e}"));
        assert!(img.support().tdx.is_empty(), "tdx seed {seed}: {:?}", img.support().tdx);
    }
}

#[test]
fn mutated_images_never_panic() {
    let base = ImageBuilder::ovmf_like(1 << 20).seed(9).built();
    for seed in 0..2000u64 {
        let mut b = base.clone();
        b.mutate(seed, 1 + (seed % 8) as usize);
        // Any outcome but a panic is acceptable; the support verdict must also be computable.
        if let Ok(img) = FirmwareImage::parse(&b.bytes) {
            let _ = img.support().problems();
        }
    }
}
