//! 我的订单 and one order's page, with the buttons that move it on (提交, 取消, 申请开票, 支付, 授权, 制章, 写入).

use askama::Template;
use axum::extract::{Path, Query, State};
use sealdesk_app::{AppError, OrderView, Principal};
use sealdesk_domain::{InvoiceInfo, InvoiceKind, Order};
use sealdesk_store::OrderFilter;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{
    Fields, Layout, Msg, Nav, PageResult, Pager, oid, page_no, redirect, redirect_with, render,
};

/// Rows per page of 我的订单, as the guide shows them (`1 - 10 共 27 条`).
const PER_PAGE: i64 = 10;

#[derive(Template)]
#[template(path = "portal/orders.html")]
struct List {
    l: Layout,
    /// Each order with its 印章有效期: the made seals' dates (`2026-12-01 至 2027-12-01`), or the term asked for
    /// (`12 个月`) before they are made.
    orders: Vec<(Order, String)>,
    pager: Pager,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ListQuery {
    page: Option<i64>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<ListQuery>,
) -> PageResult {
    if matches!(c.who.principal, Principal::Operator { .. }) {
        return Ok(redirect("/admin/orders"));
    }
    let page = page_no(q.page);
    let (orders, total) = s
        .app
        .list_orders(
            &c.who,
            OrderFilter {
                limit: PER_PAGE,
                offset: (page - 1) * PER_PAGE,
                ..Default::default()
            },
        )
        .await?;
    let pager = Pager::new(page, PER_PAGE, orders.len(), total, |n| {
        format!("/orders?page={n}")
    });
    let mut rows = Vec::with_capacity(orders.len());
    for o in orders {
        let made = matches!(
            o.state,
            sealdesk_domain::OrderState::Made | sealdesk_domain::OrderState::Completed
        );
        let seals = if made {
            s.app.seal_window(&c.who, o.id).await?
        } else {
            None
        };
        let window = match seals {
            Some((from, to)) => format!(
                "{} 至 {}",
                crate::view::date_part(&crate::view::beijing(&from)),
                crate::view::date_part(&crate::view::beijing(&to))
            ),
            None => format!("{} 个月", o.authorization.months),
        };
        rows.push((o, window));
    }
    Ok(render(&List {
        l: Layout::new("我的订单", Nav::of(&c)),
        orders: rows,
        pager,
    }))
}

#[derive(Template)]
#[template(path = "portal/order.html")]
struct Show<'a> {
    l: Layout,
    v: &'a OrderView,
    csrf: &'a str,
    ok: Option<&'a str>,
    err: Option<&'a str>,
    editable: bool,
    can_write: bool,
    /// Where the page's script finds the UKey agent.
    agent_url: &'a str,
    /// The invoice details to confirm (those confirmed, else proposed from the order) and their choices.
    inv: crate::view::InvoiceFields,
    /// (code, label) of the payment channels configured; none means payment is not open.
    channels: Vec<(String, &'static str)>,
    /// The 授权 challenge for the key to sign, when the order is paid.
    challenge: Option<sealdesk_app::AuthChallenge>,
    /// (payment id, channel label, opened at) of payments opened at a gateway and not yet settled: 支付处理中.
    pending: Vec<(i64, &'static str, String)>,
    /// 在线客服.
    thread: crate::view::Thread,
    /// 印章图片 at true size, before 制章.
    cut: Option<crate::view::CutoutsView>,
    /// 续期 / 变更 onto a key whose certificate was renewed since the earlier seals: (before, now) serials.
    cert_change: Option<(String, String)>,
}

impl Show<'_> {
    /// The order's 手写签字 may be drawn on the pad now (by its applicant, until 制章).
    fn can_sign(&self) -> bool {
        self.v.order.signs_on_pad() && sealdesk_app::form_replaceable(self.v.order.state)
    }

    /// The drawn signature's true size in CSS px, if there is one.
    fn signature_px(&self) -> Option<(u32, u32)> {
        crate::view::pad_signature_px(&self.v.order)
    }

    /// 导入信息's 印章 lines: (number from 1, kind, name, `宽度：4.2 cm 高度：4.2 cm`).
    fn seal_sizes(&self) -> Vec<(usize, &'static str, String, String)> {
        let a = &self.v.order.authorization;
        self.v
            .order
            .seal_units()
            .into_iter()
            .enumerate()
            .map(|(i, (kind, name))| {
                let (w, h) = a.size_mm(kind);
                let size = format!("宽度：{} 高度：{}", crate::view::cm(w), crate::view::cm(h));
                (i + 1, kind.label(), name, size)
            })
            .collect()
    }
}

pub(super) async fn show(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    Query(m): Query<Msg>,
) -> PageResult {
    show_page(&s, &c, oid(&id)?, &m, None).await
}

/// The order page; `typed`: invoice details just refused, shown again as typed (with `m.err`, status 422).
async fn show_page(
    s: &AppState,
    c: &PageCaller,
    id: i64,
    m: &Msg,
    typed: Option<InvoiceInfo>,
) -> PageResult {
    let v = s.app.order_view(&c.who, id).await?;
    let o = &v.order;
    let status = if typed.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let invoice = typed
        .or_else(|| o.invoice.clone())
        .unwrap_or_else(|| proposed_invoice(o));
    let pending = if o.state == sealdesk_domain::OrderState::PendingPayment {
        s.app
            .pending_payments(&c.who, o.id)
            .await?
            .into_iter()
            .map(|p| {
                (
                    p.id,
                    sealdesk_app::channel_label(&p.channel),
                    crate::view::beijing(&p.created_at),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let thread = crate::view::Thread::of(
        &s.app.config().service_hours,
        s.app.messages(&c.who, o.id).await?,
    );
    let cut = crate::view::CutoutsView::of(&s.app, &c.who, o).await?;
    let cert_change = s.app.certificate_change(&c.who, o.id).await?;
    let challenge = if o.state == sealdesk_domain::OrderState::Paid {
        s.app.authorize_challenge(&c.who, o.id).await.ok()
    } else {
        None
    };
    Ok(crate::view::render_with(
        status,
        &Show {
            l: Layout::new(format!("订单 {}", o.order_no), Nav::of(c)).with_step(o.state.step()),
            v: &v,
            csrf: &c.csrf,
            ok: m.ok.as_deref(),
            err: m.err.as_deref(),
            editable: o.state.editable(),
            can_write: true,
            agent_url: &s.agent_url,
            inv: crate::view::InvoiceFields::of(invoice),
            channels: s.app.payment_channels(),
            challenge,
            pending,
            thread,
            cut,
            cert_change,
        },
    ))
}

/// The invoice a first-time payer is offered: the enterprise's name and credit code, or the person's name.
fn proposed_invoice(o: &sealdesk_domain::Order) -> InvoiceInfo {
    let personal = o.holder.kind == Some(sealdesk_domain::HolderKind::Person);
    InvoiceInfo {
        kind: if personal {
            InvoiceKind::Personal
        } else {
            InvoiceKind::Enterprise
        },
        title: if personal {
            o.holder.applicant_name.clone()
        } else {
            o.holder.enterprise_name.clone()
        },
        taxpayer_id: if personal {
            String::new()
        } else {
            o.holder.credit_code.clone()
        },
        mobile: o.holder.mobile.clone(),
        ..InvoiceInfo::default()
    }
}

/// A form post that moves the order on: checks the CSRF token, runs `f`, and goes back to the order page,
/// with the problem shown there if it is one the applicant can fix.
async fn simple_post<F, Fut>(c: &PageCaller, id: &str, body: &[u8], f: F) -> PageResult
where
    F: FnOnce(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Order, AppError>>,
{
    let fields = Fields::parse(body);
    c.check_csrf(fields.get("_csrf"))?;
    let id = oid(id)?;
    let back = format!("/orders/{id}");
    match f(id).await {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        Err(AppError::Invalid(e)) => Ok(redirect_with(
            &back,
            "err",
            &crate::view::joined_messages(&e),
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_with(&back, "err", &m)),
        Err(e) => Err(e.into()),
    }
}

/// The order buttons that carry nothing but the CSRF token.
#[derive(Clone, Copy)]
pub(super) enum Step {
    Submit,
    Cancel,
    Make,
}

pub(super) async fn step(
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

pub(super) async fn confirm_invoice(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let info = crate::view::invoice_from_fields(&f);
    match s.app.confirm_invoice(&c.who, id, &info).await {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        // What was typed stays on the page beside the reasons, so nothing is typed twice.
        Err(AppError::Invalid(e)) => {
            let m = Msg {
                ok: None,
                err: Some(crate::view::joined_messages(&e)),
            };
            show_page(&s, &c, id, &m, Some(info)).await
        }
        Err(AppError::Conflict(m)) => Ok(redirect_with(&format!("/orders/{id}"), "err", &m)),
        Err(e) => Err(e.into()),
    }
}

/// 印模确认: which seal each impression of a form read without its QR code is (`seal_<j>` = the seal's index).
pub(super) async fn confirm_cutouts(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let n: usize = f.get("found").parse().unwrap_or(0);
    let seal_of: Vec<usize> = (0..n.min(64))
        .map(|j| f.get(&format!("seal_{j}")).parse().unwrap_or(usize::MAX))
        .collect();
    match s.app.confirm_cutouts(&c.who, id, &seal_of).await {
        Ok(_) => Ok(redirect_with(
            &format!("/orders/{id}"),
            "ok",
            "已确认每枚印模对应的印章",
        )),
        Err(AppError::Invalid(e)) => Ok(redirect_with(
            &format!("/orders/{id}"),
            "err",
            &crate::view::joined_messages(&e),
        )),
        Err(AppError::Conflict(m)) => Ok(redirect_with(&format!("/orders/{id}"), "err", &m)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn pay(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    match s.app.start_payment(&c.who, id, f.get("channel")).await {
        // A gateway's own cashier page is linked from ours, not redirected to (see `pay.rs`).
        Ok((p, url)) if url.starts_with("http") => {
            Ok(redirect(&format!("/orders/{id}/payments/{}", p.id)))
        }
        Ok((_, url)) => Ok(redirect(&url)),
        Err(AppError::BadInput(m)) | Err(AppError::Conflict(m)) => {
            Ok(redirect_with(&format!("/orders/{id}"), "err", &m))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn authorize(
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

pub(super) async fn written(
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

/// The applicant writes in the order's thread (在线客服).
pub(super) async fn post_message(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    crate::view::post_thread_message(&s, &c, &id, &body, "/orders").await
}
