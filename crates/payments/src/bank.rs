//! 对公转账: corporate bank transfer, the fourth way to pay. There is no gateway to sign anything: the proof of
//! payment is the platform's own bank statement. Each bank-transfer payment gets a reference (`SD` + the payment
//! id in base 36 + an ISO 7064 MOD 37,36 check character) that the applicant writes in the transfer's 附言; finance
//! exports the statement as CSV and the platform reads every credit line of it here.
//!
//! Pure: text in, typed lines out. Matching lines to payments (and recording them exactly once) is the
//! application's job.

use sealdesk_domain::Fen;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A statement larger than this is refused before it is read (a month of a busy account is well under 1 MB).
pub const MAX_STATEMENT_BYTES: usize = 4 << 20;

fn digit(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|v| v as u32)
}

/// ISO 7064 MOD 37,36 (hybrid): one check character that catches every single-character error and every swap of
/// two adjacent characters.
fn check_char(body: &[u8]) -> Option<u8> {
    let mut p: u32 = 36;
    for &c in body {
        let mut s = (p + digit(c)?) % 36;
        if s == 0 {
            s = 36;
        }
        p = (s * 2) % 37;
    }
    Some(ALPHABET[((37 - p) % 36) as usize])
}

/// The transfer reference of a bank-transfer payment.
pub fn bank_reference(payment_id: i64) -> String {
    let mut n = payment_id.unsigned_abs();
    let mut body = Vec::new();
    loop {
        body.push(ALPHABET[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    body.reverse();
    let check = check_char(&body).unwrap_or(b'0');
    body.push(check);
    format!("SD{}", String::from_utf8_lossy(&body))
}

/// The payment id that a statement's memo names, if it holds a well-formed reference (any case, anywhere in the
/// text, as banks often prefix or truncate 附言).
pub fn parse_reference(memo: &str) -> Option<i64> {
    let up = memo.to_ascii_uppercase();
    up.match_indices("SD").find_map(|(at, _)| {
        let tail: Vec<u8> = up.as_bytes()[at + 2..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_alphanumeric)
            .collect();
        if !(2..=14).contains(&tail.len()) {
            return None;
        }
        let (body, check) = tail.split_at(tail.len() - 1);
        if check_char(body)? != check[0] {
            return None;
        }
        let mut n: i64 = 0;
        for &c in body {
            n = n.checked_mul(36)?.checked_add(digit(c)? as i64)?;
        }
        Some(n)
    })
}

/// One credit line of a bank statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// 1-based line number in the file (the header is line 1 when it is the first line).
    pub line: usize,
    /// The bank's serial number of the transaction (流水号): what makes a line unique.
    pub serial: String,
    /// The amount credited.
    pub amount: Fen,
    /// 附言 / 摘要 as the bank printed it.
    pub memo: String,
    /// The payer's account name (对方户名), if the statement has that column.
    pub payer: String,
}

/// A line of the statement that is not a credit the platform can read, and why (in Chinese, for finance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// A statement read: its credits, and the lines that looked like credits but could not be read. Debits and
/// zero lines are skipped silently: they are not money coming in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    /// Credit lines.
    pub credits: Vec<Credit>,
    /// Lines that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// Why a statement cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Over [`MAX_STATEMENT_BYTES`].
    #[error("银行流水文件超过 4 MB")]
    TooLarge,
    /// Not UTF-8 (banks export GBK too; finance saves it as UTF-8 first).
    #[error("银行流水不是 UTF-8 编码的 CSV，请另存为 UTF-8 后再导入")]
    NotUtf8,
    /// No header line.
    #[error("银行流水为空")]
    Empty,
    /// The header lacks a column the platform needs.
    #[error(
        "银行流水缺少必需的列：金额（或贷方金额、收入金额）、附言（或摘要、用途、备注）、流水号"
    )]
    MissingColumns,
}

/// Splits one CSV record (RFC 4180 quoting), trimming each field.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_owned()).collect()
}

