//! Tuning aids for the detector, run by hand in release:
//!
//! * `tune` runs the detector over the NAB corpus with the configuration in `VIGIE_CFG`
//!   (JSON, merged over the default) and, optionally, a sweep of one parameter
//!   (`VIGIE_SWEEP='name=v1;v2;…'`, JSON values), printing the three normalised scores
//!   with their thresholds, detected windows (`tp`) and false-positive rows (`fp`);
//! * `diag` lists, per series, the detections, misses and false positives at the
//!   threshold `VIGIE_T`, and which feature drove them.
//!
//! `cargo run --release -p vigie-detect --example tune [tune|diag]`

use std::path::PathBuf;
use std::time::Instant;

use vigie_detect::detector::{DetectorConfig, evaluate_nab};
use vigie_detect::nab::corpus::Corpus;

fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            b.insert(k.clone(), v.clone());
        }
    }
}

fn tune() {
    let dir = std::env::var_os("VIGIE_NAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/data/nab"
            ))
        });
    let corpus = Corpus::load(&dir).expect("load NAB");
    let mut base = serde_json::to_value(DetectorConfig::default()).unwrap();
    if let Ok(text) = std::env::var("VIGIE_CFG") {
        merge(
            &mut base,
            &serde_json::from_str(&text).expect("VIGIE_CFG json"),
        );
    }
    let variants: Vec<(String, serde_json::Value)> = match std::env::var("VIGIE_SWEEP") {
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
    for (label, value) in variants {
        let config: DetectorConfig = serde_json::from_value(value).unwrap();
        let config = config.validated().unwrap();
        let started = Instant::now();
        let results = evaluate_nab(&corpus, &config).unwrap();
        let line: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{:.2} (t={:.4} tp={} fp={} fn={})",
                    r.normalised.unwrap_or(f64::NAN),
                    r.threshold,
                    r.detected_windows,
                    r.counts.false_positives,
                    r.counts.false_negatives
                )
            })
            .collect();
        eprintln!(
            "{label:<30} {}  [{:.2?}]",
            line.join(" | "),
            started.elapsed()
        );
    }
}

fn diag() {
    use vigie_detect::nab::score::probationary_period;
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/nab"
    ));
    let corpus = Corpus::load(&dir).expect("load NAB");
    let mut base = serde_json::to_value(DetectorConfig::default()).unwrap();
    if let Ok(text) = std::env::var("VIGIE_CFG") {
        merge(
            &mut base,
            &serde_json::from_str(&text).expect("VIGIE_CFG json"),
        );
    }
    let config: DetectorConfig = serde_json::from_value(base).unwrap();
    let t: f64 = std::env::var("VIGIE_T")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.5);
    let mut feats: Vec<Vec<u8>> = vec![];
    let scores: Vec<Vec<f64>> = corpus
        .series()
        .iter()
        .map(|s| {
            let mut d = vigie_detect::detector::SeriesDetector::new(&config);
            let mut f = vec![];
            let out = s
                .timestamps()
                .iter()
                .zip(s.values())
                .map(|(t, v)| {
                    let x = d.score(t.and_utc().timestamp_millis(), *v);
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
    for (k, (s, sc)) in corpus.series().iter().zip(&scores).enumerate() {
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
                    "{}@{:.2}",
                    w.first_row,
                    (i - w.first_row) as f64 / w.width() as f64
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
                fp.push(i);
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
            &fp[..fp.len().min(8)]
        );
    }
    eprintln!("total fp {tfp} miss {tmiss} tp by feature {tpf:?} fp by feature {fpf:?}");
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("diag") => diag(),
        _ => tune(),
    }
}
