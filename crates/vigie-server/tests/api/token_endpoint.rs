//! The token endpoint's request handling: authentication methods and every error of
//! RFC 6749 §5.2 with its status, headers and description.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp, assert_oauth_error, on_both_backends, spawn};

async fn raw_post(
    app: &TestApp,
    content_type: Option<&str>,
    authorization: Option<String>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/v0/oauth2token", app.url))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.unwrap()
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

fn basic(id: &str, secret: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        STANDARD.encode(format!("{id}:{secret}"))
    ))
}

async fn malformed_requests_are_invalid_request(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let good = || basic(&app.app_id, &app.secret);
    let grant = || b"grant_type=client_credentials".to_vec();
    // (case, content type, Authorization, body, what the description must mention)
    type Case<'a> = (&'a str, Option<&'a str>, Option<String>, Vec<u8>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "basic not base64",
            FORM,
            Some("Basic %%%".into()),
            grant(),
            "base64",
        ),
        (
            "basic without colon",
            FORM,
            Some(format!("Basic {}", STANDARD.encode("nocolon"))),
            grant(),
            "':'",
        ),
        (
            "basic not utf-8",
            FORM,
            Some(format!("Basic {}", STANDARD.encode([b'a', b':', 0xff]))),
            grant(),
            "UTF-8",
        ),
        (
            "not basic scheme",
            FORM,
            Some("Bearer abc".into()),
            grant(),
            "Basic",
        ),
        (
            "body not utf-8",
            FORM,
            good(),
            b"grant_type=client_credentials&scope=%FF".to_vec(),
            "UTF-8",
        ),
        (
            "repeated parameter",
            FORM,
            good(),
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            "repeated",
        ),
        (
            "text body",
            Some("text/plain"),
            good(),
            grant(),
            "x-www-form-urlencoded or application/json",
        ),
        (
            "json array",
            JSON,
            good(),
            br#"["client_credentials"]"#.to_vec(),
            "object of string parameters",
        ),
        (
            "json number parameter",
            JSON,
            good(),
            br#"{"grant_type":"client_credentials","scope":7}"#.to_vec(),
            "scope must be a string",
        ),
        (
            "json repeated parameter",
            JSON,
            good(),
            br#"{"grant_type":"client_credentials","grant_type":"refresh_token"}"#.to_vec(),
            "repeated",
        ),
        (
            "json malformed",
            JSON,
            good(),
            br#"{"grant_type":"#.to_vec(),
            "not valid JSON",
        ),
        (
            "json oversized",
            JSON,
            good(),
            format!(
                r#"{{"grant_type":"client_credentials","pad":"{}"}}"#,
                "x".repeat(9000)
            )
            .into_bytes(),
            "8192",
        ),
        (
            "json missing grant type",
            JSON,
            good(),
            br#"{"scope":"data"}"#.to_vec(),
            "grant_type",
        ),
        (
            "json two authentication methods",
            JSON,
            good(),
            format!(
                r#"{{"grant_type":"client_credentials","client_id":"{}","client_secret":"{}"}}"#,
                app.app_id, app.secret
            )
            .into_bytes(),
            "exactly one",
        ),
        (
            "no content type",
            None,
            good(),
            grant(),
            "x-www-form-urlencoded or application/json",
        ),
        (
            "oversized body",
            FORM,
            good(),
            format!("grant_type=client_credentials&pad={}", "x".repeat(9000)).into_bytes(),
            "8192",
        ),
        (
            "missing grant type",
            FORM,
            good(),
            b"scope=data".to_vec(),
            "grant_type",
        ),
        (
            "refresh without token",
            FORM,
            good(),
            b"grant_type=refresh_token".to_vec(),
            "refresh_token",
        ),
        (
            "two authentication methods",
            FORM,
            good(),
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                app.app_id, app.secret
            )
            .into_bytes(),
            "exactly one",
        ),
    ];
    for (name, content_type, authorization, body, mentions) in cases {
        let response = raw_post(&app, content_type, authorization, body).await;
        let description = assert_oauth_error(response, 400, "invalid_request").await;
        assert!(
            description.contains(mentions),
            "{name}: {description:?} should mention {mentions:?}"
        );
    }
}

