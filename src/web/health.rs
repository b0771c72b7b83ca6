//! Liveness, readiness and metrics endpoints.
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::startup::AppState;

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

/// Prometheus text exposition.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Registers the endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
