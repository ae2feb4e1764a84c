//! The JSON API under `/api/v1`: what the smoke command, the UKey agent and integrators use. Ids are strings
//! (64-bit ids do not fit a JavaScript number); money is integer fen.
//!
//! Every route is registered through `utoipa_axum::routes!` from a handler annotated with `#[utoipa::path]`,
//! and every body is a type of [`crate::schema`]: the router and the OpenAPI document are built from the same
//! declarations.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sealdesk_app::{AppError, WriteReceipt, decode_signature};
use sealdesk_domain::{InvoiceInfo, Order, OrderForm, UploadKind};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::order_query::OrderQuery;
use crate::schema::*;
use crate::session::{ApiCaller, ClientIp};

type ApiResult<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// A JSON body whose rejection is answered in our error format.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(AppError::BadInput(format!("请求内容无效：{}", e.body_text())).into()),
        }
    }
}

/// The API's routes, each with its OpenAPI operation (paths relative to `/api/v1`).
///
/// The demo-only operations (the SMS outbox, the sandbox cashier's "pay") exist only when `demo`.
pub(crate) fn routes(demo: bool) -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(maker_certificate))
        .routes(routes!(sms_code))
        .routes(routes!(sign_in_applicant))
        .routes(routes!(sign_in_operator))
        .routes(routes!(ukey_challenge))
        .routes(routes!(sign_in_ukey))
        .routes(routes!(sign_out))
        .routes(routes!(projects))
        .routes(routes!(list_orders, create_order))
        .routes(routes!(export_orders))
        .routes(routes!(show_order, update_order))
        .routes(routes!(upload).layer(axum::extract::DefaultBodyLimit::max(
            crate::UPLOAD_BODY_LIMIT,
        )))
        .routes(routes!(download_upload))
        .routes(routes!(submit))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(cancel))
        .routes(routes!(messages, post_message))
        .routes(routes!(confirm_invoice, invoice))
        .routes(routes!(start_payment))
        .routes(routes!(payment_notify))
        .routes(routes!(authorize_challenge))
        .routes(routes!(authorize))
        .routes(routes!(refunds))
        .routes(routes!(refund))
        .routes(routes!(make))
        .routes(routes!(seals))
        .routes(routes!(replaced_seals))
        .routes(routes!(confirm_cutouts))
        .routes(routes!(remake))
        .routes(routes!(key_orders))
        .routes(routes!(draw_signature))
        .routes(routes!(written))
        .routes(routes!(audit))
        .routes(routes!(seal_status))
        .routes(routes!(revoked_seals));
    let api = crate::api_finance::routes(api);
    if demo {
        api.routes(routes!(demo_outbox))
            .routes(routes!(sandbox_pay))
    } else {
        api
    }
}

/// `GET /healthz`: the process is up and the database answers.
pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    match s.app.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                detail: None,
            }),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                detail: Some(e.to_string()),
            }),
        )
            .into_response(),
    }
}

fn id(s: &str) -> Result<i64, ApiError> {
    s.parse().map_err(|_| ApiError(AppError::NotFound))
}

fn order(o: &Order) -> Json<OrderBody> {
    Json(OrderBody::from(o))
}

/// The platform's seal-maker certificate (PEM), for relying parties.
#[utoipa::path(get, path = "/maker-certificate", tag = "platform",
    responses((status = 200, description = "PEM", body = String, content_type = "application/x-pem-file")))]
async fn maker_certificate(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.app.maker_certificate_pem(),
    )
        .into_response()
}

/// `POST /auth/sms-code`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct MobileReq {
    /// 手机号.
    mobile: String,
}

/// Send a sign-in code to a mobile number.
#[utoipa::path(post, path = "/auth/sms-code", tag = "auth", request_body = MobileReq,
    responses((status = 200, body = Sent), (status = "4XX", body = ErrorBody)))]
async fn sms_code(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<MobileReq>,
) -> ApiResult<Sent> {
    s.app.send_login_code(&r.mobile, &ip).await?;
    Ok(Json(Sent { sent: true }))
}

