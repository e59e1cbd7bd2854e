//! QEMU's Linux setup-header patch (hw/i386/x86-common.c `x86_load_linux`): before it serves a
//! bzImage over fw_cfg, QEMU fills in the boot-loader fields of the setup header (type_of_loader,
//! CAN_USE_HEAP, heap_end_ptr, cmd_line_ptr, ramdisk_image/size, vga=). OVMF assembles the kernel
//! from those bytes and measures its Authenticode digest, so the patch is part of RTMR1 wherever
//! the patched header is what OVMF loads (see `profiles`).

/// Boot-protocol fields (Documentation/arch/x86/boot.rst).
const SETUP_SECTS: usize = 0x1f1;
const VID_MODE: usize = 0x1fa;
const HDRS: usize = 0x202;
const VERSION: usize = 0x206;
const KERNEL_VERSION: usize = 0x20e;
const TYPE_OF_LOADER: usize = 0x210;
const LOADFLAGS: usize = 0x211;
const RAMDISK_IMAGE: usize = 0x218;
const RAMDISK_SIZE: usize = 0x21c;
const HEAP_END_PTR: usize = 0x224;
const CMD_LINE_PTR: usize = 0x228;
const INITRD_ADDR_MAX: usize = 0x22c;
const XLOADFLAGS: usize = 0x236;
/// XLF_CAN_BE_LOADED_ABOVE_4G.
const XLF_ABOVE_4G: u16 = 1 << 1;
/// QEMU reads (and patches) the first 8 KiB of the file.
const QEMU_HEADER: usize = 8192;

/// Why QEMU would not load this kernel as a bzImage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("kernel: {len} bytes; a bzImage has its setup header at 0x1f1..0x268")]
    Short { len: usize },
    #[error(
        "kernel: no \"HdrS\" signature at offset 0x202: not a Linux bzImage (QEMU would try multiboot or a PVH ELF, which TDVF does not boot)"
    )]
    NotBzImage,
    #[error("kernel: boot protocol {0:#x} at offset 0x206 is older than 2.00; QEMU cannot load an initrd for it")]
    TooOldForInitrd(u16),
    #[error(
        "kernel: setup_sects at 0x1f1 gives a {setup:#x}-byte setup area, larger than the {len:#x}-byte file (QEMU: invalid kernel header)"
    )]
    SetupTooLarge { setup: usize, len: usize },
    #[error("initrd: {size:#x} bytes do not fit below the highest initrd address {max:#x} QEMU allows here (QEMU: initrd is too large)")]
    InitrdTooLarge { size: u64, max: u64 },
    #[error("kernel command line: invalid vga= value {0:?} (QEMU refuses it)")]
    Vga(String),
    #[error("memory: {below_4g:#x} bytes below 4 GiB leave no room for QEMU's {acpi:#x} bytes of ACPI data")]
    NoLowMemory { below_4g: u64, acpi: u64 },
}

/// The facts of a bzImage header that decide the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BzImage {
    pub protocol: u16,
    pub loadflags: u8,
    pub xloadflags: u16,
    /// Bytes QEMU serves as FW_CFG_SETUP_DATA.
    pub setup_size: usize,
    /// The kernel_version string, when the header points at one.
    pub version: Option<String>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}

impl BzImage {
    pub fn parse(kernel: &[u8]) -> Result<BzImage, SetupError> {
        if kernel.len() < 0x268 {
            return Err(SetupError::Short { len: kernel.len() });
        }
        if &kernel[HDRS..HDRS + 4] != b"HdrS" {
            return Err(SetupError::NotBzImage);
        }
        let protocol = le16(kernel, VERSION);
        let sects = match kernel[SETUP_SECTS] {
            0 => 4,
            n => n as usize,
        };
        let setup_size = (sects + 1) * 512;
        if setup_size > kernel.len() {
            return Err(SetupError::SetupTooLarge { setup: setup_size, len: kernel.len() });
        }
        let version = (protocol >= 0x200).then(|| le16(kernel, KERNEL_VERSION) as usize).filter(|&p| p != 0).and_then(|p| {
            let at = 0x200 + p;
            let s = kernel.get(at..(at + 256).min(kernel.len()))?;
            let end = s.iter().position(|&c| c == 0)?;
            std::str::from_utf8(&s[..end]).ok().map(str::to_owned)
        });
        Ok(BzImage {
            protocol,
            loadflags: kernel[LOADFLAGS],
            xloadflags: if protocol >= 0x20c { le16(kernel, XLOADFLAGS) } else { 0 },
            setup_size,
            version,
        })
    }

