//! QEMU's ACPI linker/loader script (fw_cfg `etc/table-loader`, hw/acpi/bios-linker-loader.c) as
//! OVMF processes it (OvmfPkg/Library/AcpiPlatformLib/QemuFwCfgAcpi.c): TDVF measures the script
//! first, then each blob an ALLOCATE command downloads, in command order, before patching them.
//! So the script decides which blobs are measured and in which order; their bytes are inputs.

/// Each command is 128 bytes.
pub const COMMAND_LEN: usize = 128;
/// fw_cfg file names are at most 56 bytes with their NUL.
pub const FILE_NAME_LEN: usize = 56;
const ALLOCATE: u32 = 1;
const ADD_POINTER: u32 = 2;
const ADD_CHECKSUM: u32 = 3;
const WRITE_POINTER: u32 = 4;

/// Why a table-loader script is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcpiError {
    #[error("ACPI table loader: {len} bytes, not a whole number of {COMMAND_LEN}-byte commands")]
    Length { len: usize },
    #[error(
        "ACPI table loader command {index} at offset {offset:#x}: type {kind:#x}, expected 1 (ALLOCATE) to 4 (WRITE_POINTER) or 0 (padding)"
    )]
    Command { index: usize, offset: usize, kind: u32 },
    #[error("ACPI table loader command {index} at offset {offset:#x}: file name is not NUL-terminated within 56 bytes")]
    Name { index: usize, offset: usize },
    #[error("ACPI table loader: ALLOCATE of {name:?} appears twice (commands {first} and {second}); OVMF refuses the script")]
    Duplicate { name: String, first: usize, second: usize },
    #[error("ACPI table loader: no ALLOCATE command: OVMF installs no tables and measures only the loader")]
    NoAllocate,
}

/// The blobs the script allocates, in the order OVMF downloads and measures them.
pub fn allocations(loader: &[u8]) -> Result<Vec<String>, AcpiError> {
    if !loader.len().is_multiple_of(COMMAND_LEN) {
        return Err(AcpiError::Length { len: loader.len() });
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    for (index, c) in loader.chunks_exact(COMMAND_LEN).enumerate() {
        let offset = index * COMMAND_LEN;
        let kind = u32::from_le_bytes(c[..4].try_into().expect("4 bytes"));
        match kind {
            0 => continue,
            ADD_POINTER | ADD_CHECKSUM | WRITE_POINTER => continue,
            ALLOCATE => {}
            _ => return Err(AcpiError::Command { index, offset, kind }),
        }
        let field = &c[4..4 + FILE_NAME_LEN];
        let end = field.iter().position(|&b| b == 0).ok_or(AcpiError::Name { index, offset })?;
        let name = String::from_utf8_lossy(&field[..end]).into_owned();
        if let Some((_, first)) = out.iter().find(|(n, _)| *n == name) {
            return Err(AcpiError::Duplicate { name, first: *first, second: index });
        }
        out.push((name, index));
    }
    if out.is_empty() {
        return Err(AcpiError::NoAllocate);
    }
    Ok(out.into_iter().map(|(n, _)| n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocate(name: &str) -> Vec<u8> {
        let mut c = vec![0u8; COMMAND_LEN];
        c[..4].copy_from_slice(&ALLOCATE.to_le_bytes());
        c[4..4 + name.len()].copy_from_slice(name.as_bytes());
        c
    }

    #[test]
    fn allocation_order_is_command_order() {
        let mut l = allocate("etc/acpi/rsdp");
        l.extend(allocate("etc/acpi/tables"));
        let mut cs = vec![0u8; COMMAND_LEN];
        cs[0] = 3;
        l.extend(cs);
        l.resize(4096, 0);
        assert_eq!(allocations(&l).unwrap(), ["etc/acpi/rsdp", "etc/acpi/tables"]);
        assert!(matches!(allocations(&l[..100]), Err(AcpiError::Length { .. })));
        let mut dup = allocate("a");
        dup.extend(allocate("a"));
        assert!(matches!(allocations(&dup), Err(AcpiError::Duplicate { .. })));
        let mut bad = allocate("x");
        bad[0] = 9;
        assert!(matches!(allocations(&bad), Err(AcpiError::Command { kind: 9, .. })));
        let mut long = allocate("x");
        long[4..60].fill(b'a');
        assert!(matches!(allocations(&long), Err(AcpiError::Name { .. })));
        assert_eq!(allocations(&[0u8; 256]), Err(AcpiError::NoAllocate));
    }
}
