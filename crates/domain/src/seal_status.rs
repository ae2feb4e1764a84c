//! 印章状态: what the platform says about a seal it made, for relying parties.

use crate::time::Timestamp;

/// A made seal's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealStatus {
    /// 有效: not revoked and within its validity.
    Valid,
    /// 已注销: revoked (补办 or 变更 replaced it); final, whatever its dates say.
    Revoked,
    /// 已过期: past the end of its validity.
    Expired,
}

impl SealStatus {
    /// The status of a seal that is `revoked` or not and valid until `valid_end` (RFC 3339), at `now` (Unix
    /// seconds). An unreadable end date counts as expired: the platform never vouches for a date it cannot read.
    pub fn of(revoked: bool, valid_end: &str, now: i64) -> SealStatus {
        if revoked {
            return SealStatus::Revoked;
        }
        match Timestamp::parse_rfc3339(valid_end) {
            Some(end) if now <= end.0 => SealStatus::Valid,
            _ => SealStatus::Expired,
        }
    }

    /// The Chinese label.
    pub fn label(self) -> &'static str {
        match self {
            SealStatus::Valid => "有效",
            SealStatus::Revoked => "已注销",
            SealStatus::Expired => "已过期",
        }
    }

    /// A stable code for the API: `valid`, `revoked`, `expired`.
    pub fn code(self) -> &'static str {
        match self {
            SealStatus::Valid => "valid",
            SealStatus::Revoked => "revoked",
            SealStatus::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_wins_then_the_end_date_decides() {
        let end = "2027-01-01T00:00:00Z";
        let t = Timestamp::parse_rfc3339(end).unwrap().0;
        assert_eq!(SealStatus::of(false, end, t), SealStatus::Valid);
        assert_eq!(SealStatus::of(false, end, t + 1), SealStatus::Expired);
        assert_eq!(SealStatus::of(true, end, t - 86_400), SealStatus::Revoked);
        assert_eq!(SealStatus::of(false, "not a date", 0), SealStatus::Expired);
        assert_eq!(SealStatus::Revoked.label(), "已注销");
        assert_eq!(SealStatus::Expired.code(), "expired");
    }
}
