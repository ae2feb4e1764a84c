//! `sealdesk calendar`: the command prints what the contract says, and refuses what it cannot answer.

use std::process::Command;

fn sealdesk(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealdesk"))
        .args(args)
        .env_remove("SEALDESK_HOLIDAYS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn add_workdays_crosses_the_national_day_holiday() {
    assert_eq!(
        sealdesk(&["calendar", "add-workdays", "2026-09-30", "2"]),
        (0, "2026-10-09\n".to_owned(), String::new())
    );
    assert_eq!(
        sealdesk(&["calendar", "is-workday", "2026-10-10"]),
        (0, "工作日\n".to_owned(), String::new())
    );
}

#[test]
fn a_year_without_data_and_a_bad_file_are_refused_by_name() {
    let (code, out, err) = sealdesk(&["calendar", "add-workdays", "2026-12-31", "1"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("没有 2027 年的节假日数据（已有 2025、2026），请先补充该年的节假日安排"),
        "{err}"
    );
    // An administrator's own file for the next year is used instead of the built-in one.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.txt");
    std::fs::write(&file, "year 2027\noff 2027-01-01 元旦\n").unwrap();
    let f = file.to_str().unwrap();
    let add = |from: &str| sealdesk(&["calendar", "add-workdays", from, "1", "--holidays", f]);
    assert_eq!(add("2026-06-01").0, 1, "2026 is not in that file");
    // Only the days counted need data: from the last day of 2026, past 元旦 and the weekend.
    assert_eq!(add("2026-12-31").1, "2027-01-04\n");
    std::fs::write(&file, "year 2027\nwork 2027-01-04\n").unwrap();
    let (code, _, err) = sealdesk(&["calendar", "is-workday", "2027-01-04", "--holidays", f]);
    assert_eq!(code, 1);
    assert!(
        err.contains("节假日数据第 2 行有误：2027-01-04 不是周末，无需调休上班"),
        "{err}"
    );
}

/// `serve --holidays FILE` reads the administrator's file before it starts: a broken one stops the start, naming
/// the line, instead of a platform that counts due dates in a calendar nobody checked.
#[test]
fn serve_refuses_a_broken_holiday_file_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.txt");
    std::fs::write(&file, "year 2027\nwork 2027-01-04\n").unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = sealdesk(&[
        "serve",
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--holidays",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("节假日数据第 2 行有误：2027-01-04 不是周末，无需调休上班"),
        "{err}"
    );
}
