//! The operator console (管理员): sign-in with name and password, the order queue by state, one order with
//! 审核通过 / 审核不通过 and its audit trail, and the projects with their operator groups.

mod audit;
mod dashboard;
mod finance;
mod reasons;
mod remake;

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealdesk_app::{AppError, OrderView};
use sealdesk_domain::{
    AuditRecord, Order, OrderState, ReviewDue, Service, Timestamp, WorkCalendar,
};
use sealdesk_store::Project;

use crate::AppState;
use crate::order_query::{COLUMNS, OrderQuery, PAGE_SIZES};
use crate::portal::signed_in;
use crate::session::{ClientIp, PageCaller};
use crate::view::{Fields, Layout, Nav, PageResult, Pager, oid, redirect, render, render_with};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/orders", get(orders))
        .route("/admin/orders/{id}", get(order))
        .route(
            "/admin/orders/{id}/approve",
            post(|s, c, p, b| review(s, c, p, b, true)),
        )
        .route(
            "/admin/orders/{id}/reject",
            post(|s, c, p, b| review(s, c, p, b, false)),
        )
        .route("/admin/projects", get(projects))
        .route("/admin/messages", get(waiting_messages))
        .route("/admin/orders/{id}/messages", post(post_message))
        .route(
            "/admin/projects/{code}/second-approval",
            post(second_approval),
        )
        .route("/admin/projects/{code}/settings", post(project_settings))
        .route("/admin/uploads/{id}/preview", get(preview))
        .route("/admin/orders/{id}/reveal-id", post(reveal_id))
        .route("/admin/sms", get(sms))
        .merge(audit::routes())
        .merge(dashboard::routes())
        .merge(finance::routes())
        .merge(reasons::routes())
        .merge(remake::routes())
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login<'a> {
    l: Layout,
    name: &'a str,
    ok: Option<&'a str>,
    err: Option<&'a str>,
}

async fn login_page() -> Response {
    render(&Login {
        l: Layout::new("管理员登录", Nav::Visitor),
        name: "",
        ok: None,
        err: None,
    })
}

async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    match s
        .app
        .sign_in_operator(f.get("name"), f.get("password"), &ip)
        .await
    {
        Ok(si) => signed_in(&s, &si, "/admin/orders"),
        Err(e) => render_with(
            crate::error::status(&e),
            &Login {
                l: Layout::new("管理员登录", Nav::Visitor),
                name: f.get("name"),
                ok: None,
                err: Some(&e.to_string()),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "console/orders.html")]
struct Queue {
    l: Layout,
    /// (state code, label) of each tab; "" is 全部.
    tabs: Vec<(&'static str, &'static str)>,
    /// The state shown ("" for all).
    state: String,
    /// The filters as asked, to fill the form again.
    f: OrderQuery,
    /// (code, name) of the projects the operator sees.
    projects: Vec<(String, String)>,
    services: Vec<(&'static str, &'static str)>,
    columns: &'static [&'static str],
    page_sizes: &'static [i64],
    per_page: i64,
    orders: Vec<Order>,
    project_names: HashMap<i64, String>,
    pager: Pager,
    export: String,
    /// 办理时限 of each order waiting for 审核: (text, CSS class).
    due: HashMap<i64, (String, &'static str)>,
    /// Orders waiting for 审核 whose 开标日期 is near.
    urgent: HashMap<i64, String>,
}

impl Queue {
    /// `加急：开标 2026-12-03` for an order whose bid opening is near.
    fn urgent_text(&self, o: &Order) -> Option<&str> {
        self.urgent.get(&o.id).map(String::as_str)
    }

    fn project_name(&self, id: &i64) -> &str {
        self.project_names.get(id).map(String::as_str).unwrap_or("")
    }

    /// Whether the list shows the 待审核 queue, with its 办理时限 column.
    fn is_queue(&self) -> bool {
        self.state == OrderState::PendingReview.code()
    }

    fn due_text(&self, id: &i64) -> &str {
        self.due.get(id).map(|d| d.0.as_str()).unwrap_or("")
    }

    fn due_class(&self, id: &i64) -> &str {
        self.due.get(id).map(|d| d.1).unwrap_or("")
    }

    /// A filter's value as typed, for the form.
    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }

    /// The link that sorts by `key` (`created`, `updated`, `total`): descending first, then the other way.
    fn sort_link(&self, key: &str) -> String {
        let current = self.f.sort.as_deref().unwrap_or("created") == key;
        let asc = current && self.f.dir.as_deref() != Some("asc");
        let q = OrderQuery {
            state: Some(self.state.clone()),
            sort: Some(key.to_owned()),
            dir: Some(if asc { "asc" } else { "desc" }.to_owned()),
            ..self.f.clone()
        };
        format!(
            "/admin/orders?{}",
            q.query_string(None, Some(self.per_page))
        )
    }

    /// ▲ or ▼ beside the column the list is sorted by.
    fn sort_mark(&self, key: &str) -> &'static str {
        if self.f.sort.as_deref().unwrap_or("created") != key {
            ""
        } else if self.f.dir.as_deref() == Some("asc") {
            "▲"
        } else {
            "▼"
        }
    }
}

