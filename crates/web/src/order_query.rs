//! The filters of an order list, read from the query string the same way by the console's 订单管理 page,
//! `GET /api/v1/orders` and `GET /api/v1/orders/export.csv`, and the CSV export itself (UTF-8 with a BOM so that
//! Excel opens it, written in batches so that memory stays flat however many rows match).

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sealdesk_app::{App, AppError, Who};
use sealdesk_domain::{Order, OrderState, Service, Timestamp};
use sealdesk_store::{OrderFilter, SortKey};
use serde::Deserialize;
use utoipa::IntoParams;

/// Rows a console page may show.
pub(crate) const PAGE_SIZES: [i64; 4] = [10, 25, 50, 100];

/// Rows an export reads at a time.
const EXPORT_BATCH: i64 = 500;

/// The seed's admin columns, in its order: the CSV header and the console table's.
pub(crate) const COLUMNS: [&str; 13] = [
    "订单编号",
    "项目名称",
    "业务类型",
    "申办人",
    "企业",
    "清单",
    "支付状态",
    "费用(元)",
    "开票状态",
    "订单时间",
    "更新时间",
    "完成时间",
    "审核状态",
];

/// What orders to list and how, as a query string gives it. Every field may be absent or blank.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrderQuery {
    /// Any part of the order number, the applicant's or the enterprise's name, the credit code or the mobile
    /// number.
    pub q: Option<String>,
    /// Only orders in this state (`draft`, `pending_review`, …).
    pub state: Option<String>,
    /// Only this project's orders (its code).
    pub project: Option<String>,
    /// Only this service (`new`, `renewal`, `reissue`, `change`).
    pub service: Option<String>,
    /// 支付状态: `paid` or `unpaid`.
    pub paid: Option<String>,
    /// 订单时间 from this day on (`YYYY-MM-DD`, Beijing time).
    pub from: Option<String>,
    /// 订单时间 up to and including this day (`YYYY-MM-DD`, Beijing time).
    pub to: Option<String>,
    /// Sort by `created` (订单时间, the default), `updated` (更新时间) or `total` (费用).
    pub sort: Option<String>,
    /// `desc` (the default) or `asc`.
    pub dir: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Rows per page (API: 1-100, default 20; console: 10, 25, 50 or 100).
    pub per_page: Option<i64>,
}

/// A present, non-blank value.
pub(crate) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The days `from` to `to` (inclusive, `YYYY-MM-DD` in Beijing time) as the RFC 3339 UTC bounds a list filters
/// on: [00:00 of `from`, 00:00 of the day after `to`). Either may be blank.
pub(crate) fn day_range(
    from: &Option<String>,
    to: &Option<String>,
) -> Result<(Option<String>, Option<String>), AppError> {
    let day = |v: &str| {
        Timestamp::beijing_midnight(v)
            .ok_or_else(|| AppError::BadInput(format!("日期应为 YYYY-MM-DD：{v}")))
    };
    let start = given(from).map(day).transpose()?.map(|t| t.rfc3339());
    let end = given(to)
        .map(day)
        .transpose()?
        .map(|t| Timestamp(t.0 + 86_400).rfc3339());
    Ok((start, end))
}

