//! 统计: the dashboard over the operator's projects (see `App::dashboard`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sealdesk_app::{DASHBOARD_DAYS, Dashboard};

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Layout, Nav, PageResult, redirect, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/dashboard", get(page))
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct Page {
    l: Layout,
    d: Dashboard,
    days: i64,
}

impl Page {
    /// The median wait for a decision, in words.
    fn median(&self) -> String {
        match self.d.review.median_seconds {
            None => "暂无".into(),
            Some(s) if s < 3_600 => "不到 1 小时".into(),
            Some(s) if s < 2 * 86_400 => format!("{:.1} 小时", s as f64 / 3_600.0),
            Some(s) => format!("{:.1} 天", s as f64 / 86_400.0),
        }
    }
}

async fn page(State(s): State<AppState>, c: PageCaller) -> PageResult {
    if c.operator_name().is_err() {
        return Ok(redirect("/admin/login"));
    }
    let d = s.app.dashboard(&c.who).await?;
    Ok(render(&Page {
        l: Layout::new("统计", Nav::of(&c)),
        d,
        days: DASHBOARD_DAYS,
    }))
}
