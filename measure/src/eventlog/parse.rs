//! Reading a crypto-agile event log: the Spec ID event, then TCG_PCR_EVENT2 records until the log
//! area's padding. Every length is checked against what remains before it is used, so a hostile log
//! is an error naming the event and the offset, never a panic or an unbounded allocation.

use super::raw::{self, EVENT2_HEADER_LEN, LEGACY_HEADER_LEN, SPEC_ID_FIXED_LEN, SPEC_ID_SIGNATURE, event_type};

/// Why bytes are not a readable event log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLogError {
    #[error("event log: {len} bytes, shorter than the {LEGACY_HEADER_LEN}-byte header of its first event")]
    Short { len: usize },
    #[error(
        "event log: the first event at offset 0x0 has type {event_type:#x}, expected EV_NO_ACTION (0x3) carrying the Spec ID event{hint}",
        hint = if *.ccel_table { "; these bytes start with \"CCEL\": this is the CCEL ACPI table, pass its log area (/sys/firmware/acpi/tables/data/CCEL)" } else { "" }
    )]
    FirstEventType { event_type: u32, ccel_table: bool },
    #[error("event log: Spec ID event at offset {offset:#x}: {what}")]
    SpecId { offset: usize, what: String },
    #[error("event log: event {index} at offset {offset:#x}: {what}")]
    Event { index: usize, offset: usize, what: String },
}

/// One algorithm of the Spec ID event's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmSize {
    pub alg: u16,
    pub size: usize,
}

/// TCG_EfiSpecIDEventStruct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecId {
    pub platform_class: u32,
    pub spec_version: (u8, u8, u8),
    pub uintn_size: u8,
    pub algorithms: Vec<AlgorithmSize>,
    pub vendor_info: Vec<u8>,
}

/// One event (TCG_PCR_EVENT2), borrowing its data from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent<'a> {
    /// Position in the log, the Spec ID event being 0.
    pub index: usize,
    /// File offset of the record.
    pub offset: usize,
    /// The PCRIndex field; in a CC event log the measurement-register index (1..=4 = RTMR0..3).
    pub mr_index: u32,
    pub event_type: u32,
    pub digests: Vec<(u16, &'a [u8])>,
    pub data: &'a [u8],
}

impl<'a> LogEvent<'a> {
    pub fn digest(&self, alg: u16) -> Option<&'a [u8]> {
        self.digests.iter().find(|d| d.0 == alg).map(|d| d.1)
    }
    pub fn type_name(&self) -> String {
        event_type::name(self.event_type).map(str::to_owned).unwrap_or_else(|| format!("{:#x}", self.event_type))
    }
}

/// A parsed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog<'a> {
    pub spec_id: SpecId,
    /// The Spec ID event's own record, as event 0.
    pub spec_id_event: LogEvent<'a>,
    pub events: Vec<LogEvent<'a>>,
    /// Where the records end (the rest is the log area's padding).
    pub end: usize,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("caller checked the length"))
}
fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("caller checked the length"))
}

fn parse_spec_id(data: &[u8], offset: usize) -> Result<SpecId, EventLogError> {
    let err = |what: String| EventLogError::SpecId { offset, what };
    if data.len() < SPEC_ID_FIXED_LEN {
        return Err(err(format!("{} bytes, expected at least {SPEC_ID_FIXED_LEN}", data.len())));
    }
    if &data[..16] != SPEC_ID_SIGNATURE {
        return Err(err(format!(
            "signature {:?}, expected \"Spec ID Event03\" (a SHA-1-only TCG 1.2 log is not a crypto-agile log)",
            String::from_utf8_lossy(&data[..16])
        )));
    }
    let platform_class = le32(data, 16);
    let spec_version = (data[21], data[20], data[22]);
    let uintn_size = data[23];
    let count = le32(data, 24) as usize;
    let table_end = SPEC_ID_FIXED_LEN
        .checked_add(count.checked_mul(4).ok_or_else(|| err(format!("numberOfAlgorithms {count} overflows")))?)
        .ok_or_else(|| err("algorithm table overflows".into()))?;
    if count == 0 || table_end + 1 > data.len() {
        return Err(err(format!("numberOfAlgorithms {count} does not fit in the {}-byte event (1 or more expected)", data.len())));
    }
    let algorithms: Vec<AlgorithmSize> = (0..count)
        .map(|i| {
            let at = SPEC_ID_FIXED_LEN + 4 * i;
            AlgorithmSize { alg: le16(data, at), size: le16(data, at + 2) as usize }
        })
        .collect();
    for a in &algorithms {
        if let Some(k) = raw::known_digest_size(a.alg)
            && k != a.size
        {
            return Err(err(format!(
                "algorithm {:#06x} ({}) declared with digest size {}, expected {k}",
                a.alg,
                raw::alg_name(a.alg),
                a.size
            )));
        }
        if a.size == 0 || a.size > 64 {
            return Err(err(format!("algorithm {:#06x} declared with digest size {}, expected 1..=64", a.alg, a.size)));
        }
    }
    let vendor_len = data[table_end] as usize;
    let vendor_info = data
        .get(table_end + 1..table_end + 1 + vendor_len)
        .ok_or_else(|| err(format!("vendorInfoSize {vendor_len} runs past the event")))?
        .to_vec();
    Ok(SpecId { platform_class, spec_version, uintn_size, algorithms, vendor_info })
}

