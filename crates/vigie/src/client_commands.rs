//! The integrator's commands, on the SDK: `vigie token`, `vigie push FILE…` and
//! `vigie anomalies`.
//!
//! `push` keeps, beside each file, `FILE.vigie-progress`: the batches already accepted,
//! with the file's size, modification time and the batch size. Re-running the same
//! command after an interruption sends only the rest; the file is removed once every
//! batch is accepted. (Resending an accepted batch would be harmless anyway: the server
//! deduplicates.)

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vigie_client::{BatchOutcome, Client, ClientConfig, RenewalStrategy};
use vigie_proto::readings::Reading;

use crate::cli::{AnomaliesArgs, ClientArgs, PushArgs, Renewal};

fn client(args: &ClientArgs) -> anyhow::Result<Client> {
    let mut config = ClientConfig::new(
        &args.url,
        &args.organisation_id,
        &args.project,
        &args.application_id,
        &args.application_secret,
    );
    config.renewal = match args.renewal {
        Renewal::ExpiresIn => RenewalStrategy::ExpiresIn {
            margin: Duration::from_secs(60),
        },
        Renewal::JwtExp => RenewalStrategy::JwtExpiry {
            margin: Duration::from_secs(60),
        },
        Renewal::On401 => RenewalStrategy::OnUnauthorized,
    };
    Ok(Client::new(config)?)
}

fn require(value: &str, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !value.is_empty(),
        "{name} is not set (flag --{} or environment variable {name})",
        name.to_lowercase().replace('_', "-")
    );
    Ok(())
}

/// `vigie token`.
pub(crate) async fn token(args: ClientArgs) -> anyhow::Result<()> {
    let response = client(&args)?.fresh_token().await?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

/// `vigie anomalies`.
pub(crate) async fn anomalies(args: AnomaliesArgs) -> anyhow::Result<()> {
    require(&args.client.organisation_id, "ORGANISATION_ID")?;
    require(&args.client.project, "ML_PROJECT")?;
    let filters = [
        ("from", args.from.clone()),
        ("to", args.to.clone()),
        ("sensorId", args.sensor_id.clone()),
        ("minScore", args.min_score.map(|s| s.to_string())),
        ("limit", Some("10000".to_owned())),
    ];
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            filters
                .iter()
                .filter_map(|(name, value)| Some((name, value.as_ref()?))),
        )
        .finish();
    let page = client(&args.client)?.anomalies(&query).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<24} {:<24} {:>6}  SERIES",
        "START", "END", "PEAK", "SCORE"
    );
    for a in &page.anomalies {
        println!(
            "{:<24} {:<24} {:<24} {:>6.3}  {}/{}",
            a.start, a.end, a.peak_date, a.peak_score, a.sensor_id, a.value_name
        );
    }
    Ok(())
}

/// Reads a file of readings in the format its extension names.
fn read_readings(path: &Path) -> anyhow::Result<Vec<Reading>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "csv" => csv::Reader::from_reader(text.as_bytes())
            .deserialize::<CsvReading>()
            .enumerate()
            .map(|(row, reading)| {
                reading
                    .map(Reading::from)
                    .with_context(|| format!("{} line {}", path.display(), row + 2))
            })
            .collect(),
        "json" => serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON array of readings", path.display())),
        "ndjson" | "jsonl" => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line)
                    .with_context(|| format!("{} line {}", path.display(), n + 1))
            })
            .collect(),
        _ => anyhow::bail!(
            "{}: use a .csv, .json, .ndjson or .jsonl file",
            path.display()
        ),
    }
}

/// A CSV row: a cell per field of [`Reading`], `labels` as space-separated labels
/// (a CSV cell cannot hold an array); an empty `valueName`, `precision` or `labels`
/// cell is an absent field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsvReading {
    sensor_id: String,
    #[serde(default)]
    value_name: Option<String>,
    date: String,
    value: f64,
    #[serde(default)]
    precision: Option<f64>,
    #[serde(default)]
    labels: Option<String>,
}

impl From<CsvReading> for Reading {
    fn from(row: CsvReading) -> Self {
        Self {
            sensor_id: row.sensor_id,
            value_name: row
                .value_name
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| vigie_proto::readings::DEFAULT_VALUE_NAME.to_owned()),
            date: row.date,
            value: row.value,
            precision: row.precision,
            labels: row
                .labels
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// What `FILE.vigie-progress` remembers.
#[derive(Serialize, Deserialize, PartialEq)]
struct Progress {
    file_size: u64,
    modified_ms: u128,
    batch_size: usize,
    done: BTreeSet<usize>,
}

fn progress_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".vigie-progress");
    PathBuf::from(name)
}

fn fresh_progress(file: &Path, batch_size: usize) -> anyhow::Result<Progress> {
    let metadata = std::fs::metadata(file)?;
    let modified_ms = metadata
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Ok(Progress {
        file_size: metadata.len(),
        modified_ms,
        batch_size,
        done: BTreeSet::new(),
    })
}

/// The progress of an earlier, interrupted upload of the same file, if any.
fn resume_progress(file: &Path, batch_size: usize) -> anyhow::Result<Progress> {
    let fresh = fresh_progress(file, batch_size)?;
    let earlier = std::fs::read_to_string(progress_path(file))
        .ok()
        .and_then(|text| serde_json::from_str::<Progress>(&text).ok());
    Ok(match earlier {
        Some(earlier)
            if (earlier.file_size, earlier.modified_ms, earlier.batch_size)
                == (fresh.file_size, fresh.modified_ms, batch_size) =>
        {
            earlier
        }
        _ => fresh,
    })
}

