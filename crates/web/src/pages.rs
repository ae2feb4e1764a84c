//! The applicant portal and the operator console: server-rendered zh-CN pages that work without scripts.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sealdesk_app::{AppError, OrderView, Principal};
use sealdesk_domain::{
    FieldError, Holder, HolderKind, InvoiceInfo, InvoiceKind, Order, OrderForm, OrderState,
    SealKind, SealLine, Service,
};
use sealdesk_store::OrderFilter;

use crate::AppState;
use crate::error::PageError;
use crate::html::{Nav, esc, page, steps};
use crate::session::{ClientIp, PageCaller, clear_cookie, session_cookie};

type PageResult = Result<Response, PageError>;

/// The demo-only pages: the sandbox cashier and the SMS outbox. Mounted only with `--demo`; without it they do
/// not exist (404 for every method).
pub(crate) fn demo_routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/cashier/{id}", get(cashier).post(cashier_pay))
        .route("/demo/outbox", get(outbox))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/login/code", post(login_code))
        .route("/logout", post(logout))
        .route("/orders", get(my_orders))
        .route("/orders/new", get(new_order_page).post(new_order))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/edit", get(edit_page).post(edit))
        .route(
            "/orders/{id}/uploads",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::UPLOAD_BODY_LIMIT,
            )),
        )
        .route(
            "/orders/{id}/submit",
            post(|s, c, p, b| step(s, c, p, b, Step::Submit)),
        )
        .route(
            "/orders/{id}/cancel",
            post(|s, c, p, b| step(s, c, p, b, Step::Cancel)),
        )
        .route(
            "/orders/{id}/invoice",
            post(confirm_invoice).get(invoice_page),
        )
        .route("/orders/{id}/pay", post(pay))
        .route("/orders/{id}/authorize", post(authorize))
        .route("/orders/{id}/written", post(written))
        .route(
            "/orders/{id}/make",
            post(|s, c, p, b| step(s, c, p, b, Step::Make)),
        )
        .route("/orders/{id}/impression-form", get(impression_form))
        .route("/orders/{id}/seals/{seq}", get(seal_file))
        .route("/orders/{id}/seals/{seq}/picture", get(seal_picture))
        .route("/uploads/{id}", get(upload_file))
        .route("/admin/login", get(admin_login_page).post(admin_login))
        .route("/admin/orders", get(admin_orders))
        .route("/admin/orders/{id}", get(admin_order))
        .route("/admin/orders/{id}/approve", post(admin_approve))
        .route("/admin/orders/{id}/reject", post(admin_reject))
        .route("/admin/projects", get(admin_projects))
}

/// A urlencoded form body, keeping repeated keys.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn nav(c: &PageCaller) -> Option<Nav<'_>> {
    match &c.who.principal {
        Principal::Operator { name, .. } => Some(Nav::Operator(name, &c.csrf)),
        _ => Some(Nav::Applicant(&c.csrf)),
    }
}

fn oid(s: &str) -> Result<i64, PageError> {
    s.parse().map_err(|_| PageError(AppError::NotFound))
}

fn csrf_input(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        esc(csrf)
    )
}

fn post_button(action: &str, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" style=\"display:inline\">{}<button class=\"{class}\">{}</button></form>",
        esc(action),
        csrf_input(csrf),
        esc(label)
    )
}

fn flash(msg: &str, ok: bool) -> String {
    if msg.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"flash {}\">{}</div>",
        if ok { "ok" } else { "err" },
        esc(msg)
    )
}

// ---------- home and sign-in ----------

async fn home() -> Html<String> {
    let cards: String = Service::ALL
        .iter()
        .map(|s| {
            let hint = match s {
                Service::New => "首次办理电子印章",
                Service::Renewal => "印章到期后延长有效期",
                Service::Reissue => "Ukey 丢失后重新办理",
                Service::Change => "更换印章印模",
            };
            format!(
                "<a href=\"/orders/new?service={}\">{}<span>{}</span></a>",
                s.code(),
                s.label(),
                hint
            )
        })
        .collect();
    let kinds = |h| {
        SealKind::for_holder(h)
            .map(SealKind::label)
            .collect::<Vec<_>>()
            .join("、")
    };
    let body = format!(
        "<p>在线印章办理提供企业及个人新办、续期、补办（Ukey丢失补办）、变更服务。<span class=\"hint\">注：需要先领取到数字证书 Ukey，再进行在线办理电子印章。</span></p>\
         <div class=\"services\">{cards}</div>\
         <h2>电子印章类型</h2><p>企业电子印章包含以下类型：{}；</p><p>个人印章包含以下类型：{}；</p>\
         <h2>电子印章收费标准</h2><p>80 元/个章/每年</p>\
         <h2>办理时间</h2><p>电子印章办结时间：1-2 个工作日。</p>",
        kinds(HolderKind::Enterprise),
        kinds(HolderKind::Person)
    );
    page("在线印章办理", None, &body)
}

fn login_form(mobile: &str, msg: &str, ok: bool, demo: bool) -> Html<String> {
    let demo_hint = if demo {
        "<p class=\"hint\">演示模式：短信不会真正发出，可在 <a href=\"/demo/outbox\">短信发件箱</a> 查看验证码。</p>"
    } else {
        ""
    };
    let body = format!(
        "{}<form method=\"post\" action=\"/login/code\"><div class=\"row\"><label class=\"req\" for=\"mobile\">手机号</label><input type=\"tel\" id=\"mobile\" name=\"mobile\" value=\"{m}\" required> <button>获取验证码</button></div></form>\
         <form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"mobile\" value=\"{m}\"><div class=\"row\"><label class=\"req\" for=\"code\">短信验证码</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\"> <button id=\"login\">登录</button></div></form>{demo_hint}",
        flash(msg, ok),
        m = esc(mobile)
    );
    page("申请人登录", None, &body)
}

async fn login_page(State(s): State<AppState>) -> Html<String> {
    login_form("", "", true, s.app.config().demo)
}

