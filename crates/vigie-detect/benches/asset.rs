//! Cost of the asset model per row for a 52-sensor asset (TEP's size), beside the
//! series detector's per point in the same run, and memory per asset; also the cost of
//! the fits at the end of learning (an eigendecomposition), for 52 and 256 sensors (the
//! pipeline's largest asset).
//!
//! `cargo bench -p vigie-detect --bench asset`. The rows are synthetic: five latent
//! factors, some slow and some fast, mixed into the sensors with noise (so the model
//! has slow and fast directions, as on a plant).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vigie_detect::asset::{AssetConfig, AssetModel};
use vigie_detect::detector::{DetectorConfig, SeriesDetector};
use vigie_detect::synthetic::Gaussian;

/// `count` rows of `sensors` sensors.
fn rows(sensors: usize, count: usize) -> Vec<Vec<Option<f64>>> {
    let mut noise = Gaussian(42);
    let loadings: Vec<f64> = (0..sensors * 5).map(|_| noise.next()).collect();
    let persistence: [f64; 5] = [0.99, 0.95, 0.8, 0.5, 0.0];
    let mut factors = [0.0; 5];
    (0..count)
        .map(|_| {
            for (f, phi) in factors.iter_mut().zip(persistence) {
                *f = phi * *f + (1.0 - phi * phi).sqrt() * noise.next();
            }
            (0..sensors)
                .map(|i| {
                    let signal: f64 = (0..5).map(|k| loadings[i * 5 + k] * factors[k]).sum();
                    Some(100.0 + 10.0 * i as f64 + signal + 0.3 * noise.next())
                })
                .collect()
        })
        .collect()
}

/// Best of `rounds` timings of `run` (the least disturbed by the noisy machine).
fn best_of(rounds: usize, mut run: impl FnMut() -> f64) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let started = Instant::now();
        black_box(run());
        best = best.min(started.elapsed());
    }
    best
}

fn main() {
    let config = AssetConfig::default();
    let learning = config.learning_rows as usize;
    let sensors = 52;
    let scored = 20_000;
    let data = rows(sensors, learning + scored);
    let rounds = 7;

    // Learning, then scoring, timed apart: the fits at the end of learning are the
    // learning phase's cost, not the scoring's.
    let learnt = {
        let mut model = AssetModel::new(&config, sensors);
        for row in &data[..learning] {
            model.score(&config, row);
        }
        model
    };
    let learning_time = best_of(rounds, || {
        let mut model = AssetModel::new(&config, sensors);
        data[..learning]
            .iter()
            .map(|row| model.score(&config, black_box(row)).health)
            .sum()
    });
    let scoring_time = best_of(rounds, || {
        let mut model = learnt.clone();
        data[learning..]
            .iter()
            .map(|row| model.score(&config, black_box(row)).health)
            .sum()
    });
    // The series detector on the same values, one series per sensor.
    let detector_config = DetectorConfig::default();
    let series_time = best_of(rounds, || {
        let mut sum = 0.0;
        for i in 0..sensors {
            let mut detector = SeriesDetector::new(&detector_config);
            for (t, row) in data[learning..].iter().enumerate() {
                let value = row[i].unwrap_or(0.0);
                sum += detector.score(&detector_config, black_box(t as i64 * 1_000), value);
            }
        }
        sum
    });
    let per_row = scoring_time.as_nanos() as f64 / scored as f64;
    let per_point = series_time.as_nanos() as f64 / (scored * sensors) as f64;
    let mut model = learnt.clone();
    for row in &data[learning..learning + 100] {
        model.score(&config, row);
    }
    println!(
        "asset of {sensors} sensors, {scored} rows scored, best of {rounds} runs\n\
         asset model, scoring: {per_row:>8.0} ns/row\n\
         asset model, learning: {:>7.0} ns/row (500 rows, both fits included: {:.1} ms)\n\
         series detector:      {per_point:>8.0} ns/point ({:.0} ns for a row's {sensors} points)\n\
         ratio asset row / series point: {:.1}; asset row / {sensors} series points: {:.2}\n\
         memory: {} bytes per asset",
        learning_time.as_nanos() as f64 / learning as f64,
        learning_time.as_secs_f64() * 1e3,
        per_point * sensors as f64,
        per_row / per_point,
        per_row / (per_point * sensors as f64),
        model.memory_bytes(),
    );

    // The largest asset the pipeline builds.
    let sensors = 256;
    let data = rows(sensors, learning + 2_000);
    let started = Instant::now();
    let mut model = AssetModel::new(&config, sensors);
    for row in &data[..learning] {
        model.score(&config, row);
    }
    let learning_time = started.elapsed();
    let started = Instant::now();
    let sum: f64 = data[learning..]
        .iter()
        .map(|row| model.score(&config, black_box(row)).health)
        .sum();
    black_box(sum);
    println!(
        "asset of {sensors} sensors: learning {:.0} ms (both fits included), scoring {:.1} µs/row, \
         memory {} bytes",
        learning_time.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e6 / 2_000.0,
        model.memory_bytes()
    );
}
