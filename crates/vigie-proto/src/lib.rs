//! Wire types of Vigie's public API, shared by the server, the SDK and the CLI so that
//! the bytes on the wire have exactly one definition.

pub mod annotations;
pub mod applications;
pub mod events;
mod health;
pub mod readings;
pub mod scope;
pub mod time;

pub use health::{
    AssetEvent, AssetEventsPage, AssetInfo, AssetRequest, Contribution, HealthPage, HealthRow,
    RelearnRequest, SeriesRef,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Successful token response, exactly the seven fields of the public documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    /// The JWT access token (RFC 9068).
    pub access_token: String,
    /// Always `"bearer"`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// Access-token expiry, UTC ISO-8601 with milliseconds and `Z`.
    pub expiration_date: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_expires_in: u64,
    /// Refresh-token expiry, UTC ISO-8601 with milliseconds and `Z`.
    pub refresh_token_expiration_date: String,
}

/// The body of the token endpoint: a form (`application/x-www-form-urlencoded`, RFC
/// 6749) or a JSON object with the same parameters. The client id and secret appear
/// only when the client does not authenticate with HTTP Basic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// A new access token and refresh-token family for the client itself.
    ClientCredentials {
        /// Requested scope, space separated; at most the application's (`data`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// The client id, when not sent with HTTP Basic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The client secret, when not sent with HTTP Basic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<String>,
    },
    /// A renewal with a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// Requested scope, space separated; at most the scope first granted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// The client id, when not sent with HTTP Basic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The client secret, when not sent with HTTP Basic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<String>,
    },
}

/// Why a token request's parameters do not make a [`TokenRequest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    /// No `grant_type`.
    #[error("missing grant_type")]
    MissingGrantType,
    /// A grant type other than the two supported.
    #[error("grant_type {0:?} is not supported; use client_credentials or refresh_token")]
    UnsupportedGrantType(String),
    /// `grant_type=refresh_token` without `refresh_token`.
    #[error("missing refresh_token")]
    MissingRefreshToken,
}

impl TokenRequest {
    /// The request from its parameters (decoded from a form or JSON, empty ones left
    /// out); parameters it does not know are ignored (RFC 6749 §3.2).
    ///
    /// # Errors
    /// A [`TokenRequestError`] naming what is missing or unsupported.
    pub fn from_parameters(
        mut parameters: std::collections::HashMap<String, String>,
    ) -> Result<Self, TokenRequestError> {
        let grant_type = parameters
            .remove("grant_type")
            .ok_or(TokenRequestError::MissingGrantType)?;
        let scope = parameters.remove("scope");
        let client_id = parameters.remove("client_id");
        let client_secret = parameters.remove("client_secret");
        match grant_type.as_str() {
            "client_credentials" => Ok(Self::ClientCredentials {
                scope,
                client_id,
                client_secret,
            }),
            "refresh_token" => Ok(Self::RefreshToken {
                refresh_token: parameters
                    .remove("refresh_token")
                    .ok_or(TokenRequestError::MissingRefreshToken)?,
                scope,
                client_id,
                client_secret,
            }),
            _ => Err(TokenRequestError::UnsupportedGrantType(
                grant_type.chars().take(64).collect(),
            )),
        }
    }

    /// The grant type, as on the wire.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::ClientCredentials { .. } => "client_credentials",
            Self::RefreshToken { .. } => "refresh_token",
        }
    }

    /// The requested scope, if any.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Self::ClientCredentials { scope, .. } | Self::RefreshToken { scope, .. } => {
                scope.as_deref()
            }
        }
    }

    /// The client id and secret sent in the body, if any.
    pub fn body_credentials(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::ClientCredentials {
                client_id,
                client_secret,
                ..
            }
            | Self::RefreshToken {
                client_id,
                client_secret,
                ..
            } => (client_id.as_deref(), client_secret.as_deref()),
        }
    }
}

/// Authorization-server metadata (RFC 8414), served at
/// `/.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The issuer, the tokens' `iss`.
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The JSON Web Key Set.
    pub jwks_uri: String,
    /// The revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// The introspection endpoint (RFC 7662).
    pub introspection_endpoint: String,
    /// `client_credentials` and `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// None: there is no authorization endpoint.
    pub response_types_supported: Vec<String>,
    /// The scopes applications may be granted.
    pub scopes_supported: Vec<String>,
    /// How clients authenticate at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// None: no client authenticates with a signed JWT.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// The algorithm access tokens are signed with.
    pub access_token_signing_alg_values_supported: Vec<String>,
}

