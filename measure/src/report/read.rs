//! Bounds-checked little-endian field reads. Every parser in `report` reads through [`Fields`], so no
//! input, however short or lying, can index out of range: a missing field becomes [`Truncated`].

/// A field that runs past the end of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {field} at offset {offset:#x} needs {need} bytes, only {have} present")]
pub struct Truncated {
    pub what: &'static str,
    pub field: &'static str,
    pub offset: usize,
    pub need: usize,
    pub have: usize,
}

/// A view of one structure: `what` names it in errors, offsets are relative to `bytes`.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub what: &'static str,
    pub bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Fields { what, bytes }
    }

    pub fn slice(&self, field: &'static str, offset: usize, len: usize) -> Result<&'a [u8], Truncated> {
        offset.checked_add(len).and_then(|end| self.bytes.get(offset..end)).ok_or(Truncated {
            what: self.what,
            field,
            offset,
            need: len,
            have: self.bytes.len().saturating_sub(offset),
        })
    }

    pub fn array<const N: usize>(&self, field: &'static str, offset: usize) -> Result<[u8; N], Truncated> {
        let s = self.slice(field, offset, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&self, field: &'static str, offset: usize) -> Result<u8, Truncated> {
        self.array::<1>(field, offset).map(|[b]| b)
    }

    pub fn u16(&self, field: &'static str, offset: usize) -> Result<u16, Truncated> {
        self.array(field, offset).map(u16::from_le_bytes)
    }

    pub fn u32(&self, field: &'static str, offset: usize) -> Result<u32, Truncated> {
        self.array(field, offset).map(u32::from_le_bytes)
    }

    pub fn u64(&self, field: &'static str, offset: usize) -> Result<u64, Truncated> {
        self.array(field, offset).map(u64::from_le_bytes)
    }
}

/// Serde helpers: digests and IDs print as lowercase hex rather than arrays of numbers.
pub(crate) mod hex_serde {
    use serde::Serializer;

    pub fn bytes<S: Serializer, const N: usize>(b: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn opt_bytes<S: Serializer, const N: usize>(b: &Option<[u8; N]>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn bytes_list<S: Serializer, const N: usize, const M: usize>(b: &[[u8; N]; M], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(b.iter().map(hex::encode))
    }

    pub fn vec<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let f = Fields::new("thing", &[1, 2, 3, 4, 5]);
        assert_eq!(f.u32("A", 0), Ok(0x0403_0201));
        assert_eq!(f.u8("B", 4), Ok(5));
        let e = f.u32("C", 3).unwrap_err();
        assert_eq!((e.offset, e.need, e.have), (3, 4, 2));
        assert_eq!(e.to_string(), "thing: C at offset 0x3 needs 4 bytes, only 2 present");
        assert!(f.slice("D", usize::MAX, 2).is_err());
        assert!(f.u64("E", 100).is_err());
    }
}
