//! Every corruption, on every preset and on random layouts, gives the verdict it documents, as judged
//! by the independent reader in `common`.

use crate::common;

use common::*;
use prelaunch_testdata::{Built, Corruption, Expect, ImageBuilder, Part, apply, random_snp_layout, random_tdx_layout};

fn presets(size: usize) -> Vec<(&'static str, Built)> {
    vec![
        ("ovmf", ImageBuilder::ovmf_like(size).seed(3).built()),
        ("amdsev", ImageBuilder::amdsev_like(size).seed(4).built()),
        ("tdvf", ImageBuilder::tdvf_only(size).seed(5).built()),
        ("svsm", ImageBuilder::svsm_like(size).seed(6).built()),
    ]
}

#[test]
fn clean_images_have_no_verdict() {
    for (name, b) in presets(0x20000) {
        assert_eq!(verdict(&b.bytes), None, "{name}");
    }
}

#[test]
fn every_corruption_applies_to_ovmf_like_and_means_what_it_says() {
    for size in [0x8000, 0x20000, 0x200000] {
        let clean = ImageBuilder::ovmf_like(size).seed(size as u64).built();
        for c in Corruption::all() {
            let mut b = clean.clone();
            apply(&mut b, c).unwrap_or_else(|e| panic!("{c} on ovmf_like({size:#x}): {e}"));
            assert_ne!(b.bytes, clean.bytes, "{c} changed nothing");
            assert_eq!(verdict(&b.bytes), Some(c.expect()), "{c} on ovmf_like({size:#x}): {}", c.doc());
            assert_eq!(b.corruptions, [c.to_string()]);
        }
    }
}

#[test]
fn corruptions_on_other_presets_and_random_layouts() {
    let mut images = presets(0x10000);
    images.extend((0..40).map(|s| ("random-snp", random_snp_layout(s).built())));
    images.extend((0..40).map(|s| ("random-tdx", random_tdx_layout(s).built())));
    let mut applied = 0;
    for (name, clean) in &images {
        for c in Corruption::all() {
            let mut b = clean.clone();
            match apply(&mut b, c) {
                Ok(()) => {
                    applied += 1;
                    assert_eq!(verdict(&b.bytes), Some(c.expect()), "{c} on {name} (seed {}): {}", clean.spec.seed, c.doc());
                }
                Err(_) => assert_eq!(b.bytes, clean.bytes, "{c}: a refused corruption must leave the image alone"),
            }
        }
    }
    assert!(applied > images.len() * 20, "only {applied} corruptions applied");
}

#[test]
fn not_applicable_where_the_structure_is_missing() {
    let mut svsm = ImageBuilder::svsm_like(0x10000).built();
    assert!(apply(&mut svsm, Corruption::TdvfSignature).is_err());
    let mut tdvf = ImageBuilder::tdvf_only(0x10000).built();
    assert!(apply(&mut tdvf, Corruption::SevVersion(2)).is_err());
    let mut b = ImageBuilder::ovmf_like(0x10000).built();
    assert!(apply(&mut b, Corruption::Truncate(0x10000)).is_err());
    assert!(apply(&mut b, Corruption::StrayBytes(18)).is_err());
    assert!(apply(&mut b, Corruption::EntryTooShort(18)).is_err());
    assert!(apply(&mut b, Corruption::OddSize(4096)).is_err());
    assert!(b.corruptions.is_empty());
}

#[test]
fn byte_patches_touch_only_their_structure() {
    let clean = ImageBuilder::ovmf_like(0x40000).seed(11).built();
    for c in Corruption::all() {
        let mut b = clean.clone();
        apply(&mut b, c).unwrap();
        if b.len() != clean.len() {
            continue;
        }
        // A rewritten table may grow downwards: its new extent counts as the structure.
        let hot = [clean.hot_ranges(), b.hot_ranges()].concat();
        for i in (0..b.len()).filter(|&i| b.bytes[i] != clean.bytes[i]) {
            assert!(hot.iter().any(|r| r.contains(&i)), "{c} changed byte {i:#x}, outside every declared structure");
        }
    }
}