async fn failed_authentication_is_identical_for_unknown_id_and_wrong_secret(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let mut answers = Vec::new();
    for (id, secret) in [
        ("00000000-0000-4000-8000-000000000000", app.secret.as_str()),
        (app.app_id.as_str(), "vgs_wrong"),
        (app.app_id.as_str(), ""),
    ] {
        let response = app
            .token_as(id, secret, "grant_type=client_credentials")
            .await;
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        answers.push((headers, response.text().await.unwrap()));
    }
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:#?}"
    );
    let body: Value = serde_json::from_str(&answers[0].1).unwrap();
    assert_eq!(body["error"], "invalid_client");

    let none = raw_post(&app, FORM, None, b"grant_type=client_credentials".to_vec()).await;
    assert_oauth_error(none, 401, "invalid_client").await;
}

async fn both_authentication_methods_work(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let post_body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        app.app_id, app.secret
    );
    let response = raw_post(
        &app,
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        None,
        post_body.into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");

    // RFC 6749 §2.3.1: credentials are form-encoded before base64; encoding unreserved
    // characters changes nothing, so both kinds of client send equivalent credentials.
    let encoded_id = app.app_id.replace('-', "%2D");
    let response = raw_post(
        &app,
        FORM,
        basic(&encoded_id, &app.secret),
        b"grant_type=client_credentials".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);

    // A client_id in the body that matches the Basic credentials is tolerated.
    let body = format!("grant_type=client_credentials&client_id={}", app.app_id);
    assert_eq!(
        raw_post(
            &app,
            FORM,
            basic(&app.app_id, &app.secret),
            body.into_bytes()
        )
        .await
        .status(),
        200
    );
    let body = "grant_type=client_credentials&client_id=someone-else"
        .as_bytes()
        .to_vec();
    assert_oauth_error(
        raw_post(&app, FORM, basic(&app.app_id, &app.secret), body).await,
        400,
        "invalid_request",
    )
    .await;
}

async fn grant_and_scope_errors(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let description = assert_oauth_error(
        app.token("grant_type=password&username=a&password=b").await,
        400,
        "unsupported_grant_type",
    )
    .await;
    assert!(description.contains("client_credentials"));
    assert_oauth_error(
        app.token("grant_type=client_credentials&scope=admin").await,
        400,
        "invalid_scope",
    )
    .await;
    assert_oauth_error(
        app.token("grant_type=client_credentials&scope=data%20admin")
            .await,
        400,
        "invalid_scope",
    )
    .await;
    let granted = app.token("grant_type=client_credentials&scope=data").await;
    assert_eq!(granted.status(), 200);
    assert_oauth_error(
        app.token("grant_type=refresh_token&refresh_token=not-a-token")
            .await,
        400,
        "invalid_grant",
    )
    .await;
    let token = app.new_token().await;
    let wider = format!(
        "grant_type=refresh_token&scope=admin&refresh_token={}",
        token["refresh_token"].as_str().unwrap()
    );
    assert_oauth_error(app.token(&wider).await, 400, "invalid_scope").await;
    // The refused request changed nothing: the refresh token still works.
    assert_eq!(
        app.refresh(token["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

async fn failed_authentication_is_rate_limited_without_locking_out_the_client(backend: Backend) {
    let options = Options {
        configure: Box::new(|config| {
            config.auth.failure_quota.per_client_id = 3.try_into().unwrap();
        }),
        ..Options::default()
    };
    let Some(app) = spawn(backend, options).await else {
        return;
    };
    for _ in 0..3 {
        assert_eq!(
            app.token_as(&app.app_id, "vgs_wrong", "grant_type=client_credentials")
                .await
                .status(),
            401
        );
    }
    let limited = app
        .token_as(&app.app_id, "vgs_wrong", "grant_type=client_credentials")
        .await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // The legitimate client, presenting the right secret, is still served.
    assert_eq!(
        app.token("grant_type=client_credentials").await.status(),
        200
    );
    // An unknown id is limited the same way, so 429 reveals nothing either.
    for _ in 0..3 {
        assert_eq!(
            app.token_as("no-such-client", "x", "grant_type=client_credentials")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.token_as("no-such-client", "x", "grant_type=client_credentials")
            .await
            .status(),
        429
    );
}

on_both_backends!(
    malformed_requests_are_invalid_request,
    failed_authentication_is_identical_for_unknown_id_and_wrong_secret,
    both_authentication_methods_work,
    grant_and_scope_errors,
    failed_authentication_is_rate_limited_without_locking_out_the_client,
);
