//! Detection in the service: a series pushed through the HTTP API with an injected
//! spike shows up as an anomaly event, at once, also across a restart; scores come back
//! with the readings.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, Options, TestApp, assert_problem, on_both_backends, spawn, spawn_on,
};

pub(crate) const MINUTE_US: i64 = 60_000_000;
pub(crate) const SPIKE_AT: usize = 2_500;

/// A day-periodic signal sampled every minute, with small deterministic noise and one spike.
pub(crate) fn series(range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| {
            let t = 1_700_000_000_000_000 + i as i64 * MINUTE_US;
            let daily = (i as f64 * std::f64::consts::TAU / 1440.0).sin() * 10.0;
            let noise = ((i * 7919) % 101) as f64 / 100.0 - 0.5;
            let spike = if i == SPIKE_AT { 60.0 } else { 0.0 };
            json!({"sensorId": "press-7", "valueName": "temperature", "date": vigie_proto::time::Timestamp::from_micros(t).to_string(),
                   "value": 50.0 + daily + noise + spike})
        })
        .collect()
}

pub(crate) async fn push(app: &TestApp, token: &str, readings: Vec<Value>) {
    let response = app
        .http
        .post(format!(
            "{}/v0/organisations/{}/data/pressline",
            app.url, app.org_id
        ))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(Value::from(readings).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn anomalies(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.http
        .get(format!(
            "{}/v0/organisations/{}/anomalies/pressline?{query}",
            app.url, app.org_id
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn spike_date() -> String {
    vigie_proto::time::Timestamp::from_micros(1_700_000_000_000_000 + SPIKE_AT as i64 * MINUTE_US)
        .to_string()
}

fn minute_after_spike() -> String {
    vigie_proto::time::Timestamp::from_micros(
        1_700_000_000_000_000 + (SPIKE_AT as i64 + 1) * MINUTE_US,
    )
    .to_string()
}

async fn an_injected_spike_becomes_an_anomaly_event(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for start in (0..3_000).step_by(500) {
        push(&app, &token, series(start..start + 500)).await;
    }
    // Detection is part of the push: the event is there as soon as the push answered.
    let page: Value = anomalies(&app, &token, "").await.json().await.unwrap();
    let events = page["anomalies"].as_array().unwrap();
    let spike = events.iter().find(|e| {
        e["start"].as_str().unwrap() <= spike_date().as_str()
            && spike_date().as_str() <= e["end"].as_str().unwrap()
    });
    let spike =
        spike.unwrap_or_else(|| panic!("no event covers the spike at {}: {page}", spike_date()));
    assert_eq!(spike["sensorId"], "press-7");
    assert_eq!(spike["valueName"], "temperature");
    assert_eq!(spike["peakDate"], spike_date());
    let explanation = &spike["explanation"];
    assert_eq!(explanation["kind"], "spike", "{spike}");
    assert!(
        explanation["observed"].as_f64() > explanation["expectedHigh"].as_f64(),
        "{spike}"
    );
    assert!(
        events.len() <= 3,
        "a clean daily cycle raises (almost) no other event: {page}"
    );

    let around = format!(
        "from={}&to={}&minScore=0.1&sensorId=press-7",
        spike_date(),
        minute_after_spike()
    );
    let filtered: Value = anomalies(&app, &token, &around).await.json().await.unwrap();
    assert_eq!(
        filtered["anomalies"].as_array().unwrap().len(),
        1,
        "{filtered}"
    );
    let none: Value = anomalies(&app, &token, "minScore=1.01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["anomalies"], json!([]), "{none}");
    assert_problem(anomalies(&app, &token, "minScore=high").await, 400).await;

    // Scores come back with the readings.
    let read: Value = app
        .get_json(
            format!(
                "{}/v0/organisations/{}/data/pressline?from={}&limit=1",
                app.url,
                app.org_id,
                spike_date()
            ),
            Some(&token),
        )
        .await;
    assert!(
        read["readings"][0]["anomalyScore"].as_f64().unwrap()
            >= spike["peakScore"].as_f64().unwrap() - 1e-12
    );
}

async fn detection_resumes_after_a_restart_and_skips_late_readings(backend: Backend) {
    let Some(first) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = first.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    push(&first, &token, series(0..2_000)).await;
    let (store, secret) = (first.store.clone(), first.secret.clone());
    drop(first);
    // A new server on the same store loads each series' detector from it.
    let mut second = spawn_on(store, Options::default()).await;
    second.secret = secret;
    let token = second.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    push(&second, &token, series(2_000..3_000)).await;
    let page: Value = anomalies(&second, &token, "sensorId=press-7")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        page["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["peakDate"] == spike_date()),
        "{page}"
    );

    // A late reading is stored but not scored.
    let late = json!({"sensorId": "press-7", "valueName": "temperature", "date": "2023-01-01T00:00:00.000Z", "value": 1.0});
    push(&second, &token, vec![late]).await;
    let read: Value = second
        .get_json(
            format!(
                "{}/v0/organisations/{}/data/pressline?to=2023-01-02T00:00:00Z",
                second.url, second.org_id
            ),
            Some(&token),
        )
        .await;
    assert_eq!(read["readings"].as_array().unwrap().len(), 1);
    assert!(read["readings"][0].get("anomalyScore").is_none(), "{read}");
}

on_both_backends!(
    an_injected_spike_becomes_an_anomaly_event,
    detection_resumes_after_a_restart_and_skips_late_readings
);
