//! The two error shapes of the HTTP API, decided in one place: RFC 6749 §5.2 bodies
//! for the OAuth2 endpoints, `application/problem+json` (RFC 9457) for the rest.
//! A 5xx never says anything internal; its cause is logged in the request's span.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vigie_auth::Error as AuthError;
use vigie_proto::{OAuthErrorBody, OAuthErrorCode, PROBLEM_JSON, Problem};

/// `WWW-Authenticate` challenge for failed client authentication.
const BASIC_CHALLENGE: &str = r#"Basic realm="vigie", charset="UTF-8""#;

/// An error of the OAuth2 endpoints, rendered per RFC 6749 §5.2.
#[derive(Debug)]
pub struct OAuthError {
    code: OAuthErrorCode,
    description: String,
    retry_after_seconds: Option<u64>,
}

impl OAuthError {
    /// An error with a code and a description.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_seconds: None,
        }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// The RFC 6749 code.
    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }
}

impl From<AuthError> for OAuthError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::OAuth { code, description } => Self::new(code, description),
            AuthError::RateLimited { retry_after } => {
                let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                Self {
                    code: OAuthErrorCode::InvalidClient,
                    description: format!(
                        "{}; too many failed attempts, retry after {seconds} s",
                        vigie_auth::CLIENT_AUTH_FAILED
                    ),
                    retry_after_seconds: Some(seconds),
                }
            }
            AuthError::InvalidInput(message) => Self::invalid_request(message),
            error @ (AuthError::NoSigningKey | AuthError::Storage(_)) => {
                tracing::error!(%error, "token endpoint failed");
                Self::new(
                    OAuthErrorCode::ServerError,
                    "the server could not complete the request",
                )
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match (self.code, self.retry_after_seconds) {
            (_, Some(_)) => StatusCode::TOO_MANY_REQUESTS,
            (OAuthErrorCode::InvalidClient, None) => StatusCode::UNAUTHORIZED,
            (OAuthErrorCode::ServerError, None) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = OAuthErrorBody {
            error: self.code,
            error_description: Some(self.description),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.code == OAuthErrorCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// An error of the rest of the API, rendered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// A problem with a status and a detail sentence.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            headers: Vec::new(),
            extensions: serde_json::Map::new(),
        }
    }

    /// 404, used alike for what does not exist and what the caller may not see.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 500; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not complete the request",
        )
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds an extension member to the body.
    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }
}

impl From<vigie_store::Error> for ApiError {
    fn from(error: vigie_store::Error) -> Self {
        Self::internal(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            problem_type: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("Error").into(),
            status: self.status.as_u16(),
            detail: Some(self.detail),
            extensions: self.extensions,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            bytes,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