/// `POST /auth/applicant`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CodeReq {
    /// 手机号.
    mobile: String,
    /// 短信验证码.
    code: String,
}

/// Applicant sign-in with mobile and SMS code.
#[utoipa::path(post, path = "/auth/applicant", tag = "auth", request_body = CodeReq,
    responses((status = 200, body = Session), (status = "4XX", body = ErrorBody)))]
async fn sign_in_applicant(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<CodeReq>,
) -> ApiResult<Session> {
    Ok(Json(
        s.app
            .sign_in_with_code(&r.mobile, &r.code, &ip)
            .await?
            .into(),
    ))
}

/// `POST /auth/operator`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct OperatorReq {
    /// 用户名.
    name: String,
    /// 密码.
    password: String,
}

/// Operator sign-in with name and password.
#[utoipa::path(post, path = "/auth/operator", tag = "auth", request_body = OperatorReq,
    responses((status = 200, body = Session), (status = "4XX", body = ErrorBody)))]
async fn sign_in_operator(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<OperatorReq>,
) -> ApiResult<Session> {
    Ok(Json(
        s.app
            .sign_in_operator(&r.name, &r.password, &ip)
            .await?
            .into(),
    ))
}

/// End the session.
#[utoipa::path(post, path = "/auth/sign-out", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SignedOut), (status = "4XX", body = ErrorBody)))]
async fn sign_out(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiCaller(_signed_in): ApiCaller,
) -> ApiResult<SignedOut> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| crate::session::token_of(&headers))
        .unwrap_or_default();
    s.app.sign_out(&token).await?;
    Ok(Json(SignedOut { signed_out: true }))
}

#[derive(Deserialize, IntoParams)]
struct OutboxQuery {
    /// Only the messages to this number.
    mobile: Option<String>,
}

/// The SMS outbox (demo mode only).
#[utoipa::path(get, path = "/demo/outbox", tag = "platform", params(OutboxQuery),
    responses((status = 200, body = Vec<OutboxEntry>), (status = "4XX", body = ErrorBody)))]
