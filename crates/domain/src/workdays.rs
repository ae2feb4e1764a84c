//! 工作日: working days in mainland China, where the public holidays move every year and some weekends become
//! working days (调休上班). The operating guide promises a review within 1-2 working days, so due dates are counted
//! here. The calendar is data, not code: `data/holidays-cn.txt` (embedded) or a file of the same format that an
//! administrator keeps, since the State Council announces each year's dates only weeks before the year begins.

use std::collections::BTreeSet;

use time::{Date, Weekday};

/// Why a calendar could not be read or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A line of the data file is not one of its rules.
    #[error("节假日数据第 {line} 行有误：{message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A date in a year the data does not cover: answering would silently treat its holidays as working days.
    #[error("没有 {year} 年的节假日数据（已有 {covered}），请先补充该年的节假日安排")]
    NoData {
        /// The year asked about.
        year: i32,
        /// The years the calendar covers, e.g. `2025、2026`.
        covered: String,
    },
}

/// The embedded calendar: public holidays and make-up working days as announced.
const CHINA: &str = include_str!("../data/holidays-cn.txt");

/// Public holidays (`off`) and make-up working days (`work`) for the years the data covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeSet<i32>,
    off: BTreeSet<Date>,
    work: BTreeSet<Date>,
}

impl WorkCalendar {
    /// The calendar shipped with SealDesk (`crates/domain/data/holidays-cn.txt`).
    pub fn china() -> Result<WorkCalendar, CalendarError> {
        WorkCalendar::parse(CHINA)
    }

    /// Reads the data format described at the top of `data/holidays-cn.txt`.
    pub fn parse(text: &str) -> Result<WorkCalendar, CalendarError> {
        let mut cal = WorkCalendar {
            years: BTreeSet::new(),
            off: BTreeSet::new(),
            work: BTreeSet::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let bad = |message: String| CalendarError::Syntax { line, message };
            let words: Vec<&str> = raw
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let Some((&rule, rest)) = words.split_first() else {
                continue;
            };
            match rule {
                "year" => {
                    let year = rest
                        .first()
                        .and_then(|y| y.parse::<i32>().ok())
                        .filter(|y| (1949..=9999).contains(y))
                        .ok_or_else(|| bad("year 后应为四位年份".into()))?;
                    cal.years.insert(year);
                }
                "off" => {
                    let first = date(rest.first().copied()).map_err(bad)?;
                    // An optional second date ends the range; anything else after the first date is its name.
                    let last = match rest.get(1) {
                        Some(w) if w.starts_with(|c: char| c.is_ascii_digit()) => {
                            date(Some(w)).map_err(bad)?
                        }
                        _ => first,
                    };
                    if last < first || (last - first).whole_days() > 31 {
                        return Err(bad(format!("假期 {first} 至 {last} 不成立")));
                    }
                    let mut d = first;
                    while d <= last {
                        cal.off.insert(d);
                        d = d.next_day().ok_or_else(|| bad("日期超出范围".into()))?;
                    }
                }
                "work" => {
                    let d = date(rest.first().copied()).map_err(bad)?;
                    if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
                        return Err(bad(format!("{d} 不是周末，无需调休上班")));
                    }
                    cal.work.insert(d);
                }
                other => {
                    return Err(bad(format!(
                        "不认识的规则「{other}」（应为 year、off 或 work）"
                    )));
                }
            }
        }
        if let Some(d) = cal.off.intersection(&cal.work).next() {
            return Err(CalendarError::Syntax {
                line: 0,
                message: format!("{d} 既是假日又是调休上班日"),
            });
        }
        if let Some(d) = cal
            .off
            .iter()
            .chain(&cal.work)
            .find(|d| !cal.years.contains(&d.year()))
        {
            return Err(CalendarError::Syntax {
                line: 0,
                message: format!("{d} 所在年份没有 year 行"),
            });
        }
        Ok(cal)
    }

    /// The years this calendar covers, oldest first.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Whether `day` is a working day: a make-up working day, or a weekday that is not a holiday.
    pub fn is_working_day(&self, day: Date) -> Result<bool, CalendarError> {
        self.covers(day.year())?;
        Ok(self.work.contains(&day)
            || (!matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
                && !self.off.contains(&day)))
    }

    /// The day that is `n` working days after `from` (the day of submission itself does not count), e.g.
    /// 2026-09-30 + 2 = 2026-10-09 across the National Day holiday.
    pub fn add_working_days(&self, from: Date, n: u32) -> Result<Date, CalendarError> {
        let mut day = from;
        let mut left = n;
        while left > 0 {
            day = day.next_day().ok_or_else(|| self.no_data(9999))?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// Working days strictly after `from` up to and including `to` (0 when `to` is not after `from`): how late
    /// an order is against its due date.
    pub fn working_days_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = day.next_day().ok_or_else(|| self.no_data(9999))?;
            if self.is_working_day(day)? {
                n += 1;
            }
        }
        Ok(n)
    }

    fn covers(&self, year: i32) -> Result<(), CalendarError> {
        if self.years.contains(&year) {
            Ok(())
        } else {
            Err(self.no_data(year))
        }
    }

    fn no_data(&self, year: i32) -> CalendarError {
        CalendarError::NoData {
            year,
            covered: self
                .years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join("、"),
        }
    }
}

