//! Cross-site request forgery: a state-changing request must carry the session's
//! synchronizer token (or, to sign in, the token of the sign-in cookie), and, when the
//! browser says where it comes from (`Origin`), come from this site.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::pages;
use crate::session::SignedIn;

/// Whether the request's `Origin`, if any, is this site (the `Host` it was sent to).
pub(crate) fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// Whether the form's token is the expected one (constant time).
pub(crate) fn tokens_match(expected: Option<&str>, given: &str) -> bool {
    expected.is_some_and(|expected| {
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    })
}

/// Whether a signed-in user's state-changing request is allowed.
pub(crate) fn allowed(headers: &HeaderMap, signed_in: &SignedIn, given: &str) -> bool {
    origin_allowed(headers) && tokens_match(Some(&signed_in.session.csrf_token), given)
}

/// The answer to a forged (or stale) form.
pub(crate) fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        pages::message(
            "Request refused",
            "This form is out of date or did not come from this site. Go back, reload the page and try again.",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn only_this_sites_origin_passes() {
        let host = (header::HOST, "vigie.example:8080");
        assert!(origin_allowed(&headers(std::slice::from_ref(&host))));
        assert!(origin_allowed(&headers(&[
            host.clone(),
            (header::ORIGIN, "https://vigie.example:8080")
        ])));
        for origin in ["https://evil.example", "null", "vigie.example:8080"] {
            assert!(
                !origin_allowed(&headers(&[host.clone(), (header::ORIGIN, origin)])),
                "{origin}"
            );
        }
        assert!(tokens_match(Some("abc"), "abc"));
        assert!(!tokens_match(Some("abc"), "abd"));
        assert!(!tokens_match(Some(""), ""));
        assert!(!tokens_match(None, "abc"));
    }
}