impl OrderQuery {
    /// The page asked for, from 1.
    pub(crate) fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }

    /// The store filter these parameters mean, for a caller who sees `projects` (id, code); `per_page` rows
    /// of the page asked for. Unknown values are refused with the parameter named, never ignored.
    pub(crate) fn filter(
        &self,
        projects: &[(i64, String)],
        per_page: i64,
    ) -> Result<OrderFilter, AppError> {
        let bad = |what: &str, v: &str| AppError::BadInput(format!("未知的{what}：{v}"));
        let mut states: Vec<OrderState> = match given(&self.state) {
            None => OrderState::ALL.to_vec(),
            Some(code) => vec![OrderState::from_code(code).ok_or_else(|| bad("状态", code))?],
        };
        match given(&self.paid) {
            None => {}
            Some("paid") => states.retain(|s| s.is_paid()),
            Some("unpaid") => states.retain(|s| !s.is_paid()),
            Some(v) => return Err(bad("支付状态", v)),
        }
        let project_ids = match given(&self.project) {
            // No state is left (a 草稿 that is paid): a filter that matches nothing, not one that matches all.
            _ if states.is_empty() => Some(vec![]),
            None => None,
            Some(code) => Some(vec![
                projects
                    .iter()
                    .find(|(_, c)| c == code)
                    .map(|(id, _)| *id)
                    .ok_or_else(|| bad("项目", code))?,
            ]),
        };
        let services = match given(&self.service) {
            None => vec![],
            Some(code) => vec![Service::from_code(code).ok_or_else(|| bad("业务类型", code))?],
        };
        let (created_from, created_before) = day_range(&self.from, &self.to)?;
        let sort_by = match given(&self.sort) {
            None | Some("created") => SortKey::Created,
            Some("updated") => SortKey::Updated,
            Some("total") => SortKey::Total,
            Some(v) => return Err(bad("排序", v)),
        };
        let oldest_first = match given(&self.dir) {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(v) => return Err(bad("排序方向", v)),
        };
        // What starts like an order number (`KG-…`, as pages show them) is looked up as the beginning of one,
        // which an index serves on a million orders; anything else is searched for anywhere.
        let (order_no_prefix, search) = match given(&self.q) {
            Some(q) if q.starts_with("KG-") => (Some(q.to_owned()), None),
            q => (None, q.map(str::to_owned)),
        };
        Ok(OrderFilter {
            // Every state is the same as no state filter; an empty list after `paid` must match nothing.
            states: if states.len() == OrderState::ALL.len() {
                vec![]
            } else {
                states
            },
            project_ids,
            order_no_prefix,
            search,
            services,
            created_from,
            created_before,
            sort_by,
            oldest_first,
            limit: per_page,
            offset: (self.page() - 1) * per_page,
            ..Default::default()
        })
    }

    /// The query string of these filters (page and page size left out when `page` is `None`).
    pub(crate) fn query_string(&self, page: Option<i64>, per_page: Option<i64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("state", &self.state),
            ("project", &self.project),
            ("service", &self.service),
            ("paid", &self.paid),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ] {
            if let Some(v) = given(v) {
                s.append_pair(k, v);
            }
        }
        if let Some(p) = page {
            s.append_pair("page", &p.to_string());
        }
        if let Some(n) = per_page {
            s.append_pair("per_page", &n.to_string());
        }
        s.finish()
    }
}

/// 开票状态 as the console shows it: 已开票 once the order is complete (its electronic invoice is issued then),
/// 待开票 when the details are confirmed, 未申请 before.
pub(crate) fn invoice_status(o: &Order) -> &'static str {
    if o.state == OrderState::Completed {
        "已开票"
    } else if o.invoice.is_some() {
        "待开票"
    } else {
        "未申请"
    }
}

/// 清单: each seal kind with its count, e.g. 「企业公章×1、企业资质印章×1」.
pub(crate) fn seal_list(o: &Order) -> String {
    o.seals
        .iter()
        .map(|l| format!("{}×{}", l.kind.label(), l.count))
        .collect::<Vec<_>>()
        .join("、")
}

/// 完成时间 (Beijing): the last update of a completed order.
pub(crate) fn completed_at(o: &Order) -> String {
    if o.state == OrderState::Completed {
        crate::view::beijing(&o.updated_at)
    } else {
        String::new()
    }
}

/// 支付状态.
pub(crate) fn paid_label(o: &Order) -> &'static str {
    if o.state.is_paid() {
        "已支付"
    } else {
        "未支付"
    }
}

