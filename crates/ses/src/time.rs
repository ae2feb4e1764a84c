//! Calendar arithmetic for seal times: ASN.1 UTCTime / GeneralizedTime (leniently), RFC 3339, and back.
//!
//! Times are Unix seconds (UTC) throughout the crate. Producers write fractions, offsets and even local time
//! without a zone, so reading is lenient; writing is strict DER (`YYYYMMDDHHMMSSZ`).

use serde::Serialize;

/// A time as read from a seal: the Unix seconds and the text exactly as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The encoded text, e.g. `20200422020900Z`.
    pub text: String,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Unix seconds of a UTC calendar time, or `None` when a field is out of range.
pub(crate) fn from_parts(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let ok = (0..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && (0..=23).contains(&h)
        && (0..=59).contains(&mi)
        && (0..=60).contains(&s);
    ok.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Splits off `n` ASCII digits as a number.
fn digits(s: &[u8], n: usize) -> Option<(i64, &[u8])> {
    let head = s.get(..n)?;
    if !head.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = head.iter().fold(0i64, |a, &b| a * 10 + i64::from(b - b'0'));
    Some((v, s.get(n..)?))
}

/// Fraction and zone after the seconds: `[.fff](Z|+hhmm|-hhmm|)`; returns the offset in seconds to subtract.
fn zone(mut s: &[u8]) -> Option<i64> {
    if let Some(rest) = s.strip_prefix(b".").or_else(|| s.strip_prefix(b",")) {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        s = rest.get(n..)?;
    }
    match s {
        [] | [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let rest: Vec<u8> = rest.iter().copied().filter(|&b| b != b':').collect();
            let (hh, r) = digits(&rest, 2)?;
            let (mm, r) = digits(r, 2)?;
            if !r.is_empty() || hh > 23 || mm > 59 {
                return None;
            }
            let off = hh * 3600 + mm * 60;
            Some(if *sign == b'+' { off } else { -off })
        }
        _ => None,
    }
}

/// The part shared by both ASN.1 forms after the year: `MMDDHHMM[SS][.f][Z|±hhmm]`.
fn after_year(y: i64, r: &[u8]) -> Option<i64> {
    let (mo, r) = digits(r, 2)?;
    let (d, r) = digits(r, 2)?;
    let (h, r) = digits(r, 2)?;
    let (mi, r) = digits(r, 2)?;
    let (sec, r) = digits(r, 2).unwrap_or((0, r));
    let off = zone(r)?;
    Some(from_parts(y, mo, d, h, mi, sec)? - off)
}

/// GeneralizedTime `YYYYMMDDHHMM[SS][.f][Z|±hhmm]`; a time without zone is taken as UTC.
pub(crate) fn parse_generalized(s: &[u8]) -> Option<i64> {
    let (y, r) = digits(s, 4)?;
    after_year(y, r)
}

/// UTCTime `YYMMDDHHMM[SS](Z|±hhmm)`, with the X.509 window (50-99 → 19xx).
pub(crate) fn parse_utc(s: &[u8]) -> Option<i64> {
    let (yy, r) = digits(s, 2)?;
    after_year(if yy >= 50 { 1900 + yy } else { 2000 + yy }, r)
}

/// RFC 3339 (`2026-11-27T09:44:00Z`, offsets, fractions); a space may stand for `T`, and a time without
/// zone is taken as UTC, because that is how `yyyy-MM-dd HH:mm:ss` texts in V1 `timeInfo` are meant.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let (y, r) = digits(b, 4)?;
    let r = r.strip_prefix(b"-")?;
    let (mo, r) = digits(r, 2)?;
    let r = r.strip_prefix(b"-")?;
    let (d, r) = digits(r, 2)?;
    if r.is_empty() {
        return from_parts(y, mo, d, 0, 0, 0);
    }
    let r = r
        .strip_prefix(b"T")
        .or_else(|| r.strip_prefix(b"t"))
        .or_else(|| r.strip_prefix(b" "))?;
    let (h, r) = digits(r, 2)?;
    let r = r.strip_prefix(b":")?;
    let (mi, r) = digits(r, 2)?;
    let (sec, r) = match r.strip_prefix(b":") {
        Some(r) => digits(r, 2)?,
        None => (0, r),
    };
    let r: &[u8] = if r == b"z" { b"Z" } else { r };
    let off = zone(r)?;
    Some(from_parts(y, mo, d, h, mi, sec)? - off)
}

/// `2026-11-27T09:44:00Z`.
pub fn format_rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = split(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn split(unix: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    (y, mo, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// DER GeneralizedTime text `YYYYMMDDHHMMSSZ`, or `None` outside years 0000-9999.
pub(crate) fn format_generalized(unix: i64) -> Option<String> {
    let (y, mo, d, h, mi, s) = split(unix);
    (0..=9999)
        .contains(&y)
        .then(|| format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z"))
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
