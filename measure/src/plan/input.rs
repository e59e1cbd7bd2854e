//! The files a plan reads bytes from: each identified by a typed kind (never a free-form string) and,
//! once the plan leaves the process, by its size and SHA-256.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Sha256Digest;

/// What an input file is. The serde names are the plan format's (`"firmware"`, `"svsm"`, ...) and
/// are stable: a new kind is a new variant, never a renamed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// The OVMF/TDVF image, mapped so that it ends at 4 GiB.
    Firmware,
    /// A COCONUT SVSM binary launched below the firmware (`snp:svsm`).
    Svsm,
    /// A direct-boot kernel.
    Kernel,
    /// A direct-boot initrd.
    Initrd,
    /// An IGVM file (firmware and payload in one).
    Igvm,
}

impl InputKind {
    pub const ALL: [InputKind; 5] = [InputKind::Firmware, InputKind::Svsm, InputKind::Kernel, InputKind::Initrd, InputKind::Igvm];

    /// The plan format's name (also what messages print).
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Firmware => "firmware",
            InputKind::Svsm => "svsm",
            InputKind::Kernel => "kernel",
            InputKind::Initrd => "initrd",
            InputKind::Igvm => "igvm",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An input file the plan reads bytes from.
///
/// `sha256` is `None` only in a plan built in this process from the bytes themselves (the builder
/// returns a [`super::CheckedPlan`] that borrows them, so the binding is by construction and costs no
/// hashing); such a plan cannot be serialised until [`super::CheckedPlan::portable`] fills it, and a
/// plan read from JSON must carry it (64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub kind: InputKind,
    pub size: u64,
    #[serde(with = "sha256_hex")]
    pub sha256: Option<Sha256Digest>,
}

impl InputFile {
    /// An input as a builder records it: its size, bound to its bytes by the plan's borrow.
    pub fn built(kind: InputKind, size: u64) -> Self {
        InputFile { kind, size, sha256: None }
    }
}

/// `sha256` in JSON: always 64 hex digits; writing an unidentified input is an error.
mod sha256_hex {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Sha256Digest>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&hex::encode(d)),
            None => Err(serde::ser::Error::custom(
                "an input has no SHA-256: a plan is written only through CheckedPlan::portable, which identifies every input",
            )),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha256Digest>, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = hex::decode(&s).ok().and_then(|b| <Sha256Digest>::try_from(b).ok()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "sha256 {:?}: expected 64 hex digits (every input of a plan is identified by its SHA-256)",
                s.chars().take(80).collect::<String>()
            ))
        })?;
        Ok(Some(bytes))
    }
}

/// The bytes a plan's `File` sources refer to, by input kind.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    files: Vec<(InputKind, &'a [u8])>,
}

impl<'a> Inputs<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the bytes of `kind`.
    pub fn with(mut self, kind: InputKind, bytes: &'a [u8]) -> Self {
        self.files.retain(|f| f.0 != kind);
        self.files.push((kind, bytes));
        self
    }

    pub fn get(&self, kind: InputKind) -> Option<&'a [u8]> {
        self.files.iter().find(|f| f.0 == kind).map(|f| f.1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (InputKind, &'a [u8])> + '_ {
        self.files.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_plan_names() {
        for k in InputKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::from(k.name()));
            assert_eq!(serde_json::from_value::<InputKind>(k.name().into()).unwrap(), k);
        }
        assert!(serde_json::from_value::<InputKind>("Firmware".into()).is_err());
    }

    #[test]
    fn an_input_is_identified_in_json_always() {
        let ok = serde_json::json!({"kind": "firmware", "size": 4096, "sha256": "ab".repeat(32)});
        assert_eq!(serde_json::from_value::<InputFile>(ok).unwrap().sha256, Some([0xab; 32]));
        for bad in ["", "00", &"zz".repeat(32), &"ab".repeat(33)] {
            let v = serde_json::json!({"kind": "firmware", "size": 4096, "sha256": bad});
            let e = serde_json::from_value::<InputFile>(v).unwrap_err().to_string();
            assert!(e.contains("expected 64 hex digits"), "{bad:?}: {e}");
        }
        let missing = serde_json::json!({"kind": "firmware", "size": 4096});
        assert!(serde_json::from_value::<InputFile>(missing).is_err());
        assert!(serde_json::to_string(&InputFile::built(InputKind::Firmware, 4096)).is_err(), "unidentified inputs are never written");
    }
}
