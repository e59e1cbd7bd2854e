//! Synthetic PE/COFF kernels: the shape of a Linux bzImage with its EFI stub (DOS header, PE header
//! and section table inside the setup sectors, the boot-protocol setup header at 0x1f1, section data,
//! optional trailing bytes and an Authenticode certificate table), with every knob that changes the
//! Authenticode digest or QEMU's setup-header patch. Written from the PE/COFF spec and the Linux boot
//! protocol (Documentation/arch/x86/boot.rst), independently of prelaunch-measure.

use crate::rng::Rng;

/// One section: its name, its raw size, and its position in the file relative to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeSection {
    pub name: &'static str,
    pub raw_size: usize,
    /// Sections are laid out in the file by ascending `file_rank`, whatever their table order.
    pub file_rank: usize,
}

/// A kernel to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeKernel {
    /// PE32+ (0x20b) or PE32 (0x10b).
    pub pe32plus: bool,
    pub sections: Vec<PeSection>,
    /// NumberOfRvaAndSizes; 4 or less means there is no certificate-table entry at all.
    pub rva_count: u32,
    /// SizeOfHeaders (a bzImage has 0x1000: the setup header is inside the headers).
    pub size_of_headers: usize,
    /// Bytes after the last section, before the certificate table.
    pub trailing: usize,
    /// An Authenticode certificate table of this size, at the end of the file.
    pub certificate: Option<usize>,
    /// Boot protocol version (0x206), loadflags (0x211), xloadflags (0x236), setup_sects (0x1f1),
    /// initrd_addr_max (0x22c).
    pub protocol: u16,
    pub loadflags: u8,
    pub xloadflags: u16,
    pub setup_sects: u8,
    pub initrd_addr_max: u32,
    /// The kernel_version string (pointed to by 0x20e).
    pub version: String,
    pub seed: u64,
}

