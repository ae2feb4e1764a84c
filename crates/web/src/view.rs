//! What every page shares: the layout's data ([`Layout`]), rendering a template into a response, form bodies,
//! redirects, the pager and field errors.
//!
//! Pages are askama templates under `crates/web/templates/`: compile-checked against the struct that fills
//! them, and HTML-escaped by default, so a value from an order can only ever appear as text.

use std::collections::HashMap;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sealdesk_app::{AppError, OrderView, Principal};
use sealdesk_domain::{FieldError, OrderState, UploadKind};
use sealdesk_store::UploadMeta;

use crate::error::PageError;
use crate::session::PageCaller;

/// What a page handler returns.
pub(crate) type PageResult = Result<Response, PageError>;

/// 客服咨询电话, as the operating guide gives it.
pub(crate) const HOTLINE: &str = "400-6776-800";
/// 服务时间 of the hotline, as the operating guide gives it.
pub(crate) const SERVICE_HOURS: &str = "周一至周五 (8:00—20:00)";
/// The 申请 → 审核 → 支付 → 授权 → 制章 steps of the step bar.
const STEPS: [&str; 5] = ["申请", "审核", "支付", "授权", "制章"];

/// Who the header's links are for.
#[derive(Debug, Clone)]
pub(crate) enum Nav {
    /// Not signed in.
    Visitor,
    /// A signed-in applicant, with the session's CSRF token (for the logout form).
    Applicant(String),
    /// A signed-in operator: name, CSRF token, and which role-bound links to show (finance, audit log).
    Operator(String, String, OperatorLinks),
}

/// The header links an operator's roles open.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OperatorLinks {
    /// 财务对账.
    pub finance: bool,
    /// 审计日志.
    pub audit: bool,
}

impl Nav {
    /// The header of someone signed in.
    pub(crate) fn of(c: &PageCaller) -> Nav {
        match &c.who.principal {
            p @ Principal::Operator { name, .. } => Nav::Operator(
                name.clone(),
                c.csrf.clone(),
                OperatorLinks {
                    finance: p.may(sealdesk_domain::Role::Finance),
                    audit: p.may(sealdesk_domain::Role::Auditor),
                },
            ),
            _ => Nav::Applicant(c.csrf.clone()),
        }
    }
}

/// The frame of every page (`templates/base.html`): title, header links, optional step bar, footer.
pub(crate) struct Layout {
    /// The `<title>` and the `<h1>`.
    pub title: String,
    /// Header links.
    pub nav: Nav,
    /// The current step of the step bar (0-based; 5 = all done), if the page shows one.
    pub step: Option<usize>,
}

impl Layout {
    /// A page without a step bar.
    pub(crate) fn new(title: impl Into<String>, nav: Nav) -> Layout {
        Layout {
            title: title.into(),
            nav,
            step: None,
        }
    }

    /// The same page with the step bar at `step`.
    pub(crate) fn with_step(mut self, step: usize) -> Layout {
        self.step = Some(step);
        self
    }

    pub(crate) fn is_visitor(&self) -> bool {
        matches!(self.nav, Nav::Visitor)
    }

    pub(crate) fn is_applicant(&self) -> bool {
        matches!(self.nav, Nav::Applicant(_))
    }

    pub(crate) fn operator(&self) -> Option<&str> {
        match &self.nav {
            Nav::Operator(n, _, _) => Some(n),
            _ => None,
        }
    }

    /// The role-bound links of an operator's header (none for others).
    pub(crate) fn links(&self) -> OperatorLinks {
        match &self.nav {
            Nav::Operator(_, _, l) => *l,
            _ => OperatorLinks::default(),
        }
    }

    /// The session's CSRF token, which the logout form carries ("" for a visitor).
    pub(crate) fn csrf(&self) -> &str {
        match &self.nav {
            Nav::Applicant(c) | Nav::Operator(_, c, _) => c,
            Nav::Visitor => "",
        }
    }

