//! `ingest-load`: ingestion load. Each client is one keep-alive connection with one
//! request in flight, all on a single thread, so the generator takes at most one core
//! from the server. Every request carries new keys (see [`crate::workload`]), so the
//! server takes its insert path, never the resend path.
//!
//! Three workloads ([`Workload`]): many gateways, each its own sensors, and one gateway
//! uploading the same series over parallel connections, both closed loops (the next
//! request as soon as the answer is read); and sensors reporting at 1 Hz in small
//! requests, an open loop paced by the clock, whose latency counts from when each
//! request was due (so a slow answer also delays, and is charged to, the next ones).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use clap::Args;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::client::{Connection, Target, millis, quantile};
use crate::load::{CpuTimes, TICKS_PER_SECOND};
use crate::workload::{BodyTemplate, Shape, Sharing};

/// What the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// (a) Many gateways, each its own sensors; closed loop.
    Gateways,
    /// (b) One gateway, every client the same sensors over the same span of time; closed
    /// loop.
    Shared,
    /// (c) `--sensors` sensors at 1 Hz, `--batch` sensors per request (a gateway), the
    /// gateways spread over the clients and over each second; open loop.
    Paced,
}

/// Settings of `ingest-load`.
#[derive(Debug, Args)]
pub struct IngestLoadArgs {
    /// What the clients send.
    #[arg(long, value_enum, default_value_t = Workload::Gateways)]
    workload: Workload,
    /// Sensors of the paced workload, each one reading a second.
    #[arg(long, default_value_t = 10_000)]
    sensors: usize,
    /// Data endpoint, e.g. `http://127.0.0.1:8080/v0/organisations/ORG/data/PROJECT`.
    #[arg(long)]
    url: String,
    /// Access token with scope `data` for that organisation.
    #[arg(long, env = "BENCH_ACCESS_TOKEN", hide_env_values = true)]
    token: String,
    /// Readings per request.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Readings per sensor per request (one millisecond apart).
    #[arg(long, default_value_t = 100)]
    readings_per_series: usize,
    /// Concurrent clients, each a keep-alive connection with one request in flight.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Seconds of load before the measurement, not counted.
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    /// Longest wait for one response, seconds; a slower one counts as an error.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Process id of the server, to report its CPU time, by thread name (Linux `/proc`).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// The counts of a `201` answer.
#[derive(Deserialize)]
struct Counts {
    received: u64,
    new: u64,
}

/// What one client saw during the measured window.
#[derive(Default)]
struct Tally {
    /// Latencies of the 201 answers received in the window.
    latencies: Vec<Duration>,
    /// Successful requests, each counted for the fraction of its time that fell in the
    /// window.
    overlapping: f64,
    errors: u64,
    /// Readings the server reported as new (it had no reading with their key).
    new: u64,
    /// Readings the server reported as received.
    received: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }
}

/// The one JSON line `ingest-load` prints.
#[derive(Serialize)]
struct Report {
    workload: Workload,
    batch: usize,
    readings_per_series: usize,
    clients: usize,
    duration_secs: u64,
    /// Requests answered in the measured window.
    requests: u64,
    /// Of those, failures and answers other than 201.
    errors: u64,
    /// Readings stored per second: each successful request counts for the share of
    /// its duration inside the window, so a run whose answers come in bursts (a
    /// group commit of many large requests takes seconds) is not quantised into
    /// "all or nothing" by the window's edges.
    readings_per_second: f64,
    /// Successful requests per second, counted the same way.
    requests_per_second: f64,
    /// Readings the server reported as received and as new, in the window: equal to
    /// `readings_per_second × duration` when every key was new, as intended.
    received_readings: u64,
    new_readings: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Bytes of each request body.
    body_bytes: usize,
    /// CPU time of this load generator per request, microseconds.
    loadgen_cpu_us_per_request: Option<f64>,
    /// Cores the server (`--server-pid`) kept busy, all threads.
    server_cpu_cores: Option<f64>,
    /// Server CPU time per stored reading, nanoseconds.
    server_cpu_ns_per_reading: Option<f64>,
    /// Cores the server kept busy, by thread name (`tokio-rt-worker` for the runtime's
    /// workers, `sqlx-sqlite-wor` for SQLite connections).
    server_threads: BTreeMap<String, f64>,
    /// Cores busy with anything else than the server and this generator (other
    /// processes, hypervisor steal; on PostgreSQL, the database's own processes).
    other_cpu_cores: Option<f64>,
    /// The first error, if any.
    first_error: Option<String>,
}

