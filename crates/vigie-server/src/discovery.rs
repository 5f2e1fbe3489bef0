//! Discovery: the JSON Web Key Set and the RFC 8414 authorization-server metadata.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::{AuthorizationServerMetadata, JwkSet};

use crate::AppState;

/// How long verifiers may cache the key set. Short, because a rotated key signs new
/// tokens at once; verifiers that meet an unknown `kid` should refetch anyway.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// Discovery routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jwks_get))
        .routes(routes!(metadata_get))
}

/// The token-signing public keys: the active one and retired ones whose tokens may still be live.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JSON Web Key Set", body = JwkSet)))]
async fn jwks_get(State(state): State<AppState>) -> Response {
    let mut response = axum::Json(state.auth.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_MAX_AGE),
    );
    response
}

/// Authorization-server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "RFC 8414 metadata", body = AuthorizationServerMetadata)))]
async fn metadata_get(State(state): State<AppState>) -> Response {
    let issuer = &state.auth.config().issuer;
    let strings = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    let auth_methods = strings(&["client_secret_basic", "client_secret_post"]);
    let metadata = AuthorizationServerMetadata {
        issuer: issuer.clone(),
        token_endpoint: format!("{issuer}/v0/oauth2/token"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        revocation_endpoint: format!("{issuer}/v0/oauth2/revoke"),
        introspection_endpoint: format!("{issuer}/v0/oauth2/introspect"),
        grant_types_supported: strings(&["client_credentials", "refresh_token"]),
        response_types_supported: Vec::new(),
        scopes_supported: strings(&["data"]),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods.clone(),
        introspection_endpoint_auth_methods_supported: auth_methods,
        token_endpoint_auth_signing_alg_values_supported: Vec::new(),
        access_token_signing_alg_values_supported: strings(&[vigie_auth::jwt::ALGORITHM_NAME]),
    };
    let mut response = axum::Json(metadata).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_MAX_AGE),
    );
    response
}
