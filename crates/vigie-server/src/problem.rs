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

/// An error of the rest of the API, rendered as `application/problem+json`. Each kind
/// has its status in [`ApiError::status`], the one place where statuses are chosen.
#[derive(Debug)]
pub enum ApiError {
    /// No bearer token: a bare `WWW-Authenticate` challenge (RFC 6750 §3.1).
    MissingToken,
    /// A token that is not valid, and why (safe to send).
    InvalidToken(String),
    /// A valid token without the scope this request needs.
    InsufficientScope(&'static str),
    /// What does not exist, or the caller may not see (answered alike).
    NotFound(&'static str),
    /// The endpoint does not take this method.
    MethodNotAllowed,
    /// A malformed request: the path, the query string or the body.
    BadRequest(String),
    /// The request conflicts with what exists (a name taken).
    Conflict(String),
    /// The body did not arrive within the deadline.
    BodyTooSlow(std::time::Duration),
    /// The body is larger than the endpoint takes.
    TooLarge(String),
    /// A body in a media type or encoding the endpoint does not take.
    UnsupportedMediaType(&'static str),
    /// Readings that break a rule, each with its index, field and reason.
    InvalidReadings {
        /// What the whole answer says.
        detail: String,
        /// How many readings are invalid.
        invalid_readings: usize,
        /// How many errors there are in all.
        total_errors: usize,
        /// The first errors.
        errors: Vec<vigie_proto::readings::ReadingError>,
    },
    /// A dependency (the store) does not answer.
    Unavailable(&'static str),
    /// The server failed; the cause was logged when this was made.
    Internal,
}

impl ApiError {
    /// 500; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::Internal
    }

    /// The status of each kind of error.
    fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidReadings { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence the body's `detail` carries.
    fn detail(&self) -> String {
        match self {
            Self::MissingToken => "this request needs a bearer access token".into(),
            Self::InvalidToken(reason) => reason.clone(),
            Self::InsufficientScope(scope) => {
                format!("this request needs a token with scope {scope:?}")
            }
            Self::NotFound(what) | Self::UnsupportedMediaType(what) | Self::Unavailable(what) => {
                (*what).to_owned()
            }
            Self::MethodNotAllowed => "this endpoint does not accept this method".into(),
            Self::BadRequest(detail) | Self::Conflict(detail) | Self::TooLarge(detail) => {
                detail.clone()
            }
            Self::BodyTooSlow(deadline) => format!(
                "the request body did not arrive within {} s",
                deadline.as_secs_f64()
            ),
            Self::InvalidReadings { detail, .. } => detail.clone(),
            Self::Internal => "the server could not complete the request".into(),
        }
    }

    /// The `WWW-Authenticate` challenge of the bearer errors (RFC 6750 §3).
    fn challenge(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some(r#"Bearer realm="vigie""#.into()),
            Self::InvalidToken(reason) => Some(format!(
                r#"Bearer realm="vigie", error="invalid_token", error_description="{reason}""#
            )),
            Self::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="vigie", error="insufficient_scope", scope="{scope}""#
            )),
            _ => None,
        }
    }
}

/// A JSON request body of type `T`, or a 400 saying that the body is not `what`.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("the body is not {what}: {error}")))
}

impl From<vigie_store::Error> for ApiError {
    fn from(error: vigie_store::Error) -> Self {
        Self::internal(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut extensions = serde_json::Map::new();
        if let Self::InvalidReadings {
            invalid_readings,
            total_errors,
            errors,
            ..
        } = &self
        {
            extensions.insert("invalidReadings".into(), (*invalid_readings).into());
            extensions.insert("totalErrors".into(), (*total_errors).into());
            extensions.insert(
                "errors".into(),
                serde_json::to_value(errors).unwrap_or_default(),
            );
        }
        let body = Problem {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: Some(self.detail()),
            extensions,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            bytes,
        )
            .into_response();
        if let Some(challenge) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The problem answers every endpoint of a project can give, documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum ProjectProblems {
    /// Missing or invalid token.
    #[response(
        status = 401,
        description = "Missing or invalid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    /// The token lacks scope `data`.
    #[response(
        status = 403,
        description = "The token lacks scope data",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    /// No such project for this token.
    #[response(
        status = 404,
        description = "No such ML project in this organisation",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
}

/// The problem answers of an organisation's administration (its applications),
/// documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum OrgAdminProblems {
    /// Missing or invalid token.
    #[response(
        status = 401,
        description = "Missing or invalid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    /// The token lacks scope `admin`.
    #[response(
        status = 403,
        description = "The token lacks scope admin",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    /// No such organisation for this token, or no such application in it.
    #[response(
        status = 404,
        description = "No such organisation for this token, or no such application in it",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
}

/// The answer to an invalid query string, documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum QueryProblem {
    /// An invalid query parameter.
    #[response(
        status = 400,
        description = "Invalid query parameter",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
}
