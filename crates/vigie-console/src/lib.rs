//! Vigie's web console, served by `vigie serve` under `/`: server-rendered HTML (maud),
//! no JavaScript needed to sign in.
//!
//! So far: signing in (`/login`, form fields `email` and `password`), signing out,
//! changing one's password, and the organisation's projects. Sessions are server-side
//! (`vigie_auth::people`); the cookie is `HttpOnly`, `SameSite=Lax`, `Secure` when the
//! service is reached over HTTPS, and carries a new id at each sign-in. Every
//! state-changing request needs the session's synchronizer token (form field `csrf`)
//! and, when the browser sends one, an `Origin` of this site.

mod admin;
pub mod annotations;
pub mod chart;
mod csrf;
mod event_page;
pub mod explorer;
mod interventions;
pub mod lifecycle;
pub mod m4;
mod pages;
mod session;
mod users;
mod viewer;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Form, FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vigie_auth::clock::Clock;
use vigie_auth::people::{self, SignIn, SignInOutcome, SignInThrottle};
use vigie_store::{Store, User};

use crate::session::{DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SignedIn};

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    /// The storage.
    pub store: Arc<dyn Store>,
    /// The clock sessions are timed with.
    pub clock: Arc<dyn Clock>,
    /// Sign-in throttling.
    pub throttle: Arc<SignInThrottle>,
    /// Whether cookies get `Secure` (the service is reached over HTTPS).
    pub secure_cookies: bool,
}

/// The console's routes, for a router whose state holds a [`ConsoleState`].
pub fn router<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/projects/{code}", get(project_explorer))
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
        .merge(admin::routes())
        .merge(event_page::routes())
        .merge(viewer::routes())
        .merge(interventions::routes())
        .merge(users::routes())
}

/// Records what a user did in their organisation's audit log; a failure to record is
/// logged, the action stands.
pub(crate) async fn record_audit(state: &ConsoleState, user: &User, action: &str, target: &str) {
    let now = state.clock.now_ms();
    audit(
        &*state.store,
        &user.org_id,
        &user.email,
        action,
        target,
        now,
    )
    .await;
}

/// Records what `actor` (a user's e-mail address or an application id) did in
/// organisation `org_id`'s audit log, for the console and the API alike; a failure to
/// record is logged, the action stands.
pub async fn audit(
    store: &dyn Store,
    org_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    now_ms: i64,
) {
    if let Err(error) = store
        .record_audit(org_id, actor, action, target, now_ms)
        .await
    {
        tracing::error!(%error, action, "an audit entry could not be written");
    }
}

/// This site's address as the browser reached it (`https` when cookies are secure),
/// for links and commands shown to users.
pub(crate) fn site_url(headers: &HeaderMap, state: &ConsoleState) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("HOST");
    let scheme = if state.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A page, or a failure logged and shown without its cause.
fn internal(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "console request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message(
            "Something went wrong",
            "The server could not complete the request.",
        ),
    )
        .into_response()
}

async fn home(State(state): State<ConsoleState>, signed_in: SignedIn) -> Response {
    match state
        .store
        .list_projects(Some(&signed_in.user.org_id))
        .await
    {
        Ok(projects) => pages::home(&signed_in, &projects).into_response(),
        Err(error) => internal(&error),
    }
}

/// The explorer's range and filter.
#[derive(Deserialize)]
struct ExplorerQuery {
    from: Option<String>,
    to: Option<String>,
    sensor: Option<String>,
    value: Option<String>,
}

/// Events the explorer reads at most for one range.
const EXPLORER_EVENTS: u32 = 10_000;
/// Events it lists at most.
const EXPLORER_LISTED: usize = 200;
/// Its default range: a week.
const DEFAULT_RANGE_US: i64 = 7 * 86_400_000_000;

