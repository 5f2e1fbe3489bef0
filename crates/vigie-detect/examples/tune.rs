//! Tuning aids for the detector, run by hand in release:
//!
//! * `tune` runs the detector over the NAB corpus with the configuration in `VIGIE_CFG`
//!   (JSON, merged over the default) and, optionally, a sweep of one parameter
//!   (`VIGIE_SWEEP='name=v1;v2;…'`, JSON values), printing the three normalised scores
//!   with their thresholds, detected windows (`tp`) and false-positive rows (`fp`),
//!   each at its optimal threshold or, with `VIGIE_AT`, at that threshold;
//! * `diag` lists, per series, the detections, misses and false positives at the
//!   threshold `VIGIE_T`, and which feature drove them;
//! * `split` scores each variant on two halves of the corpus (the files of each
//!   category, sorted by name, taken alternately: half `a` the even ones, half `b` the
//!   odd ones), each half at its own optimal threshold and at the other half's, so
//!   that a change tuned on one half can be checked on the other (overfitting check);
//!   `VIGIE_SPLIT=block` splits each category into its first and second half instead.
//!
//! * `dump` prints, for the series whose name contains `VIGIE_SERIES`, rows
//!   `VIGIE_FROM..VIGIE_TO`: value, score and the feature that drove it; then the
//!   size of the detector's state at the end of the series.
//!
//! * `synthetic` runs each variant over white noise instead (`VIGIE_N` series, 40 by
//!   default): at 1 Hz, the series that raise an alarm in the hour after the warm-up
//!   and the alarms per day over three days; at 5-minute steps, the series that raise
//!   one on the first day and on days two and three; at both rates, the level shifts
//!   of 6σ missed (at 12 minutes, and after 12 hours). NAB never shows these: its
//!   probationary period hides a series' first weeks.
//!
//! `VIGIE_HALF=a` (or `b`) restricts `tune` and `diag` to one half.
//!
//! `cargo run --release -p vigie-detect --example tune [tune|diag|split|dump|synthetic]`

use std::time::Instant;

use vigie_detect::detector::DetectorConfig;
use vigie_detect::nab::corpus::{Corpus, repository_corpus_dir};
use vigie_detect::nab::evaluate::score_series;
use vigie_detect::nab::score::{Profile, ProfileResult, ScoringOptions, Sweep, ThresholdSearch};
use vigie_detect::nab::series::LabelledSeries;

fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            b.insert(k.clone(), v.clone());
        }
    }
}

fn load() -> Corpus {
    let dir = repository_corpus_dir().expect("the NAB corpus");
    Corpus::load(&dir).expect("load NAB")
}

/// The two halves of the corpus: within each category (the directory of the file),
/// the files in name order go alternately to half `a` and half `b`; with
/// `VIGIE_SPLIT=block`, the first half of each category's files (rounded up) goes to
/// `a` and the rest to `b` (a second, independent partition to check a change on).
fn halves(corpus: &Corpus) -> [Vec<LabelledSeries>; 2] {
    let block = std::env::var("VIGIE_SPLIT").is_ok_and(|v| v == "block");
    let category = |s: &LabelledSeries| s.name().split('/').next().unwrap_or("").to_owned();
    let mut out = [Vec::new(), Vec::new()];
    let series = corpus.series();
    let mut start = 0;
    while start < series.len() {
        let c = category(&series[start]);
        let end = start
            + series[start..]
                .iter()
                .take_while(|s| category(s) == c)
                .count();
        let n = end - start;
        for (k, s) in series[start..end].iter().enumerate() {
            let half = if block {
                usize::from(k >= n.div_ceil(2))
            } else {
                k % 2
            };
            out[half].push(s.clone());
        }
        start = end;
    }
    out
}

/// The series selected by `VIGIE_HALF` (`a`, `b`, or all).
fn selected(corpus: &Corpus) -> Vec<LabelledSeries> {
    let [a, b] = halves(corpus);
    match std::env::var("VIGIE_HALF").as_deref() {
        Ok("a") => a,
        Ok("b") => b,
        _ => corpus.series().to_vec(),
    }
}

