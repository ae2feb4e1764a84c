//! 审核预检: what the machine checks before a reviewer looks, and the pure parts of those checks — reading a
//! 统一社会信用代码 or a 身份证号码 out of OCR text, comparing names as a person would (full- and half-width
//! brackets alike, spaces ignored), and the ink colour a seal kind is stamped in.
//!
//! Every check ends as [`Outcome::Pass`], [`Outcome::Fail`] or [`Outcome::Unknown`] (无法核验): a check that
//! could not be done says why and is never reported as passed.

use serde::{Deserialize, Serialize};

use crate::{Holder, HolderKind, SealKind, validate};

/// How one pre-check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// 通过: checked, and it agrees.
    Pass,
    /// 不通过: checked, and it disagrees.
    Fail,
    /// 无法核验: not checked (no data, unreadable scan, no OCR); the detail says why.
    Unknown,
}

impl Outcome {
    /// The page's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "通过",
            Outcome::Fail => "不通过",
            Outcome::Unknown => "无法核验",
        }
    }

    /// The machine name (`pass`, `fail`, `unknown`).
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One pre-check's result (预检结果).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Precheck {
    /// Which check (a stable machine name, e.g. `licence_ocr_credit_code`; see [`check_label`]).
    pub check: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What was found, or why it could not be checked (Chinese, for the reviewer).
    pub detail: String,
}

impl Precheck {
    /// A result.
    pub fn new(check: &str, outcome: Outcome, detail: impl Into<String>) -> Precheck {
        Precheck {
            check: check.into(),
            outcome,
            detail: detail.into(),
        }
    }

    /// The Chinese name of the check.
    pub fn label(&self) -> &'static str {
        check_label(&self.check)
    }
}

/// The Chinese name of a check, by its machine name.
pub fn check_label(check: &str) -> &'static str {
    match check {
        "credit_code_digits" => "统一社会信用代码校验位",
        "id_number_digits" => "身份证号码校验位",
        "cert_credit_code" => "证书锁：统一社会信用代码",
        "cert_enterprise_name" => "证书锁：企业名称",
        "cert_person" => "证书锁：持有人",
        "licence_ocr_credit_code" => "营业执照识别：统一社会信用代码",
        "licence_ocr_name" => "营业执照识别：企业名称",
        "id_ocr_name" => "身份证识别：姓名",
        "id_ocr_number" => "身份证识别：身份证号码",
        "impression_count" => "印模采集表：印章数量",
        "ink_colour" => "印模采集表：印油颜色",
        "duplicate_orders" => "重复订单",
        "pending" => "审核预检",
        _ => "其他检查",
    }
}

/// The seed's text when the code read from the licence differs from the typed one.
pub fn licence_code_mismatch(read: &str) -> String {
    format!("证件识别企业证件号为{read}，与最终填写的不符")
}

/// OCR misreadings tolerated in a code: letter O for zero, letter I for one (neither letter is in the GB 32100
/// alphabet nor in an ID number, so the swap never hides a real character); full-width forms are folded first.
fn ocr_fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    match c.to_ascii_uppercase() {
        'O' => '0',
        'I' => '1',
        u => u,
    }
}

