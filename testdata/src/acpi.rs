//! Synthetic QEMU ACPI fw_cfg blobs: `etc/acpi/tables` (FACS, DSDT, FACP, APIC with one LAPIC per
//! vCPU, MCFG, WAET, RSDT, in QEMU's order), `etc/acpi/rsdp` (ACPI 1.0, 20 bytes) and the
//! `etc/table-loader` script that allocates, patches and checksums them (hw/acpi/bios-linker-loader.c
//! command layout: 128-byte commands, 56-byte file names), padded to 4 KiB as QEMU pads it.

const TABLES: &str = "etc/acpi/tables";
const RSDP: &str = "etc/acpi/rsdp";

/// The three blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpiBlobs {
    pub loader: Vec<u8>,
    pub rsdp: Vec<u8>,
    pub tables: Vec<u8>,
}

fn header(sig: &[u8; 4], len: usize, rev: u8) -> Vec<u8> {
    let mut h = sig.to_vec();
    h.extend_from_slice(&(len as u32).to_le_bytes());
    h.push(rev);
    h.push(0); // checksum, set by the loader's ADD_CHECKSUM
    h.extend_from_slice(b"BOCHS ");
    h.extend_from_slice(b"BXPC    ");
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(b"BXPC");
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

fn table(sig: &[u8; 4], rev: u8, body: &[u8]) -> Vec<u8> {
    let mut t = header(sig, 36 + body.len(), rev);
    t.extend_from_slice(body);
    t
}

fn name(s: &str) -> [u8; 56] {
    let mut n = [0u8; 56];
    n[..s.len()].copy_from_slice(s.as_bytes());
    n
}

fn allocate(file: &str, align: u32, zone: u8) -> Vec<u8> {
    let mut c = 1u32.to_le_bytes().to_vec();
    c.extend_from_slice(&name(file));
    c.extend_from_slice(&align.to_le_bytes());
    c.push(zone);
    c.resize(128, 0);
    c
}

fn add_pointer(dst: &str, src: &str, offset: u32, size: u8) -> Vec<u8> {
    let mut c = 2u32.to_le_bytes().to_vec();
    c.extend_from_slice(&name(dst));
    c.extend_from_slice(&name(src));
    c.extend_from_slice(&offset.to_le_bytes());
    c.push(size);
    c.resize(128, 0);
    c
}

fn add_checksum(file: &str, at: u32, start: u32, len: u32) -> Vec<u8> {
    let mut c = 3u32.to_le_bytes().to_vec();
    c.extend_from_slice(&name(file));
    c.extend_from_slice(&at.to_le_bytes());
    c.extend_from_slice(&start.to_le_bytes());
    c.extend_from_slice(&len.to_le_bytes());
    c.resize(128, 0);
    c
}

/// Blobs for `vcpus` processors; `variant` changes the DSDT's contents (a different device set).
pub fn build(vcpus: u32, variant: u32) -> AcpiBlobs {
    let mut tables = Vec::new();
    let mut loader = allocate(RSDP, 16, 2);
    loader.extend(allocate(TABLES, 64, 1));
    // FACS: no checksum, 64 bytes.
    let facs = tables.len();
    let mut f = b"FACS".to_vec();
    f.extend_from_slice(&64u32.to_le_bytes());
    f.resize(64, 0);
    tables.extend_from_slice(&f);
    // DSDT with some AML-looking bytes that depend on the variant.
    let dsdt = tables.len();
    let aml: Vec<u8> = (0..(512 + 16 * variant)).map(|i| (i as u8).wrapping_mul(31).wrapping_add(variant as u8)).collect();
    let d = table(b"DSDT", 1, &aml);
    loader.extend(add_checksum(TABLES, (dsdt + 9) as u32, dsdt as u32, d.len() as u32));
    tables.extend_from_slice(&d);
    // FACP (FADT rev 1 layout up to X_DSDT at 140).
    let facp = tables.len();
    let mut body = vec![0u8; 244 - 36];
    body[0..4].copy_from_slice(&(facs as u32).to_le_bytes()); // FIRMWARE_CTRL at 36
    body[4..8].copy_from_slice(&(dsdt as u32).to_le_bytes()); // DSDT at 40
    body[104..112].copy_from_slice(&(dsdt as u64).to_le_bytes()); // X_DSDT at 140
    let fa = table(b"FACP", 3, &body);
    tables.extend_from_slice(&fa);
    loader.extend(add_pointer(TABLES, TABLES, (facp + 36) as u32, 4));
    loader.extend(add_pointer(TABLES, TABLES, (facp + 40) as u32, 4));
    loader.extend(add_pointer(TABLES, TABLES, (facp + 140) as u32, 8));
    loader.extend(add_checksum(TABLES, (facp + 9) as u32, facp as u32, fa.len() as u32));
    let mut entries = vec![facp];
    // APIC: local APIC address, flags, one processor-local-APIC entry per vCPU, an I/O APIC.
    let apic = tables.len();
    let mut b = 0xfee0_0000u32.to_le_bytes().to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..vcpus {
        b.extend_from_slice(&[0, 8, i as u8, i as u8, 1, 0, 0, 0]);
    }
    b.extend_from_slice(&[1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]);
    let ap = table(b"APIC", 3, &b);
    tables.extend_from_slice(&ap);
    loader.extend(add_checksum(TABLES, (apic + 9) as u32, apic as u32, ap.len() as u32));
    entries.push(apic);
    // MCFG and WAET.
    for (sig, rev, body) in [
        (b"MCFG", 1u8, {
            let mut m = vec![0u8; 8];
            m.extend_from_slice(&0xb000_0000u64.to_le_bytes());
            m.extend_from_slice(&[0, 0, 0, 0, 0xff, 0, 0, 0]);
            m
        }),
        (b"WAET", 1, 2u32.to_le_bytes().to_vec()),
    ] {
        let at = tables.len();
        let t = table(sig, rev, &body);
        tables.extend_from_slice(&t);
        loader.extend(add_checksum(TABLES, (at + 9) as u32, at as u32, t.len() as u32));
        entries.push(at);
    }
    // RSDT pointing at every table but FACS and DSDT.
    let rsdt = tables.len();
    let mut body = Vec::new();
    for e in &entries {
        body.extend_from_slice(&(*e as u32).to_le_bytes());
    }
    let rs = table(b"RSDT", 1, &body);
    tables.extend_from_slice(&rs);
    for i in 0..entries.len() {
        loader.extend(add_pointer(TABLES, TABLES, (rsdt + 36 + 4 * i) as u32, 4));
    }
    loader.extend(add_checksum(TABLES, (rsdt + 9) as u32, rsdt as u32, rs.len() as u32));
    // QEMU pads the tables blob (to 128 KiB for the machine types that size it so).
    tables.resize(0x20000, 0);
    let mut rsdp = b"RSD PTR ".to_vec();
    rsdp.push(0);
    rsdp.extend_from_slice(b"BOCHS ");
    rsdp.push(0);
    rsdp.extend_from_slice(&(rsdt as u32).to_le_bytes());
    loader.extend(add_pointer(RSDP, TABLES, 16, 4));
    loader.extend(add_checksum(RSDP, 8, 0, 20));
    loader.resize(4096, 0);
    AcpiBlobs { loader, rsdp, tables }
}
