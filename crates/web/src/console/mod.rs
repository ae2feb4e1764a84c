//! The operator console (管理员): sign-in with name and password, the order queue by state, one order with
//! 审核通过 / 审核不通过 and its audit trail, and the projects with their operator groups.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use sealdesk_app::OrderView;
use sealdesk_domain::{AuditRecord, Order, OrderState};
use sealdesk_store::{OrderFilter, Project};

use crate::AppState;
use crate::portal::signed_in;
use crate::session::{ClientIp, PageCaller};
use crate::view::{
    Fields, Layout, Nav, PageResult, Pager, oid, page_no, redirect, render, render_with,
};

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
}

/// Rows per page of the queue.
const PER_PAGE: i64 = 20;

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

#[derive(serde::Deserialize, Default)]
struct QueueQuery {
    state: Option<String>,
    q: Option<String>,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "console/orders.html")]
struct Queue {
    l: Layout,
    /// (state code, label) of each tab; "" is 全部.
    tabs: Vec<(&'static str, &'static str)>,
    state: String,
    q: String,
    orders: Vec<Order>,
    project_names: HashMap<i64, String>,
    pager: Pager,
}

impl Queue {
    fn project_name(&self, id: &i64) -> &str {
        self.project_names.get(id).map(String::as_str).unwrap_or("")
    }
}

async fn orders(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    let name = match c.operator_name() {
        Ok(n) => n,
        Err(_) => return Ok(redirect("/admin/login")),
    };
    let state = q.state.clone().unwrap_or_else(|| "pending_review".into());
    let states: Vec<OrderState> = OrderState::from_code(&state).into_iter().collect();
    let page = page_no(q.page);
    let filter = OrderFilter {
        states,
        order_no_prefix: q.q.clone(),
        oldest_first: state == "pending_review",
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
        ..Default::default()
    };
    let (orders, total) = s.app.list_orders(&c.who, filter).await?;
    let project_names = s
        .app
        .projects(&c.who)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let query = q.q.clone().unwrap_or_default();
    let pager = Pager::new(page, PER_PAGE, orders.len(), total, |n| {
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("state", &state)
            .append_pair("q", &query)
            .append_pair("page", &n.to_string())
            .finish();
        format!("/admin/orders?{qs}")
    });
    let tabs = std::iter::once(("", "全部"))
        .chain(OrderState::ALL.iter().map(|s| (s.code(), s.label())))
        .collect();
    Ok(render(&Queue {
        l: Layout::new(format!("订单管理 — {name}"), Nav::of(&c)),
        tabs,
        state,
        q: query,
        orders,
        project_names,
        pager,
    }))
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
    audit: Vec<AuditRecord>,
}

async fn order(State(s): State<AppState>, c: PageCaller, Path(id): Path<String>) -> PageResult {
    c.operator_name()?;
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let audit = s.app.order_audit(&c.who, v.order.id).await?;
    Ok(render(&Detail {
        l: Layout::new(format!("订单 {}", v.order.order_no), Nav::of(&c))
            .with_step(v.order.state.step()),
        v: &v,
        csrf: &c.csrf,
        editable: false,
        can_write: false,
        agent_url: "",
        audit,
    }))
}

/// 审核通过 (`approve`) or 审核不通过 with the 审核意见 of the form.
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
    let o = if approve {
        s.app.approve(&c.who, id).await?
    } else {
        s.app.reject(&c.who, id, f.get("comment")).await?
    };
    Ok(redirect(&format!("/admin/orders/{}", o.id)))
}

#[derive(Template)]
#[template(path = "console/projects.html")]
struct Projects {
    l: Layout,
    projects: Vec<Project>,
    groups: HashMap<i64, String>,
}

impl Projects {
    fn group_name(&self, id: &Option<i64>) -> &str {
        id.and_then(|g| self.groups.get(&g))
            .map(String::as_str)
            .unwrap_or("-")
    }
}

async fn projects(State(s): State<AppState>, c: PageCaller) -> PageResult {
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
    Ok(render(&Projects {
        l: Layout::new("项目与操作员组", Nav::of(&c)),
        projects,
        groups,
    }))
}