/// 订单管理: the seed's admin columns, a filter on each, search by any part of an order number, a name, a credit
/// code or a mobile number, sorting, pages of 10/25/50/100 and the CSV export of the filtered list. Without a
/// `state` the page opens on 待审核, oldest first: the review queue.
async fn orders(
    State(s): State<AppState>,
    c: PageCaller,
    Query(mut q): Query<OrderQuery>,
) -> PageResult {
    let name = match c.operator_name() {
        Ok(n) => n,
        Err(_) => return Ok(redirect("/admin/login")),
    };
    if q.state.is_none() {
        // The review queue: longest waiting since submission (the last update of a 待审核 order) first, which
        // puts the overdue and the due-today on top.
        q.state = Some("pending_review".into());
        if q.sort.is_none() && q.dir.is_none() {
            q.sort = Some("updated".into());
            q.dir = Some("asc".into());
        }
    }
    let state = q.state.clone().unwrap_or_default();
    let per_page = q
        .per_page
        .filter(|n| PAGE_SIZES.contains(n))
        .unwrap_or(PAGE_SIZES[0]);
    let projects = s.app.projects(&c.who).await?;
    let codes: Vec<(i64, String)> = projects.iter().map(|p| (p.id, p.code.clone())).collect();
    let filter = q.filter(&codes, per_page)?;
    let (orders, total) = s.app.list_orders(&c.who, filter).await?;
    let now = Timestamp(s.app.now());
    let due = orders
        .iter()
        .filter(|o| o.state == OrderState::PendingReview)
        .map(|o| (o.id, review_due(s.app.work_calendar(), &o.updated_at, now)))
        .collect();
    let urgent = now
        .beijing_day()
        .map(|today| {
            orders
                .iter()
                .filter(|o| o.state == OrderState::PendingReview)
                .filter_map(|o| {
                    let bid = o.bid_opening.as_deref()?;
                    sealdesk_domain::bid_opening_urgent(s.app.work_calendar(), bid, today)
                        .then(|| (o.id, format!("加急：开标 {bid}")))
                })
                .collect()
        })
        .unwrap_or_default();
    let page = q.page();
    let pager = Pager::of_orders(page, per_page, orders.len(), total, |n| {
        format!("/admin/orders?{}", q.query_string(Some(n), Some(per_page)))
    });
    let tabs = std::iter::once(("", "全部"))
        .chain(OrderState::ALL.iter().map(|s| (s.code(), s.label())))
        .collect();
    Ok(render(&Queue {
        l: Layout::new(format!("订单管理 — {name}"), Nav::of(&c)),
        tabs,
        state,
        export: format!("/api/v1/orders/export.csv?{}", q.query_string(None, None)),
        projects: projects
            .iter()
            .map(|p| (p.code.clone(), p.name.clone()))
            .collect(),
        project_names: projects.into_iter().map(|p| (p.id, p.name)).collect(),
        services: Service::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        columns: &COLUMNS,
        page_sizes: &PAGE_SIZES,
        per_page,
        f: q,
        orders,
        pager,
        due,
        urgent,
    }))
}

