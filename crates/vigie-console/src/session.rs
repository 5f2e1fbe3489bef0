//! The console's cookies: the session, the browser's device cookie (which exempts it
//! from sign-in throttling for its user), and the sign-in form's CSRF token; and the
//! [`SignedIn`] extractor, which sends a browser without a live session to `/login`.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use vigie_auth::people::{self, NewSession};
use vigie_auth::secret::generate_refresh_token;
use vigie_store::{Session, User};

use crate::{ConsoleState, expose, internal};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "vigie_session";
/// The device cookie: a browser that signed in to an account before.
pub(crate) const DEVICE_COOKIE: &str = "vigie_device";
/// The sign-in form's CSRF token (double submit: no session exists yet).
pub(crate) const LOGIN_CSRF_COOKIE: &str = "vigie_login_csrf";

/// A cookie only this site's requests carry and no script reads.
fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::new(name, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(secure);
    cookie.set_path("/");
    cookie
}

/// A new sign-in CSRF token, in its cookie and for the form.
pub(crate) fn login_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    let (token, _) = generate_refresh_token();
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, token.clone(), secure));
    (jar, token)
}

/// The cookies of a new session (and of a browser new to the account).
pub(crate) fn signed_in(jar: CookieJar, new: &NewSession, secure: bool) -> CookieJar {
    let mut jar = jar.remove(Cookie::from(LOGIN_CSRF_COOKIE)).add(cookie(
        SESSION_COOKIE,
        expose(&new.id),
        secure,
    ));
    if let Some(device) = &new.new_device {
        let mut device = cookie(DEVICE_COOKIE, expose(device), secure);
        device.set_max_age(cookie::time::Duration::days(365));
        jar = jar.add(device);
    }
    jar
}

/// The session cookie removed.
pub(crate) fn signed_out(jar: CookieJar) -> CookieJar {
    let mut gone = Cookie::from(SESSION_COOKIE);
    gone.set_path("/");
    jar.remove(gone)
}

/// A signed-in user and their session.
pub(crate) struct SignedIn {
    pub(crate) user: User,
    pub(crate) session: Session,
}

impl SignedIn {
    /// Whether the user may act on events and annotate: engineers and admins.
    pub(crate) fn is_engineer(&self) -> bool {
        people::Role::parse(&self.user.role).is_ok_and(|role| role >= people::Role::Engineer)
    }

    /// The refusal of an engineer's form: without the session's CSRF token (or from
    /// another origin), or from a viewer (`what` says what is theirs to do); `None`
    /// when the form may go on.
    pub(crate) fn refuse_engineer_form(
        &self,
        headers: &axum::http::HeaderMap,
        csrf_token: &str,
        what: &str,
    ) -> Option<Response> {
        if !crate::csrf::allowed(headers, self, csrf_token) {
            return Some(crate::csrf::refused());
        }
        if !self.is_engineer() {
            let page = crate::pages::forbidden(self, what);
            return Some((axum::http::StatusCode::FORBIDDEN, page).into_response());
        }
        None
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ConsoleState::from_ref(state);
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(Redirect::to("/login").into_response());
        };
        match people::session(&*state.store, &*state.clock, &id).await {
            Ok(Some((session, user))) => Ok(SignedIn { user, session }),
            Ok(None) => Err((signed_out(jar), Redirect::to("/login")).into_response()),
            Err(error) => Err(internal(&error)),
        }
    }
}
