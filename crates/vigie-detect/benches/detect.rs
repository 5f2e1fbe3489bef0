//! Cost of the default detector per point over the whole NAB corpus (alone, and asked
//! for the explanation of every reading), beside a trivial baseline (an exponentially
//! weighted z-score) over the same points in the same run.
//!
//! `cargo bench -p vigie-detect --bench detect` (the corpus at `../shared/data/nab`
//! from the repository root, or `VIGIE_NAB_DIR`; without it the bench says so and stops).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vigie_detect::detector::{DetectorConfig, SeriesDetector};
use vigie_detect::nab::corpus::{Corpus, repository_corpus_dir};

/// The baseline: |x - mean| / std with exponentially weighted mean and variance.
struct EwmaZ {
    mean: f64,
    var: f64,
    started: bool,
}

impl EwmaZ {
    fn score(&mut self, value: f64) -> f64 {
        if !self.started {
            self.started = true;
            self.mean = value;
            return 0.0;
        }
        let d = value - self.mean;
        let z = d.abs() / (self.var.sqrt() + 1e-12);
        self.mean += 0.01 * d;
        self.var += 0.01 * (d * d - self.var);
        (z / 10.0).min(1.0)
    }
}

/// Best of `rounds` timings of `run` (the least disturbed by the noisy machine).
fn best_of(rounds: usize, mut run: impl FnMut() -> f64) -> (Duration, f64) {
    let mut best = Duration::MAX;
    let mut checksum = 0.0;
    for _ in 0..rounds {
        let started = Instant::now();
        checksum = black_box(run());
        best = best.min(started.elapsed());
    }
    (best, checksum)
}

fn main() {
    let Some(dir) = repository_corpus_dir() else {
        eprintln!("nothing to measure");
        return;
    };
    let corpus = Corpus::load(&dir).expect("load the NAB corpus");
    let series: Vec<Vec<(i64, f64)>> = corpus
        .series()
        .iter()
        .map(|s| {
            s.timestamps()
                .iter()
                .map(|t| t.and_utc().timestamp_millis())
                .zip(s.values().iter().copied())
                .collect()
        })
        .collect();
    let points: usize = series.iter().map(Vec::len).sum();
    let config = DetectorConfig::default();
    let rounds = 15;

    let (detector, _) = best_of(rounds, || {
        let mut sum = 0.0;
        for s in &series {
            let mut d = SeriesDetector::new(&config);
            for &(t, v) in s {
                sum += d.score(&config, black_box(t), black_box(v));
            }
        }
        sum
    });
    // The same, asking for the explanation of every reading (the pipeline asks only
    // for an event's peak): what an explanation costs.
    let (explained, _) = best_of(rounds, || {
        let mut sum = 0.0;
        for s in &series {
            let mut d = SeriesDetector::new(&config);
            for &(t, v) in s {
                sum += d.score(&config, black_box(t), black_box(v));
                sum += black_box(d.explain()).map_or(0.0, |e| e.expected_high);
            }
        }
        sum
    });
    let (baseline, _) = best_of(rounds, || {
        let mut sum = 0.0;
        for s in &series {
            let mut d = EwmaZ {
                mean: 0.0,
                var: 0.0,
                started: false,
            };
            for &(_, v) in s {
                sum += d.score(black_box(v));
            }
        }
        sum
    });
    let per_point = |d: Duration| d.as_nanos() as f64 / points as f64;
    println!(
        "{points} points, best of {rounds} runs\n\
         detector (default): {:>8.1} ns/point ({:.1} ms for the corpus)\n\
         + explain, each:    {:>8.1} ns/point ({:.1} ms for the corpus)\n\
         baseline (EWMA z):  {:>8.1} ns/point ({:.1} ms for the corpus)\n\
         ratio detector/baseline: {:.1}",
        per_point(detector),
        detector.as_secs_f64() * 1e3,
        per_point(explained),
        explained.as_secs_f64() * 1e3,
        per_point(baseline),
        baseline.as_secs_f64() * 1e3,
        detector.as_secs_f64() / baseline.as_secs_f64()
    );
}