fn base_config() -> serde_json::Value {
    let mut base = serde_json::to_value(DetectorConfig::default()).unwrap();
    if let Ok(text) = std::env::var("VIGIE_CFG") {
        merge(
            &mut base,
            &serde_json::from_str(&text).expect("VIGIE_CFG json"),
        );
    }
    base
}

/// The base configuration, or one variant per value of `VIGIE_SWEEP`.
fn variants() -> Vec<(String, DetectorConfig)> {
    let base = base_config();
    let values: Vec<(String, serde_json::Value)> = match std::env::var("VIGIE_SWEEP") {
        Ok(spec) => {
            let (name, values) = spec.split_once('=').expect("name=v1;v2");
            values
                .split(';')
                .map(|v| {
                    let mut c = base.clone();
                    let mut patch = serde_json::Map::new();
                    patch.insert(name.to_owned(), serde_json::from_str(v).expect("value"));
                    merge(&mut c, &serde_json::Value::Object(patch));
                    (format!("{name}={v}"), c)
                })
                .collect()
        }
        Err(_) => vec![("base".to_owned(), base)],
    };
    values
        .into_iter()
        .map(|(label, value)| {
            let config: DetectorConfig = serde_json::from_value(value).unwrap();
            (label, config.validated().unwrap())
        })
        .collect()
}

fn series_points(s: &LabelledSeries) -> impl Iterator<Item = (i64, f64)> + '_ {
    s.timestamps()
        .iter()
        .map(|t| t.and_utc().timestamp_millis())
        .zip(s.values().iter().copied())
}

fn sweep(series: &[LabelledSeries], config: &DetectorConfig) -> Sweep {
    let scores: Vec<Vec<f64>> = series
        .iter()
        .map(|s| score_series(config, series_points(s)))
        .collect();
    Sweep::new(series, &scores, &ScoringOptions::default()).unwrap()
}

fn describe(r: &ProfileResult) -> String {
    format!(
        "{:.2} (t={:.4} tp={}/{} fp={})",
        r.normalised.unwrap_or(f64::NAN),
        r.threshold,
        r.detected_windows,
        r.scored_windows,
        r.counts.false_positives
    )
}

fn tune() {
    let corpus = load();
    let series = selected(&corpus);
    for (label, config) in variants() {
        let started = Instant::now();
        let sweep = sweep(&series, &config);
        let at: Option<f64> = std::env::var("VIGIE_AT").ok().map(|v| v.parse().unwrap());
        let line: Vec<String> = Profile::nab_profiles()
            .iter()
            .map(|p| match at {
                Some(t) => {
                    let curve = sweep.curve(p);
                    describe(&curve.result(curve.at(t)))
                }
                None => describe(&sweep.evaluate(p, ThresholdSearch::Sweep)),
            })
            .collect();
        eprintln!(
            "{label:<30} {}  [{:.2?}]",
            line.join(" | "),
            started.elapsed()
        );
    }
}

fn split() {
    let corpus = load();
    let halves = halves(&corpus);
    eprintln!(
        "half a: {} files, half b: {} files; standard profile; \
         `x@other` = at the other half's optimal threshold",
        halves[0].len(),
        halves[1].len()
    );
    let standard = Profile::standard();
    for (label, config) in variants() {
        let sweeps = [sweep(&halves[0], &config), sweep(&halves[1], &config)];
        let own = [0, 1].map(|h| sweeps[h].evaluate(&standard, ThresholdSearch::Sweep));
        let cross = [0, 1].map(|h| {
            let curve = sweeps[h].curve(&standard);
            curve.result(curve.at(own[1 - h].threshold))
        });
        eprintln!(
            "{label:<30} a: {} a@b: {:.2} | b: {} b@a: {:.2}",
            describe(&own[0]),
            cross[0].normalised.unwrap_or(f64::NAN),
            describe(&own[1]),
            cross[1].normalised.unwrap_or(f64::NAN),
        );
    }
}

