//! The verification time: certificates, CRLs and collateral are judged valid or not at one instant,
//! the present or the one `--at` names, so that a verification can be repeated.

use x509_cert::time::Time;

/// An instant, in seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct VerifyTime(pub i64);

/// Why a time string is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an RFC 3339 time (e.g. 2025-06-01T00:00:00Z): {reason}")]
pub struct TimeError {
    pub value: String,
    pub reason: String,
}

impl VerifyTime {
    pub fn now() -> VerifyTime {
        VerifyTime(time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// Parses an RFC 3339 date-time with a UTC offset or `Z`.
    pub fn parse_rfc3339(s: &str) -> Result<VerifyTime, TimeError> {
        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
            .map(|t| VerifyTime(t.unix_timestamp()))
            .map_err(|e| TimeError { value: s.to_string(), reason: e.to_string() })
    }

    pub fn from_x509(t: &Time) -> VerifyTime {
        VerifyTime(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
    }

    /// RFC 3339, UTC, for messages.
    pub fn rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| format!("{} s after the epoch", self.0))
    }
}

impl std::fmt::Display for VerifyTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_refuses_other_forms() {
        let z = VerifyTime::parse_rfc3339("2025-06-19T10:16:03Z").unwrap();
        assert_eq!(z.0, 1_750_328_163);
        assert_eq!(VerifyTime::parse_rfc3339("2025-06-19T12:16:03+02:00").unwrap(), z);
        assert_eq!(z.rfc3339(), "2025-06-19T10:16:03Z");
        for bad in ["2025-06-19", "yesterday", "2025-06-19 10:16:03", ""] {
            assert!(VerifyTime::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
