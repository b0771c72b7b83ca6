//! Liveness, readiness and metrics endpoints.
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

/// Process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Database reachable and every migration applied.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ready().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "not_ready", "reason": reason}))
        }
    }
}

/// Prometheus text exposition. The `sync_*` gauges are refreshed from the queue first (one
/// grouped query), so they match the ops console; if that fails the last values are served.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = crate::sync::ops::refresh_metrics(&state).await {
        tracing::warn!(error = %e, "sync gauges not refreshed");
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Registers the endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
