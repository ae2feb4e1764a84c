//! Seal times on the `time` crate: ASN.1 UTCTime / GeneralizedTime (leniently), RFC 3339, and back.
//!
//! Times are Unix seconds (UTC) throughout the crate. Producers write fractions, offsets and even local time
//! without a zone, so reading is lenient; writing is strict DER (`YYYYMMDDHHMMSSZ`).

use serde::Serialize;
use time::UtcDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::parsing::Parsed;

/// A time as read from a seal: the Unix seconds and the text exactly as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The encoded text, e.g. `20200422020900Z`.
    pub text: String,
}

/// The lenient ASN.1 time after the year: `MMDDHHMM[SS][(.|,)f][Z|±hh[:]mm]` (format description, version 2).
const AFTER_YEAR: &[BorrowedFormatItem<'static>] = format_description!(
    version = 2,
    "[month][day][hour][minute][optional [[second]]][optional [[first [.] [,]][subsecond digits:1+]]][optional [[first [Z] [[offset_hour sign:mandatory][optional [:]][offset_minute]]]]]"
);

/// Unix seconds of `year` followed by the rest of an ASN.1 time; a time without zone is taken as UTC.
fn asn1(year: i32, rest: &[u8]) -> Option<i64> {
    let mut p = Parsed::new();
    p.set_year(year)?;
    if !p.parse_items(rest, AFTER_YEAR).ok()?.is_empty() {
        return None;
    }
    UtcDateTime::try_from(p).ok().map(|t| t.unix_timestamp())
}

/// `n` leading ASCII digits as a number.
fn digits(s: &[u8], n: usize) -> Option<i32> {
    let head = s.get(..n)?;
    head.iter()
        .all(u8::is_ascii_digit)
        .then(|| head.iter().fold(0, |a, &b| a * 10 + i32::from(b - b'0')))
}

/// GeneralizedTime `YYYYMMDDHHMM[SS][.f][Z|±hhmm]`; a time without zone is taken as UTC.
pub(crate) fn parse_generalized(s: &[u8]) -> Option<i64> {
    asn1(digits(s, 4)?, s.get(4..)?)
}

/// UTCTime `YYMMDDHHMM[SS](Z|±hhmm)`, with the X.509 window (50-99 → 19xx).
pub(crate) fn parse_utc(s: &[u8]) -> Option<i64> {
    let yy = digits(s, 2)?;
    asn1(if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
}

/// RFC 3339 (`2026-11-27T09:44:00Z`, offsets, fractions); a space may stand for `T`, seconds may be left out,
/// a date alone is its midnight, and a time without zone is taken as UTC, because that is how
/// `yyyy-MM-dd HH:mm:ss` texts in V1 `timeInfo` are meant.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    const RFC3339_LENIENT: &[BorrowedFormatItem<'static>] = format_description!(
        version = 2,
        "[year]-[month]-[day][optional [[first [T] [t]][hour]:[minute][optional [:[second]]][optional [[first [.] [,]][subsecond digits:1+]]][optional [[first [Z] [z] [[offset_hour sign:mandatory][optional [:]][offset_minute]]]]]]]"
    );
    let mut text = s.trim().as_bytes().to_vec();
    if text.get(10) == Some(&b' ') {
        text[10] = b'T';
    }
    let mut p = Parsed::new();
    if !p.parse_items(&text, RFC3339_LENIENT).ok()?.is_empty() {
        return None;
    }
    if p.hour_24().is_none() {
        p.set_hour_24(0)?;
    }
    UtcDateTime::try_from(p).ok().map(|t| t.unix_timestamp())
}

fn utc(unix: i64) -> Option<UtcDateTime> {
    UtcDateTime::from_unix_timestamp(unix).ok()
}

/// `2026-11-27T09:44:00Z` (empty beyond the years ±9999).
pub fn format_rfc3339(unix: i64) -> String {
    utc(unix)
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// DER GeneralizedTime text `YYYYMMDDHHMMSSZ`, or `None` outside years 0000-9999.
pub(crate) fn format_generalized(unix: i64) -> Option<String> {
    let t = utc(unix).filter(|t| t.year() >= 0)?;
    t.format(format_description!(
        "[year][month][day][hour][minute][second]Z"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_lenient_forms() {
        assert_eq!(parse_generalized(b"19700101000000Z"), Some(0));
        assert_eq!(
            parse_generalized(b"20200422020900Z"),
            parse_rfc3339("2020-04-22T02:09:00Z")
        );
        assert_eq!(
            parse_generalized(b"20200723130907.763Z"),
            parse_rfc3339("2020-07-23T13:09:07Z")
        );
        assert_eq!(
            parse_generalized(b"20200101080000+0800"),
            parse_rfc3339("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_utc(b"200422021807Z"),
            parse_rfc3339("2020-04-22 02:18:07")
        );
        assert_eq!(
            parse_utc(b"991231235959Z"),
            parse_rfc3339("1999-12-31T23:59:59Z")
        );
        assert_eq!(
            parse_rfc3339("2020-01-25T07:31:56.377Z"),
            parse_rfc3339("2020-01-25T15:31:56+08:00")
        );
        assert_eq!(parse_generalized(b"20200230000000Z"), None);
        assert_eq!(parse_rfc3339("2020-13-01T00:00:00Z"), None);
        for t in [0i64, 951_782_400, 1_700_000_000, 253_402_300_799] {
            let g = format_generalized(t).unwrap_or_default();
            assert_eq!(parse_generalized(g.as_bytes()), Some(t), "{g}");
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
        assert_eq!(format_generalized(253_402_300_800), None);
    }
}
