//! Bearer-token authentication of the API (RFC 6750 §3). Clients that "renew on 401"
//! depend on these answers: no token is a bare 401 challenge; a bad token is 401 with
//! `error="invalid_token"`; a token without the needed scope is 403 with
//! `error="insufficient_scope"`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use vigie_auth::jwt::AccessClaims;

use crate::AppState;
use crate::problem::ApiError;

/// The verified claims of the request's bearer token.
#[derive(Debug, Clone)]
pub struct Bearer(pub AccessClaims);

impl Bearer {
    /// The claims, if the token grants `scope`.
    ///
    /// # Errors
    /// 403 `insufficient_scope` otherwise.
    pub fn require_scope(self, scope: &str) -> Result<AccessClaims, ApiError> {
        if self.0.has_scope(scope) {
            Ok(self.0)
        } else {
            let challenge =
                format!(r#"Bearer realm="vigie", error="insufficient_scope", scope="{scope}""#);
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this request needs a token with scope {scope:?}"),
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge).expect("ASCII challenge"),
            ))
        }
    }
}

fn invalid_token(description: &str) -> ApiError {
    let challenge = format!(
        r#"Bearer realm="vigie", error="invalid_token", error_description="{description}""#
    );
    ApiError::new(StatusCode::UNAUTHORIZED, description).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ASCII challenge"),
    )
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this request needs a bearer access token",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="vigie""#),
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                invalid_token("the Authorization header must be 'Bearer <access token>'")
            })?;
        match state.auth.verify_access_token(token) {
            Ok(claims) => Ok(Self(claims)),
            Err(rejection) => {
                state.metrics.bearer_rejected();
                Err(invalid_token(&rejection.to_string()))
            }
        }
    }
}
