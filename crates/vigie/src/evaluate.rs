//! `vigie eval` and `vigie detect`: the detector without a server. `eval nab DIR` scores
//! it on the Numenta Anomaly Benchmark; `eval --data --labels` on a customer's own
//! labelled incidents; `detect FILE.csv` writes every point's score as CSV.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use vigie_detect::detector::DetectorConfig;
use vigie_detect::nab::corpus::{Corpus, read_labelled_series, read_series_csv};
use vigie_detect::nab::evaluate::{evaluate_nab, score_series};
use vigie_detect::nab::score::{Profile, ProfileResult, ScoringOptions, Sweep, ThresholdSearch};

/// Milliseconds since the epoch of a naive (UTC) timestamp.
fn millis(time: &chrono::NaiveDateTime) -> i64 {
    time.and_utc().timestamp_millis()
}

fn print_results(title: &str, results: &[ProfileResult], json: bool) {
    if json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({"profile": r.profile, "threshold": r.threshold, "raw_score": r.raw_score,
                                   "normalised": r.normalised, "detected_windows": r.detected_windows,
                                   "scored_windows": r.scored_windows})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"evaluation": title, "profiles": rows})
        );
        return;
    }
    println!("{title}");
    println!(
        "{:<20} {:>10} {:>11} {:>10} {:>9}",
        "profile", "threshold", "raw score", "score", "windows"
    );
    for r in results {
        let normalised = r.normalised.map_or("-".to_owned(), |n| format!("{n:.2}"));
        println!(
            "{:<20} {:>10.4} {:>11.3} {:>10} {:>4}/{:<4}",
            r.profile, r.threshold, r.raw_score, normalised, r.detected_windows, r.scored_windows
        );
    }
}

/// `vigie eval nab DIR`: the three normalised NAB scores of the default detector.
pub(crate) fn eval_nab(dir: &Path, json: bool) -> anyhow::Result<()> {
    let corpus = Corpus::load(dir)
        .with_context(|| format!("loading the NAB corpus from {}", dir.display()))?;
    let started = std::time::Instant::now();
    let results = evaluate_nab(&corpus, &DetectorConfig::default())?;
    let title = format!(
        "NAB: {} series, {} windows, scored in {:.2} s (thresholds optimised corpus-wide, as NAB does)",
        corpus.series().len(),
        corpus.window_count(),
        started.elapsed().as_secs_f64()
    );
    print_results(&title, &results, json);
    Ok(())
}

/// `vigie eval --data FILE --labels FILE`: NAB's scoring on a customer's own incidents.
pub(crate) fn eval_custom(
    data: &Path,
    labels: &Path,
    threshold: f64,
    json: bool,
) -> anyhow::Result<()> {
    let series = read_labelled_series(data, labels)?;
    let points = series
        .timestamps()
        .iter()
        .map(millis)
        .zip(series.values().iter().copied());
    let scores = vec![score_series(&DetectorConfig::default(), points)];
    let sweep = Sweep::new(
        std::slice::from_ref(&series),
        &scores,
        &ScoringOptions::default(),
    )?;
    let at_threshold: Vec<ProfileResult> = Profile::nab_profiles()
        .iter()
        .map(|p| sweep.evaluate_at(p, threshold))
        .collect();
    print_results(
        &format!("{}: at the service's threshold {threshold}", data.display()),
        &at_threshold,
        json,
    );
    let optimised: Vec<ProfileResult> = Profile::nab_profiles()
        .iter()
        .map(|p| sweep.evaluate(p, ThresholdSearch::Sweep))
        .collect();
    print_results(
        "with the threshold optimised on these labels (optimistic: chosen in-sample)",
        &optimised,
        json,
    );
    Ok(())
}

/// `vigie detect` scores one series: a file with more columns than `timestamp,value`
/// is refused rather than silently scored on its first value column.
fn refuse_extra_columns(file: &Path) -> anyhow::Result<()> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?,
    );
    for (number, line) in reader.lines().enumerate().take(2) {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let columns = line.split(',').count();
        if columns > 2 {
            anyhow::bail!(
                "{} line {}: {columns} columns, but `vigie detect` scores one series: \
                 give it `timestamp,value` (one file per sensor)",
                file.display(),
                number + 1
            );
        }
    }
    Ok(())
}

/// `vigie detect FILE.csv`: `timestamp,value,anomaly_score` for every row, to stdout.
pub(crate) fn detect_file(file: &Path, threshold: f64) -> anyhow::Result<()> {
    refuse_extra_columns(file)?;
    let series = read_series_csv(file)?;
    let points = series
        .timestamps
        .iter()
        .map(millis)
        .zip(series.values.iter().copied());
    let scores = score_series(&DetectorConfig::default(), points);
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        writeln!(out, "timestamp,value,anomaly_score,anomaly")?;
        for ((timestamp, value), score) in series.timestamps.iter().zip(&series.values).zip(&scores)
        {
            let anomalous = u8::from(*score >= threshold);
            writeln!(
                out,
                "{},{value},{score:.6},{anomalous}",
                timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            )?;
        }
        out.flush()
    };
    match write() {
        // The reader stopped reading (`vigie detect … | head`): not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
