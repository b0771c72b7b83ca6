//! Sync health for the ops console (JSON): per integration lag, queue depth, failures, dead
//! tasks with their last error, and the retry button's endpoint. Ops sign-in required;
//! unsafe methods need `X-CSRF-Token` like the rest of the session API.
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;
use crate::store::tasks;
use crate::sync::ops;
use crate::web::ApiError;
use crate::web::auth::OpsUser;

/// Routes under `/api/v1/ops/sync` (register before the `/api/v1` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/ops/sync")
            .wrap(from_fn(crate::web::csrf::require_header))
            .route("", web::get().to(overview))
            .route("/integrations/{id}", web::get().to(one))
            .route("/alerts", web::get().to(alerts))
            .route("/tasks/{id}/retry", web::post().to(retry)),
    );
}

/// Every integration's sync health.
async fn overview(state: web::Data<AppState>, _ops: OpsUser) -> Result<HttpResponse, ApiError> {
    let _ = ops::refresh_metrics(&state).await;
    Ok(HttpResponse::Ok().json(json!({ "integrations": ops::overview(&state, None).await? })))
}

/// The current sync alerts (disconnections first): one per incident.
async fn alerts(state: web::Data<AppState>, _ops: OpsUser) -> Result<HttpResponse, ApiError> {
    let current = crate::sync::health::alerts(&state).await?;
    Ok(HttpResponse::Ok().json(json!({ "alerts": current })))
}

/// One integration's sync health.
async fn one(
    state: web::Data<AppState>,
    _ops: OpsUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut all = ops::overview(&state, Some(id)).await?;
    match all.pop() {
        Some(i) => Ok(HttpResponse::Ok().json(i)),
        None => Err(ApiError::NotFound(format!("integration {id}"))),
    }
}

/// Puts a dead task back in the queue with fresh attempts.
async fn retry(
    state: web::Data<AppState>,
    ops_user: OpsUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let db = state.store.db();
    let task = tasks::get(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task {id}")))?;
    if !tasks::retry_dead(db, id).await? {
        return Err(ApiError::Conflict {
            message: format!("task {id} is {} and cannot be retried", task.state),
            allowed: vec![],
        });
    }
    tracing::info!(task_id = id, by = %ops_user.0.email, "dead task retried");
    Ok(HttpResponse::Ok().json(json!({ "id": id, "state": "pending" })))
}
