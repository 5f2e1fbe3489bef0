//! Operations endpoints: liveness, readiness (the store answers) and metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;

/// Operations routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz_get))
        .route("/readyz", get(readyz_get))
        .route("/metrics", get(metrics_get))
}

/// `GET /healthz`: the process serves HTTP.
async fn healthz_get() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the store answers within two seconds.
async fn readyz_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = &state.store;
    match tokio::time::timeout(std::time::Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => {
            Ok(axum::Json(json!({"status": "ready", "storage": store.backend()})).into_response())
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: storage unreachable");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is unreachable",
            ))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage did not answer within 2 s",
        )),
    }
}

/// `GET /metrics`: Prometheus / OpenMetrics text.
async fn metrics_get(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
