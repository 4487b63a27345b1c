//! Timestamps: RFC 3339 UTC with millisecond precision and a `Z`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// A point in time, written as `YYYY-MM-DDTHH:MM:SS.sssZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// The current time, truncated to milliseconds so that a value survives
    /// a round trip through its text form unchanged.
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        let ms = now.millisecond();
        Timestamp(now.replace_millisecond(ms).expect("valid millisecond"))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The inverse of [`Timestamp::unix_millis`].
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .ok()
            .map(Timestamp)
    }

    /// Parses RFC 3339 (any offset; normalised to UTC).
    pub fn parse(s: &str) -> Result<Self, String> {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)))
            .map_err(|e| format!("`{s}` is not an RFC 3339 timestamp: {e}"))
    }

    /// The text form, `YYYY-MM-DDTHH:MM:SS.sssZ`, written digit by digit:
    /// every task serializes a few timestamps, and a `write!` of seven
    /// padded integers costs several times as much.
    /// `None` for years outside 0–9999, which RFC 3339 cannot write.
    fn rfc3339(&self) -> Option<[u8; 24]> {
        fn put(out: &mut [u8], mut n: u32) {
            for b in out.iter_mut().rev() {
                *b = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        let t = self.0.to_offset(time::UtcOffset::UTC);
        let (year, month, day) = t.to_calendar_date();
        let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
        let (hour, minute, second, milli) = t.to_hms_milli();
        let mut b = *b"0000-00-00T00:00:00.000Z";
        put(&mut b[0..4], year);
        put(&mut b[5..7], u8::from(month).into());
        put(&mut b[8..10], day.into());
        put(&mut b[11..13], hour.into());
        put(&mut b[14..16], minute.into());
        put(&mut b[17..19], second.into());
        put(&mut b[20..23], milli.into());
        Some(b)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339() {
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        let t = self.0.to_offset(time::UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(text) => {
                s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
            }
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_millisecond_utc_with_z() {
        let t = Timestamp::parse("2026-01-02T03:04:05.678+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-02T02:04:05.678Z");
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), "2026-01-02T02:04:05.678Z");
        // The padded digits at both ends of every field.
        for (text, ms) in [
            ("0001-01-01T00:00:00.000Z", -62_135_596_800_000),
            ("1970-01-01T00:00:00.007Z", 7),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ] {
            let t = Timestamp::from_unix_millis(ms).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(serde_json::to_value(t).unwrap(), text);
            assert_eq!(Timestamp::parse(text), Ok(t));
        }
        // Before year 0: still written (RFC 3339 has no form for it).
        let ancient = Timestamp::from_unix_millis(-62_198_755_200_000).unwrap();
        assert_eq!(ancient.to_string(), "-001-01-01T00:00:00.000Z");
    }
}