async fn demo_outbox(
    State(s): State<AppState>,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Vec<OutboxEntry>> {
    let msgs = s.app.demo_outbox(q.mobile.as_deref()).await?;
    Ok(Json(
        msgs.into_iter()
            .map(|m| OutboxEntry {
                mobile: m.mobile,
                template: m.template,
                text: m.text,
                created_at: m.created_at,
            })
            .collect(),
    ))
}

/// Projects (authorising units) the caller may use.
#[utoipa::path(get, path = "/projects", tag = "orders", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<ProjectEntry>), (status = "4XX", body = ErrorBody)))]
async fn projects(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> ApiResult<Vec<ProjectEntry>> {
    let ps = s.app.projects(&who).await?;
    Ok(Json(
        ps.into_iter()
            .map(|p| ProjectEntry {
                id: p.id.to_string(),
                seal_sizes: sealdesk_domain::SealKind::ALL
                    .into_iter()
                    .map(|kind| {
                        let (width_mm, height_mm) = p.size_mm(kind);
                        sealdesk_domain::SealSize {
                            kind,
                            width_mm,
                            height_mm,
                        }
                    })
                    .collect(),
                code: p.code,
                name: p.name,
                price_fen_per_seal_year: p.price.0,
                contact: p.contact,
            })
            .collect(),
    ))
}

/// The caller's projects as (id, code) and (id, name): what the list filters and the export's 项目名称 need.
async fn project_maps(
    s: &AppState,
    who: &sealdesk_app::Who,
) -> Result<(Vec<(i64, String)>, std::collections::HashMap<i64, String>), ApiError> {
    let projects = s.app.projects(who).await?;
    Ok((
        projects.iter().map(|p| (p.id, p.code.clone())).collect(),
        projects.into_iter().map(|p| (p.id, p.name)).collect(),
    ))
}

/// Orders the caller may see (an applicant's own, an operator's projects'), filtered: `q` finds any part of the
/// order number, a name, the credit code or the mobile number.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderPage), (status = "4XX", body = ErrorBody)))]
async fn list_orders(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(q): Query<OrderQuery>,
) -> ApiResult<OrderPage> {
    let per_page = q.per_page.unwrap_or(20).clamp(1, 100);
    // The caller's projects only turn a `project` code into an id: a list without one does not read them.
    let codes = match crate::order_query::given(&q.project) {
        Some(_) => project_maps(&s, &who).await?.0,
        None => Vec::new(),
    };
    let filter = q.filter(&codes, per_page)?;
    let (orders, total) = s.app.list_orders(&who, filter).await?;
    Ok(Json(OrderPage {
        total: total.min(sealdesk_store::ORDER_COUNT_CAP),
        total_more: total > sealdesk_store::ORDER_COUNT_CAP,
        page: q.page(),
        per_page,
        orders: orders.iter().map(OrderBody::from).collect(),
    }))
}

/// The same list as CSV (UTF-8 with BOM, the console's columns), every matching order newest first; streamed.
#[utoipa::path(get, path = "/orders/export.csv", tag = "orders", params(OrderQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = "4XX", body = ErrorBody)))]
async fn export_orders(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(q): Query<OrderQuery>,
) -> Result<Response, ApiError> {
    let (codes, names) = project_maps(&s, &who).await?;
    let filter = q.filter(&codes, 1)?;
    Ok(crate::order_query::export(
        s.app.clone(),
        who,
        filter,
        names,
    ))
}

/// Create a draft order (暂存待办).
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = CreateOrder, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn create_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(r): ApiJson<CreateOrder>,
) -> Created<OrderBody> {
    let o = s.app.create_order(&who, &r.project, &r.form).await?;
    Ok((StatusCode::CREATED, order(&o)))
}

/// One order with uploads, seals and invoice number.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderDetail), (status = "4XX", body = ErrorBody)))]
async fn show_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<OrderDetail> {
    let oid = id(&oid)?;
    let mut detail: OrderDetail = s.app.order_view(&who, oid).await?.into();
    if matches!(who.principal, sealdesk_app::Principal::Operator { .. }) {
        detail.prechecks = Some(s.app.prechecks(&who, oid).await?.unwrap_or_default());
    }
    Ok(Json(detail))
}

/// Edit a draft or rejected order.
#[utoipa::path(put, path = "/orders/{id}", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = OrderForm, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn update_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(form): ApiJson<OrderForm>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.update_order(&who, id(&oid)?, &form).await?))
}

/// Reads `kind` and `file` from a multipart body.
pub(crate) async fn read_upload(mp: Multipart) -> Result<(UploadKind, String, Vec<u8>), AppError> {
    let (_, kind, name, bytes) = read_upload_with_csrf(mp).await?;
    Ok((kind, name, bytes))
}

/// Reads `_csrf`, `kind` and `file` from a multipart body (the pages' upload forms carry the CSRF token).
pub(crate) async fn read_upload_with_csrf(
    mut mp: Multipart,
) -> Result<(String, UploadKind, String, Vec<u8>), AppError> {
    let (mut kind, mut file, mut csrf) = (None, None, String::new());
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::BadInput(format!("上传内容无效：{e}")))?
    {
        match field.name() {
            Some("kind") => {
                let t = field
                    .text()
                    .await
                    .map_err(|e| AppError::BadInput(e.to_string()))?;
                kind = Some(
                    UploadKind::from_code(t.trim())
                        .ok_or_else(|| AppError::BadInput(format!("未知的资料类型 {t}")))?,
                );
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| AppError::BadInput("文件大小需小于 5M".into()))?;
                // The buffer multer filled, taken over rather than copied.
                file = Some((name, Vec::from(bytes)));
            }
            Some("_csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| AppError::BadInput(e.to_string()))?
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| AppError::BadInput("缺少资料类型 kind".into()))?;
    let (name, bytes) = file.filter(|(_, b)| !b.is_empty()).ok_or_else(|| {
        AppError::field(&format!("uploads.{}", kind.code()), "请选择要上传的文件")
    })?;
    Ok((csrf, kind, name, bytes))
}

