//! Discovery documents, health, readiness, metrics and the API's answers to unknown routes.

use serde_json::Value;

use crate::helpers::{Backend, Options, assert_problem, on_both_backends, spawn};

async fn discovery_documents(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let jwks = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = jwks.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "no private part is ever published");

    let metadata: Value = app
        .get_json(
            format!("{}/.well-known/oauth-authorization-server", app.url),
            None,
        )
        .await;
    assert_eq!(metadata["issuer"], app.url.as_str());
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/v0/oauth2/token", app.url)
    );
    assert_eq!(
        metadata["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.url)
    );
    assert_eq!(
        metadata["revocation_endpoint"],
        format!("{}/v0/oauth2/revoke", app.url)
    );
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{}/v0/oauth2/introspect", app.url)
    );
    assert_eq!(
        metadata["grant_types_supported"],
        serde_json::json!(["client_credentials", "refresh_token"])
    );
}

async fn health_readiness_and_metrics(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let get = |path: &str| app.http.get(format!("{}{path}", app.url)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["storage"],
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );

    app.new_token().await;
    let _ = app
        .token_as(&app.app_id, "vgs_wrong", "grant_type=client_credentials")
        .await;
    let metrics = get("/metrics").await.unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"vigie_tokens_issued_total{grant_type="client_credentials"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vigie_token_failures_total{reason="invalid_client"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"vigie_http_request_duration_seconds_count{method="POST",route="/v0/oauth2/token",status="200"} 1"#), "{text}");
    assert!(!text.contains(&app.secret));
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    assert_problem(
        app.http
            .get(format!("{}/nope", app.url))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_problem(
        app.http
            .get(format!("{}/v0/oauth2token", app.url))
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
}

on_both_backends!(
    discovery_documents,
    health_readiness_and_metrics,
    unknown_routes_and_methods_are_problems
);