/// 办理时限 of an order submitted at `submitted` (RFC 3339), as of `now`. A year the calendar
/// has no data for is said, never guessed.
fn review_due(
    cal: Option<&WorkCalendar>,
    submitted: &str,
    now: Timestamp,
) -> (String, &'static str) {
    match cal.and_then(|c| c.review_due_at(submitted, now)) {
        None => ("无法计算".into(), "due-unknown"),
        Some(Ok(ReviewDue::OnTime { due, left })) => {
            (format!("{due} 前（剩 {left} 个工作日）"), "due-ok")
        }
        Some(Ok(ReviewDue::Today { .. })) => ("今日到期".into(), "due-today"),
        Some(Ok(ReviewDue::Overdue { due, late: 0 })) => {
            (format!("已超期（应于 {due}）"), "due-late")
        }
        Some(Ok(ReviewDue::Overdue { due, late })) => {
            (format!("已超期 {late} 个工作日（应于 {due}）"), "due-late")
        }
        Some(Err(e)) => (e.to_string(), "due-unknown"),
    }
}

#[derive(Template)]
#[template(path = "console/order.html")]
struct Detail<'a> {
    l: Layout,
    v: &'a OrderView,
    csrf: &'a str,
    editable: bool,
    can_write: bool,
    /// The UKey panel's agent address (the operator's page never shows the panel).
    agent_url: &'a str,
    trail: Vec<TrailRow>,
    /// Why the last 审核 was refused (an empty 审核意见, or a colleague's decision first), with what was typed.
    review_error: Option<String>,
    comment: String,
    /// The holder's full ID number, once the reviewer asked for it (masked otherwise).
    id_number: Option<String>,
    /// The catalogue of coded reasons, and those ticked when the form comes back with an error.
    reasons: Vec<sealdesk_store::RejectReason>,
    chosen: Vec<String>,
    /// 审核预检 results (`None`: never submitted).
    prechecks: Option<Vec<sealdesk_domain::Precheck>>,
    /// 二次审核: "已初审，待复核（初审：NAME）" while the second approval is awaited.
    review_stage: Option<String>,
    /// 在线客服.
    thread: crate::view::Thread,
    /// 印章图片 at true size, before 制章 (and for a 制章员, after it).
    cut: Option<crate::view::CutoutsView>,
    /// 重新制章 offered: a 制章员 on a made or completed order.
    can_remake: bool,
    /// The outcome of the last action, as `?ok=` / `?err=` carried it.
    ok: Option<String>,
    err: Option<String>,
}

impl Detail<'_> {
    /// Whether reason `code` was ticked.
    fn ticked(&self, code: &str) -> bool {
        self.chosen.iter().any(|c| c == code)
    }

    /// The ID number as this page shows it: in full once asked for, masked otherwise.
    fn shown_id_number(&self) -> String {
        match &self.id_number {
            Some(full) => full.clone(),
            None => crate::view::mask_id(&self.v.order.holder.id_number),
        }
    }
}

/// Who did something, as an operator reads it: 申请人 with `applicant(id)` (a name or a masked mobile number)
/// when known, 管理员 and the name, the payment channel, 平台, 系统.
pub(crate) fn actor_label(actor: &str, applicant: impl Fn(i64) -> Option<String>) -> String {
    match actor.split_once(':') {
        Some(("applicant", id)) => match id.parse().ok().and_then(applicant) {
            Some(name) => format!("申请人 {name}"),
            None => "申请人".to_owned(),
        },
        Some(("operator", name)) => format!("管理员 {name}"),
        Some(("gateway", channel)) => format!("支付渠道 {channel}"),
        Some(("cert", serial)) => format!("证书 {serial}"),
        _ if actor == "platform" => "平台".to_owned(),
        _ if actor == "system" => "系统".to_owned(),
        _ => actor.to_owned(),
    }
}

