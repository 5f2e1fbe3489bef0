//! Bearer-token authentication of the API (RFC 6750 §3). Clients that "renew on 401"
//! depend on these answers: no token is a bare 401 challenge; a bad token is 401 with
//! `error="invalid_token"`; a token without the needed scope is 403 with
//! `error="insufficient_scope"`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
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
    pub fn require_scope(self, scope: &'static str) -> Result<AccessClaims, ApiError> {
        if self.0.has_scope(scope) {
            Ok(self.0)
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::MissingToken);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::InvalidToken(
                    "the Authorization header must be 'Bearer <access token>'".into(),
                )
            })?;
        match state.auth.verify_access_token(token) {
            Ok(claims) => Ok(Self(claims)),
            Err(rejection) => {
                state.metrics.bearer_rejected();
                Err(ApiError::InvalidToken(rejection.to_string()))
            }
        }
    }
}
