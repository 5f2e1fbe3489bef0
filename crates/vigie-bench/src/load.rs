//! `load`: closed-loop load on keep-alive connections, one task per connection on a
//! single thread, so the generator takes at most one core from the server.

use std::time::{Duration, Instant};

use clap::Args;
use hyper::StatusCode;
use serde::Serialize;

use crate::client::{Connection, Target, basic_authorization, millis, quantile};

/// Settings of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Token endpoint, e.g. `http://127.0.0.1:8080/v0/oauth2token`.
    #[arg(long)]
    url: String,
    /// Client credentials as `CLIENT_ID:CLIENT_SECRET`.
    #[arg(long)]
    basic: String,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Seconds of load before the measurement, not counted.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Process id of the server, to report its CPU time per request (Linux `/proc`).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What one connection saw during the measured window.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

/// The one JSON line `load` prints.
#[derive(Serialize)]
struct Report {
    /// Requests sent and answered in the measured window.
    requests: u64,
    /// Of those, the ones that failed or were answered with another status than 200.
    errors: u64,
    /// Successful (200) responses per second: tokens per second.
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    connections: usize,
    duration_secs: u64,
    /// CPU time of this load generator per successful request, microseconds.
    loadgen_cpu_us_per_request: Option<f64>,
    /// CPU time of the server (`--server-pid`) per successful request, microseconds.
    server_cpu_us_per_request: Option<f64>,
    /// Cores busy with anything else than the server and this generator (other processes,
    /// hypervisor steal): how noisy the machine was.
    other_cpu_cores: Option<f64>,
}

/// Runs the load and prints a [`Report`].
pub fn run(args: &LoadArgs) -> anyhow::Result<()> {
    let target = Target::parse(&args.url)?;
    let (client_id, client_secret) = args
        .basic
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--basic must be CLIENT_ID:CLIENT_SECRET"))?;
    let authorization = basic_authorization(client_id, client_secret);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (total, cpu_before, cpu_after) = runtime.block_on(async {
        let from = Instant::now() + Duration::from_secs(args.warmup_secs);
        let until = from + Duration::from_secs(args.duration_secs);
        let workers: Vec<_> = (0..args.connections)
            .map(|_| {
                let connection = Connection::new(target.clone());
                tokio::spawn(drive(connection, authorization.clone(), from, until))
            })
            .collect();
        tokio::time::sleep_until(from.into()).await;
        let cpu_before = CpuTimes::now(args.server_pid);
        tokio::time::sleep_until(until.into()).await;
        let cpu_after = CpuTimes::now(args.server_pid);
        let mut total = Tally::default();
        for worker in workers {
            let tally = worker.await?;
            total.latencies.extend(tally.latencies);
            total.errors += tally.errors;
        }
        anyhow::Ok((total, cpu_before, cpu_after))
    })?;
    let mut latencies = total.latencies;
    latencies.sort_unstable();
    let ok = latencies.len() as f64;
    let used = cpu_after.since(&cpu_before);
    let per_request_us =
        |seconds: Option<f64>| Some((seconds? / ok * 1e7).round() / 10.0).filter(|_| ok > 0.0);
    let report = Report {
        requests: latencies.len() as u64 + total.errors,
        errors: total.errors,
        rps: (ok / args.duration_secs as f64).round(),
        p50_ms: millis(quantile(&latencies, 0.50)),
        p99_ms: millis(quantile(&latencies, 0.99)),
        max_ms: millis(latencies.last().copied().unwrap_or_default()),
        connections: args.connections,
        duration_secs: args.duration_secs,
        loadgen_cpu_us_per_request: per_request_us(used.loadgen),
        server_cpu_us_per_request: per_request_us(used.server),
        other_cpu_cores: used
            .others()
            .map(|seconds| (seconds / args.duration_secs as f64 * 100.0).round() / 100.0),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One connection's closed loop: a new request as soon as the previous answer is read.
/// Requests sent and answered inside `[from, until]` are counted; any other status
/// than 200, and any transport failure, is an error.
async fn drive(
    mut connection: Connection,
    authorization: hyper::header::HeaderValue,
    from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let started = Instant::now();
        if started >= until {
            return tally;
        }
        let outcome = connection.token_request(&authorization).await;
        let finished = Instant::now();
        let counted = started >= from && finished <= until;
        match outcome {
            Ok(reply) if reply.status == StatusCode::OK => {
                if counted {
                    tally.latencies.push(finished - started);
                }
            }
            Ok(_) => tally.errors += u64::from(counted),
            Err(_) => {
                tally.errors += u64::from(counted);
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// `USER_HZ`, the unit of `/proc` CPU times: 100 on every Linux ABI in use.
pub(crate) const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds used so far (Linux `/proc`; `None` where it cannot be read).
pub(crate) struct CpuTimes {
    pub(crate) loadgen: Option<f64>,
    pub(crate) server: Option<f64>,
    /// All cores, all processes: time not idle nor waiting for I/O.
    pub(crate) machine: Option<f64>,
}

impl CpuTimes {
    pub(crate) fn now(server_pid: Option<u32>) -> Self {
        Self {
            loadgen: process_cpu_seconds("self"),
            server: server_pid.and_then(|pid| process_cpu_seconds(&pid.to_string())),
            machine: machine_busy_seconds(),
        }
    }

    /// What the machine spent on anything else than the server and this generator
    /// (never negative: the three counters are read at slightly different times).
    pub(crate) fn others(&self) -> Option<f64> {
        Some((self.machine? - self.loadgen? - self.server?).max(0.0))
    }

    pub(crate) fn since(&self, earlier: &Self) -> Self {
        let delta = |now: Option<f64>, then: Option<f64>| Some(now? - then?);
        Self {
            loadgen: delta(self.loadgen, earlier.loadgen),
            server: delta(self.server, earlier.server),
            machine: delta(self.machine, earlier.machine),
        }
    }
}

/// User plus system CPU seconds of a process (`"self"` or a pid), all its threads.
fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name, which may contain spaces: state is
    // the first, utime the 12th and stime the 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// CPU seconds the whole machine spent running processes (user, nice, system) or lost
/// to the hypervisor (steal): the first line of `/proc/stat`. Interrupt time is left
/// out, as the kernel may book there the loopback traffic of the benchmark itself.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, _irq, _softirq, steal] = ticks[..] else {
        return None;
    };
    Some((user + nice + system + steal) / TICKS_PER_SECOND)
}