/// Runs the load and prints a [`Report`].
pub fn run(args: &IngestLoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(args.duration_secs > 0, "--duration-secs must be at least 1");
    let target = Target::parse(&args.url)?;
    let shape = match args.workload {
        Workload::Paced => Shape::new(args.batch, 1)?,
        _ => Shape::new(args.batch, args.readings_per_series)?,
    };
    let sharing = match args.workload {
        Workload::Shared => Sharing::Shared {
            clients: args.clients,
        },
        _ => Sharing::Own,
    };
    shape.check(sharing)?;
    let authorization = HeaderValue::from_str(&format!("Bearer {}", args.token))?;
    let gateways = args.sensors.div_ceil(args.batch);
    if args.workload == Workload::Paced {
        anyhow::ensure!(
            gateways >= args.clients,
            "the paced workload needs at least one gateway (--sensors / --batch) per client"
        );
    }
    let body_bytes = match args.workload {
        Workload::Paced => paced_body(args.batch, 0, 0)?.len(),
        _ => BodyTemplate::new(shape, sharing, 0).render(0)?.len(),
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (total, cpu, threads) = runtime.block_on(async {
        let from = Instant::now() + Duration::from_secs(args.warmup_secs);
        let until = from + Duration::from_secs(args.duration_secs);
        // Every client (and its body) is made before any of them runs.
        let workers: Vec<_> = (0..args.clients)
            .map(|client| {
                let connection = Connection::with_timeout(target.clone(), timeout);
                let window = (from, until);
                match args.workload {
                    Workload::Paced => {
                        let own = (client..gateways).step_by(args.clients).collect();
                        tokio::spawn(pace(
                            connection,
                            authorization.clone(),
                            Paced {
                                gateways: own,
                                of: gateways,
                                batch: args.batch,
                            },
                            window,
                        ))
                    }
                    _ => tokio::spawn(drive(
                        connection,
                        BodyTemplate::new(shape, sharing, client),
                        authorization.clone(),
                        args.batch as u64,
                        window,
                    )),
                }
            })
            .collect();
        tokio::time::sleep_until(from.into()).await;
        let cpu_before = CpuTimes::now(args.server_pid);
        let threads_before = args.server_pid.map(thread_cpu_seconds).unwrap_or_default();
        tokio::time::sleep_until(until.into()).await;
        let cpu_after = CpuTimes::now(args.server_pid);
        let threads_after = args.server_pid.map(thread_cpu_seconds).unwrap_or_default();
        let mut total = Tally::default();
        for worker in workers {
            let tally = worker.await?;
            total.latencies.extend(tally.latencies);
            total.overlapping += tally.overlapping;
            total.errors += tally.errors;
            total.new += tally.new;
            total.received += tally.received;
            total.first_error = total.first_error.or(tally.first_error);
        }
        let threads = by_thread_name(&threads_before, &threads_after);
        anyhow::Ok((total, cpu_after.since(&cpu_before), threads))
    })?;
    let mut latencies = total.latencies;
    latencies.sort_unstable();
    let seconds = args.duration_secs as f64;
    let ok = latencies.len() as f64;
    let readings = total.overlapping * args.batch as f64;
    let per_second = |count: f64| (count / seconds).round();
    let round1 = |value: f64| (value * 10.0).round() / 10.0;
    let round2 = |value: f64| (value * 100.0).round() / 100.0;
    let report = Report {
        workload: args.workload,
        batch: args.batch,
        readings_per_series: shape.readings_per_series,
        clients: args.clients,
        duration_secs: args.duration_secs,
        requests: latencies.len() as u64 + total.errors,
        errors: total.errors,
        readings_per_second: per_second(readings),
        requests_per_second: round1(total.overlapping / seconds),
        received_readings: total.received,
        new_readings: total.new,
        p50_ms: millis(quantile(&latencies, 0.50)),
        p99_ms: millis(quantile(&latencies, 0.99)),
        max_ms: millis(latencies.last().copied().unwrap_or_default()),
        body_bytes,
        loadgen_cpu_us_per_request: cpu
            .loadgen
            .filter(|_| ok > 0.0)
            .map(|s| round1(s / ok * 1e6)),
        server_cpu_cores: cpu.server.map(|s| round2(s / seconds)),
        server_cpu_ns_per_reading: cpu
            .server
            .filter(|_| readings > 0.0)
            .map(|s| (s / readings * 1e9).round()),
        server_threads: threads
            .into_iter()
            .map(|(name, s)| (name, round2(s / seconds)))
            .collect(),
        other_cpu_cores: cpu.others().map(|s| round2(s / seconds)),
        first_error: total.first_error,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One client's closed loop: a new request, with new keys, as soon as the previous
/// answer is read, until `until`; the request in flight then is seen to its end. A
/// successful request counts for the fraction of its duration inside `[from, until]`;
/// latencies and errors are those of the answers received inside it. Any other
/// status than 201 Created, and any transport failure, is an error.
async fn drive(
    mut connection: Connection,
    mut template: BodyTemplate,
    authorization: HeaderValue,
    batch: u64,
    (from, until): (Instant, Instant),
) -> Tally {
    let content_type = HeaderValue::from_static("application/json");
    let mut tally = Tally::default();
    for n in 0.. {
        if Instant::now() >= until {
            break;
        }
        let body = match template.render(n) {
            Ok(body) => body,
            Err(error) => {
                tally.error(error.to_string());
                break;
            }
        };
        let started = Instant::now();
        let outcome = connection
            .post(&authorization, content_type.clone(), body)
            .await;
        let finished = Instant::now();
        if tally.count(outcome, batch, started, finished, (from, until)) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    tally
}

/// The gateways one client of the paced workload sends for.
struct Paced {
    /// Its gateways' numbers.
    gateways: Vec<usize>,
    /// Gateways in all: gateway `g` sends at `g / of` of each second.
    of: usize,
    /// Sensors per gateway, one reading each per request.
    batch: usize,
}

/// The body of gateway `gateway`'s request for second `second` after 2020-01-01: one
/// reading of each of its `batch` sensors `bench-gGGGGG-sSSS`.
fn paced_body(batch: usize, gateway: usize, second: u64) -> anyhow::Result<bytes::Bytes> {
    let time = chrono::DateTime::from_timestamp(1_577_836_800 + i64::try_from(second)?, 0)
        .ok_or_else(|| anyhow::anyhow!("second {second} is out of the range of dates"))?;
    let date = time.format("%Y-%m-%dT%H:%M:%SZ");
    let readings: Vec<String> = (0..batch)
        .map(|sensor| {
            let value = ((gateway * 31 + sensor * 7 + second as usize * 13) % 1000) as f64 / 10.0;
            format!(
                r#"{{"sensorId":"bench-g{gateway:05}-s{sensor:03}","valueName":"x","date":"{date}","value":{value},"precision":100}}"#
            )
        })
        .collect();
    Ok(format!("[{}]", readings.join(",")).into())
}

/// One client of the paced workload: each of its gateways' requests at its second and
/// offset, in order on the one connection; a request sent late (the previous answer
/// came back after it was due) is timed from when it was due.
async fn pace(
    mut connection: Connection,
    authorization: HeaderValue,
    paced: Paced,
    (from, until): (Instant, Instant),
) -> Tally {
    let content_type = HeaderValue::from_static("application/json");
    let mut tally = Tally::default();
    let start = Instant::now();
    'seconds: for second in 0.. {
        for &gateway in &paced.gateways {
            let due = start
                + Duration::from_secs(second)
                + Duration::from_secs_f64(gateway as f64 / paced.of as f64);
            if due >= until {
                break 'seconds;
            }
            tokio::time::sleep_until(due.into()).await;
            let body = match paced_body(paced.batch, gateway, second) {
                Ok(body) => body,
                Err(error) => {
                    tally.error(error.to_string());
                    break 'seconds;
                }
            };
            let outcome = connection
                .post(&authorization, content_type.clone(), body)
                .await;
            let finished = Instant::now();
            tally.count(outcome, paced.batch as u64, due, finished, (from, until));
        }
    }
    tally
}

impl Tally {
    /// Counts one request, sent at `started` and answered at `finished`, against the
    /// measured window; `true` after a transport failure, when the caller should pause.
    fn count(
        &mut self,
        outcome: anyhow::Result<crate::client::Reply>,
        batch: u64,
        started: Instant,
        finished: Instant,
        (from, until): (Instant, Instant),
    ) -> bool {
        let tally = self;
        if matches!(&outcome, Ok(reply) if reply.status == StatusCode::CREATED) {
            let inside = finished
                .min(until)
                .saturating_duration_since(started.max(from));
            let whole = finished - started;
            if !whole.is_zero() {
                tally.overlapping += inside.as_secs_f64() / whole.as_secs_f64();
            }
        }
        if finished < from || finished > until {
            return outcome.is_err();
        }
        match outcome {
            Ok(reply) if reply.status == StatusCode::CREATED => {
                tally.latencies.push(finished - started);
                match serde_json::from_slice::<Counts>(&reply.body) {
                    Ok(counts) => {
                        tally.received += counts.received;
                        tally.new += counts.new;
                        if counts.received != batch {
                            tally.error(format!("received {} of {batch}", counts.received));
                        }
                    }
                    // The baseline server answers without counts.
                    Err(_) => tally.received += batch,
                }
            }
            Ok(reply) => tally.error(format!(
                "status {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)])
            )),
            Err(error) => {
                tally.error(format!("{error:#}"));
                // Do not spin on a refused connection.
                return true;
            }
        }
        false
    }
}

/// CPU seconds of each thread of a process: thread id → (name, seconds).
pub(crate) fn thread_cpu_seconds(pid: u32) -> HashMap<String, (String, f64)> {
    let mut threads = HashMap::new();
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        let Some(seconds) = stat_cpu_seconds(&stat) else {
            continue;
        };
        let tid = entry.file_name().to_string_lossy().into_owned();
        threads.insert(tid, (name.trim().to_owned(), seconds));
    }
    threads
}

/// User plus system CPU seconds from a `/proc/…/stat` line.
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// CPU seconds used between two snapshots, summed by thread name. A thread that
/// started in between counts from zero; one that ended is lost.
pub(crate) fn by_thread_name(
    before: &HashMap<String, (String, f64)>,
    after: &HashMap<String, (String, f64)>,
) -> BTreeMap<String, f64> {
    let mut names = BTreeMap::new();
    for (tid, (name, seconds)) in after {
        let earlier = before.get(tid).map_or(0.0, |(_, s)| *s);
        *names.entry(name.clone()).or_insert(0.0) += seconds - earlier;
    }
    names
}
