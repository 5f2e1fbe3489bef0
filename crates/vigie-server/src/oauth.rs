//! The OAuth2 endpoints: token (at both documented paths), revocation (RFC 7009) and
//! introspection (RFC 7662). Handlers only read the request and render the answer;
//! the rules live in `vigie_auth::AuthService`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_auth::basic::form_decode;
use vigie_auth::{AuthenticatedClient, ClientCredentials};
use vigie_proto::{
    IntrospectionResponse, OAuthErrorBody, OAuthErrorCode, TokenForm, TokenRequest,
    TokenRequestError, TokenResponse,
};

use crate::AppState;
use crate::body::{self, BodyError};
use crate::problem::OAuthError;

/// Largest accepted body of the OAuth2 endpoints; real requests are a few hundred bytes.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

/// The token endpoint's second documented path; the OpenAPI document lists it too.
pub const TOKEN_PATH_ALIAS: &str = "/v0/oauth2token";
/// The token endpoint's main path.
pub const TOKEN_PATH: &str = "/v0/oauth2/token";

/// Routes of the OAuth2 endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token_post))
        .route(TOKEN_PATH_ALIAS, axum::routing::post(token_post))
        .routes(routes!(revoke_post))
        .routes(routes!(introspect_post))
}

/// Get or renew a token (also at `POST /v0/oauth2token`).
#[utoipa::path(
    post,
    path = "/v0/oauth2/token",
    tag = "oauth2",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "A new access token and refresh token", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type or invalid_scope", body = OAuthErrorBody),
        (status = 401, description = "invalid_client (with WWW-Authenticate: Basic)", body = OAuthErrorBody),
        (status = 429, description = "Too many failed authentications (with Retry-After)", body = OAuthErrorBody),
        (status = 500, description = "server_error", body = OAuthErrorBody),
    )
)]
async fn token_post(State(state): State<AppState>, request: Request) -> Response {
    let outcome = async {
        let (parameters, client) = read_authenticated_form(&state, request).await?;
        let request = TokenRequest::from_parameters(parameters).map_err(|error| {
            let code = match error {
                TokenRequestError::UnsupportedGrantType(_) => OAuthErrorCode::UnsupportedGrantType,
                _ => OAuthErrorCode::InvalidRequest,
            };
            OAuthError::new(code, error.to_string())
        })?;
        let response = match &request {
            TokenRequest::ClientCredentials { scope, .. } => {
                state
                    .auth
                    .grant_client_credentials(&client, scope.as_deref())
                    .await?
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                ..
            } => {
                state
                    .auth
                    .grant_refresh_token(&client, refresh_token, scope.as_deref())
                    .await?
            }
        };
        Ok::<_, OAuthError>((request.grant_type(), response))
    }
    .await;
    match outcome {
        Ok((grant_type, response)) => {
            state.metrics.token_issued(grant_type);
            let mut response = axum::Json(response).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => {
            state.metrics.token_failed(error.code());
            error.into_response()
        }
    }
}

/// Revoke a token (RFC 7009): an access token, or a refresh token's whole family.
#[utoipa::path(
    post,
    path = "/v0/oauth2/revoke",
    tag = "oauth2",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "application/json"),
    )),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "Revoked, or not a token of this client (RFC 7009 §2.2)"),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed authentications", body = OAuthErrorBody),
        (status = 500, description = "server_error", body = OAuthErrorBody),
    )
)]
async fn revoke_post(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, OAuthError> {
    let (form, client) = read_token_form(&state, request).await?;
    state.auth.revoke(&client, &form.token).await?;
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// Introspect a token (RFC 7662); a client learns about its own tokens only.
#[utoipa::path(
    post,
    path = "/v0/oauth2/introspect",
    tag = "oauth2",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "application/json"),
    )),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "Whether the token is active, and its claims", body = IntrospectionResponse),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 429, description = "Too many failed authentications", body = OAuthErrorBody),
        (status = 500, description = "server_error", body = OAuthErrorBody),
    )
)]
async fn introspect_post(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, OAuthError> {
    let (form, client) = read_token_form(&state, request).await?;
    let mut response =
        axum::Json(state.auth.introspect(&client, &form.token).await?).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Reads an authenticated client's form that names a `token` (revocation,
/// introspection).
async fn read_token_form(
    state: &AppState,
    request: Request,
) -> Result<(TokenForm, AuthenticatedClient), OAuthError> {
    let (mut parameters, client) = read_authenticated_form(state, request).await?;
    let form = TokenForm {
        token: parameters
            .remove("token")
            .ok_or_else(|| OAuthError::invalid_request("missing token"))?,
        token_type_hint: parameters.remove("token_type_hint"),
    };
    Ok((form, client))
}

/// Reads the parameters (form or JSON) and authenticates the client by exactly one method.
async fn read_authenticated_form(
    state: &AppState,
    request: Request,
) -> Result<(Parameters, AuthenticatedClient), OAuthError> {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let (parts, body) = request.into_parts();
    let form = read_form(&parts.headers, body, state.body_read_timeout).await?;
    let credentials = client_credentials(&parts.headers, &form)?;
    let client = state.auth.authenticate(&credentials, address).await?;
    Ok((form, client))
}

/// A request's parameters, from a form or a JSON body; empty values count as absent.
type Parameters = HashMap<String, String>;

/// How the parameters of an OAuth2 request are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    Form,
    /// `application/json`: an object of string parameters, as the product's own Node-RED
    /// connector sends them.
    Json,
}

async fn read_form(
    headers: &HeaderMap,
    body: Body,
    deadline: Duration,
) -> Result<Parameters, OAuthError> {
    let encoding = match body::media_type(headers).as_str() {
        "application/x-www-form-urlencoded" => Encoding::Form,
        "application/json" => Encoding::Json,
        _ => {
            return Err(OAuthError::invalid_request(
                "the request body must be application/x-www-form-urlencoded or application/json (set the Content-Type header)",
            ));
        }
    };
    let bytes = body::read_body(headers, body, MAX_FORM_BYTES, deadline)
        .await
        .map_err(|error| {
            OAuthError::invalid_request(match error {
                BodyError::TooLarge => format!("the request body exceeds {MAX_FORM_BYTES} bytes"),
                BodyError::TooSlow => format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs_f64()
                ),
                BodyError::Unreadable => "the request body could not be read".to_owned(),
            })
        })?;
    match encoding {
        Encoding::Form => parse_form(&bytes),
        Encoding::Json => parse_json_parameters(&bytes),
    }
}

