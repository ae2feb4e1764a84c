//! The applicant portal (申请人): sign-in with an SMS code, the order list, the order form, and one page per
//! order that walks 申请 → 审核 → 支付 → 授权 → 制章, with the files that belong to it.

mod files;
mod form;
mod login;
mod order;
mod pay;
mod signature;
mod start;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) use login::signed_in;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::sign_in))
        .route("/login/code", post(login::send_code))
        .route("/login/ukey", post(login::sign_in_ukey))
        .route("/logout", post(login::sign_out))
        .route("/orders", get(order::list))
        .route("/orders/new", get(form::new_page).post(form::create))
        .route("/orders/{id}", get(order::show))
        .route("/orders/{id}/edit", get(form::edit_page).post(form::edit))
        .route(
            "/orders/{id}/uploads",
            post(files::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::UPLOAD_BODY_LIMIT,
            )),
        )
        .route(
            "/orders/{id}/submit",
            post(|s, c, p, b| order::step(s, c, p, b, order::Step::Submit)),
        )
        .route(
            "/orders/{id}/cancel",
            post(|s, c, p, b| order::step(s, c, p, b, order::Step::Cancel)),
        )
        .route(
            "/orders/{id}/invoice",
            post(order::confirm_invoice).get(files::invoice),
        )
        .route("/orders/{id}/invoice.pdf", get(files::invoice_pdf))
        .route("/orders/{id}/pay", post(order::pay))
        .route("/orders/{id}/messages", post(order::post_message))
        .route("/orders/{id}/payments/{pid}", get(pay::cashier))
        .route("/orders/{id}/payments/{pid}/qr.svg", get(pay::qr))
        .route("/orders/{id}/authorize", post(order::authorize))
        .route("/orders/{id}/written", post(order::written))
        .route(
            "/orders/{id}/make",
            post(|s, c, p, b| order::step(s, c, p, b, order::Step::Make)),
        )
        .route("/orders/{id}/impression-form", get(files::impression_form))
        .route(
            "/orders/{id}/impression-form.pdf",
            get(files::impression_form_pdf),
        )
        .route("/orders/{id}/cutouts/{index}", get(files::cutout))
        .route("/orders/{id}/cutouts/confirm", post(order::confirm_cutouts))
        .route(
            "/orders/{id}/signature",
            get(signature::show).post(signature::save),
        )
        .route("/orders/{id}/signature.png", get(signature::png))
        .route("/orders/{id}/seals/{seq}", get(files::seal_file))
        .route("/orders/{id}/seals/{seq}/picture", get(files::seal_picture))
        .route("/uploads/{id}", get(files::upload_file))
}
