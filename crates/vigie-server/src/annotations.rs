//! Annotations and interventions through the API, as the console makes them
//! (`vigie_console::annotations`): `GET …/annotations/{project}` (scope `data`), `POST`
//! to the same path and `DELETE …/annotations/{project}/{id}` (scope `events`; the
//! application is recorded as the author).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_console::annotations::{self, AnnotationError, MAX_LISTED};
use vigie_proto::Problem;
use vigie_proto::annotations::{Annotation, AnnotationsPage, NewAnnotation};

use crate::AppState;
use crate::extract::{Path, ProjectAccess, ProjectEvents, Query};
use crate::problem::{ApiError, ProjectProblems, QueryProblem, json_body};
use crate::query::AnnotationParams;

/// Annotation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(annotations_get, annotation_post))
        .routes(routes!(annotation_delete))
}

fn api_error(error: AnnotationError) -> ApiError {
    match error {
        AnnotationError::Invalid(message) => ApiError::BadRequest(message),
        AnnotationError::NotFound => ApiError::NotFound("no such annotation in this project"),
        AnnotationError::NoSuchProject => ApiError::NotFound("no such ML project"),
        AnnotationError::Storage(cause) => ApiError::internal(&cause),
    }
}

/// The project's annotations overlapping a range (all of them without one), by
/// start, at most 1,000.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/annotations/{project}", tag = "annotations",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), AnnotationParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The annotations", body = AnnotationsPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn annotations_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<AnnotationParams>,
) -> Result<Json<AnnotationsPage>, ApiError> {
    let from_us = params.from.map_or(i64::MIN, |date| date.0);
    let to_us = params.to.map_or(i64::MAX, |date| date.0);
    let found = state
        .store
        .list_annotations(&project, from_us, to_us, MAX_LISTED)
        .await?;
    Ok(Json(AnnotationsPage {
        annotations: found.iter().map(annotations::wire).collect(),
    }))
}

/// Annotates a time range of the whole project, a sensor, a series or an asset: a
/// maintenance, a planned stop (no event starts on what it covers while it lasts), a
/// process change or a note. Needs a token with scope `events`.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/annotations/{project}", tag = "annotations",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT")),
    request_body(content = NewAnnotation, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The annotation written", body = Annotation),
        (status = 400, description = "Malformed annotation", body = Problem, content_type = "application/problem+json"),
        ProjectProblems,
    ))]
async fn annotation_post(
    State(state): State<AppState>,
    ProjectEvents { project, client_id }: ProjectEvents,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Annotation>), ApiError> {
    let new: NewAnnotation = json_body(&body, "an annotation")?;
    let now = state.clock.now_ms();
    let written = annotations::create(&*state.store, &project, &client_id, new, now)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(annotations::wire(&written))))
}

/// Deletes an annotation. Needs a token with scope `events`.
#[utoipa::path(delete, path = "/v0/organisations/{org_id}/annotations/{project}/{annotation_id}", tag = "annotations",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"),
        ("annotation_id" = String, Path, description = "The annotation's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        ProjectProblems,
    ))]
async fn annotation_delete(
    State(state): State<AppState>,
    ProjectEvents { project, client_id }: ProjectEvents,
    Path(path): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now_ms();
    annotations::delete(&*state.store, &project, &client_id, &path.2, now)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}