/// The runs of ASCII letters and digits in `text`, each line on its own, spaces inside a line ignored (OCR puts
/// spaces between characters it reads one by one), misreadings folded by [`ocr_fold`].
fn code_runs(text: &str) -> Vec<Vec<char>> {
    let mut runs = Vec::new();
    for line in text.lines() {
        let mut run = Vec::new();
        for c in line.chars() {
            if c.is_whitespace() {
                continue;
            }
            let f = ocr_fold(c);
            if f.is_ascii_alphanumeric() {
                run.push(f);
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
    }
    runs
}

/// Who holds an order, as the duplicate check compares holders: `enterprise:<统一社会信用代码>` (normalised and
/// check character valid) or `person:<身份证号码>` (trimmed, X in upper case). `None` without a kind or a usable
/// number: such an order has no holder to compare. The store keeps only a blind index of it
/// (`orders.holder_index`), never the text, which holds an ID number.
pub fn holder_key(h: &Holder) -> Option<String> {
    match h.kind? {
        HolderKind::Enterprise => validate::credit_code(&h.credit_code)
            .ok()
            .map(|c| format!("enterprise:{c}")),
        HolderKind::Person => {
            let id = h.id_number.trim().to_uppercase();
            (!id.is_empty()).then(|| format!("person:{id}"))
        }
    }
}

/// The first 18 characters in `text` that make a valid 统一社会信用代码 (check character included), reading O as
/// 0 and I as 1; `None` when no valid code is there.
pub fn find_credit_code(text: &str) -> Option<String> {
    code_runs(text).iter().find_map(|run| {
        run.windows(18).find_map(|w| {
            let s: String = w.iter().collect();
            validate::credit_code(&s).ok()
        })
    })
}

/// The first 18 characters in `text` that make a valid 身份证号码 (born by `today`, `YYYYMMDD`), reading O as 0
/// and I as 1; `None` when no valid number is there.
pub fn find_id_number(text: &str, today: u32) -> Option<String> {
    code_runs(text).iter().find_map(|run| {
        run.windows(18).find_map(|w| {
            let s: String = w.iter().collect();
            validate::id_number(&s, today).ok()
        })
    })
}

/// A name as compared: full-width forms (brackets （）among them) folded to half-width, every space dropped,
/// ASCII letters in upper case.
pub fn fold_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether two names are the same name once folded by [`fold_name`]; a blank name matches nothing.
pub fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (fold_name(a), fold_name(b));
    !a.is_empty() && a == b
}

/// Whether `name` appears in OCR `text` (both folded by [`fold_name`], so the spaces OCR puts between Chinese
/// characters and line breaks do not matter); a blank name is never found.
pub fn text_has_name(text: &str, name: &str) -> bool {
    let name = fold_name(name);
    !name.is_empty() && fold_name(text).contains(&name)
}

/// The colour family of a seal's ink (印油颜色), as the pre-check compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InkColour {
    /// 红色.
    Red,
    /// 蓝色.
    Blue,
    /// 紫色.
    Purple,
}

impl InkColour {
    /// The Chinese name.
    pub fn label(self) -> &'static str {
        match self {
            InkColour::Red => "红色",
            InkColour::Blue => "蓝色",
            InkColour::Purple => "紫色",
        }
    }
}