impl<'a> EventLog<'a> {
    /// Parses a log; the log area's padding (0xFF or 0x00 after the last record) ends it.
    pub fn parse(bytes: &'a [u8]) -> Result<EventLog<'a>, EventLogError> {
        if bytes.len() < LEGACY_HEADER_LEN {
            return Err(EventLogError::Short { len: bytes.len() });
        }
        let first_type = le32(bytes, 4);
        if first_type != event_type::EV_NO_ACTION {
            return Err(EventLogError::FirstEventType { event_type: first_type, ccel_table: &bytes[..4] == b"CCEL" });
        }
        let size = le32(bytes, 28) as usize;
        let data = bytes.get(LEGACY_HEADER_LEN..LEGACY_HEADER_LEN.saturating_add(size)).ok_or(EventLogError::SpecId {
            offset: 0,
            what: format!("EventSize {size} runs past the end of the {}-byte log", bytes.len()),
        })?;
        let spec_id = parse_spec_id(data, 0)?;
        let spec_id_event = LogEvent {
            index: 0,
            offset: 0,
            mr_index: le32(bytes, 0),
            event_type: first_type,
            digests: vec![(raw::ALG_SHA1, &bytes[8..28])],
            data,
        };
        let mut off = LEGACY_HEADER_LEN + size;
        let mut events = Vec::new();
        while bytes.len() - off >= EVENT2_HEADER_LEN {
            let mr_index = le32(bytes, off);
            let ev_type = le32(bytes, off + 4);
            let count = le32(bytes, off + 8);
            if (mr_index == u32::MAX && ev_type == u32::MAX) || (mr_index == 0 && ev_type == 0 && count == 0) {
                break;
            }
            let index = events.len() + 1;
            let err = |what: String| EventLogError::Event { index, offset: off, what };
            if count as usize > spec_id.algorithms.len() || count == 0 {
                return Err(err(format!(
                    "digest count {count}, expected 1..={} (the algorithms the Spec ID event declares)",
                    spec_id.algorithms.len()
                )));
            }
            let mut p = off + EVENT2_HEADER_LEN;
            let mut digests = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let alg = le16(bytes.get(p..p + 2).ok_or_else(|| err("truncated in its digest list".into()))?, 0);
                let size = spec_id
                    .algorithms
                    .iter()
                    .find(|a| a.alg == alg)
                    .ok_or_else(|| err(format!("digest algorithm {alg:#06x} at offset {p:#x} is not declared in the Spec ID event")))?
                    .size;
                let d = bytes.get(p + 2..p + 2 + size).ok_or_else(|| err(format!("truncated in its {} digest", raw::alg_name(alg))))?;
                digests.push((alg, d));
                p += 2 + size;
            }
            let size_bytes = bytes.get(p..p + 4).ok_or_else(|| err("truncated before EventSize".into()))?;
            let size = le32(size_bytes, 0) as usize;
            let data = bytes
                .get(p + 4..(p + 4).saturating_add(size))
                .ok_or_else(|| err(format!("EventSize {size} at offset {p:#x} runs past the end of the {}-byte log", bytes.len())))?;
            events.push(LogEvent { index, offset: off, mr_index, event_type: ev_type, digests, data });
            off = p + 4 + size;
        }
        Ok(EventLog { spec_id, spec_id_event, events, end: off })
    }
}
