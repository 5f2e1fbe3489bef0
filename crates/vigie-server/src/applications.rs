//! An organisation's API applications through the API, as its admins manage them in
//! the console: list, create (the secret given once), rotate a secret with a grace
//! period, disable. Needs a token with scope `admin` of that organisation; every
//! change goes in the organisation's audit log with the acting application.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_auth::provision::{
    self, DEFAULT_SECRET_ROTATION_GRACE_SECONDS, MAX_SECRET_ROTATION_GRACE_SECONDS,
};
use vigie_console::audit;
use vigie_proto::Problem;
use vigie_proto::applications::{
    ApplicationInfo, ApplicationSecret, NewApplicationRequest, RotateSecretRequest,
};
use vigie_proto::time::Timestamp;
use vigie_store::Application;

use crate::AppState;
use crate::bearer::Bearer;
use crate::extract::Path;
use crate::problem::{ApiError, OrgAdminProblems, json_body};

/// Application routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(applications_get, application_post))
        .routes(routes!(application_rotate))
        .routes(routes!(application_disable))
}

fn info(app: &Application) -> ApplicationInfo {
    ApplicationInfo {
        id: app.id.clone(),
        name: app.name.clone(),
        scope: app.scope.clone(),
        created: Timestamp::from_millis(app.created_at).to_string(),
        disabled: app
            .disabled_at
            .map(|at| Timestamp::from_millis(at).to_string()),
    }
}

/// The acting application, once its token has scope `admin` in organisation `org_id`.
fn org_admin(bearer: Bearer, org_id: &str) -> Result<String, ApiError> {
    let claims = bearer.require_scope("admin")?;
    if claims.org != org_id {
        return Err(ApiError::NotFound("no such organisation"));
    }
    Ok(claims.client_id)
}

/// `app_id` if it is one of the organisation's applications; any other id answers
/// alike, whether it exists elsewhere or not.
async fn own(state: &AppState, org_id: &str, app_id: &str) -> Result<Application, ApiError> {
    provision::org_application(&*state.store, org_id, app_id)
        .await
        .map_err(auth_error)?
        .ok_or(ApiError::NotFound(
            "no such application in this organisation",
        ))
}

fn auth_error(error: vigie_auth::Error) -> ApiError {
    match error {
        vigie_auth::Error::InvalidInput(reason) => ApiError::BadRequest(reason),
        other => ApiError::internal(&other),
    }
}

/// The organisation's applications, without their secrets.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/applications", tag = "applications",
    params(("org_id" = String, Path, description = "ORGANISATION_ID")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The applications", body = Vec<ApplicationInfo>),
        OrgAdminProblems,
    ))]
async fn applications_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(org_id): Path<String>,
) -> Result<Json<Vec<ApplicationInfo>>, ApiError> {
    org_admin(bearer, &org_id)?;
    let apps = state.store.list_applications(Some(&org_id)).await?;
    Ok(Json(apps.iter().map(info).collect()))
}

/// Creates an application; its secret is in this answer only. Needs scope `admin`.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/applications", tag = "applications",
    params(("org_id" = String, Path, description = "ORGANISATION_ID")),
    request_body(content = NewApplicationRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The application and its secret", body = ApplicationSecret,
            headers(("Cache-Control" = String, description = "no-store: the secret must not be cached"))),
        (status = 400, description = "Malformed request, name or scope", body = Problem, content_type = "application/problem+json"),
        OrgAdminProblems,
    ))]
async fn application_post(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(org_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<
    (
        StatusCode,
        [(&'static str, &'static str); 1],
        Json<ApplicationSecret>,
    ),
    ApiError,
> {
    let actor = org_admin(bearer, &org_id)?;
    let asked: NewApplicationRequest = json_body(&body, "an application")?;
    let scope = provision::grantable_scope(&asked.scope).map_err(auth_error)?;
    let (app, secret) =
        provision::create_application(&*state.store, &*state.clock, &org_id, &asked.name, &scope)
            .await
            .map_err(auth_error)?;
    audit(
        &*state.store,
        &org_id,
        &actor,
        "application.create",
        &app.id,
        state.clock.now_ms(),
    )
    .await;
    let answer = ApplicationSecret {
        application: info(&app),
        client_secret: secret.expose_secret().to_owned(),
    };
    Ok((
        StatusCode::CREATED,
        [("cache-control", "no-store")],
        Json(answer),
    ))
}

/// Gives an application a new secret, in this answer only; the previous one keeps
/// working for the grace period. Needs scope `admin`.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/applications/{app_id}/rotate", tag = "applications",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("app_id" = String, Path, description = "APPLICATION_ID")),
    request_body(content = RotateSecretRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The application and its new secret", body = ApplicationSecret,
            headers(("Cache-Control" = String, description = "no-store: the secret must not be cached"))),
        (status = 400, description = "Malformed request or grace period", body = Problem, content_type = "application/problem+json"),
        OrgAdminProblems,
        (status = 409, description = "The application is disabled", body = Problem, content_type = "application/problem+json"),
    ))]
async fn application_rotate(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, app_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<([(&'static str, &'static str); 1], Json<ApplicationSecret>), ApiError> {
    let actor = org_admin(bearer, &org_id)?;
    let asked: RotateSecretRequest = if body.is_empty() {
        RotateSecretRequest::default()
    } else {
        json_body(&body, "a rotation")?
    };
    let grace = asked
        .grace_seconds
        .unwrap_or(DEFAULT_SECRET_ROTATION_GRACE_SECONDS);
    if grace > MAX_SECRET_ROTATION_GRACE_SECONDS {
        return Err(ApiError::BadRequest(format!(
            "graceSeconds must be at most {MAX_SECRET_ROTATION_GRACE_SECONDS} (a week)"
        )));
    }
    let app = own(&state, &org_id, &app_id).await?;
    if app.disabled_at.is_some() {
        return Err(ApiError::Conflict("the application is disabled".into()));
    }
    let secret = provision::rotate_secret(&*state.store, &*state.clock, &app.id, grace)
        .await
        .map_err(auth_error)?;
    let now = state.clock.now_ms();
    audit(
        &*state.store,
        &org_id,
        &actor,
        "application.rotate_secret",
        &app.id,
        now,
    )
    .await;
    let answer = ApplicationSecret {
        application: info(&app),
        client_secret: secret.expose_secret().to_owned(),
    };
    Ok(([("cache-control", "no-store")], Json(answer)))
}

/// Disables an application at once: its tokens stop working, its refresh tokens are
/// revoked. An application cannot disable itself. Needs scope `admin`.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/applications/{app_id}/disable", tag = "applications",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("app_id" = String, Path, description = "APPLICATION_ID")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Disabled (or already was)"),
        OrgAdminProblems,
        (status = 409, description = "The application would disable itself", body = Problem, content_type = "application/problem+json"),
    ))]
async fn application_disable(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, app_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let actor = org_admin(bearer, &org_id)?;
    let app = own(&state, &org_id, &app_id).await?;
    if app.id == actor {
        return Err(ApiError::Conflict(
            "an application cannot disable itself; use another admin application or the console"
                .into(),
        ));
    }
    if app.disabled_at.is_none() {
        let now = state.clock.now_ms();
        state.store.disable_application(&app.id, now).await?;
        audit(
            &*state.store,
            &org_id,
            &actor,
            "application.disable",
            &app.id,
            now,
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT)
}
