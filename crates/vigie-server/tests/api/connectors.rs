//! Real integrations, byte for byte: the product's Node-RED connector (a JSON token
//! body, lower-case authorization schemes, a `/v0` base URL, and only `201` counts as
//! a stored push) and token requests in JSON by every parameter the form takes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, assert_oauth_error, on_both_backends, spawn};

const READINGS: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:51.000Z","value":19.9,"precision":100}]"#;

impl TestApp {
    /// `POST {base}/oauth2/token` as the connector sends it: JSON, lower-case `basic`.
    async fn json_token(&self, scheme: &str, body: Value) -> reqwest::Response {
        let credentials = STANDARD.encode(format!("{}:{}", self.app_id, self.secret));
        self.http
            .post(format!("{}/v0/oauth2/token", self.url))
            .header("authorization", format!("{scheme} {credentials}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `POST {base}/organisations/{org}/data/{project}` with a bearer scheme as written.
    async fn connector_push(&self, scheme: &str, token: &str) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/v0/organisations/{}/data/pressline",
                self.url, self.org_id
            ))
            .header("authorization", format!("{scheme} {token}"))
            .header("content-type", "application/json")
            .body(READINGS)
            .send()
            .await
            .unwrap()
    }
}

async fn the_node_red_connector_exchange_succeeds(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    // What the connector's configuration form accepts.
    let org = uuid::Uuid::parse_str(&app.org_id).expect("ORGANISATION_ID is a UUID");
    assert_eq!(org.get_version_num(), 4, "ORGANISATION_ID is a UUID v4");
    let response = app
        .json_token("basic", json!({"grant_type": "client_credentials"}))
        .await;
    assert_eq!(response.status(), 200, "anything else is a failure to it");
    let token: Value = response.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(token["token_type"], "bearer");

    let pushed = app.connector_push("bearer", access).await;
    assert_eq!(pushed.status(), 201, "only 201 counts as stored");
    assert_eq!(
        pushed.json::<Value>().await.unwrap(),
        json!({"received": 1, "new": 1, "unchanged": 0, "replaced": 0})
    );
    for scheme in ["Bearer", "BEARER"] {
        assert_eq!(app.connector_push(scheme, access).await.status(), 201);
    }
    // On 401 it drops its token and fetches a new one: that must be a 401.
    let forged = app.connector_push("bearer", "not.a.token").await;
    assert_eq!(forged.status(), 401);
    let page = app
        .get_json(
            format!("{}/v0/organisations/{}/data/pressline", app.url, app.org_id),
            Some(access),
        )
        .await;
    assert_eq!(page["readings"][0]["sensorId"], "GDPD-DEB_MASS1.PV");
    assert_eq!(page["readings"][0]["precision"], 100);
}

async fn json_token_bodies_take_every_form_parameter(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    for scheme in ["Basic", "BASIC"] {
        let response = app
            .json_token(
                scheme,
                json!({"grant_type": "client_credentials", "scope": "data"}),
            )
            .await;
        assert_eq!(response.status(), 200, "{scheme}");
    }
    let granted: Value = app
        .http
        .post(format!("{}/v0/oauth2token", app.url))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(
            json!({"grant_type": "client_credentials", "client_id": app.app_id, "client_secret": app.secret})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = granted["refresh_token"]
        .as_str()
        .expect("body authentication");
    let renewed = app
        .json_token(
            "basic",
            json!({"grant_type": "refresh_token", "scope": "data", "refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(renewed.status(), 200);
    let renewed: Value = renewed.json().await.unwrap();
    assert_ne!(renewed["refresh_token"], granted["refresh_token"]);

    // The same rules and errors as form bodies.
    let replay = app
        .json_token(
            "basic",
            json!({"grant_type": "refresh_token", "refresh_token": "vgr_unknown"}),
        )
        .await;
    assert_oauth_error(replay, 400, "invalid_grant").await;
    let wider = app
        .json_token(
            "basic",
            json!({"grant_type": "client_credentials", "scope": "data admin"}),
        )
        .await;
    assert_oauth_error(wider, 400, "invalid_scope").await;
    let other = app
        .json_token("basic", json!({"grant_type": "password"}))
        .await;
    assert_oauth_error(other, 400, "unsupported_grant_type").await;
    let wrong_secret = app
        .http
        .post(format!("{}/v0/oauth2/token", app.url))
        .header("Content-Type", "application/json")
        .body(
            json!({"grant_type": "client_credentials", "client_id": app.app_id, "client_secret": "vgs_wrong"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let form_wrong_secret = app
        .token_as(&app.app_id, "vgs_wrong", "grant_type=client_credentials")
        .await;
    assert_eq!(wrong_secret.status(), 401);
    assert_eq!(
        wrong_secret.text().await.unwrap(),
        form_wrong_secret.text().await.unwrap(),
        "the same answer whichever the encoding"
    );

    // Revocation and introspection read JSON the same way.
    let introspected: Value = app
        .http
        .post(format!("{}/v0/oauth2/introspect", app.url))
        .basic_auth(&app.app_id, Some(&app.secret))
        .json(&json!({"token": renewed["access_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
}

on_both_backends!(
    the_node_red_connector_exchange_succeeds,
    json_token_bodies_take_every_form_parameter,
);
