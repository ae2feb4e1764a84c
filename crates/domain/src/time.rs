//! Instants as Unix seconds, and the few calendar operations the platform needs (RFC 3339 text, adding months
//! to an authorisation, Beijing-time display), without a date library.

/// An instant, in seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// China Standard Time, UTC+8, which every page and SMS shows.
const CST_OFFSET: i64 = 8 * 3600;

// Howard Hinnant's civil-date algorithms: exact for the whole proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    /// The instant of a UTC calendar time.
    pub fn from_utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Timestamp(
            days_from_civil(y, mo, d) * 86_400
                + i64::from(h) * 3600
                + i64::from(mi) * 60
                + i64::from(s),
        )
    }

    fn parts(self, offset: i64) -> (i64, u32, u32, u32, u32, u32) {
        let t = self.0 + offset;
        let (y, m, d) = civil_from_days(t.div_euclid(86_400));
        let sod = t.rem_euclid(86_400);
        (
            y,
            m,
            d,
            (sod / 3600) as u32,
            (sod % 3600 / 60) as u32,
            (sod % 60) as u32,
        )
    }

    /// `2026-11-27T02:00:00Z`.
    pub fn rfc3339(self) -> String {
        let (y, m, d, h, mi, s) = self.parts(0);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// `2026-11-27 10:00:00` in Beijing time, as the pages show times.
    pub fn beijing(self) -> String {
        let (y, m, d, h, mi, s) = self.parts(CST_OFFSET);
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }

    /// `2026-11-27`: the Beijing calendar date.
    pub fn beijing_date(self) -> String {
        let (y, m, d, ..) = self.parts(CST_OFFSET);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The Beijing calendar date as the number `YYYYMMDD`.
    pub fn beijing_yyyymmdd(self) -> u32 {
        let (y, m, d, ..) = self.parts(CST_OFFSET);
        (y.clamp(0, 9999) as u32) * 10_000 + m * 100 + d
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm`, optional fraction, which is dropped).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())
                .flatten()
        };
        if b.len() < 20
            || b.get(4) != Some(&b'-')
            || b.get(7) != Some(&b'-')
            || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        {
            return None;
        }
        let (y, mo, d, h, mi, sec) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(i64::from(y), mo)
            || h > 23
            || mi > 59
            || sec > 60
        {
            return None;
        }
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
                let o = i64::from(num(i + 1..i + 3)?) * 3600 + i64::from(num(i + 4..i + 6)?) * 60;
                if *sign == b'+' { o } else { -o }
            }
            _ => return None,
        };
        Some(Timestamp(
            Timestamp::from_utc(i64::from(y), mo, d, h, mi, sec.min(59)).0 - offset,
        ))
    }

    /// The same wall-clock time `months` later, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29).
    pub fn add_months(self, months: u32) -> Timestamp {
        let (y, m, d, h, mi, s) = self.parts(CST_OFFSET);
        let total = y * 12 + i64::from(m - 1) + i64::from(months);
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        Timestamp(Timestamp::from_utc(ny, nm, nd, h, mi, s).0 - CST_OFFSET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_instants() {
        let t = Timestamp(1_764_208_800); // 2025-11-27T02:00:00Z
        assert_eq!(t.rfc3339(), "2025-11-27T02:00:00Z");
        assert_eq!(t.beijing(), "2025-11-27 10:00:00");
        assert_eq!(
            Timestamp::parse_rfc3339("2025-11-27T10:00:00+08:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2025-11-27T02:00:00.123Z"),
            Some(t)
        );
        for bad in [
            "2025-02-30T00:00:00Z",
            "2025-11-27",
            "2025-11-27T02:00:00",
            "2025-11-27T25:00:00Z",
            "x",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        for secs in [0i64, 951_782_400, 4_102_444_800, 1_709_164_800] {
            assert_eq!(
                Timestamp::parse_rfc3339(&Timestamp(secs).rfc3339()),
                Some(Timestamp(secs))
            );
        }
    }

    #[test]
    fn months_are_added_on_the_beijing_calendar() {
        let jan31 = Timestamp::parse_rfc3339("2024-01-31T12:00:00+08:00").unwrap();
        assert_eq!(jan31.add_months(1).beijing(), "2024-02-29 12:00:00");
        assert_eq!(jan31.add_months(12).beijing(), "2025-01-31 12:00:00");
        let t = Timestamp::parse_rfc3339("2022-03-14T22:51:28+08:00").unwrap();
        assert_eq!(t.add_months(12).beijing_date(), "2023-03-14");
        assert_eq!(t.beijing_yyyymmdd(), 20220314);
    }
}
