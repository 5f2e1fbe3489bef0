//! The organisation admins' pages: applications (create with the secret shown once and
//! a ready curl command, rotate with a grace period, disable) and the audit log. Only
//! users with the `admin` role reach them; every change is written to the audit log.

use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vigie_auth::people::Role;
use vigie_auth::provision::{self, DEFAULT_SECRET_ROTATION_GRACE_SECONDS};
use vigie_proto::time::Timestamp;
use vigie_store::Application;

use crate::session::SignedIn;
use crate::{ConsoleState, CsrfForm, csrf, internal, pages, record_audit, site_url};

/// Audit entries shown.
const AUDIT_SHOWN: u32 = 200;

/// The admin routes.
pub(crate) fn routes<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/admin/applications", get(applications).post(create))
        .route("/admin/applications/{id}/rotate", post(rotate))
        .route("/admin/applications/{id}/disable", post(disable))
        .route("/admin/audit", get(audit))
}

/// A signed-in user with the `admin` role.
pub(crate) struct Admin(pub(crate) SignedIn);

impl<S> FromRequestParts<S> for Admin
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if Role::parse(&signed_in.user.role).is_ok_and(|role| role >= Role::Admin) {
            Ok(Admin(signed_in))
        } else {
            let page = pages::forbidden(&signed_in, "This page is for your organisation's admins.");
            Err((StatusCode::FORBIDDEN, page).into_response())
        }
    }
}

/// The organisation's applications, or a failure page.
async fn org_applications(
    state: &ConsoleState,
    admin: &SignedIn,
) -> Result<Vec<Application>, Response> {
    state
        .store
        .list_applications(Some(&admin.user.org_id))
        .await
        .map_err(|error| internal(&error))
}

async fn applications(State(state): State<ConsoleState>, Admin(admin): Admin) -> Response {
    match org_applications(&state, &admin).await {
        Ok(apps) => applications_page(&admin, &apps, None).into_response(),
        Err(response) => response,
    }
}

/// The form creating an application.
#[derive(Deserialize)]
struct CreateForm {
    name: String,
    scope: String,
    #[serde(default)]
    csrf: String,
}

async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Admin(admin): Admin,
    Form(form): Form<CreateForm>,
) -> Response {
    if !csrf::allowed(&headers, &admin, &form.csrf) {
        return csrf::refused();
    }
    let created = match provision::grantable_scope(&form.scope) {
        Ok(scope) => {
            provision::create_application(
                &*state.store,
                &*state.clock,
                &admin.user.org_id,
                &form.name,
                &scope,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok((app, secret)) => {
            record_audit(&state, &admin.user, "application.create", &app.id).await;
            secret_page(
                &admin,
                &headers,
                &state,
                &app.id,
                &secret,
                "Application created",
            )
            .into_response()
        }
        Err(vigie_auth::Error::InvalidInput(reason)) => {
            match org_applications(&state, &admin).await {
                Ok(apps) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    applications_page(&admin, &apps, Some(&reason)),
                )
                    .into_response(),
                Err(response) => response,
            }
        }
        Err(error) => internal(&error),
    }
}

/// The application `id` if it is one of the admin's organisation, else a 404 page.
async fn own_application(
    state: &ConsoleState,
    admin: &SignedIn,
    id: &str,
) -> Result<Application, Response> {
    match provision::org_application(&*state.store, &admin.user.org_id, id).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => {
            let page = pages::not_found(admin, "Your organisation has no such application.");
            Err((StatusCode::NOT_FOUND, page).into_response())
        }
        Err(error) => Err(internal(&error)),
    }
}

async fn rotate(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Admin(admin): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf::allowed(&headers, &admin, &form.csrf) {
        return csrf::refused();
    }
    let app = match own_application(&state, &admin, &id).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let grace = DEFAULT_SECRET_ROTATION_GRACE_SECONDS;
    match provision::rotate_secret(&*state.store, &*state.clock, &app.id, grace).await {
        Ok(secret) => {
            record_audit(&state, &admin.user, "application.rotate_secret", &app.id).await;
            let title = "Secret rotated: the previous one keeps working for 24 hours";
            secret_page(&admin, &headers, &state, &app.id, &secret, title).into_response()
        }
        Err(error) => internal(&error),
    }
}

