//! Operations endpoints: liveness, readiness (the store answers) and metrics.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::Problem;

use crate::AppState;
use crate::problem::ApiError;

/// Operations routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz_get))
        .routes(routes!(readyz_get))
        .routes(routes!(metrics_get))
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Object)))]
async fn healthz_get() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Readiness: the store answers within two seconds.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Storage unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn readyz_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = &state.store;
    match tokio::time::timeout(std::time::Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => {
            Ok(axum::Json(json!({"status": "ready", "storage": store.backend()})).into_response())
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: storage unreachable");
            Err(ApiError::Unavailable("storage is unreachable"))
        }
        Err(_) => Err(ApiError::Unavailable("storage did not answer within 2 s")),
    }
}

/// Prometheus metrics, OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "application/openmetrics-text")))]
async fn metrics_get(State(state): State<AppState>) -> Response {
    state.metrics.detectors_resident(state.pipeline.resident());
    state.metrics.stale_retries(state.pipeline.stale_retries());
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
