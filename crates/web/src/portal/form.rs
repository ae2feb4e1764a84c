//! The order form (基础信息 · 申请人信息 · 企业信息 · 印模类型): a new order (暂存待办) and editing a draft or a
//! rejected order. A refused form comes back with what was typed and a Chinese message beside each field.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use sealdesk_app::AppError;
use sealdesk_domain::{
    ChosenSeal, FieldError, Holder, HolderKind, OrderForm, SealKind, SealLine, Service,
};
use sealdesk_store::Project;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Errors, Fields, Layout, Nav, PageResult, oid, redirect, render, render_with};

/// One seal kind's row of the form.
struct SealRow {
    code: &'static str,
    label: &'static str,
    checked: bool,
    count: u32,
    name: String,
}

#[derive(Template)]
#[template(path = "portal/order_form.html")]
struct FormPage<'a> {
    l: Layout,
    action: String,
    csrf: &'a str,
    form: &'a OrderForm,
    services: &'static [Service],
    service: Service,
    person: bool,
    project_code: &'a str,
    projects: &'a [Project],
    editing: bool,
    failed: bool,
    errors: Errors,
    seal_errors: Vec<&'a str>,
    enterprise_seals: Vec<SealRow>,
    person_seals: Vec<SealRow>,
    /// 续期 and 变更: the earlier order's standing seals, to choose among (kind, name, 印章有效期); empty otherwise.
    renew: Vec<RenewRow>,
    /// The choice is of seals to change (a new name may be typed), not to renew.
    changing: bool,
    /// The earlier order's number, for 续期, 补办 and 变更.
    previous_no: String,
    /// 续期 / 变更 started by reading the key: the certificate read (base64 DER), sent again with the form.
    key_cert: String,
}

/// One seal of the earlier order a renewal or change may act on.
struct RenewRow {
    es_id: String,
    checked: bool,
    label: &'static str,
    name: String,
    /// 变更: the new name typed for it, if any.
    new_name: String,
    window: String,
}

/// What the form page needs besides the form itself.
struct FormContext<'a> {
    l: Layout,
    action: String,
    csrf: &'a str,
    project_code: &'a str,
    projects: &'a [Project],
    editing: bool,
    renew: Vec<RenewRow>,
    previous_no: String,
    key_cert: String,
}

/// What the form shows of the earlier order it names: its number and, for a 续期 or 变更, its standing seals to
/// choose among (all chosen until the applicant unticks some). An order that is not the caller's shows nothing
/// here (the use case refuses it with its reason on saving).
///
/// `stored` says the form is the one saved (or a fresh one), where no choice means all seals; a form sent back
/// with errors shows exactly what was ticked.
async fn previous_of(
    s: &AppState,
    c: &PageCaller,
    form: &OrderForm,
    stored: bool,
) -> (Vec<RenewRow>, String) {
    let Some(prev) = form.previous_order else {
        return (Vec::new(), String::new());
    };
    let Ok(v) = s.app.order_view(&c.who, prev).await else {
        return (Vec::new(), String::new());
    };
    if !matches!(form.service, Some(Service::Renewal | Service::Change)) {
        return (Vec::new(), v.order.order_no);
    }
    let rows = s
        .app
        .renewable_seals(&c.who, prev)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| RenewRow {
            checked: (stored && form.chosen_seals.is_empty())
                || form.chosen_seals.iter().any(|c| c.es_id == m.es_id),
            new_name: form
                .chosen_seals
                .iter()
                .find(|c| c.es_id == m.es_id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            es_id: m.es_id,
            label: m.kind.label(),
            name: m.name,
            window: format!(
                "{} 至 {}",
                crate::view::date_part(&crate::view::beijing(&m.valid_start)),
                crate::view::date_part(&crate::view::beijing(&m.valid_end))
            ),
        })
        .collect();
    (rows, v.order.order_no)
}

fn form_page<'a>(cx: FormContext<'a>, f: &'a OrderForm, errors: &'a [FieldError]) -> FormPage<'a> {
    let rows = |h: HolderKind| -> Vec<SealRow> {
        SealKind::for_holder(h)
            .map(|k| {
                let line = f.seals.iter().find(|l| l.kind == k);
                SealRow {
                    code: k.code(),
                    label: k.label(),
                    checked: line.is_some(),
                    count: line.map(|l| l.count).unwrap_or(1),
                    name: line.map(|l| l.name.clone()).unwrap_or_default(),
                }
            })
            .collect()
    };
    FormPage {
        l: cx.l.with_step(0),
        action: cx.action,
        csrf: cx.csrf,
        form: f,
        services: &Service::ALL,
        service: f.service.unwrap_or(Service::New),
        person: f.holder.kind == Some(HolderKind::Person),
        project_code: cx.project_code,
        projects: cx.projects,
        editing: cx.editing,
        failed: !errors.is_empty(),
        errors: Errors::new(errors),
        seal_errors: errors
            .iter()
            .filter(|e| e.field.starts_with("seals"))
            .map(|e| e.message.as_str())
            .collect(),
        enterprise_seals: rows(HolderKind::Enterprise),
        person_seals: rows(HolderKind::Person),
        renew: cx.renew,
        changing: f.service == Some(Service::Change),
        previous_no: cx.previous_no,
        key_cert: cx.key_cert,
    }
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
        chosen_seals: f
            .0
            .iter()
            .filter(|(k, _)| k == "chosen")
            .map(|(_, id)| ChosenSeal {
                es_id: id.clone(),
                name: f.get(&format!("rename_{id}")).to_owned(),
            })
            .collect(),
        bid_opening: Some(f.get("bid_opening").to_owned()),
    }
}

