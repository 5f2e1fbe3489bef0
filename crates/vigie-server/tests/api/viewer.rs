//! The series viewer's data through the real server: a dense series is drawn from its
//! rollups, a zoomed-in range from its readings, and neither loses an extreme, a score
//! or an event; each point carries the band of expected values.

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::console::{Browser, PASSWORD};
use crate::helpers::{Backend, Options, TestApp, on_both_backends, spawn};

on_both_backends!(the_viewer_draws_a_dense_series_from_rollups_without_losing_extremes);

/// 2020-01-01T00:00:00Z.
const START_US: i64 = 1_577_836_800_000_000;
const HOUR_US: i64 = 3_600_000_000;
/// Twenty readings a second.
const STEP_US: i64 = 50_000;
/// The spike, 70 minutes in.
const SPIKE_US: i64 = START_US + 70 * 60_000_000;

fn date(time_us: i64) -> String {
    vigie_proto::time::Timestamp::from_micros(time_us).to_string()
}

fn reading(time_us: i64, value: f64) -> Value {
    json!({"sensorId": "press-9", "valueName": "force", "date": date(time_us), "value": value})
}

async fn push(app: &TestApp, token: &str, readings: Vec<Value>) {
    let response = app
        .http
        .post(app.data_url(&app.org_id, "pressline"))
        .bearer_auth(token)
        .json(&readings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn chart(browser: &mut Browser<'_>, from_us: i64, to_us: i64, width: usize) -> Value {
    let path = format!(
        "/projects/pressline/series/data?sensor=press-9&value=force&from={}&to={}&width={width}",
        date(from_us),
        date(to_us)
    );
    let (status, body, _) = browser.get(&path).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn numbers(chart: &Value, key: &str) -> Vec<f64> {
    chart[key]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

async fn the_viewer_draws_a_dense_series_from_rollups_without_losing_extremes(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    // Two hours at 20 Hz (144,000 readings, a slow wave and noise) in requests of five minutes, a
    // spike of 500 at 70 minutes; then one reading of -400 sent alone, which is too
    // sparse for finer rollups: its hour must be drawn from the hour's own rollup.
    let readings: Vec<(i64, f64)> = (0..144_000)
        .map(|i| {
            let time_us = START_US + i * STEP_US;
            // Noise from a scrambled index (SplitMix64), uniform in [-1, 1).
            let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let noise = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
            let wave = 10.0 * (i as f64 / 12_000.0).sin() + noise;
            let value = if time_us == SPIKE_US { 500.0 } else { wave };
            (time_us, value)
        })
        .collect();
    for request in readings.chunks(6_000) {
        push(
            &app,
            &token,
            request.iter().map(|&(t, v)| reading(t, v)).collect(),
        )
        .await;
    }
    let lone_us = START_US + HOUR_US + 30 * 60_000_000 + 25_000;
    push(&app, &token, vec![reading(lone_us, -400.0)]).await;

    vigie_auth::people::create_user(
        &*app.store,
        &vigie_auth::clock::SystemClock,
        &app.org_id,
        "ada@example.com",
        "viewer",
        &SecretString::from(PASSWORD),
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("ada@example.com", PASSWORD).await.0, 303);

    // The whole two hours, 800 px: 9 s a column, drawn from per-second rollups, but
    // the second hour from its hour rollup (its seconds miss the lone reading).
    let whole = chart(&mut browser, START_US, START_US + 2 * HOUR_US, 800).await;
    // The chart names the coarsest source of its hours.
    assert_eq!(whole["resolution"], "hourly summaries");
    let values = numbers(&whole, "values");
    assert!(values.len() <= 4 * 800, "{} points", values.len());
    assert!(values.len() > 800, "{} points", values.len());
    let highest = values.iter().copied().fold(f64::MIN, f64::max);
    let lowest = values.iter().copied().fold(f64::MAX, f64::min);
    assert_eq!((lowest, highest), (-400.0, 500.0));
    let scores = numbers(&whole, "scores");
    assert!(
        scores.iter().any(|&s| s >= 0.8),
        "the spike's score survives"
    );
    // Events are never downsampled: the spike's is there, whole.
    let spike_s = SPIKE_US as f64 / 1e6;
    assert!(
        whole["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| { e[0].as_f64().unwrap() <= spike_s && spike_s <= e[1].as_f64().unwrap() }),
        "{}",
        whole["events"]
    );
    let band = numbers(&whole, "band_low");
    assert!(
        band.len() > values.len() / 2,
        "{} of {} points have a band",
        band.len(),
        values.len()
    );

    // Ten minutes around the spike: 12,000 readings, drawn from the readings themselves.
    let zoomed = chart(
        &mut browser,
        SPIKE_US - 300_000_000,
        SPIKE_US + 300_000_000,
        1_600,
    )
    .await;
    assert_eq!(zoomed["resolution"], "every reading");
    let times = numbers(&zoomed, "times");
    let values = numbers(&zoomed, "values");
    let at_spike = times
        .iter()
        .position(|&t| (t * 1e6).round() as i64 == SPIKE_US)
        .expect("the spike's reading is kept");
    assert_eq!(values[at_spike], 500.0);
    let bands: Vec<(f64, f64)> = numbers(&zoomed, "band_low")
        .into_iter()
        .zip(numbers(&zoomed, "band_high"))
        .collect();
    assert!(bands.len() > 1_000, "{} points have a band", bands.len());
    assert!(bands.iter().all(|(low, high)| low <= high));
    let before = at_spike - 10;
    assert!(
        bands.len() == values.len()
            && bands[before].0 <= values[before]
            && values[before] <= bands[before].1,
        "a quiet reading lies in its band"
    );

    // Another organisation's viewer sees nothing of the series.
    let other = app.store.create_organisation("other", 1).await.unwrap();
    app.store
        .create_project(&other.id, "pressline", 1)
        .await
        .unwrap();
    vigie_auth::people::create_user(
        &*app.store,
        &vigie_auth::clock::SystemClock,
        &other.id,
        "eve@example.com",
        "admin",
        &SecretString::from(PASSWORD),
    )
    .await
    .unwrap();
    let mut eve = Browser::new(&app);
    assert_eq!(eve.sign_in("eve@example.com", PASSWORD).await.0, 303);
    let theirs = chart(&mut eve, START_US, START_US + 2 * HOUR_US, 800).await;
    assert!(numbers(&theirs, "values").is_empty() && theirs["events"] == json!([]));
}
