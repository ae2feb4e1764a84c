//! The JSON API under `/api/v1`: what the smoke command, the UKey agent and integrators use. Ids are strings
//! (64-bit ids do not fit a JavaScript number); money is integer fen.

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use sealdesk_app::{AppError, UploadOutcome, WriteReceipt, decode_signature};
use sealdesk_domain::{InvoiceInfo, Order, OrderForm, OrderState, UploadKind};
use sealdesk_store::OrderFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::session::{ApiCaller, ClientIp};

type ApiResult = Result<Json<Value>, ApiError>;

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

/// The demo-only API: the SMS outbox and the sandbox cashier's "pay" button. Mounted only with `--demo`.
pub(crate) fn demo_routes() -> Router<AppState> {
    Router::new()
        .route("/demo/outbox", get(demo_outbox))
        .route("/sandbox/payments/{id}/pay", post(sandbox_pay))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route("/maker-certificate", get(maker_certificate))
        .route("/auth/sms-code", post(sms_code))
        .route("/auth/applicant", post(sign_in_applicant))
        .route("/auth/operator", post(sign_in_operator))
        .route("/auth/sign-out", post(sign_out))
        .route("/projects", get(projects))
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/{id}", get(show_order).put(update_order))
        .route(
            "/orders/{id}/uploads",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/uploads/{id}", get(download_upload))
        .route("/orders/{id}/submit", post(submit))
        .route("/orders/{id}/approve", post(approve))
        .route("/orders/{id}/reject", post(reject))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/invoice", post(confirm_invoice).get(invoice))
        .route("/orders/{id}/payments", post(start_payment))
        .route("/payments/{channel}/notify", post(payment_notify))
        .route(
            "/orders/{id}/authorize/challenge",
            post(authorize_challenge),
        )
        .route("/orders/{id}/authorize", post(authorize))
        .route("/finance/refunds", get(refunds))
        .route("/orders/{id}/make", post(make))
        .route("/orders/{id}/seals", get(seals))
        .route("/orders/{id}/written", post(written))
        .route("/orders/{id}/audit", get(audit))
}

/// `GET /healthz`: the process is up and the database answers.
pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    match s.app.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "detail": e.to_string()})),
        )
            .into_response(),
    }
}

fn id(s: &str) -> Result<i64, ApiError> {
    s.parse().map_err(|_| ApiError(AppError::NotFound))
}

/// The API's view of an order.
pub(crate) fn order_json(o: &Order) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    v["id"] = json!(o.id.to_string());
    v["project_id"] = json!(o.project_id.to_string());
    v["applicant_id"] = json!(o.applicant_id.to_string());
    v["previous_order"] = json!(o.previous_order.map(|p| p.to_string()));
    v["total_fen"] = json!(o.total.0);
    v["total_yuan"] = json!(o.total.yuan_string());
    v["state_label"] = json!(o.state.label());
    v["service_label"] = json!(o.service.label());
    if let Some(k) = &o.key {
        v["key"] = json!({"serial": k.serial, "subject": k.subject});
    }
    v
}