    /// (name, class) of each step: `done`, `now` or ``.
    pub(crate) fn steps(&self) -> Vec<(&'static str, &'static str)> {
        let at = self.step.unwrap_or(0);
        STEPS
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let class = match i.cmp(&at) {
                    std::cmp::Ordering::Less => "done",
                    std::cmp::Ordering::Equal => "now",
                    std::cmp::Ordering::Greater => "",
                };
                (*n, class)
            })
            .collect()
    }

    pub(crate) fn css(&self) -> &'static str {
        crate::assets::CSS.url()
    }

    pub(crate) fn js(&self) -> &'static str {
        crate::assets::JS.url()
    }

    pub(crate) fn agent_js(&self) -> &'static str {
        crate::assets::AGENT_JS.url()
    }

    pub(crate) fn signature_pad_js(&self) -> &'static str {
        crate::assets::SIGNATURE_PAD_JS.url()
    }

    pub(crate) fn hotline(&self) -> &'static str {
        HOTLINE
    }

    pub(crate) fn service_hours(&self) -> &'static str {
        SERVICE_HOURS
    }
}

/// Renders a page with status 200.
pub(crate) fn render<T: Template>(t: &T) -> Response {
    render_with(StatusCode::OK, t)
}

/// Renders a page with `status` (a form shown again with its errors is 422).
pub(crate) fn render_with<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response()
        }
    }
}

/// A urlencoded form body, keeping repeated keys.
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `k`, or "".
    pub(crate) fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The 发票类型 choices with their form codes.
const INVOICE_KINDS: [(sealdesk_domain::InvoiceKind, &str); 3] = [
    (sealdesk_domain::InvoiceKind::Enterprise, "enterprise"),
    (sealdesk_domain::InvoiceKind::Institution, "institution"),
    (sealdesk_domain::InvoiceKind::Personal, "personal"),
];

/// The 发票种类 choices with their form codes.
const INVOICE_FORMS: [(sealdesk_domain::InvoiceForm, &str); 2] = [
    (sealdesk_domain::InvoiceForm::Ordinary, "ordinary"),
    (sealdesk_domain::InvoiceForm::Special, "special"),
];

/// What `partials/invoice_fields.html` shows: the details, and the radio choices (code, label, checked) of the
/// 发票类型 and 发票种类.
pub(crate) struct InvoiceFields {
    pub info: sealdesk_domain::InvoiceInfo,
    pub kinds: Vec<(&'static str, &'static str, bool)>,
    pub forms: Vec<(&'static str, &'static str, bool)>,
}

impl InvoiceFields {
    pub(crate) fn of(info: sealdesk_domain::InvoiceInfo) -> InvoiceFields {
        InvoiceFields {
            kinds: INVOICE_KINDS
                .iter()
                .map(|(k, code)| (*code, k.label(), *k == info.kind))
                .collect(),
            forms: INVOICE_FORMS
                .iter()
                .map(|(f, code)| (*code, f.label(), *f == info.form))
                .collect(),
            info,
        }
    }

    /// Whether the 纳税人识别号 is marked required (enterprises; every 专票).
    pub(crate) fn taxpayer_required(&self) -> bool {
        self.info.kind == sealdesk_domain::InvoiceKind::Enterprise
            || self.info.form == sealdesk_domain::InvoiceForm::Special
    }

    /// Whether any 展开非必填信息 field is filled (the fold then opens).
    pub(crate) fn has_optional(&self) -> bool {
        let i = &self.info;
        [&i.address, &i.phone, &i.bank, &i.account, &i.email]
            .iter()
            .any(|v| !v.is_empty())
    }
}

/// The invoice details posted by `partials/invoice_fields.html`.
pub(crate) fn invoice_from_fields(f: &Fields) -> sealdesk_domain::InvoiceInfo {
    sealdesk_domain::InvoiceInfo {
        kind: INVOICE_KINDS
            .iter()
            .find(|(_, code)| *code == f.get("kind"))
            .map_or(sealdesk_domain::InvoiceKind::Enterprise, |(k, _)| *k),
        form: INVOICE_FORMS
            .iter()
            .find(|(_, code)| *code == f.get("form"))
            .map_or(sealdesk_domain::InvoiceForm::Ordinary, |(k, _)| *k),
        title: f.get("title").into(),
        taxpayer_id: f.get("taxpayer_id").into(),
        mobile: f.get("mobile").into(),
        email: f.get("email").into(),
        address: f.get("address").into(),
        phone: f.get("phone").into(),
        bank: f.get("bank").into(),
        account: f.get("account").into(),
    }
}

