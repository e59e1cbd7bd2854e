//! The Authenticode digest against generated PE kernels: a reference walk over the offsets the
//! generator reports (not goblin's), what must and must not change the digest, and bad images.

use prelaunch_measure::authenticode::{self, AuthenticodeError};
use prelaunch_measure::hash::Sha384;
use prelaunch_testdata::{PeBuilt, PeKernel, PeSection};

/// edk2's walk, from the generator's own offsets.
fn reference(p: &PeBuilt, k: &PeKernel) -> [u8; 48] {
    let b = &p.bytes;
    let mut h = Sha384::new();
    h.update(&b[..p.checksum_offset]);
    match p.certificate_entry {
        Some(e) => {
            h.update(&b[p.checksum_offset + 4..e]);
            h.update(&b[e + 8..k.size_of_headers]);
        }
        None => h.update(&b[p.checksum_offset + 4..k.size_of_headers]),
    }
    let mut secs = p.section_data.clone();
    secs.sort_by_key(|s| s.0);
    let mut sum = k.size_of_headers;
    for (at, size) in secs.into_iter().filter(|s| s.1 > 0) {
        h.update(&b[at..at + size]);
        sum += size;
    }
    let cert = if p.certificate_entry.is_some() { k.certificate.unwrap_or(0) } else { 0 };
    if b.len() > sum + cert {
        h.update(&b[sum..b.len() - cert]);
    }
    h.finish()
}

fn variants() -> Vec<(&'static str, PeKernel)> {
    let d = PeKernel::default();
    let mut v = vec![("debian-like", d.clone())];
    v.push(("pe32", PeKernel { pe32plus: false, ..d.clone() }));
    v.push(("no certificate entry", PeKernel { rva_count: 4, certificate: None, ..d.clone() }));
    v.push(("no certificate", PeKernel { certificate: None, ..d.clone() }));
    v.push(("trailing bytes", PeKernel { trailing: 0x333, ..d.clone() }));
    v.push(("trailing bytes, odd size, no cert", PeKernel { trailing: 0x101, certificate: None, ..d.clone() }));
    let mut shuffled = d.clone();
    shuffled.sections = vec![
        PeSection { name: ".text", raw_size: 0x4000, file_rank: 2 },
        PeSection { name: ".empty", raw_size: 0, file_rank: 0 },
        PeSection { name: ".setup", raw_size: 0x600, file_rank: 0 },
        PeSection { name: ".data", raw_size: 0x1000, file_rank: 1 },
    ];
    v.push(("table order differs from file order, empty section", shuffled));
    v
}

#[test]
fn digest_matches_a_reference_walk_for_every_shape() {
    for (what, k) in variants() {
        let p = k.build();
        assert_eq!(authenticode::sha384(&p.bytes).unwrap(), reference(&p, &k), "{what}");
    }
}

#[test]
fn checksum_and_certificate_do_not_count_and_everything_else_does() {
    let k = PeKernel::default();
    let p = k.build();
    let base = authenticode::sha384(&p.bytes).unwrap();
    let mut b = p.bytes.clone();
    b[p.checksum_offset] ^= 0xff;
    let n = b.len();
    b[n - 1] ^= 0xff; // inside the certificate table
    let e = p.certificate_entry.unwrap();
    assert_eq!(authenticode::sha384(&b).unwrap(), base, "CheckSum and certificate bytes are excluded");
    let mut c = p.bytes.clone();
    c[p.section_data[2].0 + 5] ^= 1;
    assert_ne!(authenticode::sha384(&c).unwrap(), base, "a section byte counts");
    let mut c = p.bytes.clone();
    c[0x210] ^= 1; // the setup header's type_of_loader, inside SizeOfHeaders
    assert_ne!(authenticode::sha384(&c).unwrap(), base, "a header byte counts");
    // Patching through the overlay equals patching a copy.
    let layout = authenticode::PeLayout::of(&p.bytes).unwrap();
    let mut head = p.bytes[..0x1000].to_vec();
    head[0x210] = 0xb0;
    let mut copy = p.bytes.clone();
    copy[0x210] = 0xb0;
    assert_eq!(layout.digest(&p.bytes, Some(&head)), authenticode::sha384(&copy).unwrap());
    assert!(e > p.checksum_offset);
}

#[test]
fn bad_images_are_refused_naming_the_field() {
    let k = PeKernel::default();
    let p = k.build();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![("empty", vec![], "not a PE"), ("text", b"not a kernel at all".to_vec(), "not a PE")];
    let mut b = p.bytes.clone();
    b[0] = b'X';
    cases.push(("no MZ", b, "not a PE"));
    let cut = p.section_data[2].0 + 10;
    cases.push(("truncated in a section", p.bytes[..cut].to_vec(), "outside"));
    let mut b = p.bytes.clone();
    let e = p.certificate_entry.unwrap();
    b[e + 4..e + 8].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    cases.push(("certificate larger than the file", b, "certificate table"));
    for (what, bytes, want) in cases {
        let e: AuthenticodeError = authenticode::sha384(&bytes).unwrap_err();
        assert!(e.to_string().contains(want), "{what}: {e}");
    }
}