/// One line of 操作记录 as an operator reads it: who by role and name, what in Chinese, and the 审核意见.
struct TrailRow {
    at: String,
    who: String,
    what: String,
    states: String,
    note: String,
}

impl TrailRow {
    fn of(a: &AuditRecord, order: &Order) -> TrailRow {
        let who = actor_label(&a.actor, |id| {
            (id == order.applicant_id).then(|| order.holder.applicant_name.clone())
        });
        let states = match (&a.before_state, &a.after_state) {
            (None, None) => String::new(),
            (b, a) => format!(
                "{} → {}",
                crate::view::state_label(b),
                crate::view::state_label(a)
            ),
        };
        let note = serde_json::from_str::<serde_json::Value>(&a.detail)
            .ok()
            .and_then(|d| d["comment"].as_str().map(str::to_owned))
            .unwrap_or_default();
        TrailRow {
            at: crate::view::beijing(&a.at),
            who,
            what: sealdesk_domain::action_label(&a.action).to_owned(),
            states,
            note,
        }
    }
}

/// The order page for an operator; `review_error` and `comment` show a refused 审核 again with what was typed.
#[allow(clippy::too_many_arguments)]
async fn detail_page(
    s: &AppState,
    c: &PageCaller,
    id: i64,
    review_error: Option<String>,
    comment: String,
    id_number: Option<String>,
    chosen: Vec<String>,
    flash: reasons::Flash,
) -> PageResult {
    let v = s.app.order_view(&c.who, id).await?;
    let reasons = s.app.reject_reasons(&c.who).await?;
    let prechecks = s.app.prechecks(&c.who, v.order.id).await?;
    let review_stage = s.app.review_stage(&c.who, v.order.id).await?;
    let cut = crate::view::CutoutsView::of(&s.app, &c.who, &v.order).await?;
    let thread = crate::view::Thread::of(
        &s.app.config().service_hours,
        s.app.messages(&c.who, v.order.id).await?,
    );
    let trail = s
        .app
        .order_audit(&c.who, v.order.id)
        .await?
        .iter()
        .map(|a| TrailRow::of(a, &v.order))
        .collect();
    let status = if review_error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok(render_with(
        status,
        &Detail {
            l: Layout::new(format!("订单 {}", v.order.order_no), Nav::of(c))
                .with_step(v.order.state.step()),
            v: &v,
            csrf: &c.csrf,
            editable: false,
            can_write: false,
            agent_url: "",
            trail,
            review_error,
            comment,
            id_number,
            reasons,
            chosen,
            prechecks,
            review_stage,
            thread,
            cut,
            can_remake: c.who.principal.may(sealdesk_domain::Role::Issuer)
                && sealdesk_app::remakeable(v.order.state),
            ok: flash.ok,
            err: flash.err,
        },
    ))
}

async fn order(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    Query(flash): Query<reasons::Flash>,
) -> PageResult {
    c.operator_name()?;
    let id = oid(&id)?;
    detail_page(&s, &c, id, None, String::new(), None, Vec::new(), flash).await
}

/// 显示完整证件号: the order page again with the full ID number, the view recorded in the audit log.
async fn reveal_id(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    c.check_csrf(Fields::parse(&body).get("_csrf"))?;
    let id = oid(&id)?;
    let full = s.app.reveal_id_number(&c.who, id).await?;
    detail_page(
        &s,
        &c,
        id,
        None,
        String::new(),
        Some(full),
        Vec::new(),
        reasons::Flash::default(),
    )
    .await
}

