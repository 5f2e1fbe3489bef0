//! Detector checkpoints, on SQLite and PostgreSQL: a detector reloaded from its
//! checkpoint and the readings after it scores exactly as one that never stopped, one
//! without a usable checkpoint learns again from the latest readings, a request whose
//! commit fails leaves no trace in the detectors, and labels never change a score.

use std::sync::Arc;

use vigie_pipeline::{DetectionConfig, Pipeline};
use vigie_proto::readings::ValidReading;
use vigie_store::testing::{temp_postgres_url, temp_sqlite_url};
use vigie_store::{
    AnomalyEvent, AnomalyQuery, IngestBatch, ProjectKey, ScoredPoint, SeriesDetection, Store,
};

const MINUTE_US: i64 = 60_000_000;
const SPIKES: [usize; 3] = [2_600, 5_200, 14_600];

/// A daily cycle sampled every minute, with deterministic noise and a few spikes.
fn readings(range: std::ops::Range<usize>) -> Vec<ValidReading> {
    range
        .map(|i| {
            let daily = (i as f64 * std::f64::consts::TAU / 1440.0).sin() * 10.0;
            let noise = ((i * 7919) % 101) as f64 / 100.0 - 0.5;
            let spike = if SPIKES.contains(&i) { 40.0 } else { 0.0 };
            ValidReading {
                sensor_id: "press-7".into(),
                value_name: "temperature".into(),
                time_us: 1_700_000_000_000_000 + i as i64 * MINUTE_US,
                value: 50.0 + daily + noise + spike,
                precision: None,
                labels: Vec::new(),
            }
        })
        .collect()
}

/// Checkpoints every 700 readings, so most reloads have readings to replay.
fn config() -> DetectionConfig {
    DetectionConfig {
        checkpoint_readings: 700,
        ..DetectionConfig::default()
    }
}

async fn project(store: &Arc<dyn Store>, code: &str) -> ProjectKey {
    let org = store.create_organisation(code, 1).await.unwrap();
    store.create_project(&org.id, code, 1).await.unwrap();
    ProjectKey {
        org_id: org.id,
        code: code.into(),
    }
}

async fn push(pipeline: &Pipeline, project: &ProjectKey, range: std::ops::Range<usize>) {
    for start in range.clone().step_by(250) {
        let end = (start + 250).min(range.end);
        pipeline
            .ingest(project.clone(), readings(start..end))
            .await
            .unwrap();
    }
}

async fn scored(store: &Arc<dyn Store>, project: &ProjectKey) -> Vec<ScoredPoint> {
    store
        .scored_readings(project, "press-7", "temperature", None, 100_000)
        .await
        .unwrap()
}

async fn events(store: &Arc<dyn Store>, project: &ProjectKey) -> Vec<AnomalyEvent> {
    let query = AnomalyQuery {
        project: project.clone(),
        sensor_id: None,
        value_name: None,
        from_us: None,
        to_us: None,
        min_score: None,
        after: None,
        limit: 1000,
    };
    let anomalies = store.list_anomalies(&query).await.unwrap();
    anomalies.into_iter().map(|a| a.event).collect()
}

async fn a_reloaded_detector_scores_exactly_as_one_that_never_stopped(store: Arc<dyn Store>) {
    let steady = project(&store, "steady").await;
    let restarted = project(&store, "restarted").await;
    push(&Pipeline::new(store.clone(), config()), &steady, 0..6_000).await;

    // Restarts before the first checkpoint, then between two checkpoints.
    for range in [0..500, 500..3_100, 3_100..6_000] {
        let progress = store
            .series_detection(&restarted, "press-7", "temperature")
            .await
            .unwrap();
        if range.start == 500 {
            assert_eq!(
                (progress.checkpoint, progress.scored_until_us.is_some()),
                (None, true),
                "fewer readings than a checkpoint's worth are scored but not checkpointed"
            );
        }
        if range.start == 3_100 {
            assert!(
                progress.checkpoint_until_us < progress.scored_until_us,
                "the reload has readings to replay: {:?} < {:?}",
                progress.checkpoint_until_us,
                progress.scored_until_us
            );
        }
        push(&Pipeline::new(store.clone(), config()), &restarted, range).await;
    }

    let expected = scored(&store, &steady).await;
    assert_eq!(expected.len(), 6_000);
    assert_eq!(scored(&store, &restarted).await, expected);
    let expected_events = events(&store, &steady).await;
    for spike in SPIKES.into_iter().filter(|&i| i < 6_000) {
        let time_us = readings(spike..spike + 1)[0].time_us;
        assert!(
            expected_events
                .iter()
                .any(|e| e.start_us <= time_us && time_us <= e.end_us),
            "spike {spike} detected: {expected_events:?}"
        );
    }
    assert_eq!(events(&store, &restarted).await, expected_events);
}

