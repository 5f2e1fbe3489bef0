//! Acting on anomaly events through the API, as a plant's maintenance system would: the
//! event's status and history with scope `data`, actions with scope `events` (the
//! application is the actor), the lifecycle's rules as 409, bad values as 400, unknown
//! or foreign events as 404.

use serde_json::{Value, json};

use crate::anomalies::{push, series};
use crate::helpers::{Backend, Options, TestApp, assert_problem, on_both_backends, spawn};

pub(crate) async fn token_with_scope(app: &TestApp, scope: &str) -> (String, String) {
    let (id, secret) = app.create_app(&app.org_id, scope).await;
    app.wait_for_reload().await;
    let token: Value = app
        .token_as(&id, &secret, "grant_type=client_credentials")
        .await
        .json()
        .await
        .unwrap();
    (id, token["access_token"].as_str().unwrap().to_owned())
}

async fn an_integration_acknowledges_resolves_and_judges_an_event(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let data = app.access_token().await;
    for start in (0..3_000).step_by(500) {
        push(&app, &data, series(start..start + 500)).await;
    }
    let anomalies = app
        .get_json(
            format!(
                "{}/v0/organisations/{}/anomalies/pressline",
                app.url, app.org_id
            ),
            Some(&data),
        )
        .await;
    let id = anomalies["anomalies"][0]["id"].as_str().unwrap().to_owned();
    let event_url = format!(
        "{}/v0/organisations/{}/events/pressline/{id}",
        app.url, app.org_id
    );
    let untouched = app.get_json(event_url.clone(), Some(&data)).await;
    assert_eq!(
        untouched,
        json!({"id": id, "status": "open", "history": []})
    );

    let act = |token: &str, body: Value| {
        app.http
            .post(format!("{event_url}/actions"))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    // Scope `data` reads but does not act.
    let refused = act(&data, json!({"action": "acknowledge"})).await.unwrap();
    assert_problem(refused, 403).await;

    let (cmms, events) = token_with_scope(&app, "data events").await;
    let acked = act(
        &events,
        json!({"action": "acknowledge", "comment": "crew on site"}),
    )
    .await
    .unwrap();
    assert_eq!(acked.status(), 200);
    let acked: Value = acked.json().await.unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["history"][0]["actor"], cmms);
    assert_eq!(acked["history"][0]["comment"], "crew on site");
    // The lifecycle's rules: 409 with the reason.
    let again = act(&events, json!({"action": "acknowledge"}))
        .await
        .unwrap();
    let problem = assert_problem(again, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("only an open event")
    );
    // Bad values and bodies: 400.
    for body in [
        json!({"action": "verdict", "verdict": "maybe"}),
        json!({"action": "comment", "comment": ""}),
        json!({"action": "explode"}),
        json!({"action": "resolve", "surprise": 1}),
    ] {
        assert_problem(act(&events, body).await.unwrap(), 400).await;
    }
    let verdict = json!({"action": "verdict", "verdict": "anomaly", "faultCode": "BRG-3", "note": "bearing wear"});
    assert_eq!(act(&events, verdict).await.unwrap().status(), 200);
    let resolved: Value = act(&events, json!({"action": "resolve"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["verdict"], "anomaly");
    assert_eq!(resolved["faultCode"], "BRG-3");
    let actions: Vec<&str> = resolved["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["acknowledge", "verdict", "resolve"]);
    assert_eq!(app.get_json(event_url.clone(), Some(&data)).await, resolved);

    // Unknown ids, and ids of events that exist in no project of this organisation.
    for unknown in [
        "ev_nope",
        &vigie_console::lifecycle::event_id('s', 999_999, 1),
    ] {
        let url = format!(
            "{}/v0/organisations/{}/events/pressline/{unknown}",
            app.url, app.org_id
        );
        let answer = app.http.get(url).bearer_auth(&data).send().await.unwrap();
        assert_problem(answer, 404).await;
    }
}

on_both_backends!(an_integration_acknowledges_resolves_and_judges_an_event);