/// Upload a document (multipart: kind, file); JPG/PNG, PDF for the impression form, under 5 MB.
#[utoipa::path(post, path = "/orders/{id}/uploads", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"), security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = UploadResult), (status = "4XX", body = ErrorBody)))]
async fn upload(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    mp: Multipart,
) -> Created<UploadResult> {
    let (kind, name, bytes) = read_upload(mp).await?;
    let out = s
        .app
        .add_upload(&who, id(&oid)?, kind, &name, bytes)
        .await?;
    Ok((StatusCode::CREATED, Json(UploadResult::from(&out))))
}

/// Serves an upload as an attachment: never rendered inline, never sniffed into something else.
pub(crate) fn attachment(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(file_name.as_bytes()).collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Download an upload.
#[utoipa::path(get, path = "/uploads/{id}", tag = "orders", params(("id" = String, Path, description = "Upload id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The file, as an attachment", body = Vec<u8>, content_type = "application/octet-stream"),
              (status = "4XX", body = ErrorBody)))]
async fn download_upload(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let (meta, bytes) = s.app.upload_bytes(&who, id(&uid)?).await?;
    Ok(attachment(&meta.content_type, &meta.file_name, bytes))
}

/// Submit for review (提交).
#[utoipa::path(post, path = "/orders/{id}/submit", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn submit(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.submit(&who, id(&oid)?).await?))
}

/// Approve (审核通过), operators.
#[utoipa::path(post, path = "/orders/{id}/approve", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn approve(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.approve(&who, id(&oid)?).await?))
}

/// Reject with a comment (审核不通过), operators.
#[utoipa::path(post, path = "/orders/{id}/reject", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = RejectRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn reject(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<RejectRequest>,
) -> ApiResult<OrderBody> {
    Ok(order(
        &s.app
            .reject_with(&who, id(&oid)?, &r.reasons, &r.comment)
            .await?,
    ))
}

/// The order's message thread (在线客服), its applicant or an operator of its project.
#[utoipa::path(get, path = "/orders/{id}/messages", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MessageThread), (status = "4XX", body = ErrorBody)))]
async fn messages(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<MessageThread> {
    let messages = s.app.messages(&who, id(&oid)?).await?;
    Ok(Json(MessageThread {
        service_hours: s.app.config().service_hours.clone(),
        messages: messages.into_iter().map(MessageEntry::from).collect(),
    }))
}

/// Write in the order's thread; an operator's answer sends the applicant an SMS.
#[utoipa::path(post, path = "/orders/{id}/messages", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = PostMessage, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = MessageEntry), (status = "4XX", body = ErrorBody)))]
async fn post_message(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<PostMessage>,
) -> Created<MessageEntry> {
    let m = s.app.post_message(&who, id(&oid)?, &r.body).await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// Cancel before payment.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn cancel(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.cancel(&who, id(&oid)?).await?))
}

/// Confirm invoice details (申请开票).
#[utoipa::path(post, path = "/orders/{id}/invoice", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = InvoiceInfo, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn confirm_invoice(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(info): ApiJson<InvoiceInfo>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.confirm_invoice(&who, id(&oid)?, &info).await?))
}

/// The issued electronic invoice.
#[utoipa::path(get, path = "/orders/{id}/invoice", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = InvoiceDoc), (status = "4XX", body = ErrorBody)))]
async fn invoice(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<InvoiceDoc> {
    let v = s.app.order_view(&who, id(&oid)?).await?;
    let inv = v.invoice.ok_or(AppError::NotFound)?;
    let doc = serde_json::from_str(&inv.body)
        .map_err(|e| AppError::Internal(format!("stored invoice {}: {e}", inv.number)))?;
    Ok(Json(doc))
}

/// Start a payment (channel: sandbox, alipay, wechat).
#[utoipa::path(post, path = "/orders/{id}/payments", tag = "payments", params(("id" = String, Path, description = "Order id")),
    request_body = PayRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = PaymentStarted), (status = "4XX", body = ErrorBody)))]