/// The body of the revocation and introspection endpoints (a form, or JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenForm {
    /// The token to revoke or introspect.
    pub token: String,
    /// `access_token` or `refresh_token` (optional; both kinds are recognised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// OAuth2 error codes of RFC 6749 §5.2 (and RFC 7009 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// The request is malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (refresh token) is invalid, expired or revoked.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope exceeds the granted one.
    InvalidScope,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// An unexpected server-side failure.
    ServerError,
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
        }
    }
}

/// OAuth2 error body of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    /// The error code.
    pub error: OAuthErrorCode,
    /// Human-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// RFC 9457 problem details, the body of every non-OAuth2 API error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference identifying the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members (for example per-reading validation errors).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// Media type of [`Problem`] bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Token introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scope, space separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The application the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subject (the application).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The organisation of the application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Token identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// One public key of the JSON Web Key Set (RFC 7517, RFC 8037 for `OKP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Key type, `OKP` for Ed25519.
    pub kty: String,
    /// Curve, `Ed25519`.
    pub crv: String,
    /// Public key, base64url without padding.
    pub x: String,
    /// Key id, matched against the JWT header `kid`.
    pub kid: String,
    /// Algorithm the key is used with.
    pub alg: String,
    /// Public key use, `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

/// JSON Web Key Set served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    /// The published keys: the active one and retired ones whose tokens may still be live.
    pub keys: Vec<Jwk>,
}

/// A project visible to a token, as listed by `GET /v0/organisations/{id}/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectSummary {
    /// The `ML_PROJECT` code.
    pub code: String,
    /// Creation time, UTC ISO-8601.
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_has_exactly_the_documented_fields() {
        let response = TokenResponse {
            access_token: "a.b.c".into(),
            token_type: "bearer".into(),
            expires_in: 172800,
            expiration_date: "2021-10-27T12:06:28.828Z".into(),
            refresh_token: "r".into(),
            refresh_token_expires_in: 31557600,
            refresh_token_expiration_date: "2022-10-25T18:06:28.849Z".into(),
        };
        let value = serde_json::to_value(&response).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "access_token",
                "expiration_date",
                "expires_in",
                "refresh_token",
                "refresh_token_expiration_date",
                "refresh_token_expires_in",
                "token_type"
            ]
        );
    }

    #[test]
    fn error_codes_serialise_as_rfc_6749_strings() {
        for code in [
            OAuthErrorCode::InvalidRequest,
            OAuthErrorCode::InvalidClient,
            OAuthErrorCode::InvalidGrant,
            OAuthErrorCode::UnsupportedGrantType,
            OAuthErrorCode::InvalidScope,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}

/// Answer to a successful push: what became of the readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Readings in the request.
    pub received: u64,
    /// Readings stored for the first time.
    pub new: u64,
    /// Readings identical to what was stored (a resend).
    pub unchanged: u64,
    /// Readings that replaced a stored value (a correction).
    pub replaced: u64,
}

/// A reading read back, with its anomaly score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoredReading {
    /// The reading as stored.
    #[serde(flatten)]
    pub reading: readings::Reading,
    /// Its anomaly score in [0, 1]; absent while not scored (late readings are never scored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_score: Option<f64>,
}

/// A page of readings read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingsPage {
    /// The readings, ordered by series then date.
    pub readings: Vec<ScoredReading>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One series (sensorId and valueName) of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesInfo {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Number of stored readings.
    pub count: i64,
    /// Date of the earliest reading.
    pub first_date: Option<String>,
    /// Date of the latest reading.
    pub last_date: Option<String>,
    /// Every label the series' readings have carried, sorted.
    pub labels: Vec<String>,
}

/// A page of a project's series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPage {
    /// The series, ordered by sensor then variable.
    pub series: Vec<SeriesInfo>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An anomaly event: consecutive anomalous readings of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    /// The event's stable id.
    pub id: String,
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Date of the first anomalous reading.
    pub start: String,
    /// Date of the last anomalous reading so far.
    pub end: String,
    /// Date of the highest score.
    pub peak_date: String,
    /// The highest score, in [0, 1].
    pub peak_score: f64,
    /// What the peak reading was: the kind of anomaly and the range expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// Why a reading was anomalous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `spike`, `level_shift`, `drift`, `variance_change`, `new_pattern`, `stuck`, `gap`.
    pub kind: String,
    /// Lowest value the detector expected.
    pub expected_low: f64,
    /// Highest value the detector expected.
    pub expected_high: f64,
    /// The value observed.
    pub observed: f64,
}

/// A page of anomaly events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnomaliesPage {
    /// The events, ordered by start date.
    pub anomalies: Vec<Anomaly>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