fn diag() {
    use vigie_detect::nab::score::probationary_period;
    let corpus = load();
    let series = selected(&corpus);
    let config: DetectorConfig = serde_json::from_value(base_config()).unwrap();
    let t: f64 = std::env::var("VIGIE_T")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.5);
    let mut feats: Vec<Vec<u8>> = vec![];
    let scores: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut d = vigie_detect::detector::SeriesDetector::new(&config);
            let mut f = vec![];
            let out = series_points(s)
                .map(|(t, v)| {
                    let x = d.score(&config, t, v);
                    f.push(d.last_feature().map_or(0, |f| f as u8 + 1));
                    x
                })
                .collect();
            feats.push(f);
            out
        })
        .collect();
    let mut tpf = [0usize; 8];
    let mut fpf = [0usize; 8];
    let (mut tfp, mut tmiss) = (0, 0);
    for (k, (s, sc)) in series.iter().zip(&scores).enumerate() {
        let p = probationary_period(s.len(), 0.15);
        let mut fp = vec![];
        let mut det = vec![];
        for w in s.windows() {
            if w.last_row < p {
                continue;
            }
            let hit = (w.first_row.max(p)..=w.last_row).find(|&i| sc[i] >= t);
            if let Some(i) = hit {
                tpf[feats[k][i] as usize] += 1;
            }
            det.push(match hit {
                Some(i) => format!(
                    "{}@{:.2}:{}r{i}",
                    w.first_row,
                    (i - w.first_row) as f64 / w.width() as f64,
                    feats[k][i]
                ),
                None => format!("{}:MISS", w.first_row),
            });
            if hit.is_none() {
                tmiss += 1;
                let (mi, mx) = (w.first_row.max(p)..=w.last_row)
                    .map(|i| (i, sc[i]))
                    .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
                eprintln!(
                    "  MISS {} window {}..{} max {:.3} at {} feature {}",
                    s.name(),
                    w.first_row,
                    w.last_row,
                    mx,
                    mi,
                    feats[k][mi]
                );
            }
        }
        for i in p..s.len() {
            if sc[i] >= t && !s.windows().iter().any(|w| w.contains(i)) {
                fp.push(format!("{i}:{}", feats[k][i]));
                fpf[feats[k][i] as usize] += 1;
            }
        }
        tfp += fp.len();
        eprintln!(
            "{:<55} n={:<6} p={:<4} fp={:<3} {:?} {:?}",
            s.name(),
            s.len(),
            p,
            fp.len(),
            det,
            &fp[..fp.len().min(12)]
        );
    }
    eprintln!(
        "features: 1 deviation, 2 extreme, 3 noise, 4 context/shape, 5 gap, 6 stuck, 7 drift"
    );
    eprintln!("total fp {tfp} miss {tmiss} tp by feature {tpf:?} fp by feature {fpf:?}");
}

fn dump() {
    let corpus = load();
    let config: DetectorConfig = serde_json::from_value(base_config()).unwrap();
    let name = std::env::var("VIGIE_SERIES").expect("VIGIE_SERIES");
    let from: usize = std::env::var("VIGIE_FROM").map_or(0, |v| v.parse().unwrap());
    let to: usize = std::env::var("VIGIE_TO").map_or(usize::MAX, |v| v.parse().unwrap());
    let s = corpus
        .series()
        .iter()
        .find(|s| s.name().contains(&name))
        .expect("no such series");
    let mut d = vigie_detect::detector::SeriesDetector::new(&config);
    for (i, (t, v)) in series_points(s).enumerate() {
        let x = d.score(&config, t, v);
        if (from..to).contains(&i) {
            let w = if s.windows().iter().any(|w| w.contains(i)) {
                "W"
            } else {
                "."
            };
            println!("{i:>6} {w} {v:>14.4} {x:.3} {:?}", d.last_feature());
        }
    }
    let json = serde_json::to_string(&d).unwrap();
    eprintln!(
        "state: {} bytes in memory, {} bytes as JSON",
        d.memory_bytes(),
        json.len()
    );
}