async fn login_code(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let demo = s.app.config().demo;
    match s.app.send_login_code(f.get("mobile"), &ip).await {
        Ok(()) => {
            login_form(f.get("mobile"), "验证码已发送，5 分钟内有效", true, demo).into_response()
        }
        Err(AppError::Invalid(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            login_form(f.get("mobile"), &e[0].message, false, demo),
        )
            .into_response(),
        Err(e) => (
            crate::error::status(&e),
            login_form(f.get("mobile"), &e.to_string(), false, demo),
        )
            .into_response(),
    }
}

async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    match s
        .app
        .sign_in_with_code(f.get("mobile"), f.get("code"), &ip)
        .await
    {
        Ok(si) => signed_in(&si, s.secure_cookies, "/orders"),
        Err(e) => (
            crate::error::status(&e),
            login_form(f.get("mobile"), &e.to_string(), false, s.app.config().demo),
        )
            .into_response(),
    }
}

/// Starts the session in the browser and goes on to `to`.
fn signed_in(si: &sealdesk_app::SignedIn, secure: bool, to: &str) -> Response {
    (
        [(header::SET_COOKIE, session_cookie(si, secure))],
        Redirect::to(to),
    )
        .into_response()
}

/// 退出: a POST with the session's CSRF token, so that another site cannot sign anyone out.
async fn logout(
    State(s): State<AppState>,
    c: PageCaller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> PageResult {
    c.check_csrf(Fields::parse(&body).get("_csrf"))?;
    if let Some(t) = crate::session::token_of(&headers) {
        s.app.sign_out(&t).await?;
    }
    Ok(([(header::SET_COOKIE, clear_cookie())], Redirect::to("/")).into_response())
}

fn admin_login_form(name: &str, msg: &str) -> Html<String> {
    let body = format!(
        "{}<form method=\"post\" action=\"/admin/login\"><div class=\"row\"><label class=\"req\" for=\"name\">用户名</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required></div><div class=\"row\"><label class=\"req\" for=\"password\">密码</label><input type=\"password\" id=\"password\" name=\"password\" required></div><button id=\"admin-login\">登录</button></form>",
        flash(msg, false),
        esc(name)
    );
    page("管理员登录", None, &body)
}

async fn admin_login_page() -> Html<String> {
    admin_login_form("", "")
}

async fn admin_login(
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
        Ok(si) => signed_in(&si, s.secure_cookies, "/admin/orders"),
        Err(e) => (
            crate::error::status(&e),
            admin_login_form(f.get("name"), &e.to_string()),
        )
            .into_response(),
    }
}

async fn outbox(State(s): State<AppState>) -> PageResult {
    let msgs = s.app.demo_outbox(None).await?;
    let rows: String = msgs
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.created_at),
                esc(&m.mobile),
                esc(&m.text)
            )
        })
        .collect();
    Ok(page("短信发件箱（演示）", None, &format!("<p class=\"hint\">演示模式下短信不会发出，全部记录在此。</p><table><tr><th>时间</th><th>手机号</th><th>内容</th></tr>{rows}</table>")).into_response())
}

// ---------- applicant: orders ----------

fn validity(o: &Order, v: Option<&OrderView>) -> String {
    match v.and_then(|v| v.seals.first()) {
        Some(s) => format!(
            "{}至{}",
            s.valid_start.get(..10).unwrap_or(""),
            s.valid_end.get(..10).unwrap_or("")
        ),
        None => format!("{} 个月", o.authorization.months),
    }
}

async fn my_orders(State(s): State<AppState>, c: PageCaller) -> PageResult {
    if matches!(c.who.principal, Principal::Operator { .. }) {
        return Ok(redirect("/admin/orders"));
    }
    let (orders, total) = s
        .app
        .list_orders(
            &c.who,
            OrderFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await?;
    let rows: String = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            format!(
                "<tr><td>{}</td><td><a href=\"/orders/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/orders/{}\">办理</a></td></tr>",
                i + 1,
                o.id,
                esc(&o.order_no),
                esc(o.holder.display_name()),
                o.holder.kind.map(HolderKind::label).unwrap_or(""),
                o.service.label(),
                esc(&validity(o, None)),
                o.total.yuan_string(),
                if o.state.is_paid() { "已支付" } else { "未支付" },
                o.state.label(),
                o.id
            )
        })
        .collect();
    let body = format!(
        "<p><a class=\"button\" href=\"/orders/new?service=new\">新办</a> <a class=\"button secondary\" href=\"/orders/new?service=renewal\">续期</a> <a class=\"button secondary\" href=\"/orders/new?service=reissue\">补办</a> <a class=\"button secondary\" href=\"/orders/new?service=change\">变更</a></p>\
         <table><tr><th>序号</th><th>订单号</th><th>锁名称</th><th>锁类型</th><th>业务属性</th><th>印章有效期</th><th>订单金额(元)</th><th>支付状态</th><th>印章办理状态</th><th>操作</th></tr>{rows}</table><p class=\"hint\">共 {total} 条</p>"
    );
    Ok(page("我的订单", nav(&c), &body).into_response())
}

fn field_errors(errors: &[FieldError]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in errors {
        m.entry(e.field.clone())
            .or_insert_with(|| e.message.clone());
    }
    m
}

