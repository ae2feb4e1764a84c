//! Money in integer fen (分) and the price rule: 80 元 per seal per year, computed by the server only.

use serde::{Deserialize, Serialize};

/// An amount of money in fen (1 元 = 100 fen). Never a float: amounts go to gateways and invoices exactly.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Fen(pub i64);

/// 收费标准: 80 元/个章/每年.
pub const DEFAULT_PRICE_FEN_PER_SEAL_YEAR: Fen = Fen(8_000);

impl Fen {
    /// `"160.00"`: the form Alipay's `total_amount` and the pages use.
    pub fn yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses `"160"`, `"160.5"` or `"160.00"` strictly (no exponent, at most two decimals).
    pub fn parse_yuan(s: &str) -> Option<Fen> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let yuan: i64 = int.parse().ok()?;
        let mut fen: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        if frac.len() == 1 {
            fen *= 10;
        }
        yuan.checked_mul(100)?.checked_add(fen).map(Fen)
    }

    /// The amount in Chinese capitals for invoices (壹佰陆拾元整), by the rules of 《支付结算办法》: one 零 for a
    /// run of zeros, 零 before a 万 group below a thousand, 零 between 元 and a lone 分, no 整 after 角.
    pub fn capitals(self) -> String {
        const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];
        const UNITS: [&str; 4] = ["", "拾", "佰", "仟"];
        const GROUPS: [&str; 4] = ["", "万", "亿", "万亿"];
        let digit = |d: u64| DIGITS.get(d as usize).copied().unwrap_or("");
        let mut out = String::new();
        if self.0 < 0 {
            out.push('负');
        }
        let abs = self.0.unsigned_abs();
        let (yuan, jiao, fen) = (abs / 100, (abs / 10) % 10, abs % 10);
        let mut groups = Vec::new();
        let mut rest = yuan;
        while rest > 0 {
            groups.push(rest % 10_000);
            rest /= 10_000;
        }
        let mut started = false;
        for (gi, &g) in groups.iter().enumerate().rev() {
            let mut need_zero = started && g < 1000;
            if g == 0 {
                continue;
            }
            for pos in (0..4u32).rev() {
                let d = (g / 10u64.pow(pos)) % 10;
                if d == 0 {
                    need_zero |= started;
                    continue;
                }
                if need_zero {
                    out.push('零');
                    need_zero = false;
                }
                out.push_str(digit(d));
                out.push_str(UNITS.get(pos as usize).copied().unwrap_or(""));
                started = true;
            }
            out.push_str(GROUPS.get(gi).copied().unwrap_or(""));
        }
        if yuan > 0 {
            out.push('元');
        }
        match (jiao, fen) {
            (0, 0) if yuan == 0 => out.push_str("零元整"),
            (0, 0) => out.push('整'),
            (j, 0) => {
                out.push_str(digit(j));
                out.push('角');
            }
            (0, f) => {
                if yuan > 0 {
                    out.push('零');
                }
                out.push_str(digit(f));
                out.push('分');
            }
            (j, f) => {
                out.push_str(digit(j));
                out.push('角');
                out.push_str(digit(f));
                out.push('分');
            }
        }
        out
    }
}

/// What an order costs: `seals` seals for `months` months at `per_seal_year` a year, pro rata by month and
/// rounded up to the fen. `None` on overflow, which no sane form reaches but a forged one might.
pub fn price_fen(per_seal_year: Fen, seals: u32, months: u32) -> Option<Fen> {
    let num = per_seal_year
        .0
        .checked_mul(i64::from(seals))?
        .checked_mul(i64::from(months))?;
    Some(Fen((num + 11) / 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_per_seal_per_year() {
        assert_eq!(
            price_fen(DEFAULT_PRICE_FEN_PER_SEAL_YEAR, 2, 12),
            Some(Fen(16_000))
        );
        assert_eq!(
            price_fen(DEFAULT_PRICE_FEN_PER_SEAL_YEAR, 1, 24),
            Some(Fen(16_000))
        );
        assert_eq!(
            price_fen(DEFAULT_PRICE_FEN_PER_SEAL_YEAR, 1, 6),
            Some(Fen(4_000))
        );
        // 8000 * 1 / 12 = 666.67 fen: rounded up, never down, so the sum of months never undercharges.
        assert_eq!(
            price_fen(DEFAULT_PRICE_FEN_PER_SEAL_YEAR, 1, 1),
            Some(Fen(667))
        );
        assert_eq!(price_fen(Fen(i64::MAX), 2, 12), None);
    }

    #[test]
    fn yuan_strings() {
        assert_eq!(Fen(16_000).yuan_string(), "160.00");
        assert_eq!(Fen(5).yuan_string(), "0.05");
        assert_eq!(Fen::parse_yuan("160"), Some(Fen(16_000)));
        assert_eq!(Fen::parse_yuan("160.5"), Some(Fen(16_050)));
        assert_eq!(Fen::parse_yuan("0.01"), Some(Fen(1)));
        for bad in ["", "1e3", "1.234", "-1", ".5", "1.a", "１"] {
            assert_eq!(Fen::parse_yuan(bad), None, "{bad}");
        }
    }

    /// The vectors of `testdata/standards/rmb_output.txt`, parsed from the file itself.
    #[test]
    fn capitals_match_the_reference_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/standards/rmb_output.txt"
        );
        let text = std::fs::read_to_string(path)
            .expect("testdata/standards/rmb_output.txt in the repository");
        let mut n = 0;
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [ok, amount, "->", want] = parts[..] else {
                continue;
            };
            if ok != "OK" {
                continue;
            }
            let Some(fen) = Fen::parse_yuan(amount) else {
                continue;
            };
            assert_eq!(fen.capitals(), want, "{amount}");
            n += 1;
        }
        assert!(n >= 10, "only {n} vectors read");
    }
}
