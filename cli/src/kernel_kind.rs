//! Recognising bootable kernels: a payload that is neither a PE/EFI image nor a bzImage is measured
//! anyway (the firmware hashes whatever bytes it is given), but the user is told.

/// Whether `bytes` looks like something OVMF can boot: a PE/COFF image (EFI stub) or a bzImage.
pub fn looks_bootable(bytes: &[u8]) -> bool {
    is_bzimage(bytes) || goblin::pe::PE::parse(bytes).is_ok()
}

/// The Linux boot protocol's setup header: "HdrS" at 0x202 and the 0xAA55 boot flag at 0x1FE.
fn is_bzimage(b: &[u8]) -> bool {
    b.get(0x202..0x206) == Some(b"HdrS") && b.get(0x1fe..0x200) == Some(&[0x55, 0xaa])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_bzimage_headers_and_rejects_noise() {
        let mut k = vec![0u8; 0x1000];
        assert!(!looks_bootable(&k));
        k[0x1fe] = 0x55;
        k[0x1ff] = 0xaa;
        k[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(looks_bootable(&k));
        assert!(!looks_bootable(b"MZ"));
        let noise: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        assert!(!looks_bootable(&noise));
    }
}
