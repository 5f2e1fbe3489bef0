//! `parse-ceiling`: how fast one core turns the bodies of the HTTP load into validated
//! readings with `vigie_proto::readings::parse_batch`, the server's parser, and how that
//! splits between reading the JSON and checking the readings (mostly their dates).

use std::hint::black_box;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use serde::de::IgnoredAny;
use vigie_proto::readings::parse_batch;
use vigie_proto::time::Timestamp;

use crate::workload::{BodyTemplate, Shape, Sharing};

/// Settings of `parse-ceiling`.
#[derive(Debug, Args)]
pub struct ParseCeilingArgs {
    /// Readings per body.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Readings per sensor per body.
    #[arg(long, default_value_t = 100)]
    readings_per_series: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 1.0)]
    duration_secs: f64,
}

/// The one JSON line `parse-ceiling` prints. Rates are readings per second on one core.
#[derive(Serialize)]
struct Report {
    batch: usize,
    body_bytes: usize,
    /// `parse_batch`: JSON, validation, owned `ValidReading`s.
    parse_batch_readings_per_second: f64,
    /// Only reading the JSON (`serde_json` into `IgnoredAny`): the tokenizer's share.
    json_scan_readings_per_second: f64,
    /// Only `Timestamp::parse` on each reading's date (RFC 3339 with `chrono`).
    date_parse_readings_per_second: f64,
    /// The same three as nanoseconds per reading.
    parse_batch_ns_per_reading: f64,
    json_scan_ns_per_reading: f64,
    date_parse_ns_per_reading: f64,
}

/// Runs the three measurements and prints a [`Report`].
pub fn run(args: &ParseCeilingArgs) -> anyhow::Result<()> {
    let shape = Shape::new(args.batch, args.readings_per_series)?;
    let mut template = BodyTemplate::new(shape, Sharing::Own, 0);
    let bodies = (0..4)
        .map(|n| template.render(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dates: Vec<String> = parse_batch(&bodies[0])
        .map_err(|error| anyhow::anyhow!("the body does not parse: {error}"))?
        .iter()
        .map(|reading| Timestamp::from_micros(reading.time_us).to_string())
        .collect();
    let duration = Duration::from_secs_f64(args.duration_secs);

    let parse = rate(duration, args.batch, |i| {
        black_box(parse_batch(&bodies[i % bodies.len()]).map(|r| r.len()).ok());
    });
    let scan = rate(duration, args.batch, |i| {
        black_box(serde_json::from_slice::<IgnoredAny>(&bodies[i % bodies.len()]).is_ok());
    });
    let date = rate(duration, args.batch, |_| {
        for text in &dates {
            let _ = black_box(Timestamp::parse(black_box(text)).map(Timestamp::as_micros));
        }
    });
    let ns = |per_second: f64| (1e10 / per_second).round() / 10.0;
    let report = Report {
        batch: args.batch,
        body_bytes: bodies[0].len(),
        parse_batch_readings_per_second: parse.round(),
        json_scan_readings_per_second: scan.round(),
        date_parse_readings_per_second: date.round(),
        parse_batch_ns_per_reading: ns(parse),
        json_scan_ns_per_reading: ns(scan),
        date_parse_ns_per_reading: ns(date),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Readings per second of `work`, which handles `batch` readings per call: a short
/// warm-up, then calls until `duration` has passed.
fn rate(duration: Duration, batch: usize, mut work: impl FnMut(usize)) -> f64 {
    for i in 0..2 {
        work(i);
    }
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < duration {
        work(calls);
        calls += 1;
    }
    (calls * batch) as f64 / started.elapsed().as_secs_f64()
}
