//! `auth-timing`: does a failed client authentication tell an unknown client id from a
//! known one? Sends, one at a time on one keep-alive connection, pairs of requests in
//! random order: an unknown id with a random secret, and the known id with a random
//! (wrong) secret. Both must be 401 with the same body and headers, in the same time.
//!
//! The unknown id is drawn once per run, like the known one, so both ids keep the same
//! state in the server's failure rate limiter and only the credential check differs.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use hyper::header::{DATE, HeaderMap};
use rand::{Rng, RngCore};
use serde::Serialize;

use crate::client::{Connection, Reply, Target, basic_authorization, millis, quantile};

/// Settings of `auth-timing`.
#[derive(Debug, Args)]
pub struct AuthTimingArgs {
    /// Token endpoint, e.g. `http://127.0.0.1:8080/v0/oauth2token`.
    #[arg(long)]
    url: String,
    /// A provisioned client id.
    #[arg(long)]
    known_id: String,
    /// Measured requests per case.
    #[arg(long, default_value_t = 3000)]
    count: usize,
    /// Unmeasured request pairs sent first.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
}

/// The two ways to fail authentication.
#[derive(Clone, Copy)]
enum Case {
    UnknownId,
    WrongSecret,
}

/// Runs the pairs and prints one JSON line.
pub fn run(args: &AuthTimingArgs) -> anyhow::Result<()> {
    let mut connection = Connection::new(Target::parse(&args.url)?);
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let mut first: Option<(HeaderMap, hyper::body::Bytes)> = None;
    let mut mismatched_bodies = 0_usize;
    let mut mismatched_headers = 0_usize;
    let mut latencies = [
        Vec::with_capacity(args.count),
        Vec::with_capacity(args.count),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for round in 0..args.warmup + args.count {
            let order = if rand::thread_rng().r#gen() {
                [Case::UnknownId, Case::WrongSecret]
            } else {
                [Case::WrongSecret, Case::UnknownId]
            };
            for case in order {
                let id = match case {
                    Case::UnknownId => unknown_id.as_str(),
                    Case::WrongSecret => args.known_id.as_str(),
                };
                let authorization = basic_authorization(id, &random_secret());
                let started = Instant::now();
                let Reply {
                    status,
                    mut headers,
                    body,
                } = connection
                    .token_request(&authorization)
                    .await
                    .context("token request")?;
                let elapsed = started.elapsed();
                if status != hyper::StatusCode::UNAUTHORIZED {
                    bail!(
                        "expected 401, got {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                headers.remove(DATE);
                match &first {
                    None => first = Some((headers, body)),
                    Some((first_headers, first_body)) => {
                        mismatched_bodies += usize::from(*first_body != body);
                        mismatched_headers += usize::from(*first_headers != headers);
                    }
                }
                if round >= args.warmup {
                    latencies[case as usize].push(elapsed);
                }
            }
        }
        Ok(())
    })?;
    let [unknown_id, wrong_secret] = latencies.map(|mut samples| {
        samples.sort_unstable();
        (quantile(&samples, 0.5), quantile(&samples, 0.99))
    });
    let ratio =
        |a: Duration, b: Duration| (a.as_secs_f64() / b.as_secs_f64() * 1000.0).round() / 1000.0;
    let report = Report {
        count: args.count,
        unknown_id: Percentiles::of(unknown_id),
        wrong_secret: Percentiles::of(wrong_secret),
        ratio_p50: ratio(wrong_secret.0, unknown_id.0),
        ratio_p99: ratio(wrong_secret.1, unknown_id.1),
        status: 401,
        bodies_identical: mismatched_bodies == 0,
        headers_identical: mismatched_headers == 0,
        body: first.map_or_else(String::new, |(_, body)| {
            String::from_utf8_lossy(&body).into()
        }),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The one JSON line `auth-timing` prints.
#[derive(Serialize)]
struct Report {
    /// Measured requests per case.
    count: usize,
    unknown_id: Percentiles,
    wrong_secret: Percentiles,
    /// Wrong-secret median over unknown-id median.
    ratio_p50: f64,
    /// Wrong-secret p99 over unknown-id p99.
    ratio_p99: f64,
    /// The status of every answer (any other stops the run).
    status: u16,
    /// Whether every answer had the first answer's body.
    bodies_identical: bool,
    /// Whether every answer had the first answer's headers, `Date` aside.
    headers_identical: bool,
    /// The first answer's body.
    body: String,
}

/// Latency quantiles of one case.
#[derive(Serialize)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

impl Percentiles {
    fn of((p50, p99): (Duration, Duration)) -> Self {
        Self {
            p50_ms: millis(p50),
            p99_ms: millis(p99),
        }
    }
}

/// A secret of the same shape as a real one (`vgs_` and 43 base64url characters).
fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("vgs_{}", URL_SAFE_NO_PAD.encode(bytes))
}