    /// The (major, minor) release at the start of the version string: "6.12.117+deb13-cloud-amd64 ...".
    pub fn release(&self) -> Option<(u32, u32)> {
        let v = self.version.as_deref()?;
        let mut it = v.split(|c: char| !c.is_ascii_digit());
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }
}

/// The launch facts QEMU's patch depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupPatch<'a> {
    /// `-append` as given (QEMU measures the length, and looks for vga=).
    pub cmdline: &'a [u8],
    /// The initrd's size when `-initrd` is given (even an empty one).
    pub initrd_size: Option<u64>,
    /// x86ms->below_4g_mem_size.
    pub below_4g: u64,
    /// The ACPI data area QEMU reserves below the top of low memory (pc machines: 0x28000).
    pub acpi_data_size: u64,
}

/// QEMU's `vga=` parsing: normal, ext, ask or a number in C `strtoul(.., 0)` syntax ended by a
/// space or the end.
fn vga_mode(cmdline: &[u8]) -> Result<Option<u16>, SetupError> {
    let Some(pos) = cmdline.windows(4).position(|w| w == b"vga=") else { return Ok(None) };
    let v = &cmdline[pos + 4..];
    if v.starts_with(b"normal") {
        return Ok(Some(0xffff));
    }
    if v.starts_with(b"ext") {
        return Ok(Some(0xfffe));
    }
    if v.starts_with(b"ask") {
        return Ok(Some(0xfffd));
    }
    let end = v.iter().position(|&c| c == b' ').unwrap_or(v.len());
    let text = std::str::from_utf8(&v[..end]).map_err(|_| SetupError::Vga(String::from_utf8_lossy(&v[..end]).into_owned()))?;
    let parsed = if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8)
    } else {
        text.parse::<u32>()
    };
    parsed.map(|m| Some(m as u16)).map_err(|_| SetupError::Vga(text.to_owned()))
}