/// Reads a bank statement exported as CSV: a header line naming at least the amount (金额, 贷方金额 or 收入金额),
/// the memo (附言, 摘要, 用途 or 备注) and the serial (流水号 or 交易流水号) columns, in any order, then one line per
/// transaction. Amounts may carry thousands separators and a `+`; negative amounts (debits) are skipped.
pub fn read_statement(bytes: &[u8]) -> Result<Statement, StatementError> {
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(StatementError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| StatementError::NotUtf8)?;
    let mut lines = text.trim_start_matches('\u{feff}').lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break csv_fields(l),
            None => return Err(StatementError::Empty),
        }
    };
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let (Some(amount_col), Some(memo_col), Some(serial_col)) = (
        col(&["贷方金额", "收入金额", "金额", "amount"]),
        col(&["附言", "摘要", "用途", "备注", "memo"]),
        col(&["流水号", "交易流水号", "serial"]),
    ) else {
        return Err(StatementError::MissingColumns);
    };
    let payer_col = col(&["对方户名", "付款人", "付款方户名", "payer"]);
    let mut st = Statement::default();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let f = csv_fields(line);
        let get = |c: usize| f.get(c).map(String::as_str).unwrap_or("");
        let amount_text = get(amount_col).replace(',', "");
        if amount_text.is_empty() || amount_text.starts_with('-') {
            continue;
        }
        let Some(amount) = Fen::parse_yuan(amount_text.trim_start_matches('+')) else {
            st.unreadable.push(Unreadable {
                line: n,
                reason: format!("金额无法识别：{amount_text}"),
            });
            continue;
        };
        if amount.0 == 0 {
            continue;
        }
        let serial = get(serial_col);
        if serial.is_empty() {
            st.unreadable.push(Unreadable {
                line: n,
                reason: "缺少流水号".into(),
            });
            continue;
        }
        st.credits.push(Credit {
            line: n,
            serial: serial.to_owned(),
            amount,
            memo: get(memo_col).to_owned(),
            payer: payer_col.map(get).unwrap_or("").to_owned(),
        });
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_catch_typos() {
        for id in [1i64, 35, 36, 987_305_922_600_767_488, i64::MAX] {
            let r = bank_reference(id);
            assert_eq!(
                parse_reference(&format!("货款 {r} 北筑设计")),
                Some(id),
                "{r}"
            );
            assert_eq!(parse_reference(&r.to_lowercase()), Some(id));
            let b = r.as_bytes();
            for i in 2..b.len() {
                let mut t = b.to_vec();
                t[i] = if t[i] == b'7' { b'8' } else { b'7' };
                assert_ne!(
                    parse_reference(std::str::from_utf8(&t).unwrap()),
                    Some(id),
                    "{r} @{i}"
                );
            }
            // Adjacent swaps of different characters are caught too.
            for i in 2..b.len() - 1 {
                if b[i] != b[i + 1] {
                    let mut t = b.to_vec();
                    t.swap(i, i + 1);
                    assert_ne!(
                        parse_reference(std::str::from_utf8(&t).unwrap()),
                        Some(id),
                        "{r} swap @{i}"
                    );
                }
            }
        }
        assert_eq!(parse_reference("no reference"), None);
        assert_eq!(parse_reference("SD"), None);
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#"a,"b,c","d ""e""",  f "#),
            ["a", "b,c", r#"d "e""#, "f"]
        );
    }

    #[test]
    fn statement_lines() {
        let csv = "\u{feff}交易日期,流水号,对方户名,贷方金额,摘要\n\
                   2026-01-05,B001,北筑设计,\"8,000.00\",电子印章 SD1X\n\
                   2026-01-05,B002,某公司,abc,x\n\
                   2026-01-05,B003,本行,-5.00,手续费\n\
                   2026-01-05,,某公司,80.00,x\n\
                   \n\
                   2026-01-05,B005,某公司,+80.00,x\n";
        let st = read_statement(csv.as_bytes()).unwrap();
        assert_eq!(
            st.credits,
            vec![
                Credit {
                    line: 2,
                    serial: "B001".into(),
                    amount: Fen(800_000),
                    memo: "电子印章 SD1X".into(),
                    payer: "北筑设计".into()
                },
                Credit {
                    line: 7,
                    serial: "B005".into(),
                    amount: Fen(8_000),
                    memo: "x".into(),
                    payer: "某公司".into()
                },
            ]
        );
        assert_eq!(
            st.unreadable,
            vec![
                Unreadable {
                    line: 3,
                    reason: "金额无法识别：abc".into()
                },
                Unreadable {
                    line: 5,
                    reason: "缺少流水号".into()
                },
            ]
        );
        assert_eq!(
            read_statement(b"a,b\n1,2"),
            Err(StatementError::MissingColumns)
        );
        assert_eq!(read_statement(b"\n\n"), Err(StatementError::Empty));
        assert_eq!(
            read_statement(&[0xB7, 0xA2, b'\n']),
            Err(StatementError::NotUtf8)
        );
    }
}
