//! Vigie's client SDK. [`Client`] gets and renews tokens by itself, with any of the
//! three renewal strategies the public documentation lists, and pushes readings in
//! batches with bounded concurrency, retrying what a retry can fix.
//!
//! ```no_run
//! # async fn example() -> Result<(), vigie_client::Error> {
//! use vigie_client::{Client, ClientConfig};
//! let client = Client::new(ClientConfig::new(
//!     "http://127.0.0.1:8080", "ORGANISATION_ID", "ML_PROJECT", "APPLICATION_ID", "APPLICATION_SECRET",
//! ))?;
//! let readings = vec![vigie_proto::readings::Reading {
//!     sensor_id: "GDPD-DEB_MASS1.PV".into(),
//!     value_name: "x".into(),
//!     date: "2020-01-01T08:03:51.000Z".into(),
//!     value: 19.9,
//!     precision: Some(100.0),
//!     labels: vec!["line:2".into()],
//! }];
//! let answer = client.push(&readings).await?;
//! println!("{} new", answer.new);
//! # Ok(()) }
//! ```

mod error;
mod retry;
mod token;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use vigie_proto::readings::Reading;
use vigie_proto::{AnomaliesPage, IngestResponse, TokenResponse};

pub use error::Error;
pub use retry::RetryPolicy;
pub use token::{RenewalStrategy, TokenManager};

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and as whom the client talks.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL of the service, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// `ORGANISATION_ID`.
    pub organisation_id: String,
    /// `ML_PROJECT`.
    pub project: String,
    /// `APPLICATION_ID`.
    pub application_id: String,
    /// `APPLICATION_SECRET`.
    pub application_secret: SecretString,
    /// When to renew the access token.
    pub renewal: RenewalStrategy,
    /// Retries of network errors, 5xx and 429.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with the default renewal strategy and retry policy.
    pub fn new(
        base_url: impl Into<String>,
        organisation_id: impl Into<String>,
        project: impl Into<String>,
        application_id: impl Into<String>,
        application_secret: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            organisation_id: organisation_id.into(),
            project: project.into(),
            application_id: application_id.into(),
            application_secret: SecretString::from(application_secret.into()),
            renewal: RenewalStrategy::default(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// What became of one batch of [`Client::push_batches`].
#[derive(Debug)]
pub struct BatchOutcome {
    /// The batch's number, as given.
    pub index: usize,
    /// Readings in the batch.
    pub readings: usize,
    /// The server's answer, or why the batch failed after retries.
    pub result: Result<IngestResponse>,
}

/// A Vigie client; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    tokens: Arc<TokenManager>,
}

impl Client {
    /// A client for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(Error::Http)?;
        let tokens = Arc::new(TokenManager::new(http.clone(), &config));
        Ok(Self {
            http,
            config: Arc::new(config),
            tokens,
        })
    }

    /// The token manager (for its counters, or to get a token directly).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }

    /// A fresh token response from `client_credentials`, as the documentation's first curl command.
    ///
    /// # Errors
    /// The server's OAuth2 error, or a network error after retries.
    pub async fn fresh_token(&self) -> Result<TokenResponse> {
        self.tokens.fresh_token(&self.config.retry).await
    }

    fn data_url(&self) -> String {
        format!(
            "{}/v0/organisations/{}/data/{}",
            self.config.base_url, self.config.organisation_id, self.config.project
        )
    }

    /// Pushes one batch of readings. The server answers `201 Created` (servers older
    /// than that answered `200 OK` with the same body: both are a success). Network
    /// errors, 5xx and 429 are retried with backoff (a resent batch is harmless: the
    /// server deduplicates); a 401 renews the token and retries once; other 4xx are
    /// returned as they are.
    ///
    /// # Errors
    /// The server's problem, or the last failure once retries are exhausted.
    pub async fn push(&self, readings: &[Reading]) -> Result<IngestResponse> {
        let body = serde_json::to_vec(readings).map_err(Error::Encode)?;
        let url = self.data_url();
        self.send_authorised(|token| {
            self.http
                .post(&url)
                .bearer_auth(token)
                .header("Content-Type", "application/json")
                .body(body.clone())
        })
        .await
    }

    /// Pushes numbered batches, at most `concurrency` at a time, and reports each
    /// outcome as it arrives (in completion order).
    pub async fn push_batches(
        &self,
        batches: Vec<(usize, Vec<Reading>)>,
        concurrency: usize,
        mut on_outcome: impl FnMut(BatchOutcome),
    ) {
        let mut pending = batches.into_iter();
        let mut running = tokio::task::JoinSet::new();
        let spawn_next =
            |running: &mut tokio::task::JoinSet<BatchOutcome>,
             pending: &mut std::vec::IntoIter<(usize, Vec<Reading>)>| {
                if let Some((index, readings)) = pending.next() {
                    let client = self.clone();
                    running.spawn(async move {
                        let result = client.push(&readings).await;
                        BatchOutcome {
                            index,
                            readings: readings.len(),
                            result,
                        }
                    });
                }
            };
        for _ in 0..concurrency.max(1) {
            spawn_next(&mut running, &mut pending);
        }
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(outcome) => on_outcome(outcome),
                Err(error) => tracing::error!(%error, "an upload task failed"),
            }
            spawn_next(&mut running, &mut pending);
        }
    }

    /// The anomaly events of the project (first page; `query` is a raw query string
    /// such as `from=…&minScore=0.8`).
    ///
    /// # Errors
    /// As [`Client::push`].
    pub async fn anomalies(&self, query: &str) -> Result<AnomaliesPage> {
        let url = format!(
            "{}/v0/organisations/{}/anomalies/{}?{query}",
            self.config.base_url, self.config.organisation_id, self.config.project
        );
        self.send_authorised(|token| self.http.get(&url).bearer_auth(token))
            .await
    }

    /// Sends a request built with the current token, retrying per the policy and
    /// renewing the token once on 401.
    async fn send_authorised<T: serde::de::DeserializeOwned>(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<T> {
        let mut renewed = false;
        loop {
            let token = self.tokens.access_token(&self.config.retry).await?;
            let response = retry::send(&self.config.retry, || build(&token)).await?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !renewed {
                self.tokens.reject(&token).await;
                renewed = true;
                continue;
            }
            return error::json_or_problem(response).await;
        }
    }
}
