//! Discovery: the JSON Web Key Set and the RFC 8414 authorization-server metadata.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;

/// How long verifiers may cache the key set. Short, because a rotated key signs new
/// tokens at once; verifiers that meet an unknown `kid` should refetch anyway.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// Discovery routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks_get))
        .route("/.well-known/oauth-authorization-server", get(metadata_get))
}

/// `GET /.well-known/jwks.json`: the active key and the retired keys whose tokens may still be live.
async fn jwks_get(State(state): State<AppState>) -> Response {
    let mut response = axum::Json(state.auth.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_MAX_AGE),
    );
    response
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
async fn metadata_get(State(state): State<AppState>) -> Response {
    let issuer = &state.auth.config().issuer;
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let mut response = axum::Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/v0/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/v0/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/v0/oauth2/introspect"),
        "grant_types_supported": ["client_credentials", "refresh_token"],
        "response_types_supported": [],
        "scopes_supported": ["data"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": [],
        "access_token_signing_alg_values_supported": [vigie_auth::jwt::ALGORITHM_NAME],
    }))
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_MAX_AGE),
    );
    response
}