/// A scan shown inside the review page (JPEG or PNG; a PDF is downloaded from the order's file list), to an
/// operator who serves the order.
async fn preview(State(s): State<AppState>, c: PageCaller, Path(id): Path<String>) -> PageResult {
    c.operator_name()?;
    let (meta, bytes) = s.app.upload_bytes(&c.who, oid(&id)?).await?;
    if !matches!(meta.content_type.as_str(), "image/jpeg" | "image/png") {
        return Err(AppError::BadInput("此文件不能在页面中预览，请下载查看".into()).into());
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, meta.content_type),
            (axum::http::header::CONTENT_DISPOSITION, "inline".to_owned()),
            (
                axum::http::header::CACHE_CONTROL,
                "private, no-store".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// 审核通过 (`approve`) or 审核不通过 with the 审核意见 of the form. A refused decision (no 审核意见, or the order
/// decided by a colleague meanwhile) shows the order again, as it now is, with the reason and the typed text.
async fn review(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
    approve: bool,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let chosen: Vec<String> =
        f.0.iter()
            .filter(|(k, _)| k == "reason")
            .map(|(_, v)| v.clone())
            .collect();
    let done = if approve {
        s.app.approve(&c.who, id).await
    } else {
        s.app
            .reject_with(&c.who, id, &chosen, f.get("comment"))
            .await
    };
    match done {
        Ok(o) => Ok(redirect(&format!("/admin/orders/{}", o.id))),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let why = match &e {
                AppError::Invalid(fields) => fields
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("；"),
                other => other.to_string(),
            };
            detail_page(
                &s,
                &c,
                id,
                Some(why),
                f.get("comment").to_owned(),
                None,
                chosen,
                reasons::Flash::default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "console/projects.html")]
struct Projects {
    l: Layout,
    projects: Vec<Project>,
    groups: HashMap<i64, String>,
    /// A super-administrator edits each project's 二次审核 kinds.
    can_edit: bool,
    csrf: String,
    /// Why the last change of settings was refused.
    err: Option<String>,
}

impl Projects {
    /// A kind's label, with whose it is where two kinds share one (其他章).
    fn kind_label(&self, k: &sealdesk_domain::SealKind) -> String {
        if k.label() == "其他章" {
            format!("其他章（{}）", k.holder().label())
        } else {
            k.label().to_owned()
        }
    }

    /// `40×40` for a kind's size in project `p`.
    fn size_text(&self, p: &Project, k: &sealdesk_domain::SealKind) -> String {
        let (w, h) = p.size_mm(*k);
        format!("{w}×{h}")
    }

    /// The sizes that differ from the usual ones, or 常规尺寸.
    fn registered_sizes(&self, p: &Project) -> String {
        if p.seal_sizes.is_empty() {
            return "常规尺寸".into();
        }
        p.seal_sizes
            .iter()
            .map(|z| {
                format!(
                    "{} {}×{} mm",
                    self.kind_label(&z.kind),
                    z.width_mm,
                    z.height_mm
                )
            })
            .collect::<Vec<_>>()
            .join("、")
    }

    /// The kinds a project may ask a second approval for.
    fn kinds(&self) -> &'static [sealdesk_domain::SealKind] {
        &sealdesk_domain::SealKind::ALL
    }

    /// The kinds' labels, or 无.
    fn second_labels(&self, p: &Project) -> String {
        if p.second_approval.is_empty() {
            return "无".into();
        }
        p.second_approval
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join("、")
    }

    fn group_name(&self, id: &Option<i64>) -> &str {
        id.and_then(|g| self.groups.get(&g))
            .map(String::as_str)
            .unwrap_or("-")
    }
}

async fn projects(State(s): State<AppState>, c: PageCaller) -> PageResult {
    projects_page(&s, &c, None).await
}

async fn projects_page(s: &AppState, c: &PageCaller, err: Option<String>) -> PageResult {
    c.operator_name()?;
    let projects = s.app.projects(&c.who).await?;
    let groups = s
        .app
        .store()
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let status = if err.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok(render_with(
        status,
        &Projects {
            l: Layout::new("项目与操作员组", Nav::of(c)),
            projects,
            groups,
            can_edit: matches!(
                c.who.principal,
                sealdesk_app::Principal::Operator { is_admin: true, .. }
            ),
            csrf: c.csrf.clone(),
            err,
        },
    ))
}

/// A project's 联系人与电话, registered seal sizes (`size_<kind>`: `42` or `40x30` mm; blank keeps the usual
/// size) and 授权转自动开关 (`auto_approve`). A size that does not read is named on the page and nothing changes.
async fn project_settings(
    State(s): State<AppState>,
    c: PageCaller,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let mut sizes = Vec::new();
    for k in sealdesk_domain::SealKind::ALL {
        let typed = f.get(&format!("size_{}", k.code())).trim();
        if typed.is_empty() {
            continue;
        }
        match sealdesk_domain::SealSize::parse(k, typed) {
            Ok(z) => sizes.push(z),
            Err(why) => return projects_page(&s, &c, Some(why)).await,
        }
    }
    match s
        .app
        .set_project_settings(
            &c.who,
            &code,
            f.get("contact"),
            &sizes,
            f.get("auto_approve") == "1",
        )
        .await
    {
        Ok(()) => Ok(redirect("/admin/projects")),
        Err(AppError::Invalid(errors)) => {
            let why = errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("；");
            projects_page(&s, &c, Some(why)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// 二次审核 of a project: the seal kinds ticked (`kind`, repeated) need a second reviewer's approval.
async fn second_approval(
    State(s): State<AppState>,
    c: PageCaller,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let kinds: Vec<sealdesk_domain::SealKind> =
        f.0.iter()
            .filter(|(k, _)| k == "kind")
            .filter_map(|(_, v)| sealdesk_domain::SealKind::from_code(v))
            .collect();
    s.app.set_second_approval(&c.who, &code, &kinds).await?;
    Ok(redirect("/admin/projects"))
}

#[derive(Template)]
#[template(path = "console/messages.html")]
struct Waiting {
    l: Layout,
    threads: Vec<sealdesk_store::WaitingThread>,
}

impl Waiting {
    fn at(&self, rfc3339: &str) -> String {
        crate::view::beijing(rfc3339)
    }
}

/// 客服留言: the threads waiting for an answer in the operator's projects, newest first.
async fn waiting_messages(State(s): State<AppState>, c: PageCaller) -> PageResult {
    c.operator_name()?;
    let threads = s.app.waiting_threads(&c.who).await?;
    Ok(render(&Waiting {
        l: Layout::new("客服留言", Nav::of(&c)),
        threads,
    }))
}

/// 客服 answers in an order's thread; the applicant gets an SMS.
async fn post_message(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    c.operator_name()?;
    crate::view::post_thread_message(&s, &c, &id, &body, "/admin/orders").await
}

/// Rows of the SMS delivery page.
const SMS_ROWS: i64 = 100;

#[derive(Template)]
#[template(path = "console/sms.html")]
struct SmsPage {
    l: Layout,
    messages: Vec<sealdesk_store::SmsDelivery>,
}

impl SmsPage {
    /// 138****8000: operators see whom a message went to without the whole number on screen.
    fn masked(&self, mobile: &str) -> String {
        match (mobile.get(..3), mobile.get(7..)) {
            (Some(a), Some(b)) if mobile.len() == 11 => format!("{a}****{b}"),
            _ => mobile.to_owned(),
        }
    }
}

/// 短信发送记录: each message of the outbox with its delivery state (待发送 / 已发送 / 发送失败), attempts, the
/// gateway's id and the last error.
async fn sms(State(s): State<AppState>, c: PageCaller) -> PageResult {
    c.operator_name()?;
    let messages = s.app.sms_deliveries(&c.who, SMS_ROWS).await?;
    Ok(render(&SmsPage {
        l: Layout::new("短信发送记录", Nav::of(&c)),
        messages,
    }))
}