async fn maker_certificate(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.app.maker_certificate_pem(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct MobileReq {
    mobile: String,
}

async fn sms_code(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<MobileReq>,
) -> ApiResult {
    s.app.send_login_code(&r.mobile, &ip).await?;
    Ok(Json(json!({"sent": true})))
}

#[derive(Deserialize)]
struct CodeReq {
    mobile: String,
    code: String,
}

fn signed_in(si: sealdesk_app::SignedIn) -> Json<Value> {
    Json(json!({"token": si.token, "csrf": si.csrf, "expires_at": si.expires_at}))
}

async fn sign_in_applicant(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<CodeReq>,
) -> ApiResult {
    Ok(signed_in(
        s.app.sign_in_with_code(&r.mobile, &r.code, &ip).await?,
    ))
}

#[derive(Deserialize)]
struct OperatorReq {
    name: String,
    password: String,
}

async fn sign_in_operator(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(r): ApiJson<OperatorReq>,
) -> ApiResult {
    Ok(signed_in(
        s.app.sign_in_operator(&r.name, &r.password, &ip).await?,
    ))
}

async fn sign_out(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiCaller(_): ApiCaller,
) -> ApiResult {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| crate::session::token_of(&headers))
        .unwrap_or_default();
    s.app.sign_out(&token).await?;
    Ok(Json(json!({"signed_out": true})))
}

#[derive(Deserialize)]
struct OutboxQuery {
    mobile: Option<String>,
}

async fn demo_outbox(State(s): State<AppState>, Query(q): Query<OutboxQuery>) -> ApiResult {
    let msgs = s.app.demo_outbox(q.mobile.as_deref()).await?;
    Ok(Json(json!(msgs.iter().map(|m| json!({"mobile": m.mobile, "template": m.template, "text": m.text, "created_at": m.created_at})).collect::<Vec<_>>())))
}

async fn projects(State(s): State<AppState>, ApiCaller(who): ApiCaller) -> ApiResult {
    let ps = s.app.projects(&who).await?;
    Ok(Json(json!(ps.iter().map(|p| json!({"id": p.id.to_string(), "code": p.code, "name": p.name, "price_fen_per_seal_year": p.price.0})).collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Order number, or its beginning.
    q: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

async fn list_orders(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let per_page = q.per_page.unwrap_or(20).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let states = match q.state.as_deref() {
        None | Some("") => vec![],
        Some(code) => vec![
            OrderState::from_code(code)
                .ok_or_else(|| AppError::BadInput(format!("未知的状态 {code}")))?,
        ],
    };
    let (orders, total) = s
        .app
        .list_orders(
            &who,
            OrderFilter {
                states,
                order_no_prefix: q.q,
                limit: per_page,
                offset: (page - 1) * per_page,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(
        json!({"total": total, "page": page, "per_page": per_page, "orders": orders.iter().map(order_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
struct CreateReq {
    project: String,
    #[serde(flatten)]
    form: OrderForm,
}

async fn create_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiJson(r): ApiJson<CreateReq>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let o = s.app.create_order(&who, &r.project, &r.form).await?;
    Ok((StatusCode::CREATED, Json(order_json(&o))))
}

async fn show_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    let v = s.app.order_view(&who, id(&oid)?).await?;
    let mut j = order_json(&v.order);
    j["project"] = json!({"code": v.project.code, "name": v.project.name});
    j["uploads"] = json!(v.uploads.iter().map(|u| json!({"id": u.id.to_string(), "kind": u.kind.code(), "file_name": u.file_name, "content_type": u.content_type, "size": u.size, "sm3": u.sm3})).collect::<Vec<_>>());
    j["missing_uploads"] = json!(
        v.missing_uploads
            .iter()
            .map(|k| k.code())
            .collect::<Vec<_>>()
    );
    j["seals"] = json!(
        v.seals
            .iter()
            .map(|m| json!({"seq": m.seq, "es_id": m.es_id, "name": m.name, "kind": m.kind.code()}))
            .collect::<Vec<_>>()
    );
    j["invoice_number"] = json!(v.invoice.map(|i| i.number));
    Ok(Json(j))
}

async fn update_order(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(form): ApiJson<OrderForm>,
) -> ApiResult {
    Ok(Json(order_json(
        &s.app.update_order(&who, id(&oid)?, &form).await?,
    )))
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
                file = Some((name, bytes.to_vec()));
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

fn upload_json(u: &UploadOutcome) -> Value {
    json!({
        "id": u.meta.id.to_string(),
        "kind": u.meta.kind.code(),
        "content_type": u.meta.content_type,
        "size": u.meta.size,
        "sm3": u.meta.sm3,
        "impressions": match &u.impressions { Some(Ok(n)) => json!(n), _ => Value::Null },
        "warning": match &u.impressions {
            Some(Ok(0)) => json!("未在印模采集表中找到红色印章，请确认已清晰加盖印章后重新扫描上传"),
            Some(Err(e)) => json!(format!("印模识别失败：{e}")),
            _ => Value::Null,
        },
    })
}

async fn upload(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    mp: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (kind, name, bytes) = read_upload(mp).await?;
    let out = s
        .app
        .add_upload(&who, id(&oid)?, kind, &name, bytes)
        .await?;
    Ok((StatusCode::CREATED, Json(upload_json(&out))))
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

async fn download_upload(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let (meta, bytes) = s.app.upload_bytes(&who, id(&uid)?).await?;
    Ok(attachment(&meta.content_type, &meta.file_name, bytes))
}

async fn submit(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    Ok(Json(order_json(&s.app.submit(&who, id(&oid)?).await?)))
}

async fn approve(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    Ok(Json(order_json(&s.app.approve(&who, id(&oid)?).await?)))
}

#[derive(Deserialize)]
struct RejectReq {
    comment: String,
}

async fn reject(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<RejectReq>,
) -> ApiResult {
    Ok(Json(order_json(
        &s.app.reject(&who, id(&oid)?, &r.comment).await?,
    )))
}

async fn cancel(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    Ok(Json(order_json(&s.app.cancel(&who, id(&oid)?).await?)))
}

async fn confirm_invoice(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(info): ApiJson<InvoiceInfo>,
) -> ApiResult {
    Ok(Json(order_json(
        &s.app.confirm_invoice(&who, id(&oid)?, &info).await?,
    )))
}

async fn invoice(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    let v = s.app.order_view(&who, id(&oid)?).await?;
    let inv = v.invoice.ok_or(AppError::NotFound)?;
    Ok(Json(serde_json::from_str(&inv.body).unwrap_or(Value::Null)))
}

#[derive(Deserialize)]
struct PayReq {
    channel: String,
}

async fn start_payment(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<PayReq>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (p, url) = s.app.start_payment(&who, id(&oid)?, &r.channel).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"payment_id": p.id.to_string(), "amount_fen": p.amount.0, "channel": p.channel, "cashier_url": url}),
        ),
    ))
}

/// A gateway's server-to-server notification: answered `success` as Alipay expects, or an error it will retry.
async fn payment_notify(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(channel): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match s.app.payment_notified(&channel, &body, &ip).await {
        Ok(_) => (StatusCode::OK, "success").into_response(),
        Err(e) => {
            tracing::warn!(%channel, error = %e, "payment notification refused");
            (crate::error::status(&e), "failure").into_response()
        }
    }
}

async fn sandbox_pay(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(pid): Path<String>,
) -> ApiResult {
    Ok(Json(order_json(&s.app.sandbox_pay(&who, id(&pid)?).await?)))
}

async fn refunds(State(s): State<AppState>, ApiCaller(who): ApiCaller) -> ApiResult {
    let due = s.app.refunds_due(&who).await?;
    Ok(Json(json!(due.iter().map(|p| json!({"payment_id": p.id.to_string(), "order_id": p.order_id.to_string(), "channel": p.channel, "amount_fen": p.amount.0, "gateway_txn": p.gateway_txn, "paid_at": p.paid_at})).collect::<Vec<_>>())))
}

/// A fresh challenge for the UKey to sign at 授权.
async fn authorize_challenge(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    let ch = s.app.authorize_challenge(&who, id(&oid)?).await?;
    Ok(Json(json!({
        "nonce": ch.nonce,
        "challenge": ch.text,
        "challenge_b64": base64::engine::general_purpose::STANDARD.encode(ch.text.as_bytes()),
        "expires_at": ch.expires_at,
    })))
}

/// The key's answer at 授权: its certificate and its signature over the challenge's bytes.
#[derive(Deserialize)]
struct AuthorizeReq {
    #[serde(default)]
    cert_pem: String,
    #[serde(default)]
    cert_der_b64: String,
    nonce: String,
    /// Signature over the challenge bytes (base64 or hex; DER or raw r‖s).
    signature: String,
}

async fn authorize(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<AuthorizeReq>,
) -> ApiResult {
    let der = if !r.cert_pem.trim().is_empty() {
        sealdesk_app::cert_der_from_pem(&r.cert_pem)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(r.cert_der_b64.trim())
            .map_err(|_| AppError::field("cert", "证书内容不是有效的 base64"))?
    };
    let sig = decode_signature(&r.signature)
        .ok_or_else(|| AppError::field("signature", "签名不是有效的 base64 或十六进制"))?;
    Ok(Json(order_json(
        &s.app
            .authorize(&who, id(&oid)?, &der, &r.nonce, &sig)
            .await?,
    )))
}

async fn make(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    Ok(Json(order_json(&s.app.make_seals(&who, id(&oid)?).await?)))
}

async fn seals(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    let seals = s.app.seals(&who, id(&oid)?).await?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Ok(Json(json!(seals
        .iter()
        .map(|m| json!({"seq": m.seq, "es_id": m.es_id, "name": m.name, "kind": m.kind.code(), "kind_label": m.kind.label(), "valid_start": m.valid_start, "valid_end": m.valid_end, "der_b64": b64(&m.der), "picture_png_b64": b64(&m.picture_png)}))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct Receipt {
    es_id: String,
    signature: String,
}

#[derive(Deserialize)]
struct WrittenReq {
    receipts: Vec<Receipt>,
}

async fn written(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
    ApiJson(r): ApiJson<WrittenReq>,
) -> ApiResult {
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
    Ok(Json(order_json(
        &s.app.confirm_written(&who, id(&oid)?, &receipts).await?,
    )))
}

async fn audit(
    State(s): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(oid): Path<String>,
) -> ApiResult {
    let entries = s.app.order_audit(&who, id(&oid)?).await?;
    Ok(Json(json!(entries
        .iter()
        .map(|e| json!({"seq": e.seq, "at": e.at, "actor": e.actor, "ip": e.ip, "action": e.action, "before_state": e.before_state, "after_state": e.after_state, "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null), "hash": e.hash}))
        .collect::<Vec<_>>())))
}
