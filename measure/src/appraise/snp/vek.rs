//! What a VCEK or VLEK certificate says about the chip and TCB it belongs to: AMD's X.509
//! extensions (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//! Specification", table "VCEK certificate extensions").

use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::Ia5StringRef;

use crate::appraise::x509::{common_name, extension};

pub const OID_PRODUCT_NAME: &str = "1.3.6.1.4.1.3704.1.2";
pub const OID_BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
pub const OID_TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
pub const OID_SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
pub const OID_UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
pub const OID_FMC_SPL: &str = "1.3.6.1.4.1.3704.1.3.9";
pub const OID_HWID: &str = "1.3.6.1.4.1.3704.1.4";

/// Which endorsement key a certificate holds (by its subject, as AMD names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VekKind {
    Vcek,
    Vlek,
}

impl VekKind {
    pub fn of(cert: &Certificate) -> Option<VekKind> {
        match common_name(&cert.tbs_certificate.subject).as_str() {
            "SEV-VCEK" => Some(VekKind::Vcek),
            "SEV-VLEK" => Some(VekKind::Vlek),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VekKind::Vcek => "VCEK",
            VekKind::Vlek => "VLEK",
        }
    }
}

/// The extensions of a VCEK/VLEK; absent or undecodable ones are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VekExtensions {
    pub product: Option<String>,
    pub hwid: Option<Vec<u8>>,
    pub bootloader: Option<u8>,
    pub tee: Option<u8>,
    pub snp: Option<u8>,
    pub microcode: Option<u8>,
    pub fmc: Option<u8>,
}

impl VekExtensions {
    pub fn read(cert: &Certificate) -> VekExtensions {
        // SPLs are DER INTEGERs inside the extension value; hwID is raw bytes (64 on Milan and
        // Genoa, 8 on Turin); productName an IA5String such as "Milan-B0".
        let spl = |oid| extension(cert, oid).and_then(|v| u8::from_der(v).ok());
        VekExtensions {
            product: extension(cert, OID_PRODUCT_NAME)
                .map(|v| Ia5StringRef::from_der(v).map(|s| s.to_string()).unwrap_or_else(|_| String::from_utf8_lossy(v).into_owned())),
            hwid: extension(cert, OID_HWID).map(<[u8]>::to_vec),
            bootloader: spl(OID_BL_SPL),
            tee: spl(OID_TEE_SPL),
            snp: spl(OID_SNP_SPL),
            microcode: spl(OID_UCODE_SPL),
            fmc: spl(OID_FMC_SPL),
        }
    }

    /// The product line ("Milan" of "Milan-B0").
    pub fn product_line(&self) -> Option<&str> {
        self.product.as_deref().map(|p| p.split('-').next().unwrap_or(p))
    }
}
