//! `sealdesk calendar`: the working-day calendar that review due dates are counted in, on the command line, so
//! that an administrator can check a new year's holiday file before the server uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sealdesk_domain::WorkCalendar;
use sealdesk_domain::workdays::parse_date;

#[derive(clap::Subcommand)]
pub enum CalendarCmd {
    /// The day N working days after DATE (public holidays and 调休 make-up working days counted), e.g.
    /// `sealdesk calendar add-workdays 2026-09-30 2` prints 2026-10-09.
    AddWorkdays {
        /// YYYY-MM-DD.
        date: String,
        /// How many working days.
        days: u32,
        #[command(flatten)]
        source: Source,
    },
    /// Whether DATE is a working day: prints 工作日 or 休息日.
    IsWorkday {
        /// YYYY-MM-DD.
        date: String,
        #[command(flatten)]
        source: Source,
    },
}

#[derive(clap::Args)]
pub struct Source {
    /// A holiday file in the format of `crates/domain/data/holidays-cn.txt` instead of the built-in one.
    #[arg(long, env = "SEALDESK_HOLIDAYS")]
    holidays: Option<PathBuf>,
}

impl Source {
    pub fn calendar(&self) -> anyhow::Result<WorkCalendar> {
        match &self.holidays {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("读取节假日文件 {}", p.display()))?;
                Ok(WorkCalendar::parse(&text)?)
            }
            None => Ok(WorkCalendar::china()?),
        }
    }
}

pub fn run(cmd: CalendarCmd) -> anyhow::Result<ExitCode> {
    let day =
        |text: &str| parse_date(text).with_context(|| format!("「{text}」不是 YYYY-MM-DD 日期"));
    match cmd {
        CalendarCmd::AddWorkdays {
            date: d,
            days,
            source,
        } => {
            let due = source.calendar()?.add_working_days(day(&d)?, days)?;
            println!("{due}");
        }
        CalendarCmd::IsWorkday { date: d, source } => {
            let working = source.calendar()?.is_working_day(day(&d)?)?;
            println!("{}", if working { "工作日" } else { "休息日" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
