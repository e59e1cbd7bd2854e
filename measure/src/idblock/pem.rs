//! Finding PEM blocks in text that carries other things too: parameter blocks before a key,
//! `openssl x509 -text` dumps before a certificate, several certificates in one file.

/// One `-----BEGIN label-----` ... `-----END label-----` block.
pub(crate) struct PemBlock<'a> {
    pub label: &'a str,
    /// Byte offset of the BEGIN line in the text.
    pub offset: usize,
    /// The whole block, boundaries included, as PEM decoders want it.
    pub text: &'a str,
}

/// What a scan finds: a block, or a BEGIN line whose END never comes (which ends the scan).
pub(crate) enum Found<'a> {
    Block(PemBlock<'a>),
    Unterminated { label: &'a str, offset: usize },
}

/// Iterates over the blocks of `text` in order.
pub(crate) fn blocks(text: &str) -> Blocks<'_> {
    Blocks { text, pos: Some(0) }
}

pub(crate) struct Blocks<'a> {
    text: &'a str,
    pos: Option<usize>,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Found<'a>;

    fn next(&mut self) -> Option<Found<'a>> {
        const BEGIN: &str = "-----BEGIN ";
        loop {
            let pos = self.pos?;
            let offset = pos + self.text.get(pos..)?.find(BEGIN)?;
            let label_start = offset + BEGIN.len();
            let line = self.text.get(label_start..).and_then(|r| r.lines().next()).unwrap_or("");
            // A BEGIN line without its closing dashes is not a boundary; look further on.
            let Some(label) = line.find("-----").and_then(|n| line.get(..n)) else {
                self.pos = Some(label_start);
                continue;
            };
            let end_line = format!("-----END {label}-----");
            let Some(end) = self.text.get(label_start..).and_then(|r| r.find(&end_line)) else {
                self.pos = None;
                return Some(Found::Unterminated { label, offset });
            };
            let block_end = label_start + end + end_line.len();
            self.pos = Some(block_end);
            return Some(Found::Block(PemBlock { label, offset, text: self.text.get(offset..block_end).unwrap_or("") }));
        }
    }
}

/// A label fit to quote in an error: short, and only the characters labels are made of, so that a
/// mangled file cannot leak key text through it.
pub(crate) fn quote_label(label: &str) -> String {
    const MAX: usize = 40;
    let plain = label.len() <= MAX && label.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    if plain { label.to_string() } else { "<malformed label>".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_among_other_text() {
        let text =
            "x\n-----BEGIN A-----\n1\n-----END A-----\njunk -----BEGIN B\n-----BEGIN C 2-----\n-----END C 2-----\n-----BEGIN D-----\n";
        let found: Vec<String> = blocks(text)
            .map(|f| match f {
                Found::Block(b) => format!("{}@{}:{}", b.label, b.offset, b.text.len()),
                Found::Unterminated { label, offset } => format!("open {label}@{offset}"),
            })
            .collect();
        assert_eq!(found, ["A@2:35", "C 2@56:37", "open D@94"]);
        assert_eq!(quote_label("EC PRIVATE KEY"), "EC PRIVATE KEY");
        assert_eq!(quote_label("MIGkAgEBBDB+x"), "<malformed label>");
    }
}
