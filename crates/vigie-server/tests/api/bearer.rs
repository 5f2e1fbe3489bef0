//! The bearer middleware's answers, which "renew on 401" clients depend on, and tenant
//! isolation of the API.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::helpers::{
    Backend, Options, assert_problem, jwt_parts, on_both_backends, spawn, spawn_on,
};

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn missing_and_invalid_tokens_get_the_rfc_6750_answers(backend: Backend) {
    let Some(app) = spawn(
        backend,
        Options {
            manual_clock: true,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let url = format!("{}/v0/organisations/{}/projects", app.url, app.org_id);

    let missing = app.http.get(&url).send().await.unwrap();
    assert_eq!(
        challenge(&missing),
        r#"Bearer realm="vigie""#,
        "no error code when no token was sent"
    );
    assert_problem(missing, 401).await;

    let token: Value = app.new_token().await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = jwt_parts(&access);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let payload = access.split('.').nth(1).unwrap().to_owned();

    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.url), None)
        .await;
    let public_key = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#)
    );
    let mut forged_claims = claims.clone();
    forged_claims["scope"] = "data admin".into();
    let forged = format!(
        "{}.{}.{}",
        access.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap()),
        access.split('.').nth(2).unwrap()
    );

    let cases = [
        ("Bearer not-a-jwt", "malformed"),
        ("Basic abc", "Bearer"),
        (&format!("Bearer {hs256}") as &str, "algorithm"),
        (&format!("Bearer {none}"), "algorithm"),
        (&format!("Bearer {forged}"), "signature"),
    ];
    for (authorization, mentions) in cases {
        let response = app
            .http
            .get(&url)
            .header("Authorization", authorization)
            .send()
            .await
            .unwrap();
        let www = challenge(&response);
        assert!(
            www.starts_with(r#"Bearer realm="vigie", error="invalid_token", error_description=""#),
            "{www}"
        );
        let body = assert_problem(response, 401).await;
        assert!(
            body["detail"].as_str().unwrap().contains(mentions),
            "{authorization}: {body}"
        );
    }

    assert_eq!(app.projects(&app.org_id, &access).await.status(), 200);
    app.advance(172_800);
    let expired = app.projects(&app.org_id, &access).await;
    assert!(challenge(&expired).contains("invalid_token"));
    let body = assert_problem(expired, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

async fn wrong_audience_is_invalid_token(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let access = app.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A second server on the same store (same keys) that serves another audience.
    let other = spawn_on(
        app.store.clone(),
        Options {
            configure: Box::new(|config| config.auth.audience = "another-api".into()),
            ..Options::default()
        },
    )
    .await;
    let response = other.projects(&app.org_id, &access).await;
    assert!(challenge(&response).contains("invalid_token"));
    let body = assert_problem(response, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("audience"));
}

async fn insufficient_scope_is_403(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let (id, secret) = app.create_app(&app.org_id, "reports").await;
    app.wait_for_reload().await;
    let response = app
        .token_as(&id, &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(response.status(), 200);
    let access = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app.projects(&app.org_id, &access).await;
    assert_eq!(
        challenge(&refused),
        r#"Bearer realm="vigie", error="insufficient_scope", scope="data""#
    );
    assert_problem(refused, 403).await;
}

async fn tenants_cannot_see_each_other(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let other_org = app.store.create_organisation("globex", 1).await.unwrap();
    app.store
        .create_project(&other_org.id, "secretline", 2)
        .await
        .unwrap();
    let access = app.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let own: Value = app
        .projects(&app.org_id, &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["code"], "pressline");
    let foreign = assert_problem(app.projects(&other_org.id, &access).await, 404).await;
    let unknown = assert_problem(
        app.projects("00000000-0000-4000-8000-000000000000", &access)
            .await,
        404,
    )
    .await;
    assert_eq!(
        foreign, unknown,
        "another tenant's organisation looks exactly like a missing one"
    );
}

on_both_backends!(
    missing_and_invalid_tokens_get_the_rfc_6750_answers,
    wrong_audience_is_invalid_token,
    insufficient_scope_is_403,
    tenants_cannot_see_each_other,
);