/// One CSV field: quoted when it holds a comma, quote or line break; a value a spreadsheet would run as a
/// formula (starting `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` so that it stays text. A plain negative
/// amount (`-160.00`) is no formula and stays a number, so that the daily report's refunds add up in Excel.
fn field(out: &mut String, v: &str) {
    let formula = v.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_negative_amount(v);
    let v = if formula {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// `-` followed by digits and at most one `.` with digits after it.
fn is_negative_amount(v: &str) -> bool {
    let Some(n) = v.strip_prefix('-') else {
        return false;
    };
    let (int, frac) = n.split_once('.').unwrap_or((n, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push_str("\r\n");
}

fn order_row(out: &mut String, o: &Order, project_names: &HashMap<i64, String>) {
    let project = project_names
        .get(&o.project_id)
        .map(String::as_str)
        .unwrap_or("");
    row(
        out,
        &[
            &o.order_no,
            project,
            o.service.label(),
            &o.holder.applicant_name,
            &o.holder.enterprise_name,
            &seal_list(o),
            paid_label(o),
            &o.total.yuan_string(),
            invoice_status(o),
            &crate::view::beijing(&o.created_at),
            &crate::view::beijing(&o.updated_at),
            &completed_at(o),
            o.state.label(),
        ],
    );
}

/// A CSV download (UTF-8 with a BOM, so that Excel reads it) of `columns` whose rows come in batches:
/// `batch(state)` gives the text of one batch and the state of the next (`None` after the last), or `None` when
/// there is nothing more. Memory holds one batch whatever the size of the file.
pub(crate) fn csv_download<S, F, Fut>(
    file_name: &str,
    columns: &[&str],
    start: S,
    batch: F,
) -> Response
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<(String, Option<S>)>> + Send + 'static,
{
    let mut head = String::from("\u{feff}");
    row(&mut head, columns);
    let first = futures_util::stream::once(async move { Ok::<_, Infallible>(Bytes::from(head)) });
    let rows = futures_util::stream::unfold(Some(start), move |next| {
        let pending = next.map(&batch);
        async move {
            let (text, more) = pending?.await?;
            Some((Ok::<_, Infallible>(Bytes::from(text)), more))
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(futures_util::StreamExt::chain(first, rows)),
    )
        .into_response()
}

/// The CSV of every order `filter` selects that `who` may see, newest first, streamed batch by batch (the
/// filter's sort and page are ignored: the export walks the list by id).
pub(crate) fn export(
    app: App,
    who: Who,
    mut filter: OrderFilter,
    project_names: HashMap<i64, String>,
) -> Response {
    filter.sort_by = SortKey::Created;
    filter.oldest_first = false;
    filter.offset = 0;
    filter.limit = EXPORT_BATCH;
    filter.id_below = None;
    csv_download("orders.csv", &COLUMNS, filter, move |f: OrderFilter| {
        let (app, who, names) = (app.clone(), who.clone(), project_names.clone());
        async move {
            let batch = match app.order_batch(&who, f.clone()).await {
                Ok(b) => b,
                Err(e) => {
                    // The header is sent already: end the body early, which the client sees as a broken
                    // download rather than a complete file.
                    tracing::error!(error = %e, "order export stopped");
                    return None;
                }
            };
            let last = batch.last()?.id;
            let mut out = String::new();
            for o in &batch {
                order_row(&mut out, o, &names);
            }
            let more = (batch.len() as i64 == f.limit).then(|| OrderFilter {
                id_below: Some(last),
                ..f
            });
            Some((out, more))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_stay_text() {
        let mut out = String::new();
        row(
            &mut out,
            &[
                "a,b",
                "say \"hi\"",
                "=1+1",
                "-3+cmd",
                "-3.50",
                "李四",
                "x\ny",
            ],
        );
        assert_eq!(
            out,
            "\"a,b\",\"say \"\"hi\"\"\",'=1+1,'-3+cmd,-3.50,李四,\"x\ny\"\r\n"
        );
    }

    #[test]
    fn unknown_values_are_refused_by_name() {
        let q = OrderQuery {
            service: Some("free".into()),
            ..Default::default()
        };
        let e = q.filter(&[], 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            AppError::BadInput("未知的业务类型：free".into()).to_string()
        );
        let q = OrderQuery {
            to: Some("2026-13-01".into()),
            ..Default::default()
        };
        let e = q.filter(&[], 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            AppError::BadInput("日期应为 YYYY-MM-DD：2026-13-01".into()).to_string()
        );
    }

    #[test]
    fn dates_are_whole_beijing_days_and_paid_narrows_the_states() {
        let q = OrderQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-30".into()),
            paid: Some("paid".into()),
            state: Some("draft".into()),
            ..Default::default()
        };
        let f = q.filter(&[], 10).unwrap();
        assert_eq!(f.created_from.as_deref(), Some("2026-10-31T16:00:00Z"));
        assert_eq!(f.created_before.as_deref(), Some("2026-11-30T16:00:00Z"));
        // A draft is never paid: the filter matches nothing, rather than everything.
        assert_eq!(f.project_ids, Some(vec![]));
        let unpaid = OrderQuery {
            paid: Some("unpaid".into()),
            ..Default::default()
        };
        let f = unpaid.filter(&[], 10).unwrap();
        assert!(f.states.contains(&OrderState::Draft));
        assert!(!f.states.contains(&OrderState::Paid));
    }
}