#[test]
fn parameters_and_details() {
    let clean = ImageBuilder::ovmf_like(0x10000).built();
    let mut b = clean.clone();
    apply(&mut b, Corruption::Truncate(0x3000)).unwrap();
    assert_eq!(b.len(), 0x3000);
    assert_eq!(verdict(&b.bytes), Some(Expect::NoFooter));
    assert_eq!(b.footer_offset, None);

    let mut b = clean.clone();
    apply(&mut b, Corruption::Truncate(0x3001)).unwrap();
    assert_eq!(verdict(&b.bytes), Some(Expect::Reject(Part::File)));

    // Dropping from the front keeps offsets pointing at the same bytes.
    let mut b = clean.clone();
    apply(&mut b, Corruption::OddSize(3)).unwrap();
    assert_eq!(b.len(), 0x10000 - 3);
    assert_eq!(&b.bytes[b.sev_metadata_offset.unwrap()..][..4], b"ASEV");
    assert_eq!(b.footer_offset, Some(b.len() - 50));

    let mut b = ImageBuilder::ovmf_like(0x100000).built();
    apply(&mut b, Corruption::FooterPastStart).unwrap();
    assert_eq!(b.len(), 0x10000);
    assert_eq!(&b.bytes[b.tdvf_offset.unwrap()..][..4], b"TDVF");

    let mut b = clean.clone();
    apply(&mut b, Corruption::StrayBytes(5)).unwrap();
    assert_eq!(u16le(&b.bytes, b.len() - 50), 136 + 5);

    let mut b = clean.clone();
    apply(&mut b, Corruption::EntryTooShort(0)).unwrap();
    assert_eq!(verdict(&b.bytes), Some(Expect::Reject(Part::FooterTable)));

    let mut b = clean.clone();
    apply(&mut b, Corruption::ShortEntryData).unwrap();
    let reset = b.entries.iter().find(|e| e.name == "sev_es_reset_block").unwrap();
    assert_eq!(reset.data_len, 2);
    assert_eq!(b.footer_table_size, 134);

    let mut b = clean.clone();
    apply(&mut b, Corruption::DuplicateEntry).unwrap();
    assert_eq!(b.entries.first().unwrap().guid, b.entries.last().unwrap().guid);

    let mut b = clean.clone();
    apply(&mut b, Corruption::SevUnknownKind(0x11)).unwrap();
    let at = b.sev_metadata_offset.unwrap();
    assert_eq!(u32le(&b.bytes, at + 16 + 12 * 5 + 8), 0x11);

    let mut b = clean.clone();
    apply(&mut b, Corruption::TdvfCountOverflow).unwrap();
    let at = b.tdvf_offset.unwrap();
    let (len, n) = (u32le(&b.bytes, at + 4), u32le(&b.bytes, at + 12));
    assert_eq!(16u32.wrapping_add(32u32.wrapping_mul(n)), len, "wraps in u32");
    assert_ne!(16 + 32 * n as u64, len as u64);

    // The split image is the combined one without its CFV, like OVMF_CODE.fd.
    let mut b = clean.clone();
    apply(&mut b, Corruption::TdvfSplitCode).unwrap();
    assert_eq!(b.len(), 0x10000 - 0x2000);
    assert_eq!(b.bytes[..], clean.bytes[0x2000..]);
}

#[test]
fn corruptions_compose() {
    let mut b = ImageBuilder::ovmf_like(0x10000).built();
    apply(&mut b, Corruption::TdvfBfvNoData).unwrap();
    apply(&mut b, Corruption::DuplicateEntry).unwrap();
    assert_eq!(verdict(&b.bytes), Some(Expect::Reject(Part::FooterTable)));
    // The earlier patch survives the table rewrite.
    let at = b.tdvf_offset.unwrap();
    assert_eq!(u32le(&b.bytes, at + 16 + 4), 0);
    assert_eq!(b.corruptions, ["tdvf-bfv-no-data", "duplicate-entry"]);
}

#[test]
fn names_round_trip() {
    let all = Corruption::all();
    assert_eq!(all.len(), 33);
    for c in &all {
        assert_eq!(c.to_string().parse::<Corruption>(), Ok(*c));
        assert_eq!(c.name().parse::<Corruption>(), Ok(*c), "default parameter");
        assert!(!c.doc().is_empty());
    }
    assert_eq!("truncate=0x1000".parse::<Corruption>(), Ok(Corruption::Truncate(4096)));
    assert_eq!("sev-version=7".parse::<Corruption>(), Ok(Corruption::SevVersion(7)));
    assert!("empty=1".parse::<Corruption>().is_err());
    assert!("nope".parse::<Corruption>().is_err());
    assert!("truncate=x".parse::<Corruption>().is_err());
    assert_eq!(Corruption::TdvfSplitCode.expect().to_string(), "unsupported:tdx");
    assert_eq!(Corruption::Empty.expect().to_string(), "reject:file");
}