/// Parses a form body strictly: every name and value must be UTF-8 once decoded and no
/// parameter may appear twice (RFC 6749 §3.1, §3.2).
pub(crate) fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut parameters = HashMap::new();
    for pair in bytes.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)
            .ok_or_else(|| OAuthError::invalid_request("a parameter name is not UTF-8"))?;
        let value = form_decode(value).ok_or_else(|| {
            OAuthError::invalid_request(format!("parameter {} is not UTF-8", truncate(&name)))
        })?;
        if parameters.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {} is repeated",
                truncate(&name)
            )));
        }
        parameters.insert(name, value);
    }
    // "Parameters sent without a value MUST be treated as if they were omitted"; they
    // were kept until now so that repeating one is still an error.
    parameters.retain(|_, value| !value.is_empty());
    Ok(parameters)
}

/// Parses a JSON body by the rules of [`parse_form`]: an object whose values are
/// strings (`null` or `""` count as omitted), no parameter twice.
pub(crate) fn parse_json_parameters(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let JsonObject(members) = serde_json::from_slice(bytes).map_err(|error| {
        OAuthError::invalid_request(if error.is_data() {
            "the JSON body must be an object of string parameters".to_owned()
        } else {
            format!("the body is not valid JSON: {error}")
        })
    })?;
    let mut parameters = HashMap::with_capacity(members.len());
    for (name, value) in members {
        if parameters.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {} is repeated",
                truncate(&name)
            )));
        }
        let value = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Null => String::new(),
            _ => {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} must be a string",
                    truncate(&name)
                )));
            }
        };
        parameters.insert(name, value);
    }
    parameters.retain(|_, value| !value.is_empty());
    Ok(parameters)
}

/// A JSON object's members in order, repeated names included (a map would keep only
/// the last).
struct JsonObject(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for JsonObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = JsonObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of string parameters")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<JsonObject, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(JsonObject(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Keeps client-chosen text in error messages short.
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Finds the client credentials: HTTP Basic or `client_id`/`client_secret` in the body, not both.
fn client_credentials(
    headers: &HeaderMap,
    form: &Parameters,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    match (authorizations.next(), authorizations.next()) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "the Authorization header is repeated",
        )),
        (Some(value), None) => {
            let (client_id, secret) = vigie_auth::basic::parse_basic_credentials(value.as_bytes())
                .map_err(|error| OAuthError::invalid_request(error.to_string()))?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use exactly one client authentication method: HTTP Basic or client_secret in the body, not both",
                ));
            }
            if body_id.is_some_and(|id| *id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(ClientCredentials {
                client_id,
                client_secret: SecretString::from(secret),
            })
        }
        (None, _) => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                client_id: id.clone(),
                client_secret: SecretString::from(secret.clone()),
            }),
            _ => Err(OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client authentication required: HTTP Basic with APPLICATION_ID:APPLICATION_SECRET",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_is_decoded_strictly() {
        let form = parse_form(b"grant_type=refresh_token&refresh_token=a%2Bb+c&scope=").unwrap();
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "a+b c");
        assert!(!form.contains_key("scope"), "empty values count as omitted");
    }

    #[test]
    fn repeated_and_non_utf8_parameters_are_invalid_requests() {
        for body in [
            &b"grant_type=a&grant_type=b"[..],
            b"scope=&scope=data",
            b"grant_type=%FF",
            b"%C3%28=x",
        ] {
            let error = parse_form(body).unwrap_err();
            assert_eq!(error.code(), OAuthErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn json_parameters_follow_the_form_rules() {
        let parameters = parse_json_parameters(
            br#"{"grant_type":"refresh_token","refresh_token":"a+b c","scope":"","client_id":null}"#,
        )
        .unwrap();
        assert_eq!(parameters["grant_type"], "refresh_token");
        assert_eq!(
            parameters["refresh_token"], "a+b c",
            "JSON strings are not form-decoded"
        );
        assert_eq!(
            parameters.len(),
            2,
            "empty and null values count as omitted"
        );
        for (body, reason) in [
            (&br#"{"grant_type":"a","grant_type":"b"}"#[..], "repeated"),
            (br#"{"grant_type":1}"#, "must be a string"),
            (
                br#"{"grant_type":["client_credentials"]}"#,
                "must be a string",
            ),
            (br#"["grant_type"]"#, "object of string parameters"),
            (br#""grant_type""#, "object of string parameters"),
            (br#"{"grant_type":"#, "not valid JSON"),
            (b"", "not valid JSON"),
            (br#"{} {}"#, "not valid JSON"),
        ] {
            let error = parse_json_parameters(body).unwrap_err();
            assert_eq!(error.code(), OAuthErrorCode::InvalidRequest);
            let description = format!("{error:?}");
            assert!(description.contains(reason), "{description}");
        }
    }
}
