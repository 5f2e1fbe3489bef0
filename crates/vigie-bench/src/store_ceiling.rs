//! `store-ceiling`: the raw ingestion rate of a store, no HTTP and no parsing. It opens
//! the store in-process, as `vigie serve` does, creates an organisation and a project
//! through it, and writes the rows of [`crate::workload`] with
//! `ReadingStore::ingest`: one durable transaction per call, large calls, one at a
//! time. The readings of the next call are built on another thread meanwhile, and only
//! the time spent in `ingest` is counted.
//!
//! With `--detection`, the readings go through `vigie_pipeline::Pipeline` with the
//! default detection settings, as `vigie serve` stores them by default: each reading
//! is scored and the store also writes the scores, each series' detector state and
//! the anomaly events, in the same transaction. That is the ceiling of the same rows
//! the server writes, with the detectors' CPU time in it.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Args;
use serde::Serialize;
use vigie_pipeline::{DetectionConfig, Pipeline};
use vigie_proto::readings::ValidReading;
use vigie_store::{DatabaseUrl, ProjectKey, Store};

use crate::ingest_load::{by_thread_name, thread_cpu_seconds};
use crate::workload::{Shape, Sharing, valid_readings};

/// Settings of `store-ceiling`.
#[derive(Debug, Args)]
pub struct StoreCeilingArgs {
    /// The store, `sqlite://PATH` or `postgres://…`; use a fresh database.
    #[arg(long)]
    database_url: String,
    /// Readings to write in the measurement (it stops earlier at `--max-secs`).
    #[arg(long, default_value_t = 2_000_000)]
    readings: usize,
    /// Readings per `ingest` call, hence per transaction.
    #[arg(long, default_value_t = 100_000)]
    batch: usize,
    /// Readings per sensor per call, one millisecond apart, as in the HTTP load.
    #[arg(long, default_value_t = 100)]
    readings_per_series: usize,
    /// Stop after this many seconds spent in `ingest`, whatever `--readings` says.
    #[arg(long, default_value_t = 30.0)]
    max_secs: f64,
    /// Unmeasured calls first (the first one creates the series).
    #[arg(long, default_value_t = 1)]
    warmup_calls: u64,
    /// Score the readings and store detection results too, through the server's
    /// ingestion pipeline with its default settings.
    #[arg(long)]
    detection: bool,
}

/// Where the readings go.
enum Writer {
    Store(Arc<dyn Store>),
    Pipeline(Box<Pipeline>),
}

/// The one JSON line `store-ceiling` prints.
#[derive(Serialize)]
struct Report {
    backend: &'static str,
    /// Whether the readings were scored and detection results stored (`--detection`).
    detection: bool,
    batch: usize,
    readings_per_series: usize,
    /// Readings written in the measurement, all new.
    readings: u64,
    /// `ingest` calls (transactions) in the measurement.
    calls: u64,
    /// Time spent in `ingest`.
    seconds: f64,
    /// `readings / seconds`: the store's ceiling.
    readings_per_second: f64,
    /// Mean time of one call.
    ms_per_call: f64,
    /// CPU time of this process per reading, by thread name, nanoseconds, building
    /// the readings aside (`tokio-rt-worker`: the writer task; `vigie-bench`: the
    /// caller, which groups the readings by series; `sqlx-sqlite-wor`: SQLite).
    cpu_ns_per_reading: BTreeMap<String, f64>,
}

/// Runs the measurement and prints a [`Report`].
pub fn run(args: &StoreCeilingArgs) -> anyhow::Result<()> {
    let shape = Shape::new(args.batch, args.readings_per_series)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(measure(args, shape))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn measure(args: &StoreCeilingArgs, shape: Shape) -> anyhow::Result<Report> {
    let url = DatabaseUrl::new(args.database_url.clone());
    let store = vigie_store::open(&url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let org = store
        .create_organisation(&format!("bench-ceiling-{}", uuid::Uuid::new_v4()), now)
        .await?;
    let project = store.create_project(&org.id, "ceiling", now).await?;
    let project = ProjectKey {
        org_id: project.org_id,
        code: project.code,
    };
    let backend = store.backend();
    let writer = if args.detection {
        let config = DetectionConfig {
            enabled: true,
            ..DetectionConfig::default()
        };
        Writer::Pipeline(Box::new(Pipeline::new(store, config)))
    } else {
        Writer::Store(store)
    };

    // The generator stays two calls ahead and stops when the receiver is dropped.
    let (sender, batches) = mpsc::sync_channel(2);
    let generator = std::thread::Builder::new()
        .name("generator".into())
        .spawn(move || {
            for n in 0.. {
                if sender
                    .send(valid_readings(shape, Sharing::Own, 0, n))
                    .is_err()
                {
                    break;
                }
            }
        })?;
    let next = || batches.recv().context("the generator stopped");

    for _ in 0..args.warmup_calls {
        ingest(&writer, &project, next()?).await?;
    }
    let max = Duration::from_secs_f64(args.max_secs);
    let threads_before = thread_cpu_seconds(std::process::id());
    let (mut readings, mut calls, mut spent) = (0_u64, 0_u64, Duration::ZERO);
    while (readings as usize) < args.readings && spent < max {
        let batch = next()?;
        let started = Instant::now();
        readings += ingest(&writer, &project, batch).await?;
        spent += started.elapsed();
        calls += 1;
    }
    let threads_after = thread_cpu_seconds(std::process::id());
    drop(batches);
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator panicked"))?;

    let seconds = spent.as_secs_f64();
    Ok(Report {
        backend,
        detection: args.detection,
        batch: shape.batch,
        readings_per_series: shape.readings_per_series,
        readings,
        calls,
        seconds: (seconds * 1000.0).round() / 1000.0,
        readings_per_second: (readings as f64 / seconds).round(),
        ms_per_call: (seconds / calls as f64 * 1e4).round() / 10.0,
        cpu_ns_per_reading: by_thread_name(&threads_before, &threads_after)
            .into_iter()
            .filter(|(name, _)| name != "generator")
            .map(|(name, s)| (name, (s / readings as f64 * 1e9).round()))
            .collect(),
    })
}

/// One call; every reading must be new, or the measurement is not of the insert path.
async fn ingest(
    writer: &Writer,
    project: &ProjectKey,
    readings: Vec<ValidReading>,
) -> anyhow::Result<u64> {
    let count = readings.len() as u64;
    let summary = match writer {
        Writer::Store(store) => store.ingest(project.clone(), readings).await?,
        Writer::Pipeline(pipeline) => pipeline.ingest(project.clone(), readings).await?,
    };
    ensure!(
        summary.new == count,
        "{} of {count} readings were new: the store already had the others",
        summary.new
    );
    Ok(count)
}
