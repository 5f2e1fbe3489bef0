//! What an outside security probe found, each reproduced against the real server:
//! hostile requests must neither grow the server's memory nor corrupt detection.

use std::time::Instant;

use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, on_both_backends, spawn};

const T0_US: i64 = 1_700_000_000_000_000;

/// `count` readings of series `s` from reading `from` on, one a minute, a daily cycle
/// with a spike at reading `spike`.
fn series_body(from: usize, count: usize, spike: Option<usize>) -> String {
    let readings: Vec<Value> = (from..from + count)
        .map(|i| {
            let daily = (i as f64 * std::f64::consts::TAU / 1440.0).sin() * 10.0;
            let value = 50.0 + daily + if Some(i) == spike { 500.0 } else { 0.0 };
            let date = vigie_proto::readings::format_time_us(T0_US + i as i64 * 60_000_000);
            json!({"sensorId": "s", "date": date, "value": value})
        })
        .collect();
    Value::from(readings).to_string()
}

async fn create_project(app: &TestApp, code: &str) -> String {
    app.store
        .create_project(&app.org_id, code, 1)
        .await
        .unwrap();
    app.data_url(&app.org_id, code)
}

async fn push(
    app: &TestApp,
    url: &str,
    token: &str,
    body: String,
) -> reqwest::Result<reqwest::Response> {
    app.http
        .post(url)
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
}

async fn scores_after(app: &TestApp, url: &str, token: &str, from: usize) -> Vec<Option<f64>> {
    let date = vigie_proto::readings::format_time_us(T0_US + from as i64 * 60_000_000);
    let page = app
        .get_json(format!("{url}?from={date}"), Some(token))
        .await;
    page["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["anomalyScore"].as_f64())
        .collect()
}

/// A client that gives up on a large push while the server is committing it, then
/// pushes again at once: the second push must be scored by the detector that scored the
/// first (the probe saw it reload the state from before the first, 3 times out of 3).
async fn a_cancelled_push_leaves_detection_consistent(backend: Backend) {
    const BIG: usize = 60_000;
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let reference = create_project(&app, "reference").await;
    let started = Instant::now();
    let answer = push(&app, &reference, &token, series_body(0, BIG, None))
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let whole = started.elapsed();
    let small = || series_body(BIG, 10, Some(BIG + 5));
    assert_eq!(
        push(&app, &reference, &token, small())
            .await
            .unwrap()
            .status(),
        201
    );
    let expected = scores_after(&app, &reference, &token, BIG).await;
    assert_eq!(expected.len(), 10);
    assert!(
        expected[5].unwrap() > 0.9,
        "the spike is found: {expected:?}"
    );

    // Give up at several moments of the big push, so that one falls after the batch
    // reached the store and before its commit.
    let mut given_up_yet_committed = 0;
    for (attempt, fraction) in [0.5, 0.7, 0.8, 0.9, 0.95].into_iter().enumerate() {
        let url = create_project(&app, &format!("cancelled{attempt}")).await;
        let give_up = whole.mul_f64(fraction);
        let gave_up =
            tokio::time::timeout(give_up, push(&app, &url, &token, series_body(0, BIG, None)))
                .await;
        let pushed = push(&app, &url, &token, small()).await.unwrap();
        assert_eq!(pushed.status(), 201);
        if gave_up.is_ok() {
            continue;
        }
        // The big push may or may not have been committed; either way, once it is
        // settled, what was scored must be what one uninterrupted detector gives.
        tokio::time::sleep(whole).await;
        let page = app.get_json(format!("{url}/series"), Some(&token)).await;
        let stored = page[0]["count"].as_u64().unwrap();
        let scores = scores_after(&app, &url, &token, BIG).await;
        if stored as usize == BIG + 10 {
            given_up_yet_committed += 1;
            assert_eq!(
                scores, expected,
                "attempt {attempt} (gave up after {give_up:?} of {whole:?})"
            );
        } else {
            assert_eq!(stored, 10, "all or nothing");
        }
    }
    assert!(
        given_up_yet_committed > 0,
        "no attempt gave up during a commit: the test proved nothing"
    );
}

/// Alternating ±1.7e308 drove a detector to NaN and its checkpoint to `null`s.
async fn extreme_values_keep_detection_finite(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let url = app.data_url(&app.org_id, "pressline");
    // Past a checkpoint (every 4,096 scored readings), in two requests.
    for part in 0..2 {
        let readings: Vec<Value> = (part * 2_100..(part + 1) * 2_100)
            .map(|i| {
                let date = vigie_proto::readings::format_time_us(T0_US + i as i64 * 60_000_000);
                let value = if i % 2 == 0 { 1.7e308 } else { -1.7e308 };
                json!({"sensorId": "s", "date": date, "value": value})
            })
            .collect();
        let answer = push(&app, &url, &token, Value::from(readings).to_string())
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    }
    let project = vigie_store::ProjectKey {
        org_id: app.org_id.clone(),
        code: "pressline".into(),
    };
    let stored = app
        .store
        .series_detection(&project, "s", "none")
        .await
        .unwrap();
    let checkpoint: Value =
        serde_json::from_str(&stored.checkpoint.expect("a checkpoint")).unwrap();
    let detector: Result<vigie_detect::detector::SeriesDetector, _> =
        serde_json::from_value(checkpoint["detector"].clone());
    assert!(
        detector.is_ok(),
        "a number of the checkpoint is not finite: {detector:?}"
    );
    let page = app
        .get_json(format!("{url}?limit=10000"), Some(&token))
        .await;
    let readings = page["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 4_200);
    assert!(
        readings.iter().all(|r| r["anomalyScore"]
            .as_f64()
            .is_some_and(|s| (0.0..=1.0).contains(&s))),
        "every reading has a finite score"
    );
}

on_both_backends!(
    a_cancelled_push_leaves_detection_consistent,
    extreme_values_keep_detection_finite,
);
