//! The token manager: one token for all the tasks of a client, renewed by exactly one
//! request per expiry (single flight), by refresh token first and by client
//! credentials when the refresh token is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use vigie_proto::{TokenForm, TokenRequest, TokenResponse};

use crate::{ClientConfig, Error, Result, RetryPolicy, error, retry};

/// When to renew the access token: the three strategies of the public documentation.
/// Whatever the strategy, a 401 from the API renews the token and retries once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalStrategy {
    /// Remember `expires_in` and renew before sending once it has (nearly) run out.
    ExpiresIn {
        /// Renew this long before the end (at most a tenth of the lifetime).
        margin: Duration,
    },
    /// Decode the JWT and renew before its `exp`.
    JwtExpiry {
        /// Renew this long before `exp` (at most a tenth of the lifetime).
        margin: Duration,
    },
    /// Send until the API answers 401, then renew and retry.
    OnUnauthorized,
}

impl Default for RenewalStrategy {
    /// Proactive renewal a minute (or a tenth of the lifetime) before expiry.
    fn default() -> Self {
        Self::ExpiresIn {
            margin: Duration::from_secs(60),
        }
    }
}

struct Held {
    response: TokenResponse,
    obtained: Instant,
    /// Set when the API refused this token: renew before the next use.
    rejected: bool,
}

/// Gets, holds and renews the access token of one application.
pub struct TokenManager {
    http: reqwest::Client,
    token_url: String,
    application_id: String,
    application_secret: SecretString,
    strategy: RenewalStrategy,
    held: tokio::sync::Mutex<Option<Held>>,
    requests: AtomicU64,
    fallbacks: AtomicU64,
}