/// The ink a kind is stamped in: 执业印章 (注册建造师, 注册监理师, 造价师, 造价员) blue, company and other seals
/// red; `None` for 手写签字, which is signed, not stamped.
pub fn expected_ink(kind: SealKind) -> Option<InkColour> {
    match kind {
        SealKind::RegisteredConstructor
        | SealKind::RegisteredSupervisor
        | SealKind::CostEngineer
        | SealKind::CostClerk => Some(InkColour::Blue),
        SealKind::HandwrittenSignature => None,
        _ => Some(InkColour::Red),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "91360100MA35XXXX0R";

    fn valid_code() -> String {
        // A real-shaped code with its check character computed by the validator's own rule.
        let body = "91360100MA35L0N2T";
        (0..31u8)
            .map(|i| {
                let c = b"0123456789ABCDEFGHJKLMNPQRTUWXY"[i as usize] as char;
                format!("{body}{c}")
            })
            .find(|s| validate::credit_code(s).is_ok())
            .unwrap()
    }

    #[test]
    fn a_credit_code_is_found_in_ocr_text_with_spaces_and_misread_letters() {
        let code = valid_code();
        let spaced: String = code.chars().map(|c| format!("{c} ")).collect();
        let text = format!("营 业 执 照\n统 一 社 会 信 用 代 码 {spaced}\n名 称 某某有限公司");
        assert_eq!(find_credit_code(&text), Some(code.clone()));
        // Zero read as the letter O (in the region digits and after), and full-width characters.
        let misread = code.replace('0', "O");
        assert_eq!(
            find_credit_code(&format!("代码:{misread}")),
            Some(code.clone())
        );
        let full: String = code
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(find_credit_code(&full), Some(code));
    }

    #[test]
    fn no_code_is_reported_when_the_check_character_does_not_validate() {
        assert!(validate::credit_code(CODE).is_err());
        assert_eq!(find_credit_code(&format!("统一社会信用代码 {CODE}")), None);
        assert_eq!(find_credit_code(""), None);
        assert_eq!(find_credit_code("营业执照 名称 法定代表人"), None);
        // Seventeen characters are not a code.
        let code = valid_code();
        assert_eq!(find_credit_code(&code[..17]), None);
    }

    #[test]
    fn a_code_inside_a_longer_run_is_found_by_its_check_character() {
        let code = valid_code();
        assert_eq!(find_credit_code(&format!("NO{code}X")), Some(code));
    }

    #[test]
    fn an_id_number_is_found_with_o_and_i_misreadings() {
        let id = "11010519491231002X";
        assert_eq!(
            find_id_number(&format!("公民身份号码 {id}"), 20260101),
            Some(id.into())
        );
        let misread = "I1O1O519491231OO2x";
        assert_eq!(
            find_id_number(&format!("公民身份号码\n{misread}"), 20260101),
            Some(id.into())
        );
        assert_eq!(
            find_id_number("公民身份号码 110105194912310021", 20260101),
            None
        );
    }

    #[test]
    fn names_compare_with_brackets_folded_and_spaces_ignored() {
        assert!(same_name(
            "南昌星辰科技（江西）有限公司",
            "南昌星辰科技(江西) 有限公司"
        ));
        assert!(!same_name("南昌星辰科技有限公司", "南昌星晨科技有限公司"));
        assert!(!same_name("", ""));
        assert!(text_has_name(
            "名 称 南 昌 星 辰 科 技 （ 江 西 ） 有 限 公 司\n类 型",
            "南昌星辰科技(江西)有限公司"
        ));
        assert!(!text_has_name("名 称 南 昌 星 辰", "南昌星辰科技有限公司"));
        assert!(!text_has_name("anything", " "));
    }

    #[test]
    fn practice_seals_are_blue_and_company_seals_red() {
        assert_eq!(expected_ink(SealKind::OfficialSeal), Some(InkColour::Red));
        assert_eq!(expected_ink(SealKind::CostClerk), Some(InkColour::Blue));
        assert_eq!(
            expected_ink(SealKind::RegisteredConstructor),
            Some(InkColour::Blue)
        );
        assert_eq!(expected_ink(SealKind::HandwrittenSignature), None);
        assert_eq!(
            licence_code_mismatch("91360100MA35L0N2TX"),
            "证件识别企业证件号为91360100MA35L0N2TX，与最终填写的不符"
        );
    }

    #[test]
    fn the_holder_key_is_the_normalised_credit_code_or_id_number() {
        let code = valid_code();
        let enterprise = |c: &str| Holder {
            kind: Some(crate::HolderKind::Enterprise),
            credit_code: c.into(),
            id_number: "11010519491231002X".into(),
            ..Default::default()
        };
        let spaced = format!(" {} ", code.to_lowercase().replace('1', "1 "));
        assert_eq!(
            holder_key(&enterprise(&spaced)),
            Some(format!("enterprise:{code}"))
        );
        let mut wrong = code.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            holder_key(&enterprise(&wrong)),
            None,
            "check character wrong"
        );
        let person = |id: &str, kind| Holder {
            kind,
            id_number: id.into(),
            ..Default::default()
        };
        assert_eq!(
            holder_key(&person(
                " 11010519491231002x ",
                Some(crate::HolderKind::Person)
            )),
            Some("person:11010519491231002X".into())
        );
        assert_eq!(
            holder_key(&person("  ", Some(crate::HolderKind::Person))),
            None
        );
        assert_eq!(holder_key(&person("11010519491231002X", None)), None);
    }
}
