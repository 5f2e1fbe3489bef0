//! `GET /v0/organisations/{ORGANISATION_ID}/projects`: the ML projects a token may push
//! to. A token sees only its own organisation; any other id answers exactly as an
//! unknown one does.

use crate::extract::Path;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::{Problem, ProjectSummary};

use crate::AppState;
use crate::bearer::Bearer;
use crate::problem::ApiError;

/// Project routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(projects_get))
}

/// The ML projects of the token's organisation.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/projects", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The projects", body = Vec<ProjectSummary>),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks scope data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation for this token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn projects_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(org_id): Path<String>,
) -> Result<axum::Json<Vec<ProjectSummary>>, ApiError> {
    let claims = bearer.require_scope("data")?;
    if claims.org != org_id {
        return Err(ApiError::NotFound("no such organisation"));
    }
    let projects = state.store.list_projects(Some(&org_id)).await?;
    Ok(axum::Json(
        projects
            .into_iter()
            .map(|p| ProjectSummary {
                code: p.code,
                created_at: vigie_proto::time::Timestamp::from_millis(p.created_at).to_string(),
            })
            .collect(),
    ))
}
