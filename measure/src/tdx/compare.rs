//! The guest's own CC event log against the events prelaunch expects: per register, the first event
//! that differs (by type or SHA-384 digest, in order), and the input the expected event comes from,
//! so that a wrong RTMR names what to change (the memory size, an ACPI blob, the kernel, ...).

use serde::Serialize;

use super::boot::Expected;
use super::events::{EventInput, ExpectedEvent};
use crate::eventlog::EventLog;
use crate::eventlog::raw::ALG_SHA384;

/// One logged event, as far as the comparison needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    /// Position of the event in the log, the Spec ID event being 0.
    pub index: usize,
    /// File offset of the event.
    pub offset: usize,
    pub event_type: u32,
    pub type_name: String,
    /// Hex SHA-384 digest, or empty when the event has none.
    pub digest: String,
}

/// The first difference in one register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// 0..=2: RTMR0..2.
    pub rtmr: usize,
    /// Position of the differing event among this register's events.
    pub position: usize,
    /// The expected event there (`None`: the log has more events than expected).
    pub expected: Option<ExpectedEvent>,
    /// The logged event there (`None`: the log ends early).
    pub logged: Option<Logged>,
}

impl Difference {
    /// What the user can change: the input of the expected event, when there is one.
    pub fn input(&self) -> Option<&EventInput> {
        self.expected.as_ref().map(|e| &e.input)
    }
}

/// Per register (RTMR0..2), the first difference between the expected events and the log; `None`
/// where every event agrees.
pub fn first_differences(expected: &Expected, log: &EventLog<'_>) -> [Option<Difference>; 3] {
    std::array::from_fn(|rtmr| {
        let ours: Vec<&ExpectedEvent> = expected.events.iter().filter(|e| e.rtmr == rtmr).collect();
        // CC MR index 1 is RTMR0 (index 0 is MRTD, which TDVF never logs).
        let theirs: Vec<_> = log.events.iter().filter(|e| e.mr_index as usize == rtmr + 1).collect();
        for position in 0..ours.len().max(theirs.len()) {
            let (o, t) = (ours.get(position), theirs.get(position));
            let same = match (o, t) {
                (Some(o), Some(t)) => o.event_type == t.event_type && t.digest(ALG_SHA384) == Some(&o.digest[..]),
                _ => false,
            };
            if !same {
                return Some(Difference {
                    rtmr,
                    position,
                    expected: o.map(|e| (*e).clone()),
                    logged: t.map(|t| Logged {
                        index: t.index,
                        offset: t.offset,
                        event_type: t.event_type,
                        type_name: t.type_name(),
                        digest: t.digest(ALG_SHA384).map(hex::encode).unwrap_or_default(),
                    }),
                });
            }
        }
        None
    })
}