async fn start_payment(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<PayRequest>,
) -> Created<PaymentStarted> {
    let (p, url) = s.app.start_payment(&who, id(&oid)?, &r.channel).await?;
    Ok((
        StatusCode::CREATED,
        Json(PaymentStarted {
            payment_id: p.id.to_string(),
            amount_fen: p.amount.0,
            channel: p.channel,
            cashier_url: url,
        }),
    ))
}

/// A gateway's server-to-server notification (`alipay`, `wechat`; `sandbox` in demo mode), verified with the
/// channel's key and answered the way that gateway expects: Alipay `success`, WeChat Pay 204, or a refusal it
/// retries.
#[utoipa::path(post, path = "/payments/{channel}/notify", tag = "payments",
    params(("channel" = String, Path, description = "alipay, wechat (or sandbox in demo mode)")),
    request_body(content = String, description = "The gateway's signed notification, as it sends it (Alipay: form; WeChat Pay: JSON with Wechatpay-* headers)", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Accepted (Alipay, sandbox)", body = String, content_type = "text/plain"),
              (status = 204, description = "Accepted (WeChat Pay)"),
              (status = "4XX", description = "Refused; the gateway retries", body = String, content_type = "text/plain"),
              (status = 500, description = "Refused (WeChat Pay's form); the gateway retries", body = String, content_type = "application/json")))]
async fn payment_notify(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(channel): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let outcome = s
        .app
        .payment_notified_with(&channel, &headers, &body, &ip)
        .await;
    let Some(reply) = s.app.notification_reply(&channel, outcome.is_ok()) else {
        return (StatusCode::NOT_FOUND, "failure").into_response();
    };
    if let Err(e) = &outcome {
        tracing::warn!(%channel, error = %e, "payment notification refused");
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    let status = match &outcome {
        // An unknown order or a bad signature is the caller's fault, whatever the gateway's convention.
        Err(e) if reply.status < 400 => crate::error::status(e),
        _ => status,
    };
    if reply.content_type.is_empty() {
        status.into_response()
    } else {
        (
            status,
            [(axum::http::header::CONTENT_TYPE, reply.content_type)],
            reply.body,
        )
            .into_response()
    }
}

/// The sandbox cashier pays the owner's payment (demo mode only).
#[utoipa::path(post, path = "/sandbox/payments/{id}/pay", tag = "payments", params(("id" = String, Path, description = "Payment id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn sandbox_pay(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(pid): Path<String>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.sandbox_pay(&who, id(&pid)?).await?))
}

/// Payments to refund: money that came for a cancelled or already paid order (administrators).
#[utoipa::path(get, path = "/finance/refunds", tag = "payments", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<RefundDue>), (status = "4XX", body = ErrorBody)))]
async fn refunds(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> ApiResult<Vec<RefundDue>> {
    let due = s.app.refunds_due(&who).await?;
    Ok(Json(due.iter().map(RefundDue::from).collect()))
}

/// 退款: give a payment flagged for refund back through its gateway, recorded (administrators).
#[utoipa::path(post, path = "/finance/refunds/{id}", tag = "payments", params(("id" = String, Path, description = "Payment id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = RefundDue), (status = "4XX", body = ErrorBody)))]
async fn refund(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(pid): Path<String>,
) -> ApiResult<RefundDue> {
    let p = s.app.refund_payment(&who, id(&pid)?).await?;
    Ok(Json(RefundDue::from(&p)))
}

/// A fresh challenge for the UKey to sign at 授权.
#[utoipa::path(post, path = "/orders/{id}/authorize/challenge", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Challenge), (status = "4XX", body = ErrorBody)))]
async fn authorize_challenge(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<Challenge> {
    let ch = s.app.authorize_challenge(&who, id(&oid)?).await?;
    Ok(Json(Challenge {
        challenge_b64: base64::engine::general_purpose::STANDARD.encode(ch.text.as_bytes()),
        nonce: ch.nonce,
        challenge: ch.text,
        expires_at: ch.expires_at,
    }))
}

/// Bind the UKey (certificate + its signature over the challenge) and make the seals (授权).
#[utoipa::path(post, path = "/orders/{id}/authorize", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = AuthorizeRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn authorize(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<AuthorizeRequest>,
) -> ApiResult<OrderBody> {
    let der = if !r.cert_pem.trim().is_empty() {
        sealdesk_app::cert_der_from_pem(&r.cert_pem)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(r.cert_der_b64.trim())
            .map_err(|_| AppError::field("cert", "证书内容不是有效的 base64"))?
    };
    let sig = decode_signature(&r.signature)
        .ok_or_else(|| AppError::field("signature", "签名不是有效的 base64 或十六进制"))?;
    Ok(order(
        &s.app
            .authorize(&who, id(&oid)?, &der, &r.nonce, &sig)
            .await?,
    ))
}

/// Retry making the seals (制章).
#[utoipa::path(post, path = "/orders/{id}/make", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn make(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<OrderBody> {
    Ok(order(&s.app.make_seals(&who, id(&oid)?).await?))
}

