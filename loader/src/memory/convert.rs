//! Conversion of guest memory to private, and the bounded retry around it.
//!
//! The in-place series converts with KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (contents
//! preserved); mainline kernels use the VM-level KVM_SET_MEMORY_ATTRIBUTES. Both are probed at run
//! time (kvm/probe.rs): their cap numbers moved between revisions of the series. A conversion that
//! meets pages still referenced fails with EAGAIN and names the first such page (`error_offset`).
//! Nothing of the range has been converted then: v8 10/46 ("KVM: guest_memfd: Ensure pages are not
//! in use before conversion") checks the whole range before converting any of it, so
//! [`convert_with_retry`] asks again for the whole range, a bounded number of times, and names the
//! page that stayed busy.

use serde::Serialize;

use super::MemoryError;

/// Consecutive EAGAINs without progress before giving up.
pub const MAX_CONVERT_RETRIES: u32 = 8;

pub use crate::kvm::probe::Offer;

/// What this host offers for conversion to private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostConversion {
    /// KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (in place, contents preserved).
    pub attributes2: Offer,
    /// KVM_SET_MEMORY_ATTRIBUTES on the VM (PRIVATE attribute).
    pub vm_attributes: Offer,
}

impl HostConversion {
    /// Neither ioctl, for `reason` (for example: no KVM at all).
    pub fn none(reason: &str) -> Self {
        HostConversion { attributes2: Offer::No(reason.into()), vm_attributes: Offer::No(reason.into()) }
    }

    pub fn any(&self) -> bool {
        self.attributes2.offered() || self.vm_attributes.offered()
    }

    /// "KVM_SET_MEMORY_ATTRIBUTES2: not offered (ENOTTY); KVM_SET_MEMORY_ATTRIBUTES: offered".
    pub fn describe(&self) -> String {
        let one = |name: &str, o: &Offer| match o {
            Offer::Yes => format!("{name}: offered"),
            Offer::No(why) => format!("{name}: not offered ({why})"),
        };
        format!("{}; {}", one("KVM_SET_MEMORY_ATTRIBUTES2", &self.attributes2), one("KVM_SET_MEMORY_ATTRIBUTES", &self.vm_attributes))
    }
}

/// How memory was converted in a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionPath {
    /// KVM_SET_MEMORY_ATTRIBUTES2 on each guest_memfd.
    Attributes2,
    /// KVM_SET_MEMORY_ATTRIBUTES on the VM.
    VmAttributes,
    /// Modelled by the sim platform (the host mapping stays shared so the model can read it).
    Modelled,
    /// SEV and SEV-ES encrypt in place without private memory.
    NotNeeded,
}

impl ConversionPath {
    pub fn name(self) -> &'static str {
        match self {
            ConversionPath::Attributes2 => "KVM_SET_MEMORY_ATTRIBUTES2",
            ConversionPath::VmAttributes => "KVM_SET_MEMORY_ATTRIBUTES",
            ConversionPath::Modelled => "modelled",
            ConversionPath::NotNeeded => "not needed",
        }
    }
}

/// One failed conversion attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Pages hold extra references, the first at `at_gpa`; the kernel converted none of the range.
    #[error("pages still in use (EAGAIN) from GPA {at_gpa:#x}")]
    Again { at_gpa: u64 },
    #[error("not supported here: {0}")]
    Unsupported(String),
    #[error("{call}: {errno}")]
    Failed { call: &'static str, errno: String },
}

/// Converts `[gpa, gpa + len)` with `once`, asking again for the whole range after EAGAIN (the
/// kernel converted none of it); gives up after [`MAX_CONVERT_RETRIES`] consecutive EAGAINs, naming
/// the page the last one reported. Returns the number of retries.
pub fn convert_with_retry(gpa: u64, len: u64, mut once: impl FnMut(u64, u64) -> Result<(), ConvertError>) -> Result<u32, MemoryError> {
    let end = gpa + len;
    let mut retries = 0;
    loop {
        match once(gpa, len) {
            Ok(()) => return Ok(retries),
            Err(ConvertError::Again { at_gpa }) => {
                retries += 1;
                if retries >= MAX_CONVERT_RETRIES {
                    return Err(MemoryError::ConvertStuck { at_gpa: at_gpa.clamp(gpa, end), tries: retries });
                }
                std::thread::yield_now();
            }
            Err(source) => return Err(MemoryError::Convert { gpa, len, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eagain_asks_again_for_the_whole_range() {
        let mut calls = Vec::new();
        let retries = convert_with_retry(0x10000, 0x4000, |g, l| {
            calls.push((g, l));
            if calls.len() < 3 { Err(ConvertError::Again { at_gpa: 0x12000 }) } else { Ok(()) }
        })
        .unwrap();
        assert_eq!(retries, 2);
        assert_eq!(calls, vec![(0x10000, 0x4000); 3], "nothing before error_offset was converted");
    }

    #[test]
    fn gives_up_after_bounded_retries_naming_the_offset() {
        let mut n = 0;
        let e = convert_with_retry(0x10000, 0x4000, |_, _| {
            n += 1;
            Err(ConvertError::Again { at_gpa: 0x12000 })
        })
        .unwrap_err();
        assert_eq!(n, MAX_CONVERT_RETRIES);
        let msg = e.to_string();
        assert!(msg.contains("0x12000") && msg.contains("EAGAIN"), "{msg}");
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut n = 0;
        let e = convert_with_retry(0, 0x1000, |_, _| {
            n += 1;
            Err(ConvertError::Failed { call: "KVM_SET_MEMORY_ATTRIBUTES", errno: "EINVAL".into() })
        })
        .unwrap_err();
        assert_eq!(n, 1);
        assert!(e.to_string().contains("EINVAL"));
    }

    #[test]
    fn describes_what_the_host_offers() {
        let h = HostConversion { attributes2: Offer::No("ENOTTY".into()), vm_attributes: Offer::Yes };
        assert_eq!(h.describe(), "KVM_SET_MEMORY_ATTRIBUTES2: not offered (ENOTTY); KVM_SET_MEMORY_ATTRIBUTES: offered");
        assert!(h.any());
        assert!(!HostConversion::none("no KVM").any());
    }
}