/// A form that listed the earlier order's seals to choose among (`choosing`) but came back with none ticked:
/// on the page that is a mistake to name, not the API's "all of them".
fn nothing_chosen(f: &Fields, form: &OrderForm) -> Option<AppError> {
    (f.get("choosing") == "1" && form.chosen_seals.is_empty()).then(|| {
        let what = if form.service == Some(Service::Change) {
            "变更"
        } else {
            "续期"
        };
        AppError::field("chosen_seals", format!("请至少勾选一枚要{what}的印章"))
    })
}

#[derive(serde::Deserialize)]
pub(super) struct NewQuery {
    service: Option<String>,
    /// 续期, 补办 and 变更 from 我的订单: the earlier order, whose holder and seals fill the form.
    previous: Option<String>,
    /// 续期 and 变更 started by reading the key: the certificate it holds (base64 DER).
    key_cert: Option<String>,
}

pub(super) async fn new_page(
    State(s): State<AppState>,
    c: PageCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let service = q.service.as_deref().and_then(Service::from_code);
    // 续期, 变更 and 补办 start from the key or from a completed order, not from a blank form.
    if q.previous.is_none()
        && let Some(service @ (Service::Renewal | Service::Change | Service::Reissue)) = service
    {
        return super::start::page(&s, &c, service).await;
    }
    let projects = s.app.projects(&c.who).await?;
    let mut code = projects.first().map(|p| p.code.clone()).unwrap_or_default();
    let form = match q.previous.as_deref() {
        Some(p) => {
            let v = s.app.order_view(&c.who, oid(p)?).await?;
            code = v.project.code.clone();
            OrderForm {
                service,
                previous_order: Some(v.order.id),
                chosen_seals: Vec::new(),
                bid_opening: None,
                ..v.order.form()
            }
        }
        None => OrderForm {
            service,
            ..Default::default()
        },
    };
    let (renew, previous_no) = previous_of(&s, &c, &form, true).await;
    let title = format!("电子印章{}", form.service.unwrap_or(Service::New).label());
    let cx = FormContext {
        l: Layout::new(title, Nav::of(&c)),
        action: "/orders/new".into(),
        csrf: &c.csrf,
        project_code: &code,
        projects: &projects,
        editing: false,
        renew,
        previous_no,
        key_cert: q.key_cert.unwrap_or_default(),
    };
    Ok(render(&form_page(cx, &form, &[])))
}

pub(super) async fn create(
    State(s): State<AppState>,
    c: PageCaller,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let form = form_from_fields(&f);
    let key_cert = f.get("key_cert").trim();
    let created = match nothing_chosen(&f, &form) {
        Some(e) => Err(e),
        None if key_cert.is_empty() => s.app.create_order(&c.who, f.get("project"), &form).await,
        None => match base64::engine::general_purpose::STANDARD.decode(key_cert) {
            Ok(der) => {
                s.app
                    .create_order_from_key(&c.who, f.get("project"), &form, &der)
                    .await
            }
            Err(_) => Err(AppError::field(
                "previous_order",
                "读取到的证书内容无效，请重新插入证书锁读取",
            )),
        },
    };
    match created {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        Err(AppError::Invalid(errors)) => {
            let projects = s.app.projects(&c.who).await?;
            let (renew, previous_no) = previous_of(&s, &c, &form, false).await;
            let title = format!("电子印章{}", form.service.unwrap_or(Service::New).label());
            let cx = FormContext {
                l: Layout::new(title, Nav::of(&c)),
                action: "/orders/new".into(),
                csrf: &c.csrf,
                project_code: f.get("project"),
                projects: &projects,
                editing: false,
                renew,
                previous_no,
                key_cert: key_cert.to_owned(),
            };
            Ok(render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(cx, &form, &errors),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn edit_page(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
) -> PageResult {
    let v = s.app.order_view(&c.who, oid(&id)?).await?;
    let form = v.order.form();
    // A rejected order opens with each coded reason beside the field it concerns.
    let reasons: Vec<FieldError> = v
        .order
        .review_reasons
        .iter()
        .filter(|r| !r.field.is_empty() && !r.field.starts_with("uploads."))
        .filter_map(|r| {
            Some(FieldError {
                field: r.field.clone(),
                message: v.order.review_reason(&r.field)?,
            })
        })
        .collect();
    let (renew, previous_no) = previous_of(&s, &c, &form, true).await;
    let cx = FormContext {
        l: Layout::new(format!("修改订单 {}", v.order.order_no), Nav::of(&c)),
        action: format!("/orders/{}/edit", v.order.id),
        csrf: &c.csrf,
        project_code: &v.project.code,
        projects: &[],
        editing: true,
        renew,
        previous_no,
        key_cert: String::new(),
    };
    Ok(render(&form_page(cx, &form, &reasons)))
}

pub(super) async fn edit(
    State(s): State<AppState>,
    c: PageCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let f = Fields::parse(&body);
    c.check_csrf(f.get("_csrf"))?;
    let id = oid(&id)?;
    let form = form_from_fields(&f);
    let updated = match nothing_chosen(&f, &form) {
        Some(e) => Err(e),
        None => s.app.update_order(&c.who, id, &form).await,
    };
    match updated {
        Ok(o) => Ok(redirect(&format!("/orders/{}", o.id))),
        Err(AppError::Invalid(errors)) => {
            let (renew, previous_no) = previous_of(&s, &c, &form, false).await;
            let cx = FormContext {
                l: Layout::new("修改订单", Nav::of(&c)),
                action: format!("/orders/{id}/edit"),
                csrf: &c.csrf,
                project_code: "",
                projects: &[],
                editing: true,
                renew,
                previous_no,
                key_cert: String::new(),
            };
            Ok(render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(cx, &form, &errors),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
