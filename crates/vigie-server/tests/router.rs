//! The router without a socket (`tower::ServiceExt::oneshot`): routing, the problem
//! answers of the HTTP layer and the OpenAPI document, on a real SQLite store. What
//! needs a connection (timeouts, clients) is in the `api` tests.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use vigie_auth::clock::SystemClock;
use vigie_auth::{AuthConfig, AuthenticatedClient, provision};
use vigie_server::{AppState, ConnectionTimeouts, ServerConfig, router};

async fn app() -> (axum::Router, AppState, String) {
    let store = vigie_store::open(&vigie_store::testing::temp_sqlite_url())
        .await
        .unwrap();
    let clock = Arc::new(SystemClock);
    let org = provision::create_organisation(&*store, &*clock, "acme")
        .await
        .unwrap();
    provision::create_project(&*store, &*clock, &org.id, "line")
        .await
        .unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        issuer: None,
        auth: AuthConfig::with_issuer(""),
        reload_interval: std::time::Duration::from_secs(1),
        detection: vigie_pipeline::DetectionConfig::default(),
        timeouts: ConnectionTimeouts::default(),
    };
    let state = AppState::start(config, "http://vigie.test", store, clock)
        .await
        .unwrap();
    (router(state.clone()), state, org.id)
}

async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, String, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let (router, _, _) = app().await;
    let (status, content_type, body) = call(&router, get("/nope")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    assert_eq!(body["detail"], "no such endpoint");
    let (status, _, body) = call(&router, get("/v0/oauth2/token")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["status"], 405);
}

#[tokio::test]
async fn the_openapi_document_is_served_at_both_paths() {
    let (router, _, _) = app().await;
    let (status, _, document) = call(&router, get("/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, public) = call(&router, get("/v0/openAPI")).await;
    assert_eq!(document, public);
    assert_eq!(
        document,
        serde_json::to_value(vigie_server::openapi()).unwrap()
    );
}

#[tokio::test]
async fn data_errors_come_from_one_mapping() {
    let (router, state, org_id) = app().await;
    let url = format!("/v0/organisations/{org_id}/data/line");
    let (status, _, body) = call(&router, get(&url)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "this request needs a bearer access token");

    let (app, _) =
        provision::create_application(&*state.store, &SystemClock, &org_id, "gateway", "data")
            .await
            .unwrap();
    state.auth.reload_if_changed().await.unwrap();
    let client = AuthenticatedClient {
        id: app.id,
        org_id: org_id.clone(),
        scope: "data".into(),
    };
    let token = state
        .auth
        .grant_client_credentials(&client, None)
        .await
        .unwrap()
        .access_token;
    let with_token = |request: axum::http::request::Builder| {
        request.header(header::AUTHORIZATION, format!("Bearer {token}"))
    };
    let (status, _, body) = call(
        &router,
        with_token(Request::get(format!("{url}?limit=0&from=yesterday")))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    let (status, _, body) = call(
        &router,
        with_token(Request::post(&url).header(header::CONTENT_TYPE, "text/csv"))
            .body(Body::from("a,b"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, _, body) = call(
        &router,
        with_token(Request::post(&url).header(header::CONTENT_TYPE, "application/json"))
            .body(Body::from(
                r#"[{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":"x"}]"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "value");
    let (status, _, body) = call(
        &router,
        with_token(Request::post(&url).header(header::CONTENT_TYPE, "application/json"))
            .body(Body::from(
                r#"[{"sensorId":"s","date":"2020-01-01T00:00:00Z","value":1}]"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["new"], 1);
}
