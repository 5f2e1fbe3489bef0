//! Asset health through the pipeline, on SQLite and PostgreSQL: readings of several
//! sensors aligned into rows and scored together, an asset event that stays open while
//! a fault lasts and names the sensor at fault, restarts that change no score, named
//! assets beside the default one, and a requested "new normal".

use std::sync::Arc;

use vigie_pipeline::{DetectionConfig, Pipeline};
use vigie_proto::readings::ValidReading;
use vigie_store::testing::{temp_postgres_url, temp_sqlite_url};
use vigie_store::{AnomalyQuery, HealthQuery, HealthRow, ProjectKey, Store, StoredHealth};

const SECOND_US: i64 = 1_000_000;
const T0_US: i64 = 1_700_000_000_000_000;

/// A pump at 1 Hz: flow, pressure and current, with deterministic noise; from
/// `fault_from` to `fault_until` (seconds) the flow drops by 20 %.
fn pump(seconds: std::ops::Range<i64>, fault: std::ops::Range<i64>) -> Vec<ValidReading> {
    let noise = |second: i64, k: i64| ((second * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
    seconds
        .flat_map(|second| {
            let drop = if fault.contains(&second) { 0.8 } else { 1.0 };
            [
                ("flow", 100.0 * drop + noise(second, 1)),
                ("pressure", 4.0 + 0.05 * noise(second, 2)),
                ("current", 12.0 + 0.1 * noise(second, 3)),
            ]
            .into_iter()
            .map(move |(sensor, value)| ValidReading {
                sensor_id: sensor.into(),
                value_name: "none".into(),
                // Sensors report a little apart within each second.
                time_us: T0_US + second * SECOND_US + sensor.len() as i64 * 1_000,
                value,
                precision: None,
                labels: Vec::new(),
            })
        })
        .collect()
}

async fn project(store: &Arc<dyn Store>, code: &str) -> ProjectKey {
    let org = store.create_organisation(code, 1).await.unwrap();
    store.create_project(&org.id, code, 1).await.unwrap();
    ProjectKey {
        org_id: org.id,
        code: code.into(),
    }
}

fn config() -> DetectionConfig {
    DetectionConfig {
        asset_checkpoint_rows: 100,
        ..DetectionConfig::default()
    }
}

async fn push(pipeline: &Pipeline, project: &ProjectKey, readings: Vec<ValidReading>) {
    for batch in readings.chunks(90) {
        pipeline
            .ingest(project.clone(), batch.to_vec())
            .await
            .unwrap();
    }
}

async fn health(store: &Arc<dyn Store>, project: &ProjectKey) -> Vec<StoredHealth> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .read_health(&HealthQuery {
                project: project.clone(),
                asset: None,
                from_us: None,
                to_us: None,
                after,
                limit: 10_000,
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.asset_id, last.row.time_us));
        rows.extend(page);
    }
    rows
}

/// The health rows of a project's assets, without their asset ids.
async fn health_rows(store: &Arc<dyn Store>, project: &ProjectKey) -> Vec<HealthRow> {
    health(store, project)
        .await
        .into_iter()
        .map(|h| h.row)
        .collect()
}