/// Shows progress: a bar on a terminal, a plain line at most every second otherwise.
enum Reporter {
    Bar(indicatif::ProgressBar),
    Lines {
        total: u64,
        sent: u64,
        started: Instant,
        last: Instant,
        at_start: u64,
    },
}

impl Reporter {
    fn new(total: u64, already: u64) -> Self {
        if std::io::stderr().is_terminal() {
            // The bar counts this run's readings only, so its rate and ETA are this run's.
            let bar = indicatif::ProgressBar::new(total - already);
            let style = indicatif::ProgressStyle::with_template(
                "{bar:40} {human_pos}/{human_len} readings{msg}  {rate}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0} readings/s", state.per_sec());
                },
            );
            bar.set_style(style);
            if already > 0 {
                bar.set_message(format!(" (+{already} accepted earlier)"));
            }
            Self::Bar(bar)
        } else {
            let now = Instant::now();
            Self::Lines {
                total,
                sent: already,
                started: now,
                last: now,
                at_start: already,
            }
        }
    }

    fn advance(&mut self, readings: u64) {
        match self {
            Self::Bar(bar) => bar.inc(readings),
            Self::Lines { sent, last, .. } => {
                *sent += readings;
                if last.elapsed() >= Duration::from_secs(1) {
                    *last = Instant::now();
                    self.line();
                }
            }
        }
    }

    fn line(&self) {
        if let Self::Lines {
            total,
            sent,
            started,
            at_start,
            ..
        } = self
        {
            let rate = (sent - at_start) as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let eta = if rate > 0.0 {
                format!("{:.0} s", (total - sent) as f64 / rate)
            } else {
                "-".into()
            };
            eprintln!(
                "progress: {sent}/{total} readings ({:.1}%), {rate:.0} readings/s, ETA {eta}",
                100.0 * *sent as f64 / (*total).max(1) as f64
            );
        }
    }

    fn finish(&self) {
        match self {
            Self::Bar(bar) => bar.finish(),
            Self::Lines { .. } => self.line(),
        }
    }
}

/// `vigie push FILE…`; returns whether every batch was accepted.
pub(crate) async fn push(args: PushArgs) -> anyhow::Result<bool> {
    require(&args.client.organisation_id, "ORGANISATION_ID")?;
    require(&args.client.project, "ML_PROJECT")?;
    anyhow::ensure!(
        args.batch_size > 0 && args.concurrency > 0,
        "--batch-size and --concurrency must be positive"
    );
    let client = client(&args.client)?;
    let mut all_ok = true;
    for file in &args.files {
        let readings = read_readings(file)?;
        let mut progress = resume_progress(file, args.batch_size)?;
        let batches: Vec<(usize, Vec<Reading>)> = readings
            .chunks(args.batch_size)
            .enumerate()
            .filter(|(index, _)| !progress.done.contains(index))
            .map(|(index, chunk)| (index, chunk.to_vec()))
            .collect();
        let resumed: u64 =
            (readings.len() - batches.iter().map(|(_, b)| b.len()).sum::<usize>()) as u64;
        if resumed > 0 {
            eprintln!(
                "{}: resuming, {resumed} readings were already accepted",
                file.display()
            );
        }
        let mut reporter = Reporter::new(readings.len() as u64, resumed);
        let (mut new, mut unchanged, mut replaced) = (0u64, 0u64, 0u64);
        let mut failures: Vec<(usize, usize, String)> = Vec::new();
        let state_file = progress_path(file);
        client
            .push_batches(
                batches,
                args.concurrency,
                |outcome: BatchOutcome| match outcome.result {
                    Ok(answer) => {
                        new += answer.new;
                        unchanged += answer.unchanged;
                        replaced += answer.replaced;
                        progress.done.insert(outcome.index);
                        if let Ok(text) = serde_json::to_string(&progress) {
                            // Best effort: losing it only means resending accepted batches.
                            let _ = std::fs::write(&state_file, text);
                        }
                        reporter.advance(outcome.readings as u64);
                    }
                    Err(error) => {
                        failures.push((outcome.index, outcome.readings, error.to_string()))
                    }
                },
            )
            .await;
        reporter.finish();
        let failed_readings: usize = failures.iter().map(|(_, n, _)| n).sum();
        println!(
            "{}: {} readings accepted ({new} new, {unchanged} unchanged, {replaced} replaced){}; {} batch(es) failed ({failed_readings} readings)",
            file.display(),
            new + unchanged + replaced,
            if resumed > 0 {
                format!(" besides {resumed} accepted earlier")
            } else {
                String::new()
            },
            failures.len(),
        );
        failures.sort();
        for (index, count, reason) in &failures {
            println!(
                "  batch {index} ({count} readings, from reading {}): {reason}",
                index * args.batch_size
            );
        }
        if failures.is_empty() {
            let _ = std::fs::remove_file(&state_file);
        } else {
            all_ok = false;
            println!("  re-run the same command to send the failed batches again");
        }
    }
    Ok(all_ok)
}