impl TokenManager {
    /// A manager for the application of `config`.
    pub fn new(http: reqwest::Client, config: &ClientConfig) -> Self {
        Self {
            http,
            token_url: format!("{}/v0/oauth2/token", config.base_url),
            application_id: config.application_id.clone(),
            application_secret: config.application_secret.clone(),
            strategy: config.renewal,
            held: tokio::sync::Mutex::new(None),
            requests: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// Token requests made so far (each `client_credentials` or `refresh_token` grant).
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Times a refused refresh token made the manager fall back to client credentials.
    pub fn refresh_fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// A usable access token. Concurrent callers wait for one renewal and share it.
    ///
    /// # Errors
    /// The token endpoint's refusal, or a network error after retries.
    pub async fn access_token(&self, retry: &RetryPolicy) -> Result<String> {
        let mut held = self.held.lock().await;
        if let Some(current) = held
            .as_ref()
            .filter(|h| !h.rejected && !self.needs_renewal(h))
        {
            return Ok(current.response.access_token.clone());
        }
        let renewed = self.renew(held.as_ref(), retry).await?;
        let token = renewed.access_token.clone();
        *held = Some(Held {
            response: renewed,
            obtained: Instant::now(),
            rejected: false,
        });
        Ok(token)
    }

    /// Revokes the held refresh token's whole family (RFC 7009), as on signing out; the
    /// next renewal then uses client credentials.
    ///
    /// # Errors
    /// The server's refusal, or a network error after retries.
    pub async fn revoke(&self, retry: &RetryPolicy) -> Result<()> {
        let held = self.held.lock().await;
        let Some(current) = held.as_ref() else {
            return Ok(());
        };
        let url = self.token_url.replace("/token", "/revoke");
        let form = TokenForm {
            token: current.response.refresh_token.clone(),
            token_type_hint: Some("refresh_token".into()),
        };
        let response = self.post_form(&url, &form, retry).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            error::json_or_problem::<serde_json::Value>(response)
                .await
                .map(drop)
        }
    }

    /// Marks `token` as refused by the API, unless it was renewed meanwhile.
    pub async fn reject(&self, token: &str) {
        let mut held = self.held.lock().await;
        if let Some(current) = held.as_mut().filter(|h| h.response.access_token == token) {
            current.rejected = true;
        }
    }

    fn needs_renewal(&self, held: &Held) -> bool {
        let lifetime = Duration::from_secs(held.response.expires_in);
        let margin = |margin: Duration| margin.min(lifetime / 10);
        match self.strategy {
            RenewalStrategy::ExpiresIn { margin: m } => {
                held.obtained.elapsed() + margin(m) >= lifetime
            }
            RenewalStrategy::JwtExpiry { margin: m } => {
                match jwt_expiry(&held.response.access_token) {
                    Some(exp) => {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default();
                        now + margin(m) >= exp
                    }
                    None => true,
                }
            }
            RenewalStrategy::OnUnauthorized => false,
        }
    }

    /// Renews with the refresh token, or with client credentials when there is none
    /// or the server refuses it (expired, revoked, reused).
    async fn renew(&self, previous: Option<&Held>, retry: &RetryPolicy) -> Result<TokenResponse> {
        if let Some(previous) = previous {
            let request = TokenRequest::RefreshToken {
                refresh_token: previous.response.refresh_token.clone(),
                scope: None,
                client_id: None,
                client_secret: None,
            };
            match self.grant(&request, retry).await {
                Err(Error::OAuth { body, .. }) => {
                    tracing::info!(
                        error = body.error.as_str(),
                        "refresh token refused; falling back to client credentials"
                    );
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.fresh_token(retry).await
    }

    /// A new token from `client_credentials`.
    ///
    /// # Errors
    /// The token endpoint's refusal, or a network error after retries.
    pub async fn fresh_token(&self, retry: &RetryPolicy) -> Result<TokenResponse> {
        let request = TokenRequest::ClientCredentials {
            scope: None,
            client_id: None,
            client_secret: None,
        };
        self.grant(&request, retry).await
    }

    async fn grant(&self, request: &TokenRequest, retry: &RetryPolicy) -> Result<TokenResponse> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self.post_form(&self.token_url, request, retry).await?;
        error::json_or_problem(response).await
    }

    /// POSTs a form to an OAuth2 endpoint, authenticated as the client (HTTP Basic),
    /// with retries.
    async fn post_form(
        &self,
        url: &str,
        form: &impl serde::Serialize,
        retry: &RetryPolicy,
    ) -> Result<reqwest::Response> {
        retry::send(retry, || {
            self.http
                .post(url)
                .basic_auth(
                    &self.application_id,
                    Some(self.application_secret.expose_secret()),
                )
                .form(form)
        })
        .await
    }
}

/// The `exp` claim of a JWT, read without verifying it (the server verifies).
fn jwt_expiry(token: &str) -> Option<Duration> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    Some(Duration::from_secs(claims.get("exp")?.as_u64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_a_jwt() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":1700000000,"sub":"a"}"#);
        assert_eq!(
            jwt_expiry(&format!("h.{payload}.s")),
            Some(Duration::from_secs(1_700_000_000))
        );
        assert_eq!(jwt_expiry("not a jwt"), None);
    }

    #[test]
    fn token_requests_are_encoded_as_the_documented_forms() {
        let body = |request: &TokenRequest| {
            let request = reqwest::Client::new()
                .post("http://vigie.test/v0/oauth2/token")
                .form(request)
                .build()
                .unwrap();
            assert_eq!(
                request.headers()["content-type"],
                "application/x-www-form-urlencoded"
            );
            String::from_utf8(request.body().unwrap().as_bytes().unwrap().to_vec()).unwrap()
        };
        let fresh = TokenRequest::ClientCredentials {
            scope: None,
            client_id: None,
            client_secret: None,
        };
        assert_eq!(body(&fresh), "grant_type=client_credentials");
        let renewal = TokenRequest::RefreshToken {
            refresh_token: "a+b/c=d_~&x".into(),
            scope: Some("data".into()),
            client_id: None,
            client_secret: None,
        };
        assert_eq!(
            body(&renewal),
            "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3Dd_%7E%26x&scope=data"
        );
        let decoded: std::collections::HashMap<String, String> =
            form_urlencoded::parse(body(&renewal).as_bytes())
                .into_owned()
                .collect();
        assert_eq!(TokenRequest::from_parameters(decoded), Ok(renewal));
    }
}