/// The operating guide's promise: a 审核 decision within this many working days of submission.
pub const REVIEW_WORKING_DAYS: u32 = 2;

/// Where an order waiting for 审核 stands against [`REVIEW_WORKING_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDue {
    /// Due on `due`, `left` working days after today.
    OnTime {
        /// The last day of the promise.
        due: Date,
        /// Working days from today until then.
        left: u32,
    },
    /// Due today.
    Today {
        /// Today.
        due: Date,
    },
    /// Past `due` by `late` working days (0 when only a weekend or holiday has passed since).
    Overdue {
        /// The day it was due.
        due: Date,
        /// Working days since.
        late: u32,
    },
}

impl WorkCalendar {
    /// Where an order submitted at `submitted` (RFC 3339) stands at `now`, counted in Beijing days; `None` for a
    /// time that does not read.
    pub fn review_due_at(
        &self,
        submitted: &str,
        now: crate::Timestamp,
    ) -> Option<Result<ReviewDue, CalendarError>> {
        let day = crate::Timestamp::parse_rfc3339(submitted)?.beijing_day()?;
        Some(self.review_due(day, now.beijing_day()?))
    }

    /// Where an order submitted on `submitted` stands on `today` (both Beijing dates).
    pub fn review_due(&self, submitted: Date, today: Date) -> Result<ReviewDue, CalendarError> {
        let due = self.add_working_days(submitted, REVIEW_WORKING_DAYS)?;
        Ok(if today < due {
            ReviewDue::OnTime {
                due,
                left: self.working_days_between(today, due)?,
            }
        } else if today == due {
            ReviewDue::Today { due }
        } else {
            ReviewDue::Overdue {
                due,
                late: self.working_days_between(due, today)?,
            }
        })
    }
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

fn date(word: Option<&str>) -> Result<Date, String> {
    let w = word.ok_or_else(|| "缺少日期".to_owned())?;
    parse_date(w).ok_or_else(|| format!("「{w}」不是 YYYY-MM-DD 日期"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_bid_opening_within_three_working_days_is_urgent_across_national_day() {
        let cal = WorkCalendar::china().unwrap();
        let today = parse_date("2026-09-30").unwrap();
        // The three working days after 2026-09-30 come after the holiday: 10-08, 10-09 and the make-up Saturday
        // 10-10.
        assert!(bid_opening_urgent(Some(&cal), "2026-09-30", today));
        assert!(bid_opening_urgent(Some(&cal), "2026-10-07", today));
        assert!(bid_opening_urgent(Some(&cal), "2026-10-10", today));
        assert!(!bid_opening_urgent(Some(&cal), "2026-10-11", today));
        assert!(!bid_opening_urgent(Some(&cal), "2026-10-12", today));
        // Past openings and unreadable dates are not urgent.
        assert!(!bid_opening_urgent(Some(&cal), "2026-09-29", today));
        assert!(!bid_opening_urgent(Some(&cal), "2026-13-01", today));
        // Without a calendar: three days plus a weekend.
        assert!(bid_opening_urgent(None, "2026-10-05", today));
        assert!(!bid_opening_urgent(None, "2026-10-06", today));
    }

    #[test]
    fn review_due_counts_working_days_across_national_day_and_its_make_up_saturday() {
        let cal = WorkCalendar::china().unwrap();
        let d = |t: &str| parse_date(t).unwrap();
        let submitted = d("2026-09-30");
        assert_eq!(
            cal.review_due(submitted, d("2026-09-30")).unwrap(),
            ReviewDue::OnTime {
                due: d("2026-10-09"),
                left: 2
            }
        );
        assert_eq!(
            cal.review_due(submitted, d("2026-10-08")).unwrap(),
            ReviewDue::OnTime {
                due: d("2026-10-09"),
                left: 1
            }
        );
        assert_eq!(
            cal.review_due(submitted, d("2026-10-09")).unwrap(),
            ReviewDue::Today {
                due: d("2026-10-09")
            }
        );
        // Saturday 2026-10-10 is a make-up working day: by Monday two working days have passed.
        assert_eq!(
            cal.review_due(submitted, d("2026-10-12")).unwrap(),
            ReviewDue::Overdue {
                due: d("2026-10-09"),
                late: 2
            }
        );
        assert_eq!(
            cal.review_due(d("2026-12-31"), d("2026-12-31"))
                .unwrap_err(),
            CalendarError::NoData {
                year: 2027,
                covered: "2025、2026".into()
            }
        );
    }

    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    /// The published cases (`testdata/standards/workdays_output.txt`, made with the `chinese_calendar` Python
    /// library), read from the file so that a changed vector cannot pass unnoticed.
    #[test]
    fn the_published_cases_hold() {
        let cal = WorkCalendar::china().unwrap();
        let text = include_str!("../../../testdata/standards/workdays_output.txt");
        let mut cases = 0;
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if line.contains(" holiday dates ") {
                // "2026 holiday dates (lib, include_weekends=False): 33 | weekend make-up workdays: [...]"
                let year: i32 = w[0].parse().unwrap();
                let count: usize = line
                    .split(": ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(
                    cal.off.iter().filter(|x| x.year() == year).count(),
                    count,
                    "{line}"
                );
                let listed: Vec<String> = line
                    .rsplit('[')
                    .next()
                    .unwrap()
                    .trim_end_matches(']')
                    .split(", ")
                    .map(|s| s.trim_matches('\'').to_owned())
                    .collect();
                let ours: Vec<String> = cal
                    .work
                    .iter()
                    .filter(|x| x.year() == year)
                    .map(|x| x.to_string())
                    .collect();
                assert_eq!(ours, listed, "{line}");
                cases += 1;
            } else if line.contains(": ERROR") {
                // "2026-12-31 + 1: ERROR no available data for year 2027, ..."
                let n: u32 = w[2].trim_end_matches(':').parse().unwrap();
                assert!(matches!(
                    cal.add_working_days(d(w[0]), n),
                    Err(CalendarError::NoData { year: 2027, .. })
                ));
                cases += 1;
            } else if line.contains(" -> ") {
                // "2026-09-30 (Wed) + 2 working day(s) -> 2026-10-09 (Fri)"
                let n: u32 = w[3].parse().unwrap();
                assert_eq!(cal.add_working_days(d(w[0]), n).unwrap(), d(w[7]), "{line}");
                cases += 1;
            }
        }
        assert_eq!(cases, 11);
    }

    #[test]
    fn ordinary_weeks_and_counting_back() {
        let cal = WorkCalendar::china().unwrap();
        // Friday + 1 is Monday in an ordinary week; Saturday and Sunday are not working days.
        assert_eq!(
            cal.add_working_days(d("2026-03-13"), 1).unwrap(),
            d("2026-03-16")
        );
        assert!(!cal.is_working_day(d("2026-03-14")).unwrap());
        assert!(
            cal.is_working_day(d("2026-10-10")).unwrap(),
            "调休上班 on a Saturday"
        );
        assert!(
            !cal.is_working_day(d("2026-10-05")).unwrap(),
            "国庆 on a Monday"
        );
        assert_eq!(
            cal.add_working_days(d("2026-03-13"), 0).unwrap(),
            d("2026-03-13")
        );
        assert_eq!(
            cal.working_days_between(d("2026-09-30"), d("2026-10-09"))
                .unwrap(),
            2
        );
        assert_eq!(
            cal.working_days_between(d("2026-10-09"), d("2026-09-30"))
                .unwrap(),
            0
        );
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2025, 2026]);
    }

