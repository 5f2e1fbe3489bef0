//! `baseline-server`: the HTTP ceiling. It answers `POST /v0/oauth2token` the way
//! Vigie's token endpoint does on the wire (same runtime, same `axum::serve`, same
//! response headers and body size) but does no work: no form parsing, no client
//! authentication, no signing, no storage.
//!
//! It also answers `POST /v0/organisations/{org}/data/{project}`, the ingestion
//! endpoint: it reads the whole body, as Vigie does before parsing it, and answers
//! with a constant JSON object of about the usual size, without parsing, checking the
//! token or storing anything.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::routing::post;
use serde_json::json;

/// Characters of a typical Vigie access token (an EdDSA `at+jwt` with its usual claims):
/// a 110-character header, the claims, and an 86-character signature.
const ACCESS_TOKEN_LENGTH: usize = 578;

/// Serves until killed, on a multi-threaded runtime with one worker per core, as `vigie serve`.
pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let body = Bytes::from(token_response().to_string());
    let app = Router::new()
        .route(
            "/v0/organisations/{org_id}/data/{project}",
            post(|_body: Bytes| async {
                (
                    StatusCode::CREATED,
                    [(CONTENT_TYPE, "application/json")],
                    r#"{"baseline":"a constant answer, nothing was parsed"}"#,
                )
            }),
        )
        // Vigie accepts bodies up to 32 MiB.
        .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
        .route(
            "/v0/oauth2token",
            post(move |_form: Bytes| {
                let body = body.clone();
                async move {
                    (
                        [
                            (CONTENT_TYPE, "application/json"),
                            (CACHE_CONTROL, "no-store"),
                            (PRAGMA, "no-cache"),
                        ],
                        body,
                    )
                }
            }),
        );
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!(
            "baseline server listening on http://{}",
            listener.local_addr()?
        );
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await?;
        Ok(())
    })
}

/// A constant body with the seven fields of a real token response and about its size.
fn token_response() -> serde_json::Value {
    let segment = |c: char, n: usize| c.to_string().repeat(n);
    let access_token = format!(
        "{}.{}.{}",
        segment('h', 110),
        segment('c', ACCESS_TOKEN_LENGTH - 198),
        segment('s', 86)
    );
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": 172_800,
        "expiration_date": "2026-01-03T00:00:00.000Z",
        "refresh_token": segment('r', 43),
        "refresh_token_expires_in": 31_557_600,
        "refresh_token_expiration_date": "2027-01-01T06:00:00.000Z",
    })
}
