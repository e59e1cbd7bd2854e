//! The OVMF footer GUID table: a list of `[data][u16 len][guid]` entries that ends 32 bytes before the
//! end of the image and is walked backwards from its own footer entry.

use crate::guid::{Guid, known};

/// Size of an entry's trailer: `u16 length` and the GUID.
pub const ENTRY_HEADER: usize = 18;
/// The table's footer entry ends this many bytes before the end of the image.
pub const FOOTER_GAP: usize = 32;

/// Why a footer table cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FooterError {
    #[error("footer table at offset {offset:#x}: size {size} is smaller than its own {ENTRY_HEADER}-byte footer entry")]
    SizeTooSmall { offset: usize, size: usize },
    #[error(
        "footer table at offset {offset:#x}: size {size} reaches {before} bytes before the start of the file; expected a table inside the image"
    )]
    PastStart { offset: usize, size: usize, before: usize },
    #[error("footer table entry at offset {offset:#x}: length {len} is under the minimum of {ENTRY_HEADER} (u16 length + GUID)")]
    EntryTooShort { offset: usize, len: usize },
    #[error(
        "footer table entry {guid} at offset {offset:#x}: length {len} runs {over} bytes past the start of the table at {table_start:#x} (overlaps its neighbour)"
    )]
    EntryOverlaps { offset: usize, guid: Guid, len: usize, over: usize, table_start: usize },
    #[error(
        "footer table at offset {table_start:#x}: {len} stray bytes before the first entry; expected entries to fill the table exactly"
    )]
    StrayBytes { table_start: usize, len: usize },
    #[error("footer table: entry {guid} appears twice (at offsets {first:#x} and {second:#x}); expected each GUID once")]
    Duplicate { guid: Guid, first: usize, second: usize },
}

/// One entry of the footer table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterEntry<'a> {
    pub guid: Guid,
    /// File offset of the entry's data.
    pub offset: usize,
    pub data: &'a [u8],
}

impl FooterEntry<'_> {
    /// A short name for known GUIDs.
    pub fn name(&self) -> Option<&'static str> {
        known::footer_entry_name(&self.guid)
    }
}

/// The parsed table, entries in the order they are walked (from the end of the image backwards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterTable<'a> {
    /// File offset of the first byte of the table.
    pub start: usize,
    pub entries: Vec<FooterEntry<'a>>,
}

impl<'a> FooterTable<'a> {
    /// Finds and validates the table. `Ok(None)` when the image carries no footer GUID at all.
    pub fn parse(image: &'a [u8]) -> Result<Option<Self>, FooterError> {
        let Some(footer_at) = image.len().checked_sub(FOOTER_GAP + ENTRY_HEADER) else {
            return Ok(None);
        };
        let (size, guid) = trailer(image, footer_at);
        if guid != known::FOOTER_TABLE {
            return Ok(None);
        }
        if size < ENTRY_HEADER {
            return Err(FooterError::SizeTooSmall { offset: footer_at, size });
        }
        let body = size - ENTRY_HEADER;
        let Some(start) = footer_at.checked_sub(body) else {
            return Err(FooterError::PastStart { offset: footer_at, size, before: body - footer_at });
        };

        let mut entries: Vec<FooterEntry<'a>> = Vec::new();
        let mut end = footer_at;
        while end - start >= ENTRY_HEADER {
            let at = end - ENTRY_HEADER;
            let (len, guid) = trailer(image, at);
            if len < ENTRY_HEADER {
                return Err(FooterError::EntryTooShort { offset: at, len });
            }
            if len > end - start {
                return Err(FooterError::EntryOverlaps { offset: at, guid, len, over: len - (end - start), table_start: start });
            }
            let data_at = end - len;
            if let Some(prev) = entries.iter().find(|e| e.guid == guid) {
                return Err(FooterError::Duplicate { guid, first: prev.offset, second: data_at });
            }
            entries.push(FooterEntry { guid, offset: data_at, data: &image[data_at..at] });
            end = data_at;
        }
        if end != start {
            return Err(FooterError::StrayBytes { table_start: start, len: end - start });
        }
        Ok(Some(FooterTable { start, entries }))
    }

    pub fn get(&self, guid: &Guid) -> Option<&FooterEntry<'a>> {
        self.entries.iter().find(|e| e.guid == *guid)
    }
}

/// Reads the `u16 length; guid` trailer at `at` (the caller guarantees 18 bytes are there).
fn trailer(image: &[u8], at: usize) -> (usize, Guid) {
    let len = u16::from_le_bytes([image[at], image[at + 1]]) as usize;
    let mut g = [0u8; 16];
    g.copy_from_slice(&image[at + 2..at + ENTRY_HEADER]);
    (len, Guid(g))
}