/// The order form (基础信息 · 申请人信息 · 企业信息 · 印模类型), filled with `f`.
fn order_form(
    action: &str,
    csrf: &str,
    f: &OrderForm,
    project_code: &str,
    projects: &[sealdesk_store::Project],
    errors: &[FieldError],
    editing: bool,
) -> String {
    let err = field_errors(errors);
    let e = |k: &str| {
        err.get(k)
            .map(|m| format!("<span class=\"error\">{}</span>", esc(m)))
            .unwrap_or_default()
    };
    let input = |name: &str, label: &str, value: &str, kind: &str| {
        format!(
            "<div class=\"row\"><label class=\"req\" for=\"{name}\">{label}：</label><input type=\"{kind}\" id=\"{name}\" name=\"{name}\" value=\"{}\">{}</div>",
            esc(value),
            e(&format!("holder.{name}"))
        )
    };
    let h = &f.holder;
    let kind = h.kind.unwrap_or(HolderKind::Enterprise);
    let project_opts: String = projects
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(&p.code),
                if p.code == project_code {
                    " selected"
                } else {
                    ""
                },
                esc(&p.name)
            )
        })
        .collect();
    let service = f.service.unwrap_or(Service::New);
    let service_opts: String = Service::ALL
        .iter()
        .map(|s| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                s.code(),
                if *s == service { " selected" } else { "" },
                s.label()
            )
        })
        .collect();
    let seal_rows = |h: HolderKind| -> String {
        SealKind::for_holder(h)
            .map(|k| {
                let line = f.seals.iter().find(|l| l.kind == k);
                format!(
                    "<div class=\"row\"><label><input type=\"checkbox\" name=\"seal\" value=\"{c}\"{chk}> {l}</label> 数量 <input type=\"number\" name=\"count_{c}\" min=\"1\" max=\"10\" value=\"{n}\" style=\"min-width:4rem;width:4rem\"> 印章名称 <input type=\"text\" name=\"name_{c}\" value=\"{name}\" placeholder=\"默认为企业或申请人名称\"></div>",
                    c = k.code(),
                    l = k.label(),
                    chk = if line.is_some() { " checked" } else { "" },
                    n = line.map(|l| l.count).unwrap_or(1),
                    name = esc(line.map(|l| l.name.as_str()).unwrap_or(""))
                )
            })
            .collect()
    };
    let seal_errors: String = errors
        .iter()
        .filter(|x| x.field.starts_with("seals"))
        .map(|x| format!("<div class=\"error\">{}</div>", esc(&x.message)))
        .collect();
    let project_row = if editing {
        String::new()
    } else {
        format!(
            "<div class=\"row\"><label class=\"req\" for=\"project\">授权单位（项目）：</label><select id=\"project\" name=\"project\">{project_opts}</select>{}</div>",
            e("project")
        )
    };
    format!(
        "<form method=\"post\" action=\"{action}\">{csrf}\
         <h2>基础信息 <span class=\"hint\">*以下必填，填写正确的印章与证书锁信息</span></h2>\
         <div class=\"row\"><label class=\"req\" for=\"service\">业务类型：</label><select id=\"service\" name=\"service\">{service_opts}</select></div>\
         {project_row}\
         <div class=\"row\"><label class=\"req\" for=\"months\">印章授权期限（月）：</label><input type=\"number\" id=\"months\" name=\"months\" min=\"1\" max=\"60\" value=\"{months}\">{em}</div>\
         <div class=\"row\"><label class=\"req\">锁类型：</label><label><input type=\"radio\" name=\"holder_kind\" value=\"enterprise\"{ent}> 企业锁</label> <label><input type=\"radio\" name=\"holder_kind\" value=\"person\"{per}> 个人锁</label></div>\
         <h2>申请人信息 <span class=\"hint\">*以下为必填项</span></h2>{an}{idn}{mob}\
         <h2>企业信息 <span class=\"hint\">*企业锁必填</span></h2>{en}{ep}{cc}{ad}\
         <h2>资料上传 · 印模类型 <span class=\"hint\">请选择需要办理的印章类型</span></h2>{seal_errors}\
         <p><strong>企业印章</strong></p>{ent_seals}<p><strong>个人印章</strong></p>{per_seals}\
         <p class=\"hint\">收费标准：80 元/个章/每年，订单金额由系统计算。</p>\
         <p><button name=\"action\" value=\"save\" id=\"save\">暂存待办</button></p></form>",
        action = esc(action),
        csrf = csrf_input(csrf),
        months = f.months,
        em = e("months"),
        ent = if kind == HolderKind::Enterprise {
            " checked"
        } else {
            ""
        },
        per = if kind == HolderKind::Person {
            " checked"
        } else {
            ""
        },
        an = input("applicant_name", "申请人姓名", &h.applicant_name, "text"),
        idn = input("id_number", "身份证号码", &h.id_number, "text"),
        mob = input("mobile", "手机号", &h.mobile, "tel"),
        en = input("enterprise_name", "企业名称", &h.enterprise_name, "text"),
        ep = input("enterprise_phone", "企业电话", &h.enterprise_phone, "text"),
        cc = input(
            "credit_code",
            "统一社会信用代码/证号",
            &h.credit_code,
            "text"
        ),
        ad = input("address", "营业地址", &h.address, "text"),
        ent_seals = seal_rows(HolderKind::Enterprise),
        per_seals = seal_rows(HolderKind::Person),
    )
}

fn form_from_fields(f: &Fields) -> OrderForm {
    let kind = match f.get("holder_kind") {
        "person" => HolderKind::Person,
        _ => HolderKind::Enterprise,
    };
    let seals =
        f.0.iter()
            .filter(|(k, _)| k == "seal")
            .filter_map(|(_, v)| SealKind::from_code(v))
            .filter(|k| k.holder() == kind)
            .map(|k| SealLine {
                kind: k,
                count: f
                    .get(&format!("count_{}", k.code()))
                    .trim()
                    .parse()
                    .unwrap_or(0),
                name: f.get(&format!("name_{}", k.code())).to_owned(),
            })
            .collect();
    OrderForm {
        service: Service::from_code(f.get("service")),
        holder: Holder {
            kind: Some(kind),
            applicant_name: f.get("applicant_name").into(),
            id_number: f.get("id_number").into(),
            mobile: f.get("mobile").into(),
            enterprise_name: f.get("enterprise_name").into(),
            enterprise_phone: f.get("enterprise_phone").into(),
            credit_code: f.get("credit_code").into(),
            address: f.get("address").into(),
        },
        seals,
        months: f.get("months").trim().parse().unwrap_or(0),
        previous_order: f.get("previous_order").parse().ok(),
    }
}

#[derive(serde::Deserialize)]
struct NewQuery {
    service: Option<String>,
}

async fn new_order_page(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let projects = s.app.projects(&c.who).await?;
    let form = OrderForm {
        service: q.service.as_deref().and_then(Service::from_code),
        ..Default::default()
    };
    let code = projects.first().map(|p| p.code.clone()).unwrap_or_default();
    let title = format!("电子印章{}", form.service.unwrap_or(Service::New).label());
    let body = format!(
        "{}{}",
        steps(0),
        order_form("/orders/new", &c.csrf, &form, &code, &projects, &[], false)
    );
    Ok(page(&title, nav(&c), &body).into_response())
}