async fn without_a_usable_checkpoint_a_new_detector_learns_from_the_latest_readings(
    store: Arc<dyn Store>,
) {
    let project = project(&store, "relearn").await;
    push(&Pipeline::new(store.clone(), config()), &project, 0..12_000).await;
    // A checkpoint no detector can read, as an older version of Vigie might have left.
    let last_us = readings(11_999..12_000)[0].time_us;
    let unreadable = IngestBatch {
        readings: Vec::new(),
        detection: vec![SeriesDetection {
            sensor_id: "press-7".into(),
            value_name: "temperature".into(),
            checkpoint: Some(r#"{"format": "of another version"}"#.into()),
            scored_until_us: last_us,
            previous_scored_until_us: Some(last_us),
            events: Vec::new(),
        }],
        assets: Vec::new(),
    };
    store
        .ingest_batch(project.clone(), unreadable)
        .await
        .unwrap();

    let pipeline = Pipeline::new(store.clone(), config());
    let spike = SPIKES[2];
    push(&pipeline, &project, 12_000..spike + 100).await;
    let points = scored(&store, &project).await;
    assert_eq!(points.len(), spike + 100);
    let spike_score = points[spike].score;
    let quiet_max = points[12_000..spike]
        .iter()
        .map(|p| p.score)
        .fold(0.0, f64::max);
    assert!(
        spike_score >= pipeline.config().threshold && quiet_max < pipeline.config().threshold,
        "the relearnt detector finds the spike ({spike_score}) and nothing before it ({quiet_max})"
    );
    // The relearnt detector was checkpointed at once.
    let progress = store
        .series_detection(&project, "press-7", "temperature")
        .await
        .unwrap();
    assert!(
        progress
            .checkpoint
            .as_deref()
            .is_some_and(|c| c.contains("detector")),
        "{progress:?}"
    );
}

async fn a_request_that_fails_to_commit_leaves_detection_as_it_was(store: Arc<dyn Store>) {
    let org = store.create_organisation("late", 1).await.unwrap();
    let project = ProjectKey {
        org_id: org.id.clone(),
        code: "not-yet".into(),
    };
    let pipeline = Pipeline::new(store.clone(), config());
    // The project does not exist yet: the readings are scored, then the commit fails.
    assert!(
        pipeline
            .ingest(project.clone(), readings(0..300))
            .await
            .is_err()
    );
    store.create_project(&org.id, "not-yet", 2).await.unwrap();
    // Sent again, they are new to the detector, which did not keep the failed scores.
    pipeline
        .ingest(project.clone(), readings(0..300))
        .await
        .unwrap();
    assert_eq!(scored(&store, &project).await.len(), 300);
}

async fn labels_never_change_a_score(store: Arc<dyn Store>) {
    let plain = project(&store, "plain").await;
    let labelled = project(&store, "labelled").await;
    let pipeline = Pipeline::new(store.clone(), config());
    push(&pipeline, &plain, 0..3_000).await;
    for start in (0..3_000).step_by(250) {
        let batch = readings(start..start + 250)
            .into_iter()
            .enumerate()
            .map(|(i, reading)| ValidReading {
                labels: vec![format!("shift:{}", i % 3), "line:2".into()],
                ..reading
            })
            .collect();
        pipeline.ingest(labelled.clone(), batch).await.unwrap();
    }
    let expected = scored(&store, &plain).await;
    assert_eq!(expected.len(), 3_000);
    assert_eq!(scored(&store, &labelled).await, expected);
    assert_eq!(
        events(&store, &labelled).await,
        events(&store, &plain).await
    );
}

/// Readings of `series` series, `per_series` each from reading `from` on.
fn many_series(series: usize, from: usize, per_series: usize) -> Vec<ValidReading> {
    (0..series)
        .flat_map(|n| {
            readings(from..from + per_series)
                .into_iter()
                .map(move |reading| ValidReading {
                    sensor_id: format!("press-{n}"),
                    value: reading.value + n as f64,
                    ..reading
                })
        })
        .collect()
}

async fn a_detector_dropped_for_memory_scores_exactly_as_one_kept(store: Arc<dyn Store>) {
    let kept = project(&store, "kept").await;
    let dropped = project(&store, "dropped").await;
    let roomy = Pipeline::new(store.clone(), config());
    let tight = Pipeline::new(
        store.clone(),
        DetectionConfig {
            memory_budget_bytes: 1,
            ..config()
        },
    );
    // 30 readings a series, then 40 (past the warm-up of 50), then many more.
    for (from, count) in [(0, 30), (30, 40), (70, 1_500), (1_570, 30)] {
        roomy
            .ingest(kept.clone(), many_series(20, from, count))
            .await
            .unwrap();
        tight
            .ingest(dropped.clone(), many_series(20, from, count))
            .await
            .unwrap();
        assert_eq!(tight.resident().bytes, 0, "every idle detector is dropped");
        assert!(roomy.resident().bytes > 0);
    }
    for n in 0..20 {
        let sensor = format!("press-{n}");
        let scores = |project| store.scored_readings(project, &sensor, "temperature", None, 10_000);
        assert_eq!(
            scores(&dropped).await.unwrap(),
            scores(&kept).await.unwrap()
        );
    }
    assert_eq!(events(&store, &dropped).await, events(&store, &kept).await);
    // The detectors were checkpointed as they were dropped, in the background.
    for _ in 0..100 {
        let progress = store
            .series_detection(&dropped, "press-0", "temperature")
            .await
            .unwrap();
        if progress.checkpoint_until_us == progress.scored_until_us {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no checkpoint was saved for a dropped detector");
}

async fn a_new_series_is_cheap_until_its_warm_up_ends(store: Arc<dyn Store>) {
    let plant = project(&store, "plant").await;
    let pipeline = Pipeline::new(store.clone(), config());
    pipeline
        .ingest(plant.clone(), many_series(1_000, 0, 1))
        .await
        .unwrap();
    let learning = pipeline.resident();
    assert_eq!(learning.series, 1_000);
    assert!(
        learning.bytes < 1_000 * 1_024,
        "{} bytes for 1,000 new series",
        learning.bytes
    );
    pipeline
        .ingest(plant.clone(), many_series(1_000, 1, 60))
        .await
        .unwrap();
    let ready = pipeline.resident();
    assert!(
        ready.bytes > 1_000 * 10_000,
        "{} bytes for 1,000 detectors",
        ready.bytes
    );
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let store = vigie_store::open(&super::temp_sqlite_url()).await.unwrap();
                    super::$test(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(url) = super::temp_postgres_url().await else { return };
                    let store = vigie_store::open(&url).await.unwrap();
                    super::$test(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_reloaded_detector_scores_exactly_as_one_that_never_stopped,
    without_a_usable_checkpoint_a_new_detector_learns_from_the_latest_readings,
    a_request_that_fails_to_commit_leaves_detection_as_it_was,
    labels_never_change_a_score,
    a_detector_dropped_for_memory_scores_exactly_as_one_kept,
    a_new_series_is_cheap_until_its_warm_up_ends,
);