/// The seals to write onto the key (not those a 重新制章 replaced), DER in base64.
#[utoipa::path(get, path = "/orders/{id}/seals", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<SealFile>), (status = "4XX", body = ErrorBody)))]
async fn seals(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<Vec<SealFile>> {
    let seals = s.app.seals(&who, id(&oid)?).await?;
    // What the key should hold: a seal replaced by 重新制章 is listed in `/replaces` instead.
    Ok(Json(
        seals
            .iter()
            .filter(|m| !m.revoked)
            .map(SealFile::from)
            .collect(),
    ))
}

/// The seals this order's seals replace on the key (续期 and 变更: the earlier order's), for the page to delete in
/// the same write.
#[utoipa::path(get, path = "/orders/{id}/replaces", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ReplacedSeals), (status = "4XX", body = ErrorBody)))]
async fn replaced_seals(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<ReplacedSeals> {
    Ok(Json(ReplacedSeals {
        es_ids: s.app.replaced_seals(&who, id(&oid)?).await?,
    }))
}

/// 重新制章 (制章员): remakes the named seals of a made or completed order from its current 印模采集表 and
/// revokes them; the order returns to 已制章 for the applicant to write the new seals.
#[utoipa::path(post, path = "/orders/{id}/remake", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = RemakeSeals, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn remake(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<RemakeSeals>,
) -> ApiResult<OrderBody> {
    Ok(order(
        &s.app
            .remake_seals(&who, id(&oid)?, &r.es_ids, &r.reason)
            .await?,
    ))
}

/// 读取证书锁 (续期, 变更, 补办 start here): the caller's completed orders whose standing seals belong on the key
/// with this certificate, and whether the certificate has expired.
#[utoipa::path(post, path = "/ukey/orders", tag = "orders",
    request_body = KeyCertificate, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = KeyOrders), (status = "4XX", body = ErrorBody)))]
async fn key_orders(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(r): ApiJson<KeyCertificate>,
) -> ApiResult<KeyOrders> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(r.cert_der_b64.trim())
        .map_err(|_| AppError::field("cert", "证书内容不是有效的 base64"))?;
    let orders = s.app.key_orders(&who, &der).await?;
    Ok(Json(KeyOrders {
        expired: s.app.certificate_expired(&der),
        orders: orders.iter().map(KeyOrderEntry::from).collect(),
    }))
}

/// 印模确认: which seal each impression of a 印模采集表 read without its QR code is (409 when the form has its QR
/// code, whose boxes say it).
#[utoipa::path(post, path = "/orders/{id}/cutouts/confirm", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = ConfirmCutouts, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn confirm_cutouts(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<ConfirmCutouts>,
) -> ApiResult<OrderBody> {
    Ok(order(
        &s.app.confirm_cutouts(&who, id(&oid)?, &r.seal_of).await?,
    ))
}

/// 在线手写签字: the signature drawn on a pad becomes the picture of the order's 手写签字 seals (409 for an order
/// without one, or once the seals are made).
#[utoipa::path(post, path = "/orders/{id}/signature", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = PadDrawing, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn draw_signature(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<PadDrawing>,
) -> ApiResult<OrderBody> {
    let json = serde_json::to_vec(&r).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(order(&s.app.draw_signature(&who, id(&oid)?, &json).await?))
}

