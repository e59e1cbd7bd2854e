//! Replaying a CC event log into RTMR0..3, keeping the value after every event so a mismatch can be
//! traced to the event that caused it.

use serde::Serialize;

use super::parse::{EventLog, LogEvent};
use super::raw::{ALG_SHA384, event_type};
use crate::hash::Sha384Digest;
use crate::tdx::rtmr::{RTMRS, Rtmr, RtmrBank};

/// What the replay did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The event's position in the log.
    pub event: usize,
    /// The RTMR it extended (0..=3), or none (EV_NO_ACTION, MRTD-indexed).
    pub rtmr: Option<usize>,
    /// That register's value after the event.
    pub after: Option<Rtmr>,
}

/// The replayed registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replay {
    pub rtmrs: RtmrBank,
    pub steps: Vec<Step>,
    /// Events that cannot be right in a TDX log (still listed; never extended).
    pub problems: Vec<String>,
}

/// Why a log cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error(
        "event log: event {index} at offset {offset:#x} ({kind}, MR index {mr}) has no SHA-384 digest; TDX RTMRs are SHA-384 (digests present: {present})"
    )]
    NoSha384 { index: usize, offset: usize, kind: String, mr: u32, present: String },
}

/// The RTMR an event extends: MR index 1..=4 maps to RTMR0..3 (UEFI 2.10 38.4.1).
pub fn rtmr_of(e: &LogEvent<'_>) -> Option<usize> {
    if e.event_type == event_type::EV_NO_ACTION {
        return None;
    }
    match e.mr_index {
        1..=4 => Some(e.mr_index as usize - 1),
        _ => None,
    }
}

/// Replays every event with its SHA-384 digest.
pub fn replay(log: &EventLog<'_>) -> Result<Replay, ReplayError> {
    let mut bank = RtmrBank::default();
    let mut steps = Vec::with_capacity(log.events.len());
    let mut problems = Vec::new();
    for e in &log.events {
        let reg = rtmr_of(e);
        if reg.is_none() && e.event_type != event_type::EV_NO_ACTION {
            problems.push(format!(
                "event {} at offset {:#x} ({}) has MR index {}: {}; not extended",
                e.index,
                e.offset,
                e.type_name(),
                e.mr_index,
                if e.mr_index == 0 { "MRTD cannot be extended at run time" } else { "TDX has MR indexes 0..=4 only" }
            ));
        }
        let Some(r) = reg else {
            steps.push(Step { event: e.index, rtmr: None, after: None });
            continue;
        };
        let d = e.digest(ALG_SHA384).ok_or_else(|| ReplayError::NoSha384 {
            index: e.index,
            offset: e.offset,
            kind: e.type_name(),
            mr: e.mr_index,
            present: e.digests.iter().map(|d| super::raw::alg_name(d.0)).collect::<Vec<_>>().join(", "),
        })?;
        let d: &Sha384Digest = d.try_into().expect("the parser sized SHA-384 digests at 48 bytes");
        bank.extend(r, d);
        steps.push(Step { event: e.index, rtmr: Some(r), after: Some(bank.0[r]) });
    }
    debug_assert_eq!(bank.0.len(), RTMRS);
    Ok(Replay { rtmrs: bank, steps, problems })
}

/// How one replayed register compares with the value a quote or TDREPORT carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RegisterCheck {
    Match {
        rtmr: usize,
    },
    /// The quote's value is the register after event `after_event`: the events after it are in the
    /// log but were not extended when the quote was taken (or were added since).
    MatchesPrefix {
        rtmr: usize,
        after_event: usize,
        later_events: Vec<usize>,
    },
    Mismatch {
        rtmr: usize,
        replayed: Rtmr,
        quoted: Rtmr,
    },
}

impl RegisterCheck {
    pub fn is_match(&self) -> bool {
        matches!(self, RegisterCheck::Match { .. })
    }
}

impl Replay {
    /// Compares RTMR0..3 with `quoted`, saying for a mismatch whether the quote matches a prefix of
    /// the register's events.
    pub fn check(&self, quoted: &[[u8; 48]; 4]) -> Vec<RegisterCheck> {
        (0..RTMRS)
            .map(|r| {
                let q = Rtmr(quoted[r]);
                if self.rtmrs.0[r] == q {
                    return RegisterCheck::Match { rtmr: r };
                }
                let mine: Vec<&Step> = self.steps.iter().filter(|s| s.rtmr == Some(r)).collect();
                if let Some(pos) = mine.iter().position(|s| s.after == Some(q)) {
                    return RegisterCheck::MatchesPrefix {
                        rtmr: r,
                        after_event: mine[pos].event,
                        later_events: mine[pos + 1..].iter().map(|s| s.event).collect(),
                    };
                }
                RegisterCheck::Mismatch { rtmr: r, replayed: self.rtmrs.0[r], quoted: q }
            })
            .collect()
    }
}
