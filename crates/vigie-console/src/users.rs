//! People of an organisation, for its admins (`/admin/users`): invite someone with a
//! role (a one-time link to pass on, valid for 7 days), change a role, disable or
//! enable a user; and the invitation page (`/invite/{token}`) where the invited person
//! chooses their password. Every change is audited.

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vigie_auth::people;
use vigie_proto::time::Timestamp;
use vigie_store::User;

use crate::admin::Admin;
use crate::session::{self, LOGIN_CSRF_COOKIE, SignedIn};
use crate::{ConsoleState, csrf, internal, pages, record_audit, site_url};

const ROLES: [&str; 3] = ["viewer", "engineer", "admin"];

/// The routes.
pub(crate) fn routes<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/{id}", post(change))
        .route("/invite/{token}", get(invitation_page).post(accept))
}

async fn list(State(state): State<ConsoleState>, Admin(admin): Admin) -> Response {
    match state.store.list_users(&admin.user.org_id).await {
        Ok(users) => users_page(&admin, &users, None).into_response(),
        Err(error) => internal(&error),
    }
}

fn users_page(admin: &SignedIn, users: &[User], note: Option<Result<&str, &str>>) -> Markup {
    let csrf = &admin.session.csrf_token;
    pages::page(
        "Users",
        Some(admin),
        html! {
            @match note {
                Some(Ok(text)) => p.ok role="status" { (text) },
                Some(Err(text)) => p.error role="alert" { (text) },
                None => {},
            }
            table {
                thead { tr { th scope="col" { "E-mail address" } th scope="col" { "Role and status" } } }
                tbody {
                    @for user in users {
                        tr {
                            td { (user.email) }
                            td {
                                form.inline method="post" action={ "/admin/users/" (user.id) } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    label.inline for={ "role-" (user.id) } { "Role of " (user.email) }
                                    select id={ "role-" (user.id) } name="role" {
                                        @for role in ROLES {
                                            option value=(role) selected[user.role == role] { (role) }
                                        }
                                    }
                                    label.inline { input type="checkbox" name="enabled" value="true" checked[user.disabled_at.is_none()]; " enabled" }
                                    button type="submit" { "Save" }
                                }
                                @if let Some(at) = user.disabled_at { " disabled " (Timestamp::from_millis(at).to_string()) }
                            }
                        }
                    }
                }
            }
            h2 { "Invite someone" }
            form method="post" action="/admin/users/invite" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail address" }
                input #email type="email" name="email" required;
                label for="role" { "Role" }
                select #role name="role" { @for role in ROLES { option value=(role) { (role) } } }
                button type="submit" { "Create the invitation link" }
            }
        },
    )
}

/// The invitation form.
#[derive(Deserialize)]
struct InviteForm {
    email: String,
    role: String,
    #[serde(default)]
    csrf: String,
}

async fn invite(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Admin(admin): Admin,
    Form(form): Form<InviteForm>,
) -> Response {
    if !csrf::allowed(&headers, &admin, &form.csrf) {
        return csrf::refused();
    }
    let user = &admin.user;
    let made = people::invite(
        &*state.store,
        &*state.clock,
        &user.org_id,
        &user.email,
        &form.email,
        &form.role,
    )
    .await;
    match made {
        Ok(token) => {
            record_audit(
                &state,
                &admin.user,
                "user.invite",
                &form.email.trim().to_lowercase(),
            )
            .await;
            let link = format!(
                "{}/invite/{}",
                site_url(&headers, &state),
                token.expose_secret()
            );
            pages::page(
                "Invitation created",
                Some(&admin),
                html! {
                    p.ok role="status" { "Send this link to " strong { (form.email) } ". It works once, for 7 days, and cannot be shown again." }
                    label for="link" { "Invitation link" }
                    input #link readonly value=(link);
                    p { a href="/admin/users" { "Back to the users" } }
                },
            )
            .into_response()
        }
        Err(vigie_auth::Error::InvalidInput(reason)) => refused(&state, &admin, &reason).await,
        Err(error) => internal(&error),
    }
}

/// The users page with a refusal.
async fn refused(state: &ConsoleState, admin: &SignedIn, reason: &str) -> Response {
    match state.store.list_users(&admin.user.org_id).await {
        Ok(users) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            users_page(admin, &users, Some(Err(reason))),
        )
            .into_response(),
        Err(error) => internal(&error),
    }
}

/// A change of role or status.
#[derive(Deserialize)]
struct ChangeForm {
    role: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    csrf: String,
}

async fn change(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Admin(admin): Admin,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Response {
    if !csrf::allowed(&headers, &admin, &form.csrf) {
        return csrf::refused();
    }
    let enabled = form.enabled.is_some();
    match people::set_role(
        &*state.store,
        &*state.clock,
        &admin.user,
        &id,
        &form.role,
        enabled,
    )
    .await
    {
        Ok(()) => {
            let action = if enabled {
                "user.set_role"
            } else {
                "user.disable"
            };
            record_audit(&state, &admin.user, action, &id).await;
            Redirect::to("/admin/users").into_response()
        }
        Err(vigie_auth::Error::InvalidInput(reason)) => refused(&state, &admin, &reason).await,
        Err(vigie_auth::Error::Storage(vigie_store::Error::NotFound { .. })) => (
            StatusCode::NOT_FOUND,
            pages::not_found(&admin, "Your organisation has no such user."),
        )
            .into_response(),
        Err(error) => internal(&error),
    }
}

fn invitation_form(email: &str, csrf: &str, error: Option<&str>) -> Markup {
    pages::page(
        "Join Vigie",
        None,
        html! {
            p { "Choose the password of " strong { (email) } "." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" {
                input type="hidden" name="csrf" value=(csrf);
                label for="password" { "Password (12 characters at least)" }
                input #password type="password" name="password" autocomplete="new-password" minlength="12" required;
                button type="submit" { "Create my account" }
            }
        },
    )
}

fn gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        pages::message(
            "Invitation",
            "This invitation has been used or has expired: ask your admin for a new one.",
        ),
    )
        .into_response()
}

async fn invitation_page(
    State(state): State<ConsoleState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Response {
    match people::invitation(&*state.store, &*state.clock, &token).await {
        Ok(Some(invitation)) => {
            let (jar, csrf) = session::login_csrf(jar, state.secure_cookies);
            (jar, invitation_form(&invitation.email, &csrf, None)).into_response()
        }
        Ok(None) => gone(),
        Err(error) => internal(&error),
    }
}

/// The password form of an invitation.
#[derive(Deserialize)]
struct AcceptForm {
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn accept(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(token): Path<String>,
    Form(form): Form<AcceptForm>,
) -> Response {
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if !csrf::origin_allowed(&headers) || !csrf::tokens_match(expected.as_deref(), &form.csrf) {
        return csrf::refused();
    }
    let password = SecretString::from(form.password);
    match people::accept_invitation(&*state.store, &*state.clock, &token, &password).await {
        Ok(user) => {
            record_audit(&state, &user, "user.join", &user.email).await;
            Redirect::to("/login").into_response()
        }
        Err(vigie_auth::Error::InvalidInput(reason)) => {
            match people::invitation(&*state.store, &*state.clock, &token).await {
                Ok(Some(invitation)) => {
                    let (jar, csrf) = session::login_csrf(jar, state.secure_cookies);
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        jar,
                        invitation_form(&invitation.email, &csrf, Some(&reason)),
                    )
                        .into_response()
                }
                Ok(None) => gone(),
                Err(error) => internal(&error),
            }
        }
        Err(error) => internal(&error),
    }
}
