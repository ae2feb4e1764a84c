//! Instants as Unix seconds, and the few calendar operations the platform needs (RFC 3339 text, adding months
//! to an authorisation, Beijing-time display), on the `time` crate; and the one [`Clock`] the platform reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// An instant, in seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// China Standard Time, UTC+8, which every page and SMS shows.
const CST: UtcOffset = offset!(+8);

impl Timestamp {
    /// The instant of a UTC calendar time; out-of-range fields give the Unix epoch.
    pub fn from_utc(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        let dt = (|| {
            let month = Month::try_from(u8::try_from(mo).ok()?).ok()?;
            let date = time::Date::from_calendar_date(
                i32::try_from(y).ok()?,
                month,
                u8::try_from(d).ok()?,
            )
            .ok()?;
            let t = time::Time::from_hms(
                u8::try_from(h).ok()?,
                u8::try_from(mi).ok()?,
                u8::try_from(s).ok()?,
            )
            .ok()?;
            Some(PrimitiveDateTime::new(date, t).assume_utc())
        })();
        Timestamp(dt.map(OffsetDateTime::unix_timestamp).unwrap_or(0))
    }

    /// The instant at `offset`; `None` beyond the years the `time` crate represents (±9999).
    fn at(self, offset: UtcOffset) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .map(|t| t.to_offset(offset))
    }

    fn format(
        self,
        offset: UtcOffset,
        f: &[time::format_description::BorrowedFormatItem<'_>],
    ) -> String {
        self.at(offset)
            .and_then(|t| t.format(f).ok())
            .unwrap_or_default()
    }

    /// `2026-11-27T02:00:00Z`.
    pub fn rfc3339(self) -> String {
        self.format(
            UtcOffset::UTC,
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
        )
    }

    /// `2026-11-27 10:00:00` in Beijing time, as the pages show times.
    pub fn beijing(self) -> String {
        self.format(
            CST,
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        )
    }

    /// `2026-11-27`: the Beijing calendar date.
    pub fn beijing_date(self) -> String {
        self.format(CST, format_description!("[year]-[month]-[day]"))
    }

    /// The Beijing calendar date, for counting working days.
    pub fn beijing_day(self) -> Option<time::Date> {
        self.at(CST).map(|t| t.date())
    }

    /// The Beijing calendar date as the number `YYYYMMDD`.
    pub fn beijing_yyyymmdd(self) -> u32 {
        self.at(CST)
            .map(|t| {
                let y = u32::try_from(t.year().clamp(0, 9999)).unwrap_or(0);
                y * 10_000 + u32::from(u8::from(t.month())) * 100 + u32::from(t.day())
            })
            .unwrap_or(0)
    }

    /// 00:00 Beijing time of the calendar day `YYYY-MM-DD`, as a date typed on a page means.
    pub fn beijing_midnight(date: &str) -> Option<Timestamp> {
        let d = crate::workdays::parse_date(date)?;
        Some(Timestamp(d.midnight().assume_offset(CST).unix_timestamp()))
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm`, optional fraction, which is dropped). A leap second `:60` is read as
    /// `:59`, and a space may stand for the `T`.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let mut text = s.to_owned();
        if text.as_bytes().get(10) == Some(&b' ') {
            text.replace_range(10..11, "T");
        }
        OffsetDateTime::parse(&text, &Rfc3339)
            .ok()
            .map(|t| Timestamp(t.unix_timestamp()))
    }

    /// The same wall-clock time `months` later, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29),
    /// on the Beijing calendar.
    pub fn add_months(self, months: u32) -> Timestamp {
        let Some(t) = self.at(CST) else {
            return self;
        };
        let total =
            i64::from(t.year()) * 12 + i64::from(u8::from(t.month()) - 1) + i64::from(months);
        let shifted = (|| {
            let year = i32::try_from(total.div_euclid(12)).ok()?;
            let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
            let day = t.day().min(time::util::days_in_month(month, year));
            let date = time::Date::from_calendar_date(year, month, day).ok()?;
            Some(t.replace_date(date).unix_timestamp())
        })();
        shifted.map(Timestamp).unwrap_or(self)
    }
}

/// Where the platform reads the time. Production uses [`SystemClock`]; tests hand the application a
/// [`ManualClock`] and move it, so that expiry, lock-outs and validity periods are tested without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in Unix seconds.
    fn now(&self) -> Timestamp;

    /// Now, in Unix milliseconds (for ids).
    fn now_ms(&self) -> i64 {
        self.now().0 * 1000
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }
}

/// A clock that stands still until told otherwise; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(t.0)))
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the time on by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
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
        assert_eq!(Timestamp::from_utc(2025, 11, 27, 2, 0, 0), t);
        assert_eq!(
            Timestamp::parse_rfc3339("2025-11-27T10:00:00+08:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2025-11-27T02:00:00.123Z"),
            Some(t)
        );
        assert_eq!(Timestamp::parse_rfc3339("2025-11-27 02:00:00Z"), Some(t));
        for bad in [
            "2025-02-30T00:00:00Z",
            "2025-11-27",
            "2025-11-27T02:00:00",
            "2025-11-27T25:00:00Z",
            "x",
            "",
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
        assert_eq!(jan31.add_months(13).beijing(), "2025-02-28 12:00:00");
        let t = Timestamp::parse_rfc3339("2022-03-14T22:51:28+08:00").unwrap();
        assert_eq!(t.add_months(12).beijing_date(), "2023-03-14");
        assert_eq!(t.beijing_yyyymmdd(), 20220314);
        // Late on the 31st in Beijing is still the 31st there, though it is the 31st's afternoon in UTC.
        let late = Timestamp::parse_rfc3339("2024-03-31T23:30:00+08:00").unwrap();
        assert_eq!(late.add_months(1).beijing(), "2024-04-30 23:30:00");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(Timestamp(1_000));
        let shared = c.clone();
        c.advance(60);
        assert_eq!(shared.now(), Timestamp(1_060));
        shared.set(Timestamp(5));
        assert_eq!(c.now(), Timestamp(5));
        assert_eq!(c.now_ms(), 5_000);
        let sys = SystemClock.now();
        assert!(sys.0 > 1_700_000_000);
        assert!((SystemClock.now_ms() / 1000 - sys.0).abs() <= 1);
    }
}
