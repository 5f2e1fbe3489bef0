//! An organisation's applications through the API, as a customer's own tooling would
//! manage them with an application of scope `admin`: create (the secret once, good
//! for a token at once), list without secrets, rotate with or without grace, disable;
//! never itself, never another organisation's; bad requests refused with the reason;
//! every change audited with the acting application.

use serde_json::{Value, json};

use crate::events::token_with_scope;
use crate::helpers::{Backend, Options, TestApp, assert_problem, on_both_backends, spawn};

on_both_backends!(an_admin_application_manages_the_organisations_applications);

fn url(app: &TestApp, org_id: &str, rest: &str) -> String {
    format!("{}/v0/organisations/{org_id}/applications{rest}", app.url)
}

async fn send(
    app: &TestApp,
    token: &str,
    org_id: &str,
    rest: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = match body {
        Some(body) => app.http.post(url(app, org_id, rest)).json(&body),
        None => app.http.post(url(app, org_id, rest)),
    };
    request.bearer_auth(token).send().await.unwrap()
}

/// Whether `secret` gets `id` a token.
async fn works(app: &TestApp, id: &str, secret: &str) -> bool {
    app.token_as(id, secret, "grant_type=client_credentials")
        .await
        .status()
        == 200
}

async fn an_admin_application_manages_the_organisations_applications(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let org = app.org_id.clone();
    let (admin_id, admin) = token_with_scope(&app, "admin").await;
    let data = app.access_token().await;

    // Scope `data` does not manage applications.
    let refused = app
        .http
        .get(url(&app, &org, ""))
        .bearer_auth(&data)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403).await;

    let created = send(
        &app,
        &admin,
        &org,
        "",
        Some(json!({"name": "cmms", "scope": "events data"})),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["scope"], "data events", "normalised");
    let cmms = created["id"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    app.wait_for_reload().await;
    assert!(
        works(&app, &cmms, &secret).await,
        "the secret gets a token at once"
    );

    let listed = app.get_json(url(&app, &org, ""), Some(&admin)).await;
    let listed = listed.as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a["id"] == cmms.as_str() && a["scope"] == "data events")
    );
    assert!(
        listed
            .iter()
            .all(|a| a.get("clientSecret").is_none() && !a.to_string().contains(&secret))
    );

    // Bad requests, with the reason.
    for (body, reason) in [
        (
            json!({"name": "x", "scope": "root"}),
            "scope must be one or more of data, events, admin",
        ),
        (json!({"name": "", "scope": "data"}), "name"),
        (
            json!({"name": "x", "scope": "data", "secret": "mine"}),
            "unknown field",
        ),
    ] {
        let problem =
            assert_problem(send(&app, &admin, &org, "", Some(body.clone())).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{body}: {problem}"
        );
    }
    let too_long = json!({"graceSeconds": 10_000_000});
    let problem = assert_problem(
        send(
            &app,
            &admin,
            &org,
            &format!("/{cmms}/rotate"),
            Some(too_long),
        )
        .await,
        400,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("graceSeconds"));

    // Rotation without grace: the old secret stops at once, the new one works.
    let rotated = send(
        &app,
        &admin,
        &org,
        &format!("/{cmms}/rotate"),
        Some(json!({"graceSeconds": 0})),
    )
    .await;
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    app.wait_for_reload().await;
    assert!(works(&app, &cmms, &new_secret).await);
    assert!(!works(&app, &cmms, &secret).await, "no grace asked");
    // With the default grace (a day), both work; no body needed.
    let rotated: Value = send(&app, &admin, &org, &format!("/{cmms}/rotate"), None)
        .await
        .json()
        .await
        .unwrap();
    let third = rotated["clientSecret"].as_str().unwrap().to_owned();
    app.wait_for_reload().await;
    assert!(works(&app, &cmms, &third).await && works(&app, &cmms, &new_secret).await);

    // Disabling: never itself; another one at once.
    let problem = assert_problem(
        send(&app, &admin, &org, &format!("/{admin_id}/disable"), None).await,
        409,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("itself"));
    assert_eq!(
        send(&app, &admin, &org, &format!("/{cmms}/disable"), None)
            .await
            .status(),
        204
    );
    app.wait_for_reload().await;
    assert!(!works(&app, &cmms, &third).await, "disabled");
    assert_problem(
        send(&app, &admin, &org, &format!("/{cmms}/rotate"), None).await,
        409,
    )
    .await;

    // Another organisation: neither its path nor its applications.
    let other = app.store.create_organisation("globex", 1).await.unwrap();
    let (theirs, _) = app.create_app(&other.id, "data").await;
    let elsewhere = app
        .http
        .get(url(&app, &other.id, ""))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(elsewhere, 404).await;
    for action in ["rotate", "disable"] {
        let response = send(&app, &admin, &org, &format!("/{theirs}/{action}"), None).await;
        assert_problem(response, 404).await;
    }
    let globex = app.store.list_applications(Some(&other.id)).await.unwrap();
    assert!(globex.iter().all(|a| a.disabled_at.is_none()));

    let audit = app.store.list_audit(&org, 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions[..4],
        [
            "application.disable",
            "application.rotate_secret",
            "application.rotate_secret",
            "application.create"
        ]
    );
    assert!(audit[..4].iter().all(|e| e.actor == admin_id));
}