/// The first `min(8192, setup_size)` bytes of the kernel as QEMU patches them: what OVMF loads and
/// measures in place of the file's own bytes there.
pub fn qemu_patched_head(kernel: &[u8], p: &SetupPatch<'_>) -> Result<Vec<u8>, SetupError> {
    let bz = BzImage::parse(kernel)?;
    let protocol = bz.protocol;
    let mut h = kernel[..QEMU_HEADER.min(kernel.len())].to_vec();
    let cmdline_size = ((p.cmdline.len() + 16) & !15) as u32;
    let (real_addr, cmdline_addr) = if protocol < 0x200 || h[LOADFLAGS] & 1 == 0 || protocol < 0x202 {
        (0x90000u32, 0x9a000u32 - cmdline_size)
    } else {
        (0x10000, 0x20000)
    };
    let mut initrd_max: u64 = if protocol >= 0x20c && bz.xloadflags & XLF_ABOVE_4G != 0 {
        u32::MAX as u64
    } else if protocol >= 0x203 {
        le32(&h, INITRD_ADDR_MAX) as u64
    } else {
        0x37ff_ffff
    };
    let low = p
        .below_4g
        .checked_sub(p.acpi_data_size)
        .filter(|&l| l > 0)
        .ok_or(SetupError::NoLowMemory { below_4g: p.below_4g, acpi: p.acpi_data_size })?;
    if initrd_max >= low {
        initrd_max = low - 1;
    }
    if protocol >= 0x202 {
        h[CMD_LINE_PTR..CMD_LINE_PTR + 4].copy_from_slice(&cmdline_addr.to_le_bytes());
    } else {
        h[0x20..0x22].copy_from_slice(&0xa33fu16.to_le_bytes());
        h[0x22..0x24].copy_from_slice(&((cmdline_addr - real_addr) as u16).to_le_bytes());
    }
    if let Some(mode) = vga_mode(p.cmdline)? {
        h[VID_MODE..VID_MODE + 2].copy_from_slice(&mode.to_le_bytes());
    }
    if protocol >= 0x200 {
        h[TYPE_OF_LOADER] = 0xb0;
    }
    if protocol >= 0x201 {
        h[LOADFLAGS] |= 0x80;
        h[HEAP_END_PTR..HEAP_END_PTR + 2].copy_from_slice(&((cmdline_addr - real_addr - 0x200) as u16).to_le_bytes());
    }
    if let Some(size) = p.initrd_size {
        if protocol < 0x200 {
            return Err(SetupError::TooOldForInitrd(protocol));
        }
        if size >= initrd_max {
            return Err(SetupError::InitrdTooLarge { size, max: initrd_max });
        }
        let addr = ((initrd_max - size) & !4095) as u32;
        h[RAMDISK_IMAGE..RAMDISK_IMAGE + 4].copy_from_slice(&addr.to_le_bytes());
        h[RAMDISK_SIZE..RAMDISK_SIZE + 4].copy_from_slice(&(size as u32).to_le_bytes());
    }
    h.truncate(bz.setup_size.min(QEMU_HEADER));
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(protocol: u16, xlf: u16) -> Vec<u8> {
        let mut k = vec![0u8; 0x10000];
        k[SETUP_SECTS] = 30;
        k[HDRS..HDRS + 4].copy_from_slice(b"HdrS");
        k[VERSION..VERSION + 2].copy_from_slice(&protocol.to_le_bytes());
        k[LOADFLAGS] = 1;
        k[XLOADFLAGS..XLOADFLAGS + 2].copy_from_slice(&xlf.to_le_bytes());
        k[INITRD_ADDR_MAX..INITRD_ADDR_MAX + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        k
    }

    #[test]
    fn modern_kernel_fields_as_qemu_writes_them() {
        let k = kernel(0x20f, 0x7f);
        let p = SetupPatch { cmdline: b"console=ttyS0", initrd_size: Some(0x100_0000), below_4g: 0x8000_0000, acpi_data_size: 0x28000 };
        let h = qemu_patched_head(&k, &p).unwrap();
        assert_eq!(h.len(), 8192, "QEMU patches at most its 8 KiB header buffer");
        assert_eq!(h[TYPE_OF_LOADER], 0xb0);
        assert_eq!(h[LOADFLAGS], 0x81);
        assert_eq!(le16(&h, HEAP_END_PTR), 0xfe00);
        assert_eq!(le32(&h, CMD_LINE_PTR), 0x20000);
        // initrd_max = 2 GiB - 0x28000 - 1; the initrd ends below it, 4 KiB aligned.
        assert_eq!(le32(&h, RAMDISK_IMAGE), ((0x8000_0000u64 - 0x28000 - 1 - 0x100_0000) & !4095) as u32);
        assert_eq!(le32(&h, RAMDISK_SIZE), 0x100_0000);
        // Without XLF_CAN_BE_LOADED_ABOVE_4G the header's initrd_addr_max bounds it instead.
        let mut k = kernel(0x20f, 0x7d);
        k[INITRD_ADDR_MAX..INITRD_ADDR_MAX + 4].copy_from_slice(&0x37ff_ffffu32.to_le_bytes());
        let h = qemu_patched_head(&k, &p).unwrap();
        assert_eq!(le32(&h, RAMDISK_IMAGE), ((0x37ff_ffffu64 - 0x100_0000) & !4095) as u32);
    }

    #[test]
    fn vga_and_refusals() {
        assert_eq!(vga_mode(b"a vga=0x317 b").unwrap(), Some(0x317));
        assert_eq!(vga_mode(b"vga=ask").unwrap(), Some(0xfffd));
        assert_eq!(vga_mode(b"vga=017").unwrap(), Some(15));
        assert!(vga_mode(b"vga=foo").is_err());
        assert_eq!(vga_mode(b"quiet").unwrap(), None);
        let p = SetupPatch { cmdline: b"", initrd_size: Some(u32::MAX as u64), below_4g: 0x8000_0000, acpi_data_size: 0x28000 };
        assert!(matches!(qemu_patched_head(&kernel(0x20f, 0x7f), &p), Err(SetupError::InitrdTooLarge { .. })));
        assert_eq!(qemu_patched_head(&[0u8; 0x300], &p), Err(SetupError::NotBzImage));
        assert_eq!(qemu_patched_head(&[0u8; 3], &p), Err(SetupError::Short { len: 3 }));
    }
}