pub(crate) fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Back to `path` with a message shown there (`?ok=` or `?err=`).
pub(crate) fn redirect_with(path: &str, key: &str, msg: &str) -> Response {
    redirect(&format!(
        "{path}?{key}={}",
        form_urlencoded::byte_serialize(msg.as_bytes()).collect::<String>()
    ))
}

/// An id from the path; anything else is a missing page.
pub(crate) fn oid(s: &str) -> Result<i64, PageError> {
    s.parse().map_err(|_| PageError(AppError::NotFound))
}

/// The `?ok=`/`?err=` message a redirect carries.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Msg {
    pub ok: Option<String>,
    pub err: Option<String>,
}

/// The first message for each field, by field name (`holder.mobile`, `months`, …).
#[derive(Default)]
pub(crate) struct Errors(HashMap<String, String>);

impl Errors {
    pub(crate) fn new(errors: &[FieldError]) -> Errors {
        let mut m = HashMap::new();
        for e in errors {
            m.entry(e.field.clone())
                .or_insert_with(|| e.message.clone());
        }
        Errors(m)
    }

    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
}

/// The pager under a list: `1 - 10 共 27 条`, with links to the neighbouring pages.
pub(crate) struct Pager {
    /// First row shown (1-based), 0 when there are none.
    pub from: i64,
    /// Last row shown.
    pub to: i64,
    /// Rows in all (at least, when `more`).
    pub total: i64,
    /// Whether more rows match than `total` (the order lists count up to [`sealdesk_store::ORDER_COUNT_CAP`]):
    /// shown as `共 10000+ 条`.
    pub more: bool,
    /// Link to the previous page, if any.
    pub prev: Option<String>,
    /// Link to the next page, if any.
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` (1-based) of `per` rows out of `total`; `link(n)` is the address of page `n`.
    pub(crate) fn new(
        page: i64,
        per: i64,
        shown: usize,
        total: i64,
        link: impl Fn(i64) -> String,
    ) -> Pager {
        let from = if shown == 0 { 0 } else { (page - 1) * per + 1 };
        let to = if shown == 0 {
            0
        } else {
            from + shown as i64 - 1
        };
        Pager {
            from,
            to,
            total,
            more: false,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page * per < total).then(|| link(page + 1)),
        }
    }

    /// The pager of an order list, whose count stops at [`sealdesk_store::ORDER_COUNT_CAP`]: past it the total
    /// shows as `10000+` and a full page has a next page.
    pub(crate) fn of_orders(
        page: i64,
        per: i64,
        shown: usize,
        counted: i64,
        link: impl Fn(i64) -> String,
    ) -> Pager {
        let cap = sealdesk_store::ORDER_COUNT_CAP;
        if counted <= cap {
            return Pager::new(page, per, shown, counted, link);
        }
        let full = shown as i64 == per;
        Pager {
            total: cap,
            more: true,
            prev: (page > 1).then(|| link(page - 1)),
            next: full.then(|| link(page + 1)),
            ..Pager::new(page, per, shown, counted, |_| String::new())
        }
    }
}

/// The 1-based page number of a `?page=` query.
pub(crate) fn page_no(p: Option<i64>) -> i64 {
    p.unwrap_or(1).max(1)
}

/// A date-time stored as RFC 3339, as pages show it: Beijing time.
pub(crate) fn beijing(rfc3339: &str) -> String {
    sealdesk_domain::Timestamp::parse_rfc3339(rfc3339)
        .map(|t| t.beijing())
        .unwrap_or_default()
}

/// The seed's UKEY信息 of an order bound to a key (label, value): the key and its certificate as bound at 授权,
/// the 授权单位 and 授权类型, and the authorised period of its standing seals; empty before 授权.
pub(crate) fn ukey_rows(v: &sealdesk_app::OrderView) -> Vec<(&'static str, String)> {
    let Some(k) = &v.order.key else {
        return Vec::new();
    };
    let mut rows = vec![("密钥序列号", k.serial.clone())];
    if let Some((serial, nb, na)) = sealdesk_app::bound_certificate(k) {
        rows.push(("证书序列号", serial));
        rows.push(("证书有效开始时间", sealdesk_domain::Timestamp(nb).beijing()));
        rows.push(("证书有效截止时间", sealdesk_domain::Timestamp(na).beijing()));
    }
    rows.push(("证书主题", k.subject.clone()));
    rows.push(("授权单位", v.order.authorization.unit.clone()));
    rows.push(("授权类型", v.order.authorization.kind.clone()));
    let standing = || v.seals.iter().filter(|m| !m.revoked);
    if let (Some(start), Some(end)) = (
        standing().map(|m| m.valid_start.as_str()).min(),
        standing().map(|m| m.valid_end.as_str()).max(),
    ) {
        rows.push(("印章授权开始时间", date_part(&beijing(start)).to_owned()));
        rows.push(("印章授权截止时间", date_part(&beijing(end)).to_owned()));
    }
    rows
}

/// The date part of an RFC 3339 text.
pub(crate) fn date_part(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or("")
}

/// Millimetres as the seed writes sizes: `4.2 cm`, `5 cm`.
pub(crate) fn cm(mm: u16) -> String {
    if mm % 10 == 0 {
        format!("{} cm", mm / 10)
    } else {
        format!("{}.{} cm", mm / 10, mm % 10)
    }
}

/// CSS pixels for `mm` at the CSS reference resolution (96 px per inch): an `<img>` with these width and height
/// attributes shows at true size on a screen whose scale is set right (the CSP forbids inline styles).
pub(crate) fn css_px(mm: f32) -> u32 {
    (mm * 96.0 / 25.4).round().max(1.0) as u32
}

/// The messages of a refused form, one line: what a flash shows.
pub(crate) fn joined_messages(errors: &[sealdesk_domain::FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("；")
}

/// A picture made for one viewer (a cut-out, a drawn signature): PNG, never cached.
pub(crate) fn private_png(png: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (axum::http::header::CACHE_CONTROL, "private, no-store"),
        ],
        png,
    )
        .into_response()
}

/// The true size, in CSS px, of the 手写签字 drawn on the pad for `order`, if there is one.
pub(crate) fn pad_signature_px(order: &sealdesk_domain::Order) -> Option<(u32, u32)> {
    order
        .pad_signature
        .as_ref()
        .map(|p| (css_px(p.width_mm as f32), css_px(p.height_mm as f32)))
}

/// ID numbers are shown masked on pages: enough to recognise, not enough to copy.
pub(crate) fn mask_id(id: &str) -> String {
    match (id.get(..6), id.get(id.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if id.len() >= 10 => format!("{head}********{tail}"),
        _ => id.to_owned(),
    }
}

/// The current upload of `kind`, if any.
pub(crate) fn upload_of(v: &OrderView, kind: UploadKind) -> Option<&UploadMeta> {
    v.uploads.iter().find(|u| u.kind == kind)
}

/// The label of a state code in the audit trail, `-` for none.
pub(crate) fn state_label(code: &Option<String>) -> &'static str {
    code.as_deref()
        .and_then(OrderState::from_code)
        .map(OrderState::label)
        .unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_counts_like_the_guide() {
        let p = Pager::new(1, 10, 10, 27, |n| format!("?page={n}"));
        assert_eq!((p.from, p.to, p.total), (1, 10, 27));
        assert_eq!((p.prev, p.next.as_deref()), (None, Some("?page=2")));
        let p = Pager::new(3, 10, 7, 27, |n| format!("?page={n}"));
        assert_eq!((p.from, p.to), (21, 27));
        assert_eq!((p.prev.as_deref(), p.next), (Some("?page=2"), None));
        let p = Pager::new(1, 10, 0, 0, |n| format!("?page={n}"));
        assert_eq!((p.from, p.to, p.total, p.next), (0, 0, 0, None));
    }

    #[test]
    fn an_order_count_past_the_cap_shows_as_more() {
        let link = |n| format!("?page={n}");
        let p = Pager::of_orders(1, 20, 20, 27, link);
        assert_eq!(
            (p.total, p.more, p.next.as_deref()),
            (27, false, Some("?page=2"))
        );
        let p = Pager::of_orders(1, 20, 20, 10_000, link);
        assert_eq!(
            (p.total, p.more, p.next.as_deref()),
            (10_000, false, Some("?page=2"))
        );
        // Page 600 of 20 a page lies past the 10 001 rows counted: it has a next page while it is full.
        let p = Pager::of_orders(600, 20, 20, 10_001, link);
        assert_eq!(
            (
                p.from,
                p.to,
                p.total,
                p.more,
                p.prev.as_deref(),
                p.next.as_deref()
            ),
            (
                11_981,
                12_000,
                10_000,
                true,
                Some("?page=599"),
                Some("?page=601")
            )
        );
        let p = Pager::of_orders(601, 20, 7, 10_001, link);
        assert_eq!((p.to, p.more, p.next), (12_007, true, None));
    }

    #[test]
    fn id_numbers_are_masked() {
        assert_eq!(mask_id("11010519491231002X"), "110105********002X");
        assert_eq!(mask_id("123"), "123");
        // Not cut inside a character (this used to panic).
        assert_eq!(mask_id("身份证号码一二三四"), "身份证号码一二三四");
    }
}

/// The messages of a refused form, one line for a page's error banner.
pub(crate) fn field_messages(errs: &[sealdesk_domain::FieldError]) -> String {
    errs.iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("；")
}

/// One message of an order's thread (在线客服) as pages show it.
pub(crate) struct ThreadRow {
    /// 客服 or 申请人.
    pub who: &'static str,
    /// Written by an operator.
    pub operator: bool,
    /// Beijing time.
    pub at: String,
    pub body: String,
}

/// An order's thread with the service hours, for the applicant's and the console's order pages.
pub(crate) struct Thread {
    pub hours: String,
    pub rows: Vec<ThreadRow>,
}

impl Thread {
    pub(crate) fn of(hours: &str, messages: Vec<sealdesk_store::OrderMessage>) -> Thread {
        Thread {
            hours: hours.to_owned(),
            rows: messages
                .into_iter()
                .map(|m| ThreadRow {
                    who: if m.from_operator {
                        "客服"
                    } else {
                        "申请人"
                    },
                    operator: m.from_operator,
                    at: beijing(&m.created_at),
                    body: m.body,
                })
                .collect(),
        }
    }
}

/// Posts a message in an order's thread from a page form (`body`), then back to `back` (its `#messages`), with
/// the refusal as the page's error when the text is empty or too long.
pub(crate) async fn post_thread_message(
    s: &crate::AppState,
    c: &crate::session::PageCaller,
    id: &str,
    body: &[u8],
    back: &str,
) -> PageResult {
    let f = Fields::parse(body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(id)?;
    let back = format!("{back}/{id}");
    match s.app.post_message(&c.who, id, f.get("body")).await {
        Ok(_) => Ok(redirect(&format!("{back}#messages"))),
        Err(sealdesk_app::AppError::Invalid(errs)) => {
            Ok(redirect_with(&back, "err", &field_messages(&errs)))
        }
        Err(e) => Err(e.into()),
    }
}

/// 印章图片 before 制章: each seal's cut-out from the 印模采集表 beside its kind, at true size
/// (`partials/cutouts.html`), or the problems that keep the form from giving them.
pub(crate) struct CutoutsView {
    pub order_id: i64,
    pub rows: Vec<CutoutRow>,
    pub problems: Vec<String>,
    /// 印模确认 pending: the rows are the impressions found in page order, and these are the seals to choose
    /// from (index, label); empty otherwise.
    pub choose: Vec<(usize, String)>,
    /// Whether the viewer may confirm (the applicant, until 制章).
    pub can_confirm: bool,
    /// Whether the page offers to replace the form here (the applicant, after approval and before 授权: before
    /// that the uploads section does, after it the 重新制章 step).
    pub can_replace: bool,
}

/// One seal's cut-out.
pub(crate) struct CutoutRow {
    pub index: usize,
    pub kind: sealdesk_domain::SealKind,
    pub name: String,
    pub width_mm: f32,
    pub height_mm: f32,
    /// `<img>` width and height at true size.
    pub width_px: u32,
    pub height_px: u32,
}

impl CutoutsView {
    /// The cut-outs of order `id` for `who`, when the order has a 印模采集表 and has not been made yet.
    pub(crate) async fn of(
        app: &sealdesk_app::App,
        who: &sealdesk_app::Who,
        order: &sealdesk_domain::Order,
    ) -> Result<Option<CutoutsView>, sealdesk_app::AppError> {
        use sealdesk_domain::OrderState as S;
        // After 制章 the cut-outs matter only to a 制章员, who remakes seals from a new form.
        let remaking = sealdesk_app::remakeable(order.state)
            && who.principal.may(sealdesk_domain::Role::Issuer);
        if !remaking
            && !matches!(
                order.state,
                S::Draft
                    | S::PendingReview
                    | S::Rejected
                    | S::PendingPayment
                    | S::Paid
                    | S::Authorized
            )
        {
            return Ok(None);
        }
        let can_replace = matches!(who.principal, sealdesk_app::Principal::Applicant { .. })
            && matches!(order.state, S::PendingPayment | S::Paid);
        Ok(match app.cutouts(who, order.id).await? {
            sealdesk_app::Cutouts::NoForm => None,
            sealdesk_app::Cutouts::Pending => Some(CutoutsView {
                order_id: order.id,
                rows: Vec::new(),
                problems: Vec::new(),
                choose: Vec::new(),
                can_confirm: false,
                can_replace,
            }),
            sealdesk_app::Cutouts::Problems(problems) => Some(CutoutsView {
                order_id: order.id,
                rows: Vec::new(),
                problems,
                choose: Vec::new(),
                can_confirm: false,
                can_replace,
            }),
            sealdesk_app::Cutouts::Unconfirmed { found, seals } => Some(CutoutsView {
                order_id: order.id,
                rows: found
                    .into_iter()
                    .enumerate()
                    .map(|(index, (w, h))| {
                        let (kind, name) = seals
                            .get(index)
                            .cloned()
                            .unwrap_or((sealdesk_domain::SealKind::EnterpriseOther, String::new()));
                        CutoutRow {
                            index,
                            kind,
                            name,
                            width_px: css_px(w),
                            height_px: css_px(h),
                            width_mm: w,
                            height_mm: h,
                        }
                    })
                    .collect(),
                problems: Vec::new(),
                choose: seals
                    .iter()
                    .enumerate()
                    .map(|(i, (k, n))| (i, format!("第 {} 枚：{}「{n}」", i + 1, k.label())))
                    .collect(),
                can_confirm: matches!(who.principal, sealdesk_app::Principal::Applicant { .. })
                    && sealdesk_app::form_replaceable(order.state),
                can_replace,
            }),
            sealdesk_app::Cutouts::Found(list) => Some(CutoutsView {
                order_id: order.id,
                rows: list
                    .into_iter()
                    .enumerate()
                    .map(|(index, c)| CutoutRow {
                        index,
                        kind: c.kind,
                        name: c.name,
                        width_px: css_px(c.width_mm),
                        height_px: css_px(c.height_mm),
                        width_mm: c.width_mm,
                        height_mm: c.height_mm,
                    })
                    .collect(),
                problems: Vec::new(),
                choose: Vec::new(),
                can_confirm: false,
                can_replace,
            }),
        })
    }
}
