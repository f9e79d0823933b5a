//! Unix times as text for people: RFC 3339 UTC timestamps in error messages,
//! logs and the CLI, and read back from the CLI. Text only; the time itself
//! is always passed in.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::UnixTime;

/// `2027-01-15T08:00:00Z`: Unix time as an RFC 3339 UTC timestamp. A time
/// outside RFC 3339's years 0000–9999 (such as `UnixTime::MAX`, "never") is
/// shown as the bare number of seconds.
pub fn format_utc(t: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{t} (Unix time)"))
}

/// An RFC 3339 timestamp (`2027-01-15T08:00:00Z`, any offset) as Unix time.
pub fn parse_utc(text: &str) -> Option<UnixTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn utc_parsing_reads_what_formatting_writes() {
        for t in [0, 951_782_400, 1_800_000_000, -1] {
            assert_eq!(parse_utc(&format_utc(t)), Some(t));
        }
        assert_eq!(parse_utc("2027-01-15T09:00:00+01:00"), Some(1_800_000_000));
        assert_eq!(parse_utc("yesterday"), None);
        assert_eq!(parse_utc("2027-01-15"), None);
    }

    #[test]
    fn times_beyond_rfc_3339_are_still_shown() {
        assert_eq!(
            format_utc(UnixTime::MAX),
            format!("{} (Unix time)", UnixTime::MAX)
        );
    }
}