async fn disable(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Admin(admin): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf::allowed(&headers, &admin, &form.csrf) {
        return csrf::refused();
    }
    let app = match own_application(&state, &admin, &id).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let now = state.clock.now_ms();
    match state.store.disable_application(&app.id, now).await {
        Ok(()) => {
            record_audit(&state, &admin.user, "application.disable", &app.id).await;
            Redirect::to("/admin/applications").into_response()
        }
        Err(error) => internal(&error),
    }
}

async fn audit(State(state): State<ConsoleState>, Admin(admin): Admin) -> Response {
    match state.store.list_audit(&admin.user.org_id, AUDIT_SHOWN).await {
        Ok(entries) => pages::page(
            "Audit log",
            Some(&admin),
            html! {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "On" } } }
                    tbody {
                        @for entry in &entries {
                            tr {
                                td { (Timestamp::from_millis(entry.at).to_string()) }
                                td { (entry.actor) } td { (entry.action) } td { code { (entry.target) } }
                            }
                        }
                    }
                }
            },
        )
        .into_response(),
        Err(error) => internal(&error),
    }
}

fn applications_page(admin: &SignedIn, apps: &[Application], error: Option<&str>) -> Markup {
    let csrf = &admin.session.csrf_token;
    pages::page(
        "Applications",
        Some(admin),
        html! {
            p { "Applications are the credentials your gateways and scripts use to send readings ("
                code { "APPLICATION_ID" } " and " code { "APPLICATION_SECRET" } ")." }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "APPLICATION_ID" } th scope="col" { "Scope" }
                             th scope="col" { "Status" } th scope="col" { "Actions" } } }
                tbody {
                    @for app in apps {
                        tr {
                            td { (app.name) } td { code { (app.id) } } td { (app.scope) }
                            @if let Some(at) = app.disabled_at {
                                td { "disabled " (Timestamp::from_millis(at).to_string()) } td {}
                            } @else {
                                td { "enabled" }
                                td {
                                    form.inline method="post" action={ "/admin/applications/" (app.id) "/rotate" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" aria-label={ "Rotate the secret of " (app.name) } { "Rotate secret" }
                                    }
                                    form.inline method="post" action={ "/admin/applications/" (app.id) "/disable" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" aria-label={ "Disable " (app.name) } { "Disable" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "New application" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/admin/applications" {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { "Name" }
                input #name name="name" required maxlength="200";
                label for="scope" { "Scope" }
                select #scope name="scope" {
                    option value="data" selected { "data: send and read readings" }
                    option value="data events" { "data and events: also act on events, write annotations" }
                    option value="admin" { "admin: manage assets and applications" }
                    option value="data events admin" { "data, events and admin" }
                }
                button type="submit" { "Create application" }
            }
            p { a href="/admin/users" { "Users" } " · " a href="/admin/audit" { "Audit log" } }
        },
    )
}

/// The page showing a new secret, once, with the command that gets a token with it.
fn secret_page(
    admin: &SignedIn,
    headers: &HeaderMap,
    state: &ConsoleState,
    app_id: &str,
    secret: &SecretString,
    title: &str,
) -> Markup {
    let site = site_url(headers, state);
    let secret = secret.expose_secret();
    let curl = format!(
        "curl -X POST '{site}/v0/oauth2token' -u'{app_id}:{secret}' -d grant_type=client_credentials"
    );
    pages::page(
        title,
        Some(admin),
        html! {
            p.ok role="status" { "Copy the secret now: it is stored only as a hash and cannot be shown again." }
            label for="app-id" { "APPLICATION_ID" }
            input #app-id readonly value=(app_id);
            label for="secret" { "APPLICATION_SECRET" }
            input #secret readonly value=(secret);
            label for="curl" { "Get a token" }
            textarea #curl readonly rows="3" cols="80" { (curl) }
            p { a href="/admin/applications" { "Back to the applications" } }
        },
    )
}