    #[test]
    fn a_year_without_data_is_refused_not_guessed() {
        let cal = WorkCalendar::china().unwrap();
        let e = cal.is_working_day(d("2027-01-04")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "没有 2027 年的节假日数据（已有 2025、2026），请先补充该年的节假日安排"
        );
    }

    #[test]
    fn bad_data_is_named_by_line() {
        let cases = [
            (
                "year 2026\nholiday 2026-01-01",
                2,
                "不认识的规则「holiday」（应为 year、off 或 work）",
            ),
            (
                "year 2026\noff 2026-02-30",
                2,
                "「2026-02-30」不是 YYYY-MM-DD 日期",
            ),
            (
                "year 2026\nwork 2026-01-05",
                2,
                "2026-01-05 不是周末，无需调休上班",
            ),
            (
                "year 2026\noff 2026-10-07 2026-10-01",
                2,
                "假期 2026-10-07 至 2026-10-01 不成立",
            ),
            ("year twenty", 1, "year 后应为四位年份"),
            ("off 2026-01-01", 0, "2026-01-01 所在年份没有 year 行"),
            (
                "year 2026\noff 2026-01-04\nwork 2026-01-04",
                0,
                "2026-01-04 既是假日又是调休上班日",
            ),
        ];
        for (text, line, message) in cases {
            assert_eq!(
                WorkCalendar::parse(text),
                Err(CalendarError::Syntax {
                    line,
                    message: message.into()
                }),
                "{text}"
            );
        }
        // Comments, blank lines and names after a single date are fine.
        let cal =
            WorkCalendar::parse("# x\n\nyear 2026\noff 2026-01-01 元旦 # new year\n").unwrap();
        assert!(!cal.is_working_day(d("2026-01-01")).unwrap());
    }
}

/// An order whose 开标日期 falls within this many working days of today is marked 加急 in the review queue: a
/// decision after the bid opening is worth nothing to the applicant.
pub const URGENT_BID_OPENING_WORKING_DAYS: u32 = 3;

/// Whether an order with bid opening `bid` (`YYYY-MM-DD`) is urgent on `today`: the opening is today or within
/// [`URGENT_BID_OPENING_WORKING_DAYS`] working days. A past opening is no longer urgent. Without calendar data
/// for the days involved, the same count is taken in calendar days plus a weekend, so that nothing near is missed.
pub fn bid_opening_urgent(cal: Option<&WorkCalendar>, bid: &str, today: Date) -> bool {
    let Some(bid) = parse_date(bid) else {
        return false;
    };
    if bid < today {
        return false;
    }
    let limit = cal
        .and_then(|c| {
            c.add_working_days(today, URGENT_BID_OPENING_WORKING_DAYS)
                .ok()
        })
        .unwrap_or_else(|| {
            today + time::Duration::days(i64::from(URGENT_BID_OPENING_WORKING_DAYS) + 2)
        });
    bid <= limit
}
