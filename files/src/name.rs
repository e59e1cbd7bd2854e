//! File names as messages show them.

use std::fmt;
use std::path::Path;

/// A path for messages: control characters (C0, DEL, C1) escaped as `\x..` or `\u{..}`, bytes that
/// are not UTF-8 as `\x..`, everything else as given. A file name can hold any byte but `/` and NUL,
/// and one holding `\r` or an escape sequence would otherwise rewrite what the terminal shows.
pub struct Shown<'a>(&'a Path);

/// Shows `path` in a message with its control characters escaped.
pub fn show(path: &Path) -> Shown<'_> {
    Shown(path)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::ffi::OsStrExt;
        if self.0.as_os_str() == "-" {
            return f.write_str("standard input");
        }
        for chunk in self.0.as_os_str().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                match c as u32 {
                    0..0x20 | 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                    0x80..0xa0 => write!(f, "\\u{{{:x}}}", c as u32)?,
                    _ => fmt::Write::write_char(f, c)?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        let cases: &[(&[u8], &str)] = &[
            (b"OVMF.fd", "OVMF.fd"),
            (b"dir/\xc3\xa9t\xc3\xa9.fd", "dir/\u{e9}t\u{e9}.fd"),
            (b"a\nb", "a\\x0ab"),
            (b"\x1b[2J\rok", "\\x1b[2J\\x0dok"),
            (b"del\x7f", "del\\x7f"),
            (b"c1\xc2\x9b", "c1\\u{9b}"),
            (b"bad\xff\xfe", "bad\\xff\\xfe"),
            (b"-", "standard input"),
        ];
        for (raw, want) in cases {
            assert_eq!(show(Path::new(OsStr::from_bytes(raw))).to_string(), *want, "{raw:?}");
        }
    }
}