/// Confirm the seals are on the key, with the key's signatures.
#[utoipa::path(post, path = "/orders/{id}/written", tag = "orders", params(("id" = String, Path, description = "Order id")),
    request_body = WrittenRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OrderBody), (status = "4XX", body = ErrorBody)))]
async fn written(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<WrittenRequest>,
) -> ApiResult<OrderBody> {
    let receipts = r
        .receipts
        .iter()
        .map(|x| {
            decode_signature(&x.signature).map(|signature| WriteReceipt {
                es_id: x.es_id.clone(),
                signature,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| AppError::field("receipts", "写入回执的签名格式不正确"))?;
    Ok(order(
        &s.app.confirm_written(&who, id(&oid)?, &receipts).await?,
    ))
}

/// The order's audit trail.
#[utoipa::path(get, path = "/orders/{id}/audit", tag = "orders", params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<AuditEntry>), (status = "4XX", body = ErrorBody)))]
async fn audit(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult<Vec<AuditEntry>> {
    let entries = s.app.order_audit(&who, id(&oid)?).await?;
    Ok(Json(entries.iter().map(AuditEntry::from).collect()))
}

/// A one-time challenge for UKey sign-in (证书登录): the agent has the key sign `challenge`.
#[utoipa::path(post, path = "/auth/ukey/challenge", tag = "auth",
    responses((status = 200, body = Challenge), (status = "4XX", body = ErrorBody)))]
async fn ukey_challenge(State(s): State<AppState>, ClientIp(ip): ClientIp) -> ApiResult<Challenge> {
    let ch = s.app.sign_in_challenge(&ip).await?;
    Ok(Json(Challenge {
        challenge_b64: base64::engine::general_purpose::STANDARD.encode(ch.text.as_bytes()),
        nonce: ch.nonce,
        challenge: ch.text,
        expires_at: ch.expires_at,
    }))
}

/// Applicant sign-in with the UKey: its certificate and its signature over a sign-in challenge.
#[utoipa::path(post, path = "/auth/ukey", tag = "auth", request_body = UkeySignIn,
    responses((status = 200, body = Session), (status = "4XX", body = ErrorBody)))]
async fn sign_in_ukey(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<UkeySignIn>,
) -> ApiResult<Session> {
    let (der, sig) = ukey_answer(&r.cert_der_b64, &r.signature)?;
    Ok(Json(
        s.app
            .sign_in_with_cert(&der, &r.nonce, &sig, &ip)
            .await?
            .into(),
    ))
}

/// The certificate (DER in base64) and signature (base64 or hex) the agent gives, decoded.
pub(crate) fn ukey_answer(cert_b64: &str, signature: &str) -> Result<(Vec<u8>, Vec<u8>), AppError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(cert_b64.trim())
        .map_err(|_| AppError::BadCredentials("证书内容不是有效的 base64".into()))?;
    let sig = decode_signature(signature)
        .ok_or_else(|| AppError::BadCredentials("签名不是有效的 base64 或十六进制".into()))?;
    Ok((der, sig))
}

/// A seal's status (有效 / 已注销 / 已过期, with when and why it was revoked), for relying parties.
#[utoipa::path(get, path = "/seals/{es_id}/status", tag = "seals", params(("es_id" = String, Path, description = "The seal's esID")),
    responses((status = 200, body = SealStatusBody), (status = "4XX", body = ErrorBody)))]
async fn seal_status(
    State(s): State<AppState>,
    Path(es_id): Path<String>,
) -> ApiResult<SealStatusBody> {
    Ok(Json(s.app.seal_status(&es_id).await?.into()))
}

/// The revoked esIDs, signed by the seal maker (check a seal with `sealdesk seal verify --revoked FILE`).
#[utoipa::path(get, path = "/seals/revoked", tag = "seals",
    responses((status = 200, description = "The signed list, as an attachment (revoked-seals.json)", body = RevocationFile, content_type = "application/json"),
              (status = "4XX", body = ErrorBody)))]
async fn revoked_seals(State(s): State<AppState>) -> Result<Response, ApiError> {
    let body = s.app.revocation_list().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"revoked-seals.json\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
