//! 审核 statistics for the console's dashboard: how long applicants wait for a decision and why orders are
//! rejected, computed from the audit log's submit / approve / reject entries (pure: the caller reads them).

use crate::Timestamp;

/// One submit, approve or reject of an order, in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewEvent {
    /// The order.
    pub order_id: i64,
    /// `submit`, `approve` or `reject` (others are ignored).
    pub action: String,
    /// When.
    pub at: Timestamp,
    /// The 审核意见 of a rejection.
    pub comment: Option<String>,
    /// The texts of a rejection's coded reasons (counted instead of the comment when there are any).
    pub reasons: Vec<String>,
}

/// What the events say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewStats {
    /// Decisions that followed a submission among the events.
    pub decisions: usize,
    /// The median time from submission to decision, in seconds.
    pub median_seconds: Option<i64>,
    /// Rejection comments with how often each was given, most frequent first (ties by text), at most 10.
    pub reasons: Vec<(String, usize)>,
}

/// Pairs each decision with the submission before it (a resubmission starts a new wait) and counts reasons.
pub fn review_stats(events: &[ReviewEvent]) -> ReviewStats {
    let mut waiting: std::collections::HashMap<i64, Timestamp> = std::collections::HashMap::new();
    let mut waits = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in events {
        match e.action.as_str() {
            "submit" => {
                waiting.insert(e.order_id, e.at);
            }
            "approve" | "reject" => {
                if let Some(since) = waiting.remove(&e.order_id) {
                    waits.push(e.at.0 - since.0);
                }
                if e.action == "reject" {
                    if e.reasons.is_empty() {
                        let text = e.comment.as_deref().unwrap_or("").trim();
                        if !text.is_empty() {
                            *reasons.entry(text.to_owned()).or_default() += 1;
                        }
                    }
                    for r in &e.reasons {
                        *reasons.entry(r.clone()).or_default() += 1;
                    }
                }
            }
            _ => {}
        }
    }
    waits.sort_unstable();
    let n = waits.len();
    // The middle one, or the mean of the two middle ones (`get`, so that no index can panic).
    let median_seconds = match (waits.get(n / 2), waits.get(n.saturating_sub(1) / 2)) {
        (Some(&hi), Some(&lo)) if n % 2 == 0 => Some((lo + hi) / 2),
        (Some(&mid), _) => Some(mid),
        _ => None,
    };
    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons.truncate(10);
    ReviewStats {
        decisions: waits.len(),
        median_seconds,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(order_id: i64, action: &str, at: i64, comment: Option<&str>) -> ReviewEvent {
        ReviewEvent {
            reasons: Vec::new(),
            order_id,
            action: action.into(),
            at: Timestamp(at),
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn waits_pair_each_decision_with_its_submission_and_reasons_are_counted() {
        let events = [
            ev(1, "submit", 0, None),
            ev(2, "submit", 100, None),
            ev(1, "reject", 3_600, Some(" 营业执照不清晰 ")),
            ev(1, "submit", 10_000, None),
            ev(3, "approve", 10_500, None), // never submitted among these events: not a wait
            ev(2, "reject", 18_100, Some("营业执照不清晰")),
            ev(1, "approve", 10_000 + 7_200, None),
            ev(4, "reject", 20_000, Some("身份证已过期")),
        ];
        let s = review_stats(&events);
        // Waits: 3 600, 18 000, 7 200 → median 7 200.
        assert_eq!(s.decisions, 3);
        assert_eq!(s.median_seconds, Some(7_200));
        assert_eq!(
            s.reasons,
            vec![
                ("营业执照不清晰".to_owned(), 2),
                ("身份证已过期".to_owned(), 1)
            ]
        );
        let even = review_stats(&events[..3]);
        assert_eq!(even.median_seconds, Some(3_600));
        let two = review_stats(&[
            ev(1, "submit", 0, None),
            ev(2, "submit", 0, None),
            ev(1, "approve", 100, None),
            ev(2, "approve", 300, None),
        ]);
        assert_eq!(two.median_seconds, Some(200));
        assert_eq!(review_stats(&[]), ReviewStats::default());
    }

    #[test]
    fn coded_reasons_are_counted_each_and_their_comment_is_not() {
        let coded = |order_id, reasons: &[&str]| ReviewEvent {
            order_id,
            action: "reject".into(),
            at: Timestamp(0),
            comment: Some("另附说明".into()),
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        };
        let s = review_stats(&[
            coded(1, &["营业执照扫描件不清晰", "企业名称不一致"]),
            coded(2, &["营业执照扫描件不清晰"]),
            ev(3, "reject", 0, Some("其他问题")),
        ]);
        assert_eq!(
            s.reasons,
            vec![
                ("营业执照扫描件不清晰".to_owned(), 2),
                ("企业名称不一致".to_owned(), 1),
                ("其他问题".to_owned(), 1),
            ]
        );
    }
}
