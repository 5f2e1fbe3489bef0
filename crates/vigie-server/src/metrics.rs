//! Prometheus metrics: tokens issued, token failures by reason, request latency by route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use vigie_proto::OAuthErrorCode;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    reason: &'static str,
}

/// Every label value comes from a fixed set: a caller can invent methods and paths, and
/// each new label set would be a new series kept forever.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// A standard method, or `other`.
    method: &'static str,
    /// A route template, or `unmatched`.
    route: String,
    status: u16,
}

/// The label of a request method: the standard ones by name, any other as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    tokens_issued: Family<GrantLabels, Counter>,
    token_failures: Family<FailureLabels, Counter>,
    bearer_rejections: Counter,
    readings_ingested: Counter,
    request_seconds: LatencyFamily,
    detectors_resident: Gauge,
    detector_memory_bytes: Gauge,
    stale_retries: Counter,
    /// One scrape at a time brings `stale_retries` up to date.
    stale_retries_sync: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vigie");
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Access tokens issued, by grant type",
            tokens_issued.clone(),
        );
        let token_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "token_failures",
            "Failed token requests, by OAuth2 error code",
            token_failures.clone(),
        );
        let bearer_rejections = Counter::default();
        registry.register(
            "bearer_rejections",
            "API requests refused for an invalid bearer token",
            bearer_rejections.clone(),
        );
        let readings_ingested = Counter::default();
        registry.register(
            "readings_ingested",
            "Readings accepted and stored",
            readings_ingested.clone(),
        );
        let request_seconds: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_05, 2.0, 18)));
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route",
            request_seconds.clone(),
        );
        let detectors_resident = Gauge::default();
        registry.register(
            "detectors_resident",
            "Series whose anomaly detector is in memory",
            detectors_resident.clone(),
        );
        let detector_memory_bytes = Gauge::default();
        registry.register(
            "detector_memory_bytes",
            "Memory the resident anomaly detectors take (an estimate)",
            detector_memory_bytes.clone(),
        );
        let stale_retries = Counter::default();
        registry.register(
            "stale_detector_retries",
            "Pushes scored again because another node had scored one of their series or assets since",
            stale_retries.clone(),
        );
        Self {
            registry,
            stale_retries,
            stale_retries_sync: std::sync::Mutex::new(()),
            detectors_resident,
            detector_memory_bytes,
            tokens_issued,
            token_failures,
            bearer_rejections,
            readings_ingested,
            request_seconds,
        }
    }
}

impl Metrics {
    /// Counts an issued token.
    pub fn token_issued(&self, grant_type: &str) {
        self.tokens_issued
            .get_or_create(&GrantLabels {
                grant_type: grant_type.to_owned(),
            })
            .inc();
    }

    /// Counts a failed token request.
    pub fn token_failed(&self, code: OAuthErrorCode) {
        self.token_failures
            .get_or_create(&FailureLabels {
                reason: code.as_str(),
            })
            .inc();
    }

    /// Counts an API request refused for its bearer token.
    pub fn bearer_rejected(&self) {
        self.bearer_rejections.inc();
    }

    /// Counts readings accepted by the push API.
    pub fn readings_ingested(&self, count: u64) {
        self.readings_ingested.inc_by(count);
    }

    /// Brings the count of pushes scored again up to the pipeline's (read at each
    /// scrape).
    pub fn stale_retries(&self, total: u64) {
        let _one_at_a_time = self
            .stale_retries_sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let counted = self.stale_retries.get();
        self.stale_retries.inc_by(total.saturating_sub(counted));
    }

    /// Records what the detectors take in memory (read at each scrape).
    pub fn detectors_resident(&self, resident: vigie_pipeline::ResidentDetectors) {
        self.detectors_resident
            .set(i64::try_from(resident.series).unwrap_or(i64::MAX));
        self.detector_memory_bytes
            .set(i64::try_from(resident.bytes).unwrap_or(i64::MAX));
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        text
    }
}

/// Middleware recording each request's latency under its route template and method
/// label (never the raw path or method, which would carry ids or invented names and
/// grow without bound).
pub async fn record_latency(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}