/// A small deterministic generator of standard normal noise (xorshift, Box-Muller).
struct Gauss(u64);

impl Gauss {
    /// Scrambled: xorshift seeded with a small number starts with tiny numbers.
    fn new(seed: u64) -> Self {
        Gauss(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// White noise (σ 1) sampled every `step_ms` for `n` readings, shifted by `shift`
/// from row `at` on, scored: the rows where the score reaches [`NAB_THRESHOLD`], and
/// the feature that drove each.
fn alarms(
    config: &DetectorConfig,
    seed: u64,
    step_ms: i64,
    n: usize,
    (at, shift): (usize, f64),
) -> Vec<(usize, String)> {
    use vigie_detect::detector::{NAB_THRESHOLD, SeriesDetector};
    let mut noise = Gauss::new(seed);
    let mut detector = SeriesDetector::new(config);
    (0..n)
        .filter_map(|i| {
            let value = noise.normal() + if i >= at { shift } else { 0.0 };
            let time_ms = 1_704_067_200_000 + i as i64 * step_ms;
            (detector.score(config, time_ms, value) >= NAB_THRESHOLD)
                .then(|| (i, format!("{:?}", detector.last_feature().unwrap())))
        })
        .collect()
}

fn synthetic() {
    let series: u64 = std::env::var("VIGIE_N").map_or(40, |v| v.parse().unwrap());
    let share = |count: usize| format!("{count}/{series}");
    let (hour, day) = (3_600, 86_400);
    for (label, config) in variants() {
        // 1 Hz: the hour after the ten-minute warm-up, then three days.
        let mut first_hour = 0;
        let mut per_feature = std::collections::BTreeMap::<String, usize>::new();
        let mut later = 0;
        for seed in 1..=series {
            let found = alarms(&config, seed, 1_000, 3 * day, (usize::MAX, 0.0));
            first_hour += usize::from(found.iter().any(|(i, _)| *i < 600 + hour));
            later += found.iter().filter(|(i, _)| *i >= 600 + hour).count();
            for (_, feature) in found {
                *per_feature.entry(feature).or_default() += 1;
            }
        }
        // Level shifts of 6σ at 12 minutes (1 Hz) and after 12 hours (5 minutes).
        let missed = |step_ms: i64, at: usize| {
            (1..=series)
                .filter(|&seed| {
                    let found = alarms(&config, seed, step_ms, at + 60, (at, 6.0));
                    !found.iter().any(|(i, _)| *i >= at)
                })
                .count()
        };
        // 5 minutes: the first day after the warm-up, then days two and three.
        let (mut day_one, mut days_two_three) = (0, 0);
        for seed in 1..=series {
            let found = alarms(&config, seed, 300_000, 3 * 288, (usize::MAX, 0.0));
            day_one += usize::from(found.iter().any(|(i, _)| *i < 288));
            days_two_three += usize::from(found.iter().any(|(i, _)| *i >= 288));
        }
        eprintln!(
            "{label:<30} 1 Hz: {} series alarm in the 1st hour, then {:.2} alarms/series/day \
             {per_feature:?}; 6σ shift missed {} | 5 min: {} series alarm on day 1, {} on \
             days 2-3; 6σ shift missed {}",
            share(first_hour),
            later as f64 / series as f64 / (3.0 - 4_200.0 / day as f64),
            share(missed(1_000, 720)),
            share(day_one),
            share(days_two_three),
            share(missed(300_000, 144)),
        );
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("synthetic") => synthetic(),
        Some("diag") => diag(),
        Some("dump") => dump(),
        Some("split") => split(),
        _ => tune(),
    }
}