async fn project_explorer(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(code): Path<String>,
    Query(query): Query<ExplorerQuery>,
    uri: axum::http::Uri,
) -> Response {
    use vigie_proto::time::Timestamp;
    let project = vigie_store::ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code: code.clone(),
    };
    match state.store.project_exists(&project).await {
        Ok(true) => {}
        Ok(false) => {
            let page = pages::not_found(&signed_in, "Your organisation has no such ML project.");
            return (StatusCode::NOT_FOUND, page).into_response();
        }
        Err(error) => return internal(&error),
    }
    let span = match state.store.project_span(&project).await {
        Ok(span) => span,
        Err(error) => return internal(&error),
    };
    let parse = |date: &Option<String>| date.as_deref().and_then(|d| Timestamp::parse(d).ok());
    // By default, the week up to the hour after the latest reading (or now).
    const HOUR_US: i64 = 3_600_000_000;
    let to_us = parse(&query.to).map_or_else(
        || {
            let latest = span
                .readings
                .map_or(state.clock.now_ms() * 1000, |(_, last)| last);
            (latest.div_euclid(HOUR_US) + 1) * HOUR_US
        },
        Timestamp::as_micros,
    );
    let from_us = parse(&query.from)
        .map_or(to_us - DEFAULT_RANGE_US, Timestamp::as_micros)
        .min(to_us - 1);
    let annotations = match state
        .store
        .list_annotations(&project, from_us, to_us, annotations::MAX_LISTED)
        .await
    {
        Ok(annotations) => annotations,
        Err(error) => return internal(&error),
    };
    let anomalies = vigie_store::AnomalyQuery {
        project,
        sensor_id: None,
        value_name: None,
        from_us: Some(from_us),
        to_us: Some(to_us),
        min_score: None,
        after: None,
        limit: EXPLORER_EVENTS + 1,
    };
    let mut events = match state.store.list_anomalies(&anomalies).await {
        Ok(events) => events,
        Err(error) => return internal(&error),
    };
    let mut asset_events = match state.store.list_asset_events(&anomalies).await {
        Ok(events) => events,
        Err(error) => return internal(&error),
    };
    let truncated =
        events.len() > EXPLORER_EVENTS as usize || asset_events.len() > EXPLORER_EVENTS as usize;
    events.truncate(EXPLORER_EVENTS as usize);
    asset_events.truncate(EXPLORER_EVENTS as usize);
    let map = explorer::HeatMap::build(&asset_events, &events, from_us, to_us, explorer::COLUMNS);
    let filter = query
        .sensor
        .as_deref()
        .map(|sensor| (sensor, query.value.as_deref().unwrap_or("none")));
    let mut listed: Vec<vigie_store::StoredAnomaly> = events
        .into_iter()
        .filter(|a| filter.is_none_or(|(s, v)| a.sensor_id == s && a.value_name == v))
        .collect();
    listed.sort_by_key(|a| std::cmp::Reverse(a.event.start_us));
    listed.truncate(EXPLORER_LISTED);
    let back = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let view = pages::Explorer {
        code: &code,
        series_count: span.series,
        map: &map,
        events: &listed,
        filter,
        truncated,
        annotations: &annotations,
        back,
    };
    pages::explorer(&signed_in, &view).into_response()
}

async fn login_page(State(state): State<ConsoleState>, jar: CookieJar) -> Response {
    let (jar, token) = session::login_csrf(jar, state.secure_cookies);
    (jar, pages::login(&token, None)).into_response()
}

/// The sign-in form.
#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<ConsoleState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    // Login CSRF: the form's token must be the one this browser's cookie holds.
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    if !csrf::origin_allowed(&headers) || !csrf::tokens_match(expected.as_deref(), &form.csrf) {
        return csrf::refused();
    }
    let password = SecretString::from(form.password);
    let attempt = SignIn {
        email: &form.email,
        password: &password,
        address: remote.ip(),
        device: jar.get(DEVICE_COOKIE).map(|c| c.value()),
    };
    let outcome = people::sign_in(&*state.store, &*state.clock, &state.throttle, attempt).await;
    let (jar, token) = session::login_csrf(jar, state.secure_cookies);
    match outcome {
        Ok(SignInOutcome::SignedIn(new)) => {
            let jar = session::signed_in(jar, &new, state.secure_cookies);
            (jar, Redirect::to("/")).into_response()
        }
        Ok(SignInOutcome::Refused) => (
            StatusCode::UNAUTHORIZED,
            jar,
            pages::login(&token, Some("Wrong e-mail address or password.")),
        )
            .into_response(),
        Ok(SignInOutcome::Throttled(wait)) => {
            let seconds = wait.as_secs().max(1);
            let note = format!("Too many attempts: try again in {seconds} s.");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", seconds.to_string())],
                jar,
                pages::login(&token, Some(&note)),
            )
                .into_response()
        }
        Err(error) => internal(&error),
    }
}

/// A form that carries only the synchronizer token.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

async fn logout(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    jar: CookieJar,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf::allowed(&headers, &signed_in, &form.csrf) {
        return csrf::refused();
    }
    if let Err(error) = state.store.delete_session(&signed_in.session.id_hash).await {
        return internal(&error);
    }
    (session::signed_out(jar), Redirect::to("/login")).into_response()
}

async fn account_page(signed_in: SignedIn) -> Response {
    pages::account(&signed_in, None).into_response()
}

/// The password change form.
#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    #[serde(default)]
    csrf: String,
}

async fn change_password(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !csrf::allowed(&headers, &signed_in, &form.csrf) {
        return csrf::refused();
    }
    let (current, new) = (
        SecretString::from(form.current),
        SecretString::from(form.new),
    );
    let changed = people::change_password(
        &*state.store,
        &signed_in.user,
        &signed_in.session,
        &current,
        &new,
    )
    .await;
    if changed.is_ok() {
        let user = &signed_in.user;
        let now = state.clock.now_ms();
        if let Err(error) = state
            .store
            .record_audit(
                &user.org_id,
                &user.email,
                "password.change",
                &user.email,
                now,
            )
            .await
        {
            tracing::error!(%error, "an audit entry could not be written");
        }
    }
    match changed {
        Ok(()) => pages::account(
            &signed_in,
            Some(Ok("Password changed. Your other sessions have ended.")),
        )
        .into_response(),
        Err(vigie_auth::Error::InvalidInput(reason)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::account(&signed_in, Some(Err(&reason))),
        )
            .into_response(),
        Err(error) => internal(&error),
    }
}

/// The secret of a new session, for the cookie only.
fn expose(secret: &SecretString) -> String {
    secret.expose_secret().to_owned()
}
