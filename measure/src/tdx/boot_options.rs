//! The boot variables TDVF measures at ReadyToBoot for a QEMU direct boot: BootOrder and the
//! Boot#### options BDS has registered by the time OVMF starts the -kernel image. EFI_LOAD_OPTION and
//! device-path encodings from UEFI 2.10 sections 3.1.3 and 10.3.

use crate::guid::Guid;

/// OvmfPkgX64.fdf's DXEFV FvNameGuid: the firmware volume holding UiApp and BootManagerMenuApp.
pub const OVMF_DXEFV: Guid = Guid::parse("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1");
/// MdeModulePkg/Application/UiApp FILE_GUID.
pub const UIAPP: Guid = Guid::parse("462caa21-7614-4503-836e-8ab6f4662331");
/// MdeModulePkg/Application/BootManagerMenuApp FILE_GUID.
pub const BOOT_MANAGER_MENU_APP: Guid = Guid::parse("eec25bdc-67f2-4d95-b1d5-f81b2039d11d");

pub const LOAD_OPTION_ACTIVE: u32 = 0x1;
pub const LOAD_OPTION_HIDDEN: u32 = 0x8;
pub const LOAD_OPTION_CATEGORY_APP: u32 = 0x100;

/// MEDIA_PIWG_FW_VOL_DP and MEDIA_PIWG_FW_FILE_DP nodes, then the end node.
pub fn fv_file_path(fv: &Guid, file: &Guid) -> Vec<u8> {
    let mut p = vec![0x04, 0x07, 20, 0];
    p.extend_from_slice(&fv.0);
    p.extend_from_slice(&[0x04, 0x06, 20, 0]);
    p.extend_from_slice(&file.0);
    p.extend_from_slice(&[0x7f, 0xff, 4, 0]);
    p
}

/// EFI_LOAD_OPTION: attributes, FilePathListLength, the NUL-terminated UTF-16 description, the
/// device path, optional data.
pub fn load_option(attributes: u32, description: &str, path: &[u8], optional: &[u8]) -> Vec<u8> {
    let mut b = attributes.to_le_bytes().to_vec();
    b.extend_from_slice(&(path.len() as u16).to_le_bytes());
    for u in description.encode_utf16().chain([0]) {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b.extend_from_slice(path);
    b.extend_from_slice(optional);
    b
}

/// BootOrder: the option numbers as little-endian u16s.
pub fn boot_order(options: &[u16]) -> Vec<u8> {
    options.iter().flat_map(|o| o.to_le_bytes()).collect()
}

/// The boot variables a fresh variable store ends up with before the kernel runs.
pub fn direct_boot_defaults(boot_menu_app: bool) -> Vec<(String, Vec<u8>)> {
    let hidden_app = LOAD_OPTION_ACTIVE | LOAD_OPTION_HIDDEN | LOAD_OPTION_CATEGORY_APP;
    if boot_menu_app {
        vec![
            ("BootOrder".into(), boot_order(&[0, 1])),
            ("Boot0000".into(), load_option(hidden_app, "BootManagerMenuApp", &fv_file_path(&OVMF_DXEFV, &BOOT_MANAGER_MENU_APP), &[])),
            (
                "Boot0001".into(),
                load_option(LOAD_OPTION_ACTIVE | LOAD_OPTION_CATEGORY_APP, "EFI Firmware Setup", &fv_file_path(&OVMF_DXEFV, &UIAPP), &[]),
            ),
        ]
    } else {
        vec![
            ("BootOrder".into(), boot_order(&[0])),
            ("Boot0000".into(), load_option(hidden_app, "UiApp", &fv_file_path(&OVMF_DXEFV, &UIAPP), &[])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Sha384;

    #[test]
    fn uiapp_option_matches_real_tdvf_logs() {
        // The Boot0000 digest in trustee's OVMF log and go-tdx-guest's GCE log.
        let v = direct_boot_defaults(false);
        assert_eq!(
            hex::encode(Sha384::digest(&v[1].1)),
            "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298"
        );
        assert_eq!(v[0].1, [0, 0]);
    }
}
