//! 统计: the operator's dashboard over the projects they serve: orders by state and by project, the 待审核 queue
//! against the working-day promise, how long a decision takes and why orders are rejected (last 30 days).

use std::collections::BTreeMap;

use sealdesk_domain::{OrderState, ReviewDue, ReviewEvent, ReviewStats, Timestamp, review_stats};

use crate::{App, AppError, Principal, Who};

/// Days of the log the decision statistics cover.
pub const DASHBOARD_DAYS: i64 = 30;

/// One project's line.
pub struct ProjectLine {
    /// 项目名称.
    pub name: String,
    /// Orders in all.
    pub total: i64,
    /// Of which 待审核.
    pub pending_review: i64,
}

/// What the dashboard shows.
pub struct Dashboard {
    /// Orders by state, in lifecycle order (states without orders left out).
    pub by_state: Vec<(OrderState, i64)>,
    /// Orders by project.
    pub by_project: Vec<ProjectLine>,
    /// 待审核 orders past their due day.
    pub overdue: usize,
    /// 待审核 orders due today.
    pub due_today: usize,
    /// 待审核 orders whose due day the holiday data cannot tell.
    pub due_unknown: usize,
    /// Decisions and rejection reasons of the last [`DASHBOARD_DAYS`] days.
    pub review: ReviewStats,
}

impl App {
    /// The dashboard over the caller's projects (every project for a super-administrator).
    pub async fn dashboard(&self, who: &Who) -> Result<Dashboard, AppError> {
        if !matches!(who.principal, Principal::Operator { .. }) {
            return Err(AppError::Unauthenticated);
        }
        let projects = self.projects(who).await?;
        let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
        let scope = Some(ids.as_slice());
        let counts = self.store.order_counts(scope).await?;
        let mut by_state: BTreeMap<usize, (OrderState, i64)> = BTreeMap::new();
        for (_, code, n) in &counts {
            if let Some(st) = OrderState::from_code(code) {
                let at = OrderState::ALL.iter().position(|s| *s == st).unwrap_or(0);
                by_state.entry(at).or_insert((st, 0)).1 += n;
            }
        }
        let by_project = projects
            .iter()
            .map(|p| {
                let of = counts.iter().filter(|(id, _, _)| *id == p.id);
                ProjectLine {
                    name: p.name.clone(),
                    total: of.clone().map(|c| c.2).sum(),
                    pending_review: of
                        .filter(|c| c.1 == OrderState::PendingReview.code())
                        .map(|c| c.2)
                        .sum(),
                }
            })
            .collect();

        let now = Timestamp(self.now());
        let (mut overdue, mut due_today, mut due_unknown) = (0, 0, 0);
        let cal = self.work_calendar();
        for since in self.store.pending_review_since(scope).await? {
            match cal.and_then(|c| c.review_due_at(&since, now)) {
                Some(Ok(ReviewDue::Overdue { .. })) => overdue += 1,
                Some(Ok(ReviewDue::Today { .. })) => due_today += 1,
                Some(Ok(ReviewDue::OnTime { .. })) => {}
                _ => due_unknown += 1,
            }
        }

        let since = Timestamp(now.0 - DASHBOARD_DAYS * 86_400).rfc3339();
        let events: Vec<ReviewEvent> = self
            .store
            .review_entries(scope, &since)
            .await?
            .into_iter()
            .filter_map(|(order_id, action, at, detail)| {
                let detail = serde_json::from_str::<serde_json::Value>(&detail).ok();
                Some(ReviewEvent {
                    order_id,
                    at: Timestamp::parse_rfc3339(&at)?,
                    comment: detail
                        .as_ref()
                        .and_then(|d| d["comment"].as_str().map(str::to_owned)),
                    reasons: detail
                        .as_ref()
                        .and_then(|d| d["reasons"].as_array().cloned())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect(),
                    action,
                })
            })
            .collect();
        Ok(Dashboard {
            by_state: by_state.into_values().collect(),
            by_project,
            overdue,
            due_today,
            due_unknown,
            review: review_stats(&events),
        })
    }
}
