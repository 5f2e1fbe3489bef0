//! Extractors whose rejections are ours (axum's own answer `text/plain`; every error of
//! this API is `application/problem+json`), and the two every data endpoint shares: the
//! project a token may reach, and a body of readings.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use vigie_proto::readings::{self, BatchError, MAX_BODY_BYTES, ValidReading};
use vigie_store::ProjectKey;

use crate::AppState;
use crate::bearer::Bearer;
use crate::body::{self, BodyError};
use crate::problem::ApiError;

/// Path parameters, like `axum::extract::Path`, refused as a problem (an id that is
/// not UTF-8 once percent-decoded, for instance).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let reason: String = rejection.body_text().chars().take(200).collect();
        ApiError::BadRequest(format!("the path is not valid: {reason}"))
    }
}

/// Query parameters, like `axum::extract::Query`, refused as a problem that says which
/// parameter is wrong and why.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let reason = match &rejection {
            QueryRejection::FailedToDeserializeQueryString(error) => {
                std::error::Error::source(error)
                    .map_or_else(|| error.to_string(), ToString::to_string)
            }
            other => other.body_text(),
        };
        let reason: String = reason.chars().take(200).collect();
        // serde names a repeated parameter a "duplicate field"; say it in our words.
        if let Some(name) = reason
            .strip_prefix("duplicate field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            return ApiError::BadRequest(format!("query parameter {name} is repeated"));
        }
        ApiError::BadRequest(format!("invalid query string: {reason}"))
    }
}

/// Projects known to exist; projects are never deleted, so a hit needs no query.
#[derive(Default)]
pub struct KnownProjects(std::sync::RwLock<std::collections::HashSet<ProjectKey>>);

impl KnownProjects {
    fn contains(&self, project: &ProjectKey) -> bool {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(project)
    }

    fn insert(&self, project: ProjectKey) {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(project);
    }
}

/// The ML project a request addresses, once its token may reach it: scope `data`, and
/// the token's organisation. Another organisation's project answers exactly as a
/// missing one does.
pub struct ProjectAccess(pub ProjectKey);

impl FromRequestParts<AppState> for ProjectAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorise_project(parts, state, "data").await.map(Self)
    }
}

/// Like [`ProjectAccess`], for what changes a project's settings: scope `admin`.
pub struct ProjectAdmin(pub ProjectKey);

impl FromRequestParts<AppState> for ProjectAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorise_project(parts, state, "admin").await.map(Self)
    }
}

/// Like [`ProjectAccess`], for acting on anomaly events: scope `events`, and the
/// application that acts.
pub struct ProjectEvents {
    /// The project.
    pub project: ProjectKey,
    /// The application acting.
    pub client_id: String,
}

impl FromRequestParts<AppState> for ProjectEvents {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = Bearer::from_request_parts(parts, state)
            .await?
            .require_scope("events")?;
        let client_id = claims.client_id.clone();
        let project = project_of(parts, state, &claims.org).await?;
        Ok(Self { project, client_id })
    }
}

/// The project of the path (`org_id`, `project`), once the token has `scope` in that
/// organisation and the project exists.
async fn authorise_project(
    parts: &mut Parts,
    state: &AppState,
    scope: &'static str,
) -> Result<ProjectKey, ApiError> {
    let claims = Bearer::from_request_parts(parts, state)
        .await?
        .require_scope(scope)?;
    project_of(parts, state, &claims.org).await
}

/// The project of the path, if it is one of organisation `org` and exists.
async fn project_of(
    parts: &mut Parts,
    state: &AppState,
    org: &str,
) -> Result<ProjectKey, ApiError> {
    let Path(mut path) =
        Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state).await?;
    let not_found = || ApiError::NotFound("no such ML project in this organisation");
    let (Some(org_id), Some(code)) = (path.remove("org_id"), path.remove("project")) else {
        return Err(not_found());
    };
    let project = ProjectKey { org_id, code };
    if org != project.org_id {
        return Err(not_found());
    }
    if state.projects.contains(&project) {
        return Ok(project);
    }
    if !state.store.project_exists(&project).await? {
        return Err(not_found());
    }
    state.projects.insert(project.clone());
    Ok(project)
}

/// A pushed body of readings, all valid: JSON (gzip allowed), at most
/// [`MAX_BODY_BYTES`] after decompression, read within the body timeout.
pub struct ReadingsBody(pub Vec<ValidReading>);

impl FromRequest<AppState> for ReadingsBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        if body::media_type(&parts.headers) != "application/json" {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be application/json (set the Content-Type header)",
            ));
        }
        let gzip = content_encoding_is_gzip(&parts.headers)?;
        let deadline = state.body_read_timeout;
        let bytes = body::read_body(&parts.headers, body, MAX_BODY_BYTES, deadline)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => too_large(),
                BodyError::TooSlow => ApiError::BodyTooSlow(deadline),
                BodyError::Unreadable => {
                    ApiError::BadRequest("the request body could not be read".into())
                }
            })?;
        let bytes = if gzip {
            body::gunzip(&bytes, MAX_BODY_BYTES).map_err(|error| match error {
                BodyError::TooLarge => too_large(),
                _ => ApiError::BadRequest("the gzip body is corrupt".into()),
            })?
        } else {
            bytes.to_vec()
        };
        readings::parse_batch(&bytes)
            .map(Self)
            .map_err(batch_problem)
    }
}

fn content_encoding_is_gzip(headers: &axum::http::HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(encoding) if encoding == "identity" || encoding.is_empty() => Ok(false),
        Some(encoding) if encoding == "gzip" || encoding == "x-gzip" => Ok(true),
        Some(_) => Err(ApiError::UnsupportedMediaType(
            "unsupported Content-Encoding; use gzip or none",
        )),
    }
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "the body exceeds {MAX_BODY_BYTES} bytes (after decompression)"
    ))
}

fn batch_problem(error: BatchError) -> ApiError {
    let detail = error.to_string();
    match error {
        BatchError::Malformed(_) | BatchError::NotAnArray | BatchError::Empty => {
            ApiError::BadRequest(detail)
        }
        BatchError::TooManyReadings => ApiError::TooLarge(detail),
        BatchError::Invalid {
            invalid_readings,
            total_errors,
            errors,
        } => ApiError::InvalidReadings {
            detail,
            invalid_readings,
            total_errors,
            errors,
        },
    }
}
