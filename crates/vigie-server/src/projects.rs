//! `GET /v0/organisations/{ORGANISATION_ID}/projects`: the ML projects a token may push
//! to. A token sees only its own organisation; any other id answers exactly as an
//! unknown one does.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use vigie_proto::ProjectSummary;

use crate::AppState;
use crate::bearer::Bearer;
use crate::problem::ApiError;

/// Project routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v0/organisations/{org_id}/projects", get(projects_get))
}

async fn projects_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(org_id): Path<String>,
) -> Result<axum::Json<Vec<ProjectSummary>>, ApiError> {
    let claims = bearer.require_scope("data")?;
    if claims.org != org_id {
        return Err(ApiError::not_found("no such organisation"));
    }
    let projects = state.store.list_projects(Some(&org_id)).await?;
    Ok(axum::Json(
        projects
            .into_iter()
            .map(|p| ProjectSummary {
                code: p.code,
                created_at: vigie_auth::clock::iso8601_millis(p.created_at),
            })
            .collect(),
    ))
}