async fn new_order(
    State(s): State<AppState>,
    c: PageCaller,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let form = form_from_fields(&f);
    match s.app.create_order(&c.who, f.get("project"), &form).await {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        Err(AppError::Invalid(errors)) => {
            let projects = s.app.projects(&c.who).await?;
            let body = format!(
                "{}{}{}",
                steps(0),
                flash("请修改标红的内容后再保存", false),
                order_form(
                    "/orders/new",
                    &c.csrf,
                    &form,
                    f.get("project"),
                    &projects,
                    &errors,
                    false
                )
            );
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page("电子印章新办", nav(&c), &body),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn edit_page(State(s): State<AppState>, c: PageCaller, Path(id): Path<String>) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let body = format!(
        "{}{}",
        steps(0),
        order_form(
            &format!("/orders/{}/edit", v.order.id),
            &c.csrf,
            &v.order.form(),
            &v.project.code,
            &[],
            &[],
            true
        )
    );
    Ok(page(&format!("修改订单 {}", v.order.order_no), nav(&c), &body).into_response())
}

async fn edit(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let form = form_from_fields(&f);
    match s.app.update_order(&c.who, id, &form).await {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        Err(AppError::Invalid(errors)) => {
            let body = format!(
                "{}{}",
                flash("请修改标红的内容后再保存", false),
                order_form(
                    &format!("/orders/{id}/edit"),
                    &c.csrf,
                    &form,
                    "",
                    &[],
                    &errors,
                    true
                )
            );
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page("修改订单", nav(&c), &body),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize, Default)]
struct Msg {
    ok: Option<String>,
    err: Option<String>,
}

fn summary(v: &OrderView) -> String {
    let o = &v.order;
    let h = &o.holder;
    let seals: Vec<String> = o
        .seals
        .iter()
        .map(|l| format!("{}「{}」×{}", l.kind.label(), esc(&l.name), l.count))
        .collect();
    format!(
        "<table><tr><th>订单编号</th><td>{}</td><th>业务类型</th><td>{}</td></tr>\
         <tr><th>授权单位</th><td>{}</td><th>授权类型 / 期限</th><td>{} / {} 个月</td></tr>\
         <tr><th>申请人</th><td>{}（{}）</td><th>手机号</th><td>{}</td></tr>\
         <tr><th>锁类型</th><td>{}</td><th>企业名称</th><td>{}</td></tr>\
         <tr><th>统一社会信用代码</th><td>{}</td><th>企业电话 / 营业地址</th><td>{} {}</td></tr>\
         <tr><th>印章</th><td colspan=\"3\">{}</td></tr>\
         <tr><th>订单金额(元)</th><td>{}</td><th>印章办理状态</th><td><strong id=\"state\">{}</strong></td></tr></table>",
        esc(&o.order_no),
        o.service.label(),
        esc(&o.authorization.unit),
        esc(&o.authorization.kind),
        o.authorization.months,
        esc(&h.applicant_name),
        esc(&mask_id(&h.id_number)),
        esc(&h.mobile),
        h.kind.map(HolderKind::label).unwrap_or(""),
        esc(&h.enterprise_name),
        esc(&h.credit_code),
        esc(&h.enterprise_phone),
        esc(&h.address),
        seals.join("；"),
        o.total.yuan_string(),
        o.state.label()
    )
}

/// ID numbers are shown masked on pages: enough to recognise, not enough to copy.
fn mask_id(id: &str) -> String {
    if id.len() < 10 {
        return id.to_owned();
    }
    format!("{}********{}", &id[..6], &id[id.len() - 4..])
}

fn uploads_section(v: &OrderView, csrf: &str, editable: bool) -> String {
    let o = &v.order;
    let mut s = String::from(
        "<h2>资料上传 <span class=\"hint\">身份证件复印件（人像面+国徽面）、统一社会信用代码证复印件，加盖红色单位公章，支持格式有JPG、PNG，文件大小需小于5M；印模采集表另支持PDF。</span></h2><table>",
    );
    for k in o.required_uploads() {
        let have = v.uploads.iter().find(|u| u.kind == k);
        let cell = match have {
            Some(u) => format!(
                "<a href=\"/uploads/{}\">{}</a>（{} KB）",
                u.id,
                esc(&u.file_name),
                u.size / 1024
            ),
            None => "<span class=\"error\">未上传</span>".into(),
        };
        let form = if editable {
            let accept = if k.accepts_pdf() {
                ".jpg,.jpeg,.png,.pdf"
            } else {
                ".jpg,.jpeg,.png"
            };
            format!(
                "<form method=\"post\" action=\"/orders/{}/uploads\" enctype=\"multipart/form-data\">{}<input type=\"hidden\" name=\"kind\" value=\"{}\"><input type=\"file\" name=\"file\" id=\"file_{}\" accept=\"{accept}\"> <button>上传</button></form>",
                o.id,
                csrf_input(csrf),
                k.code(),
                k.code()
            )
        } else {
            String::new()
        };
        s.push_str(&format!(
            "<tr><th>{}</th><td>{cell}</td><td>{form}</td></tr>",
            k.label()
        ));
    }
    s.push_str("</table>");
    if editable && o.service.needs_impression() {
        s.push_str(&format!(
            "<p class=\"hint\">操作：<a href=\"/orders/{}/impression-form\">下载印模采集表</a>（打印后签字，并将需要办理的印章加盖清晰，扫描上传）。</p>",
            o.id
        ));
    }
    s
}

async fn order_page(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    Query(m): Query<Msg>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let o = &v.order;
    let mut body = steps(o.state.step());
    body.push_str(&flash(m.ok.as_deref().unwrap_or(""), true));
    body.push_str(&flash(m.err.as_deref().unwrap_or(""), false));
    if o.state == OrderState::Rejected {
        body.push_str(&format!(
            "<div class=\"flash err\">审核意见：{}</div>",
            esc(&o.review_comment)
        ));
    }
    body.push_str(&summary(&v));
    let csrf = &c.csrf;
    let editable = o.state.editable();
    body.push_str(&uploads_section(&v, csrf, editable));
    match o.state {
        OrderState::Draft | OrderState::Rejected => {
            body.push_str(&format!(
                "<p><a class=\"button secondary\" href=\"/orders/{id}/edit\">修改信息</a> {} {}</p>",
                post_button(&format!("/orders/{id}/submit"), csrf, "提交", ""),
                post_button(&format!("/orders/{id}/cancel"), csrf, "取消订单", "secondary"),
                id = o.id
            ));
        }
        OrderState::PendingReview => body
            .push_str("<p>资料已提交，我们会在 1-2 个工作日内进行审核，审核结果将短信通知您。</p>"),
        OrderState::PendingPayment => {
            body.push_str(&payment_section(o, csrf, &s.app.payment_channels()))
        }
        OrderState::Paid => match s.app.authorize_challenge(&c.who, o.id).await {
            Ok(ch) => body.push_str(&authorize_section(o, csrf, &ch)),
            Err(_) => body.push_str("<p>订单已支付，等待申请人用证书锁授权。</p>"),
        },
        OrderState::Authorized => body.push_str(&remake_section(o, csrf)),
        OrderState::Made | OrderState::Completed => body.push_str(&seals_section(&v, csrf)),
        OrderState::Cancelled => body.push_str("<p>订单已取消。</p>"),
    }
    if v.invoice.is_some() {
        body.push_str(&format!(
            "<p><a class=\"button\" href=\"/orders/{}/invoice\">查看电子发票</a></p>",
            o.id
        ));
    }
    Ok(page(&format!("订单 {}", o.order_no), nav(&c), &body).into_response())
}

fn payment_section(o: &Order, csrf: &str, channels: &[(String, &str)]) -> String {
    let inv = o.invoice.clone().unwrap_or(InvoiceInfo {
        kind: InvoiceKind::Enterprise,
        title: o.holder.enterprise_name.clone(),
        taxpayer_id: o.holder.credit_code.clone(),
        mobile: o.holder.mobile.clone(),
        email: String::new(),
    });
    let radio = |k: InvoiceKind, v: &str| {
        format!(
            "<label><input type=\"radio\" name=\"kind\" value=\"{v}\"{}> {}</label>",
            if inv.kind == k { " checked" } else { "" },
            k.label()
        )
    };
    let invoice_form = format!(
        "<h2>申请开票 <span class=\"hint\">请确认发票信息是否正确</span></h2><form method=\"post\" action=\"/orders/{id}/invoice\">{csrf}\
         <div class=\"row\"><label>发票类型：</label>{} {} {}</div>\
         <div class=\"row\"><label class=\"req\" for=\"title\">企业名称：</label><input type=\"text\" id=\"title\" name=\"title\" value=\"{}\"></div>\
         <div class=\"row\"><label class=\"req\" for=\"taxpayer_id\">纳税人识别号：</label><input type=\"text\" id=\"taxpayer_id\" name=\"taxpayer_id\" value=\"{}\"></div>\
         <div class=\"row\"><label class=\"req\" for=\"inv_mobile\">手机号：</label><input type=\"tel\" id=\"inv_mobile\" name=\"mobile\" value=\"{}\"></div>\
         <div class=\"row\"><label for=\"email\">邮箱：</label><input type=\"email\" id=\"email\" name=\"email\" value=\"{}\"></div>\
         <button id=\"confirm-invoice\">确认发票信息</button></form>",
        radio(InvoiceKind::Enterprise, "enterprise"),
        radio(InvoiceKind::Institution, "institution"),
        radio(InvoiceKind::Personal, "personal"),
        esc(&inv.title),
        esc(&inv.taxpayer_id),
        esc(&inv.mobile),
        esc(&inv.email),
        id = o.id,
        csrf = csrf_input(csrf)
    );
    // Only the channels that are configured are offered; with none, the applicant is told payment is not open.
    let choices: String = channels
        .iter()
        .enumerate()
        .map(|(i, (code, label))| {
            format!(
                "<label><input type=\"radio\" name=\"channel\" value=\"{}\"{}> {}</label> ",
                esc(code),
                if i == 0 { " checked" } else { "" },
                esc(label)
            )
        })
        .collect();
    let pay = if channels.is_empty() {
        "<h2>支付</h2><p class=\"flash err\" id=\"payment-closed\">支付尚未开通，请稍后再来付款。</p>".into()
    } else if o.invoice.is_some() {
        format!(
            "<h2>支付</h2><table><tr><th>清单</th><th>数量</th><th>总价</th></tr><tr><td>技术服务费</td><td>1</td><td>{}</td></tr><tr><th colspan=\"2\">总计</th><td>{} 元</td></tr></table>\
             <form method=\"post\" action=\"/orders/{}/pay\">{}<p>{choices}</p><button id=\"pay\">去付款</button></form>",
            o.total.yuan_string(),
            o.total.yuan_string(),
            o.id,
            csrf_input(csrf)
        )
    } else {
        "<p class=\"hint\">确认发票信息后即可付款。</p>".into()
    };
    format!("{invoice_form}{pay}")
}

fn authorize_section(o: &Order, csrf: &str, ch: &sealdesk_app::AuthChallenge) -> String {
    format!(
        "<h2>授权</h2><p>插入证书锁，导出证书，并用证书锁对下面的授权挑战签名（证书锁助手上线前：<code>sealdesk token sign --dir 证书锁目录 --pin PIN --challenge-file 挑战文件</code>）。密钥序列号取自证书，无需填写。</p>\
         <form method=\"post\" action=\"/orders/{id}/authorize\">{}\
         <div class=\"row\"><label>操作类型：</label>注册</div>\
         <div class=\"row\"><label>授权单位：</label>{}</div><div class=\"row\"><label>授权类型：</label>{}</div><div class=\"row\"><label>授权期限（月）：</label>{}</div>\
         <div class=\"row\"><label>授权挑战：</label><pre id=\"challenge\">{}</pre></div><input type=\"hidden\" name=\"nonce\" value=\"{}\">\
         <div class=\"row\"><label class=\"req\" for=\"cert_pem\">证书（PEM）：</label><textarea id=\"cert_pem\" name=\"cert_pem\" rows=\"8\" cols=\"70\"></textarea></div>\
         <div class=\"row\"><label class=\"req\" for=\"signature\">证书锁签名：</label><textarea id=\"signature\" name=\"signature\" rows=\"3\" cols=\"70\"></textarea></div>\
         <button id=\"authorize\">下一步</button></form>",
        csrf_input(csrf),
        esc(&o.authorization.unit),
        esc(&o.authorization.kind),
        o.authorization.months,
        esc(&ch.text),
        esc(&ch.nonce),
        id = o.id
    )
}

/// 已授权 but not 已制章: 制章 could not use the stamped form. Let the applicant replace it and try again.
fn remake_section(o: &Order, csrf: &str) -> String {
    format!(
        "<div class=\"flash err\">已授权，但未能从印模采集表中取出印章。请重新上传清晰加盖印章的印模采集表，然后点击「重新制章」。</div>\
         <form method=\"post\" action=\"/orders/{id}/uploads\" enctype=\"multipart/form-data\">{c}<input type=\"hidden\" name=\"kind\" value=\"impression_form\"><label for=\"file_impression_form_again\">印模采集表：</label><input type=\"file\" name=\"file\" id=\"file_impression_form_again\" accept=\".jpg,.jpeg,.png,.pdf\"> <button>上传</button></form>\
         <p>{}</p>",
        post_button(&format!("/orders/{}/make", o.id), csrf, "重新制章", ""),
        id = o.id,
        c = csrf_input(csrf)
    )
}

fn seals_section(v: &OrderView, csrf: &str) -> String {
    let o = &v.order;
    let mut s = String::from("<h2>导入信息</h2>");
    if let Some(k) = &o.key {
        s.push_str(&format!(
            "<p>密钥序列号：{}　密钥盘证书：{}</p>",
            esc(&k.serial),
            esc(&k.subject)
        ));
    }
    s.push_str(
        "<table><tr><th>印章</th><th>印模</th><th>名称</th><th>有效期</th><th>下载</th></tr>",
    );
    for m in &v.seals {
        s.push_str(&format!(
            "<tr><td>印章{}</td><td><img class=\"seal-pic\" alt=\"印模\" src=\"/orders/{}/seals/{}/picture\"></td><td>{}（{}）</td><td>{} 至 {}</td><td><a href=\"/orders/{}/seals/{}\">{}.esl</a></td></tr>",
            m.seq,
            o.id,
            m.seq,
            esc(&m.name),
            m.kind.label(),
            m.valid_start.get(..10).unwrap_or(""),
            m.valid_end.get(..10).unwrap_or(""),
            o.id,
            m.seq,
            esc(&m.es_id)
        ));
    }
    s.push_str("</table>");
    if o.state == OrderState::Made && !csrf.is_empty() {
        s.push_str(&format!(
            "<h2>写入证书锁</h2><p>插入证书锁，下载上面的印章文件，用证书锁写入工具输入锁密码写入：<code>sealdesk token write --dir 证书锁目录 --pin 锁密码 印章文件…</code>。工具会输出写入回执，粘贴到下面即可完成办理，并自动开具电子发票。</p>\
             <form method=\"post\" action=\"/orders/{}/written\">{}<div class=\"row\"><label class=\"req\" for=\"receipts\">写入回执：</label><textarea id=\"receipts\" name=\"receipts\" rows=\"4\" cols=\"90\"></textarea></div><button id=\"written\">确认写入完成</button></form>",
            o.id,
            csrf_input(csrf)
        ));
    } else if o.state == OrderState::Completed {
        s.push_str("<p class=\"flash ok\">印章已全部写入证书锁，办理完成。</p>");
    }
    s
}

async fn upload(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    mp: Multipart,
) -> PageResult {
    let id = oid(&id)?;
    let (csrf, kind, name, bytes) = crate::api::read_upload_with_csrf(mp).await?;
    c.check_csrf(&csrf)?;
    let to = |k: &str, m: &str| {
        redirect(&format!(
            "/orders/{id}?{k}={}",
            form_urlencoded::byte_serialize(m.as_bytes()).collect::<String>()
        ))
    };
    match s.app.add_upload(&c.who, id, kind, &name, bytes).await {
        Ok(out) => Ok(match out.impressions {
            Some(Ok(0)) => to(
                "err",
                "已上传，但未在印模采集表中找到红色印章，请确认已清晰加盖印章后重新扫描上传",
            ),
            Some(Ok(n)) => to("ok", &format!("{}已上传，识别到 {n} 枚印章", kind.label())),
            _ => to("ok", &format!("{}已上传", kind.label())),
        }),
        Err(AppError::Invalid(e)) => Ok(to("err", &e[0].message)),
        Err(e) => Err(e.into()),
    }
}

async fn simple_post<F, Fut>(c: &PageCaller, id: &str, body: &[u8], f: F) -> PageResult
where
    F: FnOnce(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Order, AppError>>,
{
    let fields = Fields::parse(body);
    c.check_csrf(fields.get("_csrf"))?;
    let id = oid(id)?;
    match f(id).await {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        // Problems the applicant can fix are shown on the order page, next to what to do about them.
        Err(AppError::Invalid(e)) => {
            let msg: Vec<String> = e.iter().map(|x| x.message.clone()).collect();
            Ok(redirect(&format!(
                "/orders/{id}?err={}",
                form_urlencoded::byte_serialize(msg.join("；").as_bytes()).collect::<String>()
            )))
        }
        Err(AppError::Conflict(m)) => Ok(redirect(&format!(
            "/orders/{id}?err={}",
            form_urlencoded::byte_serialize(m.as_bytes()).collect::<String>()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The order buttons that carry nothing but the CSRF token.
#[derive(Clone, Copy)]
enum Step {
    Submit,
    Cancel,
    Make,
}

async fn step(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
    which: Step,
) -> PageResult {
    let who = c.who.clone();
    simple_post(&c, &id, &body, |id| async move {
        match which {
            Step::Submit => s.app.submit(&who, id).await,
            Step::Cancel => s.app.cancel(&who, id).await,
            Step::Make => s.app.make_seals(&who, id).await,
        }
    })
    .await
}

async fn confirm_invoice(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    let info = InvoiceInfo {
        kind: match f.get("kind") {
            "institution" => InvoiceKind::Institution,
            "personal" => InvoiceKind::Personal,
            _ => InvoiceKind::Enterprise,
        },
        title: f.get("title").into(),
        taxpayer_id: f.get("taxpayer_id").into(),
        mobile: f.get("mobile").into(),
        email: f.get("email").into(),
    };
    let who = c.who.clone();
    simple_post(&c, &id, &body, |id| async move {
        s.app.confirm_invoice(&who, id, &info).await
    })
    .await
}

async fn pay(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    match s.app.start_payment(&c.who, id, f.get("channel")).await {
        Ok((_, url)) => Ok(redirect(&url)),
        Err(AppError::BadInput(m)) | Err(AppError::Conflict(m)) => Ok(redirect(&format!(
            "/orders/{id}?err={}",
            form_urlencoded::byte_serialize(m.as_bytes()).collect::<String>()
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn authorize(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    let who = c.who.clone();
    let pem = f.get("cert_pem").to_owned();
    let nonce = f.get("nonce").to_owned();
    let signature = f.get("signature").to_owned();
    simple_post(&c, &id, &body, |id| async move {
        let der = sealdesk_app::cert_der_from_pem(&pem)?;
        let sig = sealdesk_app::decode_signature(&signature).ok_or_else(|| {
            AppError::field("signature", "请粘贴证书锁对授权挑战的签名（base64）")
        })?;
        s.app.authorize(&who, id, &der, &nonce, &sig).await
    })
    .await
}

async fn written(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    let who = c.who.clone();
    // One line per seal: "<esID> <signature>", as `sealdesk token write` prints them.
    let receipts: Option<Vec<sealdesk_app::WriteReceipt>> = f
        .get("receipts")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (es_id, sig) = l.trim().split_once(char::is_whitespace)?;
            Some(sealdesk_app::WriteReceipt {
                es_id: es_id.to_owned(),
                signature: sealdesk_app::decode_signature(sig)?,
            })
        })
        .collect();
    simple_post(&c, &id, &body, |id| async move {
        let receipts = receipts.ok_or_else(|| {
            AppError::field(
                "receipts",
                "写入回执格式不正确：每行一个印章，印章编号与签名之间用空格分隔",
            )
        })?;
        s.app.confirm_written(&who, id, &receipts).await
    })
    .await
}

/// 印模采集表: a printable form, filled in from the order, with one box per seal to stamp.
async fn impression_form(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let o = &v.order;
    let boxes: String = o
        .seal_units()
        .iter()
        .enumerate()
        .map(|(i, (kind, name))| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"height:52mm;width:52mm\"></td></tr>",
                i + 1,
                kind.label(),
                esc(name)
            )
        })
        .collect();
    let body = format!(
        "<table><tr><th>订单编号</th><td>{}</td><th>授权单位</th><td>{}</td></tr>\
         <tr><th>单位名称 / 姓名</th><td>{}</td><th>统一社会信用代码</th><td>{}</td></tr>\
         <tr><th>经办人</th><td>{}</td><th>手机号</th><td>{}</td></tr></table>\
         <h2>印模</h2><p class=\"hint\">请在每个方框内加盖对应印章一次，印迹清晰完整、不要压线；印章外不要有其他红色字迹。</p>\
         <table><tr><th>序号</th><th>印模类型</th><th>印章名称</th><th>盖章处</th></tr>{boxes}</table>\
         <p style=\"margin-top:2rem\">本单位承诺以上所填信息及印模真实有效，如有虚假愿承担相应法律责任。</p>\
         <p>经办人签字：________________　　单位盖章：　　　　　　日期：____年__月__日</p>",
        esc(&o.order_no),
        esc(&o.authorization.unit),
        esc(o.holder.display_name()),
        esc(&o.holder.credit_code),
        esc(&o.holder.applicant_name),
        esc(&o.holder.mobile),
    );
    Ok(page("印模采集表", None, &body).into_response())
}

async fn seal_file(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, seq)): Path<(String, i32)>,
) -> PageResult {
    let seals = s.app.seals(&c.who, oid(&id)?).await?;
    let m = seals
        .into_iter()
        .find(|m| m.seq == seq)
        .ok_or(AppError::NotFound)?;
    Ok(crate::api::attachment(
        "application/octet-stream",
        &format!("{}.esl", m.es_id),
        m.der,
    ))
}

async fn seal_picture(
    State(s): State<AppState>,
    c: PageCaller,
    Path((id, seq)): Path<(String, i32)>,
) -> PageResult {
    let seals = s.app.seals(&c.who, oid(&id)?).await?;
    let m = seals
        .into_iter()
        .find(|m| m.seq == seq)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        m.picture_png,
    )
        .into_response())
}

async fn upload_file(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let (meta, bytes) = s.app.upload_bytes(&c.who, oid(&id)?).await?;
    Ok(crate::api::attachment(
        &meta.content_type,
        &meta.file_name,
        bytes,
    ))
}

async fn invoice_page(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let inv = v.invoice.ok_or(AppError::NotFound)?;
    let b: serde_json::Value = serde_json::from_str(&inv.body).unwrap_or_default();
    let t = |p: &str| esc(b.pointer(p).and_then(|x| x.as_str()).unwrap_or(""));
    let body = format!(
        "<table><tr><th>发票号码</th><td id=\"invoice-number\">{}</td><th>开票日期</th><td>{}</td></tr>\
         <tr><th>购买方</th><td>{}（{}）</td><th>纳税人识别号</th><td>{}</td></tr>\
         <tr><th>订单编号</th><td>{}</td><th>业务类型</th><td>{}</td></tr>\
         <tr><th>项目</th><td colspan=\"3\">技术服务费 — {}</td></tr>\
         <tr><th>价税合计（大写）</th><td id=\"capitals\">{}</td><th>（小写）</th><td>¥{}</td></tr></table>",
        t("/number"),
        t("/date"),
        t("/buyer/title"),
        t("/buyer/kind"),
        t("/buyer/taxpayer_id"),
        t("/order_no"),
        t("/service"),
        t("/items/0/detail"),
        t("/total_capitals"),
        t("/total_yuan")
    );
    Ok(page("电子发票", nav(&c), &body).into_response())
}

// ---------- the sandbox cashier ----------

async fn cashier(State(s): State<AppState>, c: PageCaller, Path(id): Path<String>) -> PageResult {
    let (p, order_no) = s.app.sandbox_payment(&c.who, oid(&id)?).await?;
    let body = if p.state == "paid" {
        format!(
            "<p>该笔订单已支付。</p><p><a class=\"button\" href=\"/orders/{}\">返回订单</a></p>",
            p.order_id
        )
    } else {
        format!(
            "<p class=\"hint\">这是演示用的沙箱收银台：不会产生真实扣款。付款后，收银台会像真实支付网关一样向平台发送签名的支付通知。</p>\
             <table><tr><th>订单编号</th><td>{}</td></tr><tr><th>应付金额</th><td><strong>¥{}</strong></td></tr></table>\
             <form method=\"post\" action=\"/sandbox/cashier/{}\">{}<p><button id=\"sandbox-pay\">确认付款</button></p></form>",
            esc(&order_no),
            p.amount.yuan_string(),
            p.id,
            csrf_input(&c.csrf)
        )
    };
    Ok(page("沙箱收银台", None, &body).into_response())
}

async fn cashier_pay(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    c.check_csrf(Fields::parse(&body).get("_csrf"))?;
    let o = s.app.sandbox_pay(&c.who, oid(&id)?).await?;
    Ok(redirect(&format!(
        "/orders/{}?ok={}",
        o.id,
        form_urlencoded::byte_serialize("支付成功".as_bytes()).collect::<String>()
    )))
}

// ---------- operator console ----------

#[derive(serde::Deserialize, Default)]
struct AdminQuery {
    state: Option<String>,
    q: Option<String>,
    page: Option<i64>,
}

async fn admin_orders(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<AdminQuery>,
) -> PageResult {
    let name = match c.operator_name() {
        Ok(n) => n,
        Err(_) => return Ok(redirect("/admin/login")),
    };
    let state = q.state.as_deref().unwrap_or("pending_review");
    let states: Vec<OrderState> = OrderState::from_code(state).into_iter().collect();
    let per = 20;
    let page_no = q.page.unwrap_or(1).max(1);
    let filter = OrderFilter {
        states,
        order_no_prefix: q.q.clone(),
        oldest_first: state == "pending_review",
        limit: per,
        offset: (page_no - 1) * per,
        ..Default::default()
    };
    let (orders, total) = s.app.list_orders(&c.who, filter).await?;
    let projects: HashMap<i64, String> = s
        .app
        .projects(&c.who)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let tabs: String = std::iter::once(("", "全部"))
        .chain(OrderState::ALL.iter().map(|s| (s.code(), s.label())))
        .map(|(code, label)| {
            format!(
                "<a href=\"/admin/orders?state={code}\"{}>{label}</a> ",
                if code == state {
                    " style=\"font-weight:bold\""
                } else {
                    ""
                }
            )
        })
        .collect();
    let rows: String = orders
        .iter()
        .map(|o| {
            format!(
                "<tr><td><a href=\"/admin/orders/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                o.id,
                esc(&o.order_no),
                esc(projects.get(&o.project_id).map(String::as_str).unwrap_or("")),
                o.service.label(),
                esc(&o.holder.applicant_name),
                esc(&o.holder.enterprise_name),
                if o.state.is_paid() { "已付款" } else { "未付款" },
                o.total.yuan_string(),
                esc(&sealdesk_domain::Timestamp::parse_rfc3339(&o.created_at).map(|t| t.beijing()).unwrap_or_default()),
                o.state.label()
            )
        })
        .collect();
    let pages = (total + per - 1) / per;
    let body = format!(
        "<p>{tabs}</p><form method=\"get\" action=\"/admin/orders\"><input type=\"hidden\" name=\"state\" value=\"{}\"><input type=\"text\" name=\"q\" placeholder=\"订单编号\" value=\"{}\"> <button>查询</button></form>\
         <table><tr><th>订单编号</th><th>项目名称</th><th>业务类型</th><th>申办人</th><th>企业</th><th>支付状态</th><th>金额(元)</th><th>订单时间</th><th>状态</th></tr>{rows}</table>\
         <p class=\"hint\">第 {page_no} 页，共 {pages} 页，{total} 条记录</p>",
        esc(state),
        esc(q.q.as_deref().unwrap_or(""))
    );
    Ok(page(&format!("订单管理 — {}", name), nav(&c), &body).into_response())
}

async fn admin_order(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    c.operator_name()?;
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let o = &v.order;
    let mut body = steps(o.state.step());
    body.push_str(&summary(&v));
    body.push_str(&uploads_section(&v, &c.csrf, false));
    if o.state == OrderState::PendingReview {
        body.push_str(&format!(
            "<h2>审核</h2>{}<form method=\"post\" action=\"/admin/orders/{id}/reject\">{}<div class=\"row\"><label class=\"req\" for=\"comment\">审核意见：</label><textarea id=\"comment\" name=\"comment\" rows=\"3\" cols=\"60\" placeholder=\"例如：证件识别企业证件号为……，与填写的不符\"></textarea></div><button class=\"secondary\" id=\"reject\">审核不通过</button></form>",
            post_button(&format!("/admin/orders/{}/approve", o.id), &c.csrf, "审核通过", ""),
            csrf_input(&c.csrf),
            id = o.id
        ));
    }
    if !v.seals.is_empty() {
        body.push_str(&seals_section(&v, ""));
    }
    let audit = s.app.order_audit(&c.who, o.id).await?;
    body.push_str(
        "<h2>操作记录</h2><table><tr><th>时间</th><th>操作人</th><th>操作</th><th>状态</th></tr>",
    );
    for a in audit {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
            esc(&sealdesk_domain::Timestamp::parse_rfc3339(&a.at)
                .map(|t| t.beijing())
                .unwrap_or_default()),
            esc(&a.actor),
            esc(&a.action),
            a.before_state
                .as_deref()
                .and_then(OrderState::from_code)
                .map(OrderState::label)
                .unwrap_or("-"),
            a.after_state
                .as_deref()
                .and_then(OrderState::from_code)
                .map(OrderState::label)
                .unwrap_or("-"),
        ));
    }
    body.push_str("</table>");
    Ok(page(&format!("订单 {}", o.order_no), nav(&c), &body).into_response())
}

async fn admin_approve(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let o = s.app.approve(&c.who, oid(&id)?).await?;
    Ok(redirect(&format!("/admin/orders/{}", o.id)))
}

async fn admin_reject(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let o = s.app.reject(&c.who, oid(&id)?, f.get("comment")).await?;
    Ok(redirect(&format!("/admin/orders/{}", o.id)))
}

async fn admin_projects(State(s): State<AppState>, c: PageCaller) -> PageResult {
    c.operator_name()?;
    let projects = s.app.projects(&c.who).await?;
    let groups: HashMap<i64, String> = s
        .app
        .store()
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let rows: String = projects
        .iter()
        .map(|p| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.code),
                esc(&p.name),
                p.price.yuan_string(),
                esc(p
                    .group_id
                    .and_then(|g| groups.get(&g))
                    .map(String::as_str)
                    .unwrap_or("-"))
            )
        })
        .collect();
    let body = format!(
        "<table><tr><th>项目编码</th><th>授权单位</th><th>单价（元/个章/年）</th><th>操作员组</th></tr>{rows}</table>"
    );
    Ok(page("项目与操作员组", nav(&c), &body).into_response())
}
