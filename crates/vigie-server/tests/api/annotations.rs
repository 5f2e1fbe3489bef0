//! Annotations through the API, as a plant's maintenance system would write them:
//! listed with scope `data`, written and deleted with scope `events` (the application
//! is the author, the audit log says so), bad ones refused with the reason, another
//! organisation's invisible; and a planned stop silences the events that would start
//! on what it covers while it lasts.

use serde_json::{Value, json};
use vigie_proto::time::Timestamp;

use crate::anomalies::{MINUTE_US, SPIKE_AT, push, series};
use crate::events::token_with_scope;
use crate::helpers::{Backend, Options, TestApp, assert_problem, on_both_backends, spawn};

on_both_backends!(
    an_integration_writes_lists_and_deletes_annotations,
    a_planned_stop_silences_the_events_that_start_in_it
);

fn url(app: &TestApp, org_id: &str) -> String {
    format!(
        "{}/v0/organisations/{org_id}/annotations/pressline",
        app.url
    )
}

/// The date of minute `i` of [`series`].
fn minute(i: usize) -> String {
    Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * MINUTE_US).to_string()
}

async fn post(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.http
        .post(url(app, &app.org_id))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn an_integration_writes_lists_and_deletes_annotations(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let data = app.access_token().await;
    let (cmms, events) = token_with_scope(&app, "data events").await;
    let stop = json!({"start": minute(10), "end": minute(70), "kind": "planned_stop",
                      "note": "die change", "sensorId": "press-7"});

    // Scope `data` reads but does not write.
    let refused = post(&app, &data, stop.clone()).await;
    assert_eq!(refused.status(), 403);
    let written = post(&app, &events, stop).await;
    assert_eq!(written.status(), 201);
    let written: Value = written.json().await.unwrap();
    assert_eq!(written["kind"], "planned_stop");
    assert_eq!(written["author"], cmms.as_str());
    assert_eq!(written["start"], minute(10).as_str());
    let note =
        json!({"start": minute(100), "end": minute(101), "kind": "note", "note": "oil topped up"});
    assert_eq!(post(&app, &events, note).await.status(), 201);

    let all = app.get_json(url(&app, &app.org_id), Some(&data)).await;
    let kinds: Vec<&str> = all["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["planned_stop", "note"]);
    let later = format!("{}?from={}", url(&app, &app.org_id), minute(80));
    let later = app.get_json(later, Some(&data)).await;
    assert_eq!(later["annotations"].as_array().unwrap().len(), 1);

    // Bad annotations are refused with the reason.
    for (body, reason) in [
        (
            json!({"start": minute(5), "end": minute(5), "kind": "note"}),
            "end must be after start",
        ),
        (
            json!({"start": "soon", "end": minute(5), "kind": "note"}),
            "start must be",
        ),
        (
            json!({"start": minute(1), "end": minute(5), "kind": "party"}),
            "expected one of `maintenance`, `planned_stop`",
        ),
        (
            json!({"start": minute(1), "end": minute(5), "kind": "note", "valueName": "x"}),
            "sensorId",
        ),
        (
            json!({"start": minute(1), "end": minute(5), "kind": "note", "colour": "red"}),
            "colour",
        ),
        (
            json!({"start": minute(1), "end": minute(5), "kind": "note", "note": "x".repeat(2_001)}),
            "2000",
        ),
    ] {
        let problem = assert_problem(post(&app, &events, body.clone()).await, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{body}: {detail}");
    }

    // Another organisation sees nothing and deletes nothing.
    let id = written["id"].as_str().unwrap();
    let other = app.store.create_organisation("other", 1).await.unwrap();
    app.store
        .create_project(&other.id, "pressline", 1)
        .await
        .unwrap();
    let theirs = app
        .http
        .get(url(&app, &other.id))
        .bearer_auth(&data)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 404).await;
    let delete = |token: String, org: String| {
        let request = app
            .http
            .delete(format!("{}/{id}", url(&app, &org)))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    assert_problem(delete(events.clone(), other.id.clone()).await, 404).await;
    assert_eq!(delete(data.clone(), app.org_id.clone()).await.status(), 403);
    assert_eq!(
        delete(events.clone(), app.org_id.clone()).await.status(),
        204
    );
    assert_problem(delete(events.clone(), app.org_id.clone()).await, 404).await;

    let audit = app.store.list_audit(&app.org_id, 10).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        actions[..3],
        [
            (cmms.as_str(), "annotation.delete"),
            (cmms.as_str(), "annotation.create"),
            (cmms.as_str(), "annotation.create")
        ]
    );
}

async fn a_planned_stop_silences_the_events_that_start_in_it(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let data = app.access_token().await;
    let (_, events) = token_with_scope(&app, "data events").await;
    // A stop of the whole project around the spike, and a maintenance (which
    // silences nothing) on the same sensor.
    let stop = json!({"start": minute(SPIKE_AT - 30), "end": minute(SPIKE_AT + 30), "kind": "planned_stop"});
    assert_eq!(post(&app, &events, stop).await.status(), 201);
    let maintenance = json!({"start": minute(0), "end": minute(3_000), "kind": "maintenance", "sensorId": "press-7"});
    assert_eq!(post(&app, &events, maintenance).await.status(), 201);
    for start in (0..3_000).step_by(500) {
        push(&app, &data, series(start..start + 500)).await;
    }
    let anomalies_url = format!(
        "{}/v0/organisations/{}/anomalies/pressline",
        app.url, app.org_id
    );
    let found = app.get_json(anomalies_url.clone(), Some(&data)).await;
    assert_eq!(found["anomalies"], json!([]), "silenced: {found}");
    // The readings were stored and scored all the same.
    let readings = app
        .get_json(
            format!(
                "{}?from={}&to={}",
                app.data_url(&app.org_id, "pressline"),
                minute(SPIKE_AT),
                minute(SPIKE_AT + 1)
            ),
            Some(&data),
        )
        .await;
    assert!(
        readings["readings"][0]["anomalyScore"].as_f64().unwrap() > 0.5,
        "{readings}"
    );

    // The same spike in another project, without a stop, is an event.
    app.store
        .create_project(&app.org_id, "pressline2", 1)
        .await
        .unwrap();
    let url = app.data_url(&app.org_id, "pressline2");
    for start in (0..3_000).step_by(500) {
        let response = app
            .http
            .post(&url)
            .bearer_auth(&data)
            .json(&series(start..start + 500))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let found = app
        .get_json(
            format!(
                "{}/v0/organisations/{}/anomalies/pressline2",
                app.url, app.org_id
            ),
            Some(&data),
        )
        .await;
    assert_eq!(found["anomalies"].as_array().unwrap().len(), 1, "{found}");
}