async fn a_fault_opens_one_asset_event_naming_its_sensor(store: Arc<dyn Store>) {
    let plant = project(&store, "plant").await;
    let pipeline = Pipeline::new(store.clone(), config());
    push(&pipeline, &plant, pump(0..1_200, 900..1_080)).await;
    let rows = health(&store, &plant).await;
    // One row a second (the learnt interval), each with every sensor.
    assert!((1_190..=1_200).contains(&rows.len()), "{} rows", rows.len());
    assert!(
        rows.windows(2)
            .all(|w| w[1].row.time_us - w[0].row.time_us == SECOND_US)
    );
    let events = store
        .list_asset_events(&AnomalyQuery {
            project: plant.clone(),
            sensor_id: None,
            value_name: None,
            from_us: None,
            to_us: None,
            min_score: None,
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0].event;
    let fault_us = T0_US + 900 * SECOND_US;
    assert!(
        event.start_us >= fault_us && event.start_us <= fault_us + 30 * SECOND_US,
        "{event:?}"
    );
    assert!(
        event.end_us >= T0_US + 1_070 * SECOND_US,
        "open while the fault lasts: {event:?}"
    );
    assert!(
        event.end_us < T0_US + 1_200 * SECOND_US,
        "closed after it: {event:?}"
    );
    assert_eq!(event.contributors[0].sensor_id, "flow", "{event:?}");
    assert_eq!(events[0].asset, "default");
}

async fn a_restarted_pipeline_scores_assets_exactly_as_one_that_never_stopped(
    store: Arc<dyn Store>,
) {
    let steady = project(&store, "steady").await;
    let restarted = project(&store, "restarted").await;
    push(
        &Pipeline::new(store.clone(), config()),
        &steady,
        pump(0..1_000, 700..800),
    )
    .await;
    for range in [0..150, 150..420, 420..1_000] {
        let readings = pump(range, 700..800);
        push(
            &Pipeline::new(store.clone(), config()),
            &restarted,
            readings,
        )
        .await;
    }
    let expected = health_rows(&store, &steady).await;
    let got = health_rows(&store, &restarted).await;
    assert!(expected.len() > 900);
    assert_eq!(got, expected);
}

/// A gateway per sensor: each request holds one sensor's minute. A pipeline made anew
/// for every request (as when each lands on another node, or after a restart) reloads
/// the asset from its checkpoint and replays the readings after it in the order the
/// requests fed them, and so scores every row as one pipeline that saw them arrive.
async fn an_asset_fed_by_one_request_per_sensor_reloads_in_arrival_order(store: Arc<dyn Store>) {
    let steady = project(&store, "steady").await;
    let reloaded = project(&store, "reloaded").await;
    let requests: Vec<Vec<ValidReading>> = (0..16)
        .flat_map(|minute| {
            let readings = pump(minute * 60..(minute + 1) * 60, 700..800);
            ["flow", "pressure", "current"].map(|sensor| {
                readings
                    .iter()
                    .filter(|r| r.sensor_id == sensor)
                    .cloned()
                    .collect()
            })
        })
        .collect();
    let one = Pipeline::new(store.clone(), config());
    for request in &requests {
        one.ingest(steady.clone(), request.clone()).await.unwrap();
        Pipeline::new(store.clone(), config())
            .ingest(reloaded.clone(), request.clone())
            .await
            .unwrap();
    }
    let expected = health_rows(&store, &steady).await;
    let got = health_rows(&store, &reloaded).await;
    assert!(expected.len() > 900, "{} rows", expected.len());
    let differing = expected.iter().zip(&got).filter(|(e, g)| e != g).count();
    assert_eq!(
        (got.len(), differing),
        (expected.len(), 0),
        "rows scored differently after reloads"
    );
}

async fn named_assets_and_a_new_normal(store: Arc<dyn Store>) {
    let plant = project(&store, "named").await;
    store
        .create_asset(
            &plant,
            "motor",
            &[("current".into(), "none".into())],
            None,
            1,
        )
        .await
        .unwrap();
    let pipeline = Pipeline::new(store.clone(), config());
    // The flow drops for good at 600 s.
    push(&pipeline, &plant, pump(0..900, 600..100_000)).await;
    let rows = health(&store, &plant).await;
    let assets: std::collections::BTreeSet<&str> = rows.iter().map(|h| h.asset.as_str()).collect();
    assert_eq!(assets, ["default", "motor"].into());
    assert!(
        rows.iter().filter(|h| h.asset == "motor").all(|h| h
            .row
            .contributors
            .iter()
            .all(|c| c.sensor_id == "current"))
    );
    let last_default = rows.iter().rev().find(|h| h.asset == "default").unwrap();
    assert!(
        last_default.row.health >= 0.5,
        "the lasting drop stays abnormal: {last_default:?}"
    );
    // An authorised "this is the new normal" from 900 s: learnt again, then normal.
    store
        .relearn_asset(&plant, "default", T0_US + 900 * SECOND_US)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    push(&pipeline, &plant, pump(900..1_500, 600..100_000)).await;
    let rows = health(&store, &plant).await;
    let last_default = rows.iter().rev().find(|h| h.asset == "default").unwrap();
    assert!(
        last_default.row.health < 0.5,
        "the new normal: {last_default:?}"
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
    a_fault_opens_one_asset_event_naming_its_sensor,
    a_restarted_pipeline_scores_assets_exactly_as_one_that_never_stopped,
    an_asset_fed_by_one_request_per_sensor_reloads_in_arrival_order,
    named_assets_and_a_new_normal,
);
