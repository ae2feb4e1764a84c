//! Operations surface: request ids, Prometheus metrics, and the `/metrics` endpoint.
//!
//! Every request gets an id (the proxy's `X-Request-Id` when it is a sane token, else a fresh one), echoed in the
//! response and carried by the request's tracing span, so a JSON log line can be matched to a client's report.
//! Request counts and latencies are recorded per route pattern (`/api/v1/orders/{id}`, never the raw path, so
//! the number of series stays bounded). Business figures (orders per state, payments, seals made, the SMS
//! outbox) are read from the database at scrape time: with several instances, each reports the same
//! platform-wide numbers instead of its own share.
//!
//! `/metrics` is served on its own listener (`serve --metrics-listen`), not on the public port: the reverse
//! proxy never exposes it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sealdesk_app::App;

/// The request-id header, read from a trusted proxy and always set on the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets in seconds: fine below 50 ms, where the list and detail targets are.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(r) => {
                    let handle = r.handle();
                    // Fails only if another recorder is installed; then this handle renders nothing, which the
                    // metrics test would show.
                    let _ = metrics::set_global_recorder(r);
                    handle
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// A new request id: a per-process random prefix (instances differ) and a counter. Ids need to be unique, not
/// secret.
fn fresh_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish() as u32
    });
    format!("{prefix:08x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn sane_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    ((1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| s.to_owned())
}

/// Middleware: request id, a span carrying it, and the request's count and latency.
pub async fn track(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane_id)
        .unwrap_or_else(fresh_id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    metrics::gauge!("http_requests_in_flight").increment(1.0);
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    metrics::gauge!("http_requests_in_flight").decrement(1.0);
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// `GET /metrics`: the process's request metrics and the platform's figures, in Prometheus text format.
async fn render(State((app, handle)): State<(App, PrometheusHandle)>) -> Response {
    match app.store().stats().await {
        Ok(s) => {
            for (state, n) in &s.orders_by_state {
                metrics::gauge!("sealdesk_orders", "state" => state.clone()).set(*n as f64);
            }
            metrics::gauge!("sealdesk_payments_paid").set(s.payments_paid as f64);
            metrics::gauge!("sealdesk_seals_made").set(s.seals_made as f64);
            metrics::gauge!("sealdesk_sms_outbox").set(s.sms_outbox as f64);
            metrics::gauge!("sealdesk_audit_entries").set(s.audit_entries as f64);
            metrics::gauge!("sealdesk_prechecks_due").set(s.prechecks_due as f64);
            metrics::gauge!("sealdesk_database_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database figures");
            metrics::gauge!("sealdesk_database_up").set(0.0);
        }
    }
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The metrics listener's router: `/metrics` only.
pub fn router(app: App) -> axum::Router {
    let handle = install();
    axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .with_state((app, handle))
}

/// Serves `/metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}
