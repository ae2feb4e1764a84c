//! 审计日志: the whole audit log for the super-administrator, filtered by order, operator, action and time, with
//! people named and actions in Chinese, the result of the chain check on request, and a CSV export of the filter.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use sealdesk_app::{AppError, Who};
use sealdesk_domain::{ACTIONS, AuditRecord, action_label};
use sealdesk_store::AuditFilter;
use serde::Deserialize;

use super::actor_label;
use crate::AppState;
use crate::error::PageError;
use crate::order_query::{csv_download, day_range, given, row};
use crate::session::PageCaller;
use crate::view::{Layout, Nav, PageResult, Pager, beijing, redirect, render, state_label};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/admin/audit/export.csv", get(export))
}

/// Rows per page.
const PER_PAGE: i64 = 50;
/// Rows an export reads at a time.
const EXPORT_BATCH: i64 = 500;

/// The filters of the page, as its form sends them.
#[derive(Debug, Clone, Default, Deserialize)]
struct AuditQuery {
    /// 订单编号 (or the order's id).
    order: Option<String>,
    /// 操作人: an operator's name, or the log's own form (`applicant:<id>`, `gateway:sandbox`, `platform`).
    actor: Option<String>,
    /// 操作: an action code.
    action: Option<String>,
    /// From this day (`YYYY-MM-DD`, Beijing time).
    from: Option<String>,
    /// Up to and including this day.
    to: Option<String>,
    page: Option<i64>,
    /// Present: run the chain check.
    verify: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, AppError> {
        // 订单编号 is `KG-<project>-<id>`: the id is its last part.
        let order_id = given(&self.order)
            .map(|o| {
                o.rsplit('-')
                    .next()
                    .and_then(|id| id.parse::<i64>().ok())
                    .ok_or_else(|| AppError::BadInput(format!("订单编号无效：{o}")))
            })
            .transpose()?;
        let actor = given(&self.actor).map(|a| {
            if a.contains(':') || a == "platform" || a == "system" {
                a.to_owned()
            } else {
                format!("operator:{a}")
            }
        });
        let action = given(&self.action)
            .map(|a| {
                ACTIONS
                    .iter()
                    .find(|(code, _)| *code == a)
                    .map(|(code, _)| (*code).to_owned())
                    .ok_or_else(|| AppError::BadInput(format!("未知的操作：{a}")))
            })
            .transpose()?;
        let (from, before) = day_range(&self.from, &self.to)?;
        Ok(AuditFilter {
            order_id,
            actor,
            action,
            from,
            before,
            limit: PER_PAGE,
            offset: (self.page.unwrap_or(1).max(1) - 1) * PER_PAGE,
            ..Default::default()
        })
    }

    fn query_string(&self, page: Option<i64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("order", &self.order),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = given(v) {
                s.append_pair(k, v);
            }
        }
        if let Some(p) = page {
            s.append_pair("page", &p.to_string());
        }
        s.finish()
    }
}

/// One entry as the page and the CSV show it.
struct Line {
    seq: i64,
    at: String,
    who: String,
    ip: String,
    order_id: String,
    what: String,
    states: String,
    detail: String,
    hash: String,
}

impl Line {
    fn of(e: &AuditRecord, mobiles: &HashMap<i64, String>) -> Line {
        Line {
            seq: e.seq,
            at: beijing(&e.at),
            who: actor_label(&e.actor, |id| mobiles.get(&id).map(|m| masked(m))),
            ip: e.ip.clone(),
            order_id: e.order_id.map(|id| id.to_string()).unwrap_or_default(),
            what: action_label(&e.action).to_owned(),
            states: if e.before_state.is_none() && e.after_state.is_none() {
                String::new()
            } else {
                format!(
                    "{} → {}",
                    state_label(&e.before_state),
                    state_label(&e.after_state)
                )
            },
            detail: if e.detail == "{}" {
                String::new()
            } else {
                e.detail.clone()
            },
            hash: e.hash.clone(),
        }
    }
}

/// A mobile number as the log viewer shows it: 138****8000.
fn masked(mobile: &str) -> String {
    match (
        mobile.get(..3),
        mobile.get(mobile.len().saturating_sub(4)..),
    ) {
        (Some(head), Some(tail)) if mobile.len() == 11 => format!("{head}****{tail}"),
        _ => mobile.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Page {
    l: Layout,
    f: AuditQuery,
    actions: &'static [(&'static str, &'static str)],
    lines: Vec<Line>,
    pager: Pager,
    /// The chain check, when asked: (intact, what it found).
    verdict: Option<(bool, String)>,
    export: String,
}

impl Page {
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }
}

async fn page(State(s): State<AppState>, c: PageCaller, Query(q): Query<AuditQuery>) -> PageResult {
    if c.operator_name().is_err() {
        return Ok(redirect("/admin/login"));
    }
    let filter = q.filter()?;
    let got = s.app.audit_log(&c.who, filter).await?;
    let verdict = match given(&q.verify) {
        None => None,
        Some(_) => Some(match s.app.verify_audit().await? {
            Ok(n) => (true, format!("审计链完整：共 {n} 条记录，逐条校验通过")),
            Err((seq, why)) => (false, format!("审计链在第 {seq} 条处断开：{why}")),
        }),
    };
    let page = q.page.unwrap_or(1).max(1);
    let pager = Pager::new(page, PER_PAGE, got.entries.len(), got.total, |n| {
        format!("/admin/audit?{}", q.query_string(Some(n)))
    });
    Ok(render(&Page {
        l: Layout::new("审计日志", Nav::of(&c)),
        export: format!("/admin/audit/export.csv?{}", q.query_string(None)),
        actions: &ACTIONS,
        lines: got
            .entries
            .iter()
            .map(|e| Line::of(e, &got.mobiles))
            .collect(),
        pager,
        verdict,
        f: q,
    }))
}

const CSV_COLUMNS: [&str; 9] = [
    "序号",
    "时间",
    "操作人",
    "来源IP",
    "订单ID",
    "操作",
    "状态变化",
    "详情",
    "哈希",
];

/// The filtered log as CSV (UTF-8 with BOM), newest first, streamed in batches.
async fn export(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let mut filter = q.filter()?;
    filter.limit = EXPORT_BATCH;
    filter.offset = 0;
    // Ask once before the download starts, so that a refusal is a page, not a broken file.
    s.app
        .audit_log(
            &c.who,
            AuditFilter {
                limit: 1,
                ..filter.clone()
            },
        )
        .await?;
    let (app, who): (_, Who) = (s.app.clone(), c.who.clone());
    Ok(csv_download(
        "audit.csv",
        &CSV_COLUMNS,
        filter,
        move |f: AuditFilter| {
            let (app, who) = (app.clone(), who.clone());
            async move {
                let got = match app.audit_log(&who, f.clone()).await {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::error!(error = %e, "audit export stopped");
                        return None;
                    }
                };
                let last = got.entries.last()?.seq;
                let mut out = String::new();
                for e in &got.entries {
                    let l = Line::of(e, &got.mobiles);
                    row(
                        &mut out,
                        &[
                            &l.seq.to_string(),
                            &l.at,
                            &l.who,
                            &l.ip,
                            &l.order_id,
                            &l.what,
                            &l.states,
                            &l.detail,
                            &l.hash,
                        ],
                    );
                }
                let more = (got.entries.len() as i64 == f.limit).then(|| AuditFilter {
                    seq_below: Some(last),
                    ..f
                });
                Some((out, more))
            }
        },
    ))
}
