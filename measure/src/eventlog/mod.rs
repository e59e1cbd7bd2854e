//! TDX CC event logs (the TCG2 crypto-agile format TDVF writes and the guest exposes through the CCEL
//! ACPI table): parsing ([`parse`]), readable event data ([`decode`], [`devpath`]) and replay into
//! RTMR0..3 ([`replay`]). On-disk definitions live apart from the logic, in [`raw`].

pub mod decode;
pub mod devpath;
pub mod parse;
pub mod raw;
pub mod replay;

pub use decode::{EventData, VariableValue, decode};
pub use parse::{EventLog, EventLogError, LogEvent, SpecId};
pub use replay::{RegisterCheck, Replay, ReplayError, Step, replay};
