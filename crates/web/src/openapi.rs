//! The OpenAPI 3.1 description of `/api/v1`, written by hand next to the routes it describes; a test checks
//! that every API route appears here.

use serde_json::{Value, json};

/// (method, path, summary, needs a session)
pub(crate) const OPERATIONS: &[(&str, &str, &str, bool)] = &[
    (
        "get",
        "/maker-certificate",
        "The platform's seal-maker certificate (PEM), for relying parties",
        false,
    ),
    (
        "post",
        "/auth/sms-code",
        "Send a sign-in code to a mobile number",
        false,
    ),
    (
        "post",
        "/auth/applicant",
        "Applicant sign-in with mobile and SMS code",
        false,
    ),
    (
        "post",
        "/auth/operator",
        "Operator sign-in with name and password",
        false,
    ),
    ("post", "/auth/sign-out", "End the session", true),
    (
        "get",
        "/demo/outbox",
        "The SMS outbox (only with --demo; otherwise not routed)",
        false,
    ),
    (
        "get",
        "/projects",
        "Projects (authorising units) the caller may use",
        true,
    ),
    (
        "get",
        "/orders",
        "Orders the caller may see (query: state, page, per_page)",
        true,
    ),
    ("post", "/orders", "Create a draft order (暂存待办)", true),
    (
        "get",
        "/orders/{id}",
        "One order with uploads, seals and invoice number",
        true,
    ),
    (
        "put",
        "/orders/{id}",
        "Edit a draft or rejected order",
        true,
    ),
    (
        "post",
        "/orders/{id}/uploads",
        "Upload a document (multipart: kind, file); JPG/PNG, PDF for the impression form, under 5 MB",
        true,
    ),
    ("get", "/uploads/{id}", "Download an upload", true),
    (
        "post",
        "/orders/{id}/submit",
        "Submit for review (提交)",
        true,
    ),
    (
        "post",
        "/orders/{id}/approve",
        "Approve (审核通过), operators",
        true,
    ),
    (
        "post",
        "/orders/{id}/reject",
        "Reject with a comment (审核不通过), operators",
        true,
    ),
    ("post", "/orders/{id}/cancel", "Cancel before payment", true),
    (
        "post",
        "/orders/{id}/invoice",
        "Confirm invoice details (申请开票)",
        true,
    ),
    (
        "get",
        "/orders/{id}/invoice",
        "The issued electronic invoice",
        true,
    ),
    (
        "post",
        "/orders/{id}/payments",
        "Start (or reuse the open) payment on a configured channel",
        true,
    ),
    (
        "post",
        "/payments/{channel}/notify",
        "Gateway payment notification (signed)",
        false,
    ),
    (
        "post",
        "/sandbox/payments/{id}/pay",
        "The sandbox cashier pays the owner's payment (only with --demo; otherwise not routed)",
        true,
    ),
    (
        "post",
        "/orders/{id}/authorize/challenge",
        "A fresh challenge for the UKey to sign at 授权",
        true,
    ),
    (
        "post",
        "/orders/{id}/authorize",
        "Bind the UKey (certificate + its signature over the challenge) and make the seals (授权)",
        true,
    ),
    (
        "get",
        "/finance/refunds",
        "Payments to refund: money that came for a cancelled or already paid order (administrators)",
        true,
    ),
    (
        "post",
        "/orders/{id}/make",
        "Retry making the seals (制章)",
        true,
    ),
    (
        "get",
        "/orders/{id}/seals",
        "The made seals, DER in base64",
        true,
    ),
    (
        "post",
        "/orders/{id}/written",
        "Confirm the seals are on the key, with the key's signatures",
        true,
    ),
    ("get", "/orders/{id}/audit", "The order's audit trail", true),
];

/// The document served at `/api/v1/openapi.json`.
pub(crate) fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, auth) in OPERATIONS {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": summary,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if *auth {
            op["security"] = json!([{"bearer": []}, {"cookie": []}]);
        }
        if path.contains("{id}") || path.contains("{channel}") {
            let name = if path.contains("{id}") {
                "id"
            } else {
                "channel"
            };
            op["parameters"] = json!([{"name": name, "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "SealDesk API", "version": env!("CARGO_PKG_VERSION"), "description": "电子印章在线办理平台 API. Ids are strings; money is integer fen. Sessions: `Authorization: Bearer <token>` from /auth/*, or the sd_session cookie with X-CSRF-Token on writes."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "sd_session"}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}
                }}
            }
        }
    })
}