impl Default for PeKernel {
    /// Shaped like a Debian cloud kernel: PE32+, .setup/.compat/.text/.data, six data directories,
    /// a certificate table, protocol 2.15, LOADED_HIGH, XLF 0x7f.
    fn default() -> Self {
        PeKernel {
            pe32plus: true,
            sections: vec![
                PeSection { name: ".setup", raw_size: 0x3000, file_rank: 0 },
                PeSection { name: ".compat", raw_size: 0x1000, file_rank: 1 },
                PeSection { name: ".text", raw_size: 0x20000, file_rank: 2 },
                PeSection { name: ".data", raw_size: 0x1200, file_rank: 3 },
            ],
            rva_count: 6,
            size_of_headers: 0x1000,
            trailing: 0,
            certificate: Some(0x5c0),
            protocol: 0x20f,
            loadflags: 0x01,
            xloadflags: 0x7f,
            setup_sects: 39,
            initrd_addr_max: 0x7fff_ffff,
            version: "6.12.0-prelaunch-test (gen-pe) #1 SMP".into(),
            seed: 1,
        }
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Where the builder put things, for tests that need offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeBuilt {
    pub bytes: Vec<u8>,
    pub checksum_offset: usize,
    pub certificate_entry: Option<usize>,
    /// (file offset, raw size) per section, in table order.
    pub section_data: Vec<(usize, usize)>,
}

const PE_OFFSET: usize = 0x40;

impl PeKernel {
    pub fn build(&self) -> PeBuilt {
        let mut rng = Rng::new(self.seed);
        let opt_len = if self.pe32plus { 112 } else { 96 } + 8 * self.rva_count as usize;
        let table = PE_OFFSET + 24 + opt_len;
        let table_end = table + 40 * self.sections.len();
        assert!(table_end <= 0x1f1, "PE headers ({table_end:#x}) must end before the setup header at 0x1f1");
        assert!(self.size_of_headers >= 0x300, "the setup header and version string need 0x300 bytes of headers");
        // Section data in file order.
        let mut order: Vec<usize> = (0..self.sections.len()).collect();
        order.sort_by_key(|&i| self.sections[i].file_rank);
        let mut at = self.size_of_headers;
        let mut section_data = vec![(0, 0); self.sections.len()];
        for &i in &order {
            section_data[i] = (at, self.sections[i].raw_size);
            at += self.sections[i].raw_size;
        }
        let sections_end = at;
        let cert_at = sections_end + self.trailing;
        let len = cert_at + self.certificate.unwrap_or(0);
        let mut b = vec![0u8; len];
        for x in b.iter_mut() {
            *x = rng.next_u32() as u8;
        }
        // DOS header.
        b[..PE_OFFSET].fill(0);
        b[0] = b'M';
        b[1] = b'Z';
        put32(&mut b, 0x3c, PE_OFFSET as u32);
        // PE signature and COFF header.
        b[PE_OFFSET..table_end].fill(0);
        b[PE_OFFSET..PE_OFFSET + 4].copy_from_slice(b"PE\0\0");
        let coff = PE_OFFSET + 4;
        put16(&mut b, coff, 0x8664);
        put16(&mut b, coff + 2, self.sections.len() as u16);
        put16(&mut b, coff + 16, opt_len as u16);
        put16(&mut b, coff + 18, 0x0206);
        // Optional header.
        let opt = coff + 20;
        put16(&mut b, opt, if self.pe32plus { 0x20b } else { 0x10b });
        put32(&mut b, opt + 16, 0x1000); // AddressOfEntryPoint
        put32(&mut b, opt + 32, 0x1000); // SectionAlignment
        put32(&mut b, opt + 36, 0x200); // FileAlignment
        put32(&mut b, opt + 56, (len as u32).next_multiple_of(0x1000)); // SizeOfImage
        put32(&mut b, opt + 60, self.size_of_headers as u32);
        let checksum_offset = opt + 64;
        put32(&mut b, checksum_offset, rng.next_u32()); // a checksum that must not matter
        put16(&mut b, opt + 68, 10); // EFI application
        let rva_at = if self.pe32plus { opt + 108 } else { opt + 92 };
        put32(&mut b, rva_at, self.rva_count);
        let dirs = rva_at + 4;
        let certificate_entry = (self.rva_count > 4).then_some(dirs + 32);
        if let (Some(e), Some(size)) = (certificate_entry, self.certificate) {
            put32(&mut b, e, cert_at as u32);
            put32(&mut b, e + 4, size as u32);
        }
        // Section table.
        let mut va = 0x1000u32;
        for (i, s) in self.sections.iter().enumerate() {
            let e = table + 40 * i;
            let name = s.name.as_bytes();
            b[e..e + name.len().min(8)].copy_from_slice(&name[..name.len().min(8)]);
            put32(&mut b, e + 8, s.raw_size as u32);
            put32(&mut b, e + 12, va);
            put32(&mut b, e + 16, s.raw_size as u32);
            put32(&mut b, e + 20, if s.raw_size == 0 { 0 } else { section_data[i].0 as u32 });
            put32(&mut b, e + 36, 0x6000_0020);
            va += (s.raw_size as u32).max(1).next_multiple_of(0x1000);
        }
        // The boot-protocol setup header.
        b[0x1f1..0x260].fill(0);
        b[0x1f1] = self.setup_sects;
        put16(&mut b, 0x1fe, 0xaa55);
        b[0x202..0x206].copy_from_slice(b"HdrS");
        put16(&mut b, 0x206, self.protocol);
        let version_at = 0x2a0;
        put16(&mut b, 0x20e, (version_at - 0x200) as u16);
        b[0x211] = self.loadflags;
        put32(&mut b, 0x22c, self.initrd_addr_max);
        put16(&mut b, 0x236, self.xloadflags);
        let v = self.version.as_bytes();
        b[version_at..version_at + v.len() + 1].fill(0);
        b[version_at..version_at + v.len()].copy_from_slice(v);
        if let Some(size) = self.certificate {
            // WIN_CERTIFICATE header: dwLength, revision 0x200, type PKCS_SIGNED_DATA.
            put32(&mut b, cert_at, size as u32);
            put16(&mut b, cert_at + 4, 0x200);
            put16(&mut b, cert_at + 6, 2);
        }
        PeBuilt { bytes: b, checksum_offset, certificate_entry, section_data }
    }
}
