//! [`AuthService`]: the token server's rules, behind the HTTP layer.
//!
//! Client authentication and access-token verification read an in-memory snapshot of
//! the applications, signing keys and revocations, reloaded whenever the store's
//! generation number changes: polled, and (on PostgreSQL, which several servers may
//! share) looked at before every client authentication, so that an application
//! created, disabled or rotated through another server is honoured by this one at
//! once. An access token of a just-disabled application is refused by the other
//! servers from their next poll.
//! Refresh-token rotation always goes to the store, so disabling an application stops
//! its refresh tokens at once.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use vigie_proto::scope::Scope;
use vigie_proto::{IntrospectionResponse, JwkSet, OAuthErrorCode, TokenResponse};
use vigie_store::{
    ApplicationCredentials, Millis, NewRefreshFamily, RefreshRotation, RotationOutcome, Store,
};

use crate::clock::Clock;
use crate::jwt::{AccessClaims, KeyRing, TokenRejection, generate_signing_key};
use crate::lifetime::{IssuanceRate, LifetimePolicy};
use crate::limits::{FailureLimiter, FailureQuota};
use crate::secret::{SecretHash, generate_refresh_token, hash_matches, hash_secret};
use vigie_proto::time::Timestamp;

/// Errors of the token server's operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An OAuth2 error to report to the client as such (RFC 6749 §5.2).
    #[error("{code:?}: {description}")]
    OAuth {
        /// The RFC 6749 error code.
        code: OAuthErrorCode,
        /// Text for `error_description`; never contains a secret.
        description: String,
    },
    /// Too many failed authentications; retry after the given time.
    #[error("too many failed client authentications")]
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Operator input that cannot be accepted.
    #[error("{0}")]
    InvalidInput(String),
    /// No signing key is active (the store has none).
    #[error("no active signing key")]
    NoSigningKey,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] vigie_store::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn oauth(code: OAuthErrorCode, description: impl Into<String>) -> Error {
    Error::OAuth {
        code,
        description: description.into(),
    }
}

/// The description of every failed client authentication: the same for an unknown id,
/// a wrong secret and a disabled application, so none of them can be told apart.
pub const CLIENT_AUTH_FAILED: &str = "client authentication failed";

/// Settings of the token server.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `iss` of issued tokens and of the RFC 8414 metadata.
    pub issuer: String,
    /// `aud` of issued tokens; tokens for another audience are refused.
    pub audience: String,
    /// Access-token lifetime policy.
    pub access_lifetime: LifetimePolicy,
    /// Refresh-token lifetime, seconds.
    pub refresh_lifetime_seconds: u64,
    /// How long the immediately previous refresh token still rotates, milliseconds.
    pub refresh_grace_ms: Millis,
    /// Quotas of failed client authentications.
    pub failure_quota: FailureQuota,
}

impl AuthConfig {
    /// Documented defaults: 48 h access tokens (up to 96 h under load), 365.25-day
    /// refresh tokens, a 10 s refresh grace window.
    pub fn with_issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: "vigie-api".into(),
            access_lifetime: LifetimePolicy {
                base_seconds: 172_800,
                max_seconds: 345_600,
                load_low: 50.0,
                load_high: 500.0,
            },
            refresh_lifetime_seconds: 31_557_600,
            refresh_grace_ms: 10_000,
            failure_quota: FailureQuota::default(),
        }
    }

    fn max_access_lifetime_ms(&self) -> Millis {
        let policy = &self.access_lifetime;
        (policy.max_seconds.max(policy.base_seconds) as Millis).saturating_mul(1000)
    }
}

/// Client credentials as presented (Basic header or form body).
pub struct ClientCredentials {
    /// The presented `client_id`.
    pub client_id: String,
    /// The presented `client_secret`.
    pub client_secret: SecretString,
}

/// An application whose credentials were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    /// The `APPLICATION_ID`.
    pub id: String,
    /// Its organisation.
    pub org_id: String,
    /// Its granted scope.
    pub scope: String,
}

struct Snapshot {
    generation: i64,
    apps: HashMap<String, ApplicationCredentials>,
    keys: KeyRing,
    revoked: HashSet<String>,
}

/// The token server.
pub struct AuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuthConfig,
    snapshot: RwLock<Arc<Snapshot>>,
    reloading: tokio::sync::Mutex<()>,
    issuance: IssuanceRate,
    failures: FailureLimiter,
}

/// Compared against when the presented client id is unknown, so that path does the same work.
const UNKNOWN_CLIENT_HASH: SecretHash = [0xa5; 32];

impl AuthService {
    /// Starts the service: makes sure a signing key exists, then loads the snapshot.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: AuthConfig,
    ) -> Result<Self> {
        if store
            .ensure_signing_key(generate_signing_key(), clock.now_ms())
            .await?
        {
            tracing::info!("created the first token-signing key");
        }
        let snapshot = Self::load(&*store, &*clock, &config).await?;
        Ok(Self {
            failures: FailureLimiter::new(config.failure_quota),
            store,
            clock,
            config,
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
            issuance: IssuanceRate::default(),
        })
    }

    async fn load(store: &dyn Store, clock: &dyn Clock, config: &AuthConfig) -> Result<Snapshot> {
        let generation = store.generation().await?;
        let now = clock.now_ms();
        let apps = store
            .load_credentials()
            .await?
            .into_iter()
            .map(|app| (app.id.clone(), app))
            .collect();
        let keys = KeyRing::new(
            &store.list_signing_keys().await?,
            now,
            config.max_access_lifetime_ms(),
            &config.issuer,
            &config.audience,
        );
        let revoked = store
            .load_revoked_access_tokens(now)
            .await?
            .into_iter()
            .collect();
        Ok(Snapshot {
            generation,
            apps,
            keys,
            revoked,
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reloads applications, keys and revocations if the store changed since the last load.
    ///
    /// # Errors
    /// Storage errors; the previous snapshot stays in use.
    pub async fn reload_if_changed(&self) -> Result<bool> {
        let _one_at_a_time = self.reloading.lock().await;
        if self.store.generation().await? == self.snapshot().generation {
            return Ok(false);
        }
        let fresh = Self::load(&*self.store, &*self.clock, &self.config).await?;
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(fresh);
        Ok(true)
    }

    /// The store's generation number when applications, keys and revocations were last
    /// loaded: a caller that changed the store waits for it to catch up.
    pub fn loaded_generation(&self) -> i64 {
        self.snapshot().generation
    }

    /// Polls the store every `every` for changes, until the returned task is aborted.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_forget = std::time::Instant::now();
            loop {
                ticker.tick().await;
                if let Err(error) = service.reload_if_changed().await {
                    tracing::warn!(%error, "reloading applications and keys failed; keeping the previous ones");
                }
                if last_forget.elapsed() >= Duration::from_secs(60) {
                    service.failures.forget_idle();
                    last_forget = std::time::Instant::now();
                }
            }
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The public keys to publish.
    pub fn jwks(&self) -> JwkSet {
        self.snapshot().keys.jwks().clone()
    }

    /// Verifies client credentials.
    ///
    /// An unknown id, a wrong secret and a disabled application fail identically, in
    /// body and in the work done. The previous secret of a rotated application is
    /// accepted until its grace period ends. On PostgreSQL, the store's generation is
    /// read first, and the applications reloaded when it moved, so that an application
    /// created, disabled or given a new secret through another server is honoured at
    /// once. Credentials this server's copy refuses are checked once more against the
    /// store (the poller may be reloading meanwhile), before the failure counts; every
    /// failure takes that same path.
    ///
    /// # Errors
    /// `invalid_client`, or [`Error::RateLimited`] once the failures from this address
    /// or for this id exceed their quota.
    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials,
        address: IpAddr,
    ) -> Result<AuthenticatedClient> {
        // On a store several servers share, another may have disabled the application
        // (or rotated its secret without grace) a moment ago: one look at the store's
        // generation first, so that every server refuses it at once. (It costs a
        // quarter of the token rate on PostgreSQL. An embedded store has one server:
        // the operator CLI's changes arrive with the next poll.) If the store does
        // not answer, the copy in memory decides.
        if self.store.shared() {
            match self.store.generation().await {
                Ok(generation) if generation == self.snapshot().generation => {}
                Ok(_) => {
                    if let Err(error) = self.reload_if_changed().await {
                        tracing::warn!(%error, "could not reload changed applications");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "could not check the store for changed applications");
                }
            }
        }
        if let Some(client) = self.check_credentials(credentials) {
            return Ok(client);
        }
        if let Some(retry_after) = self
            .failures
            .record_failure(&credentials.client_id, address)
        {
            return Err(Error::RateLimited { retry_after });
        }
        // Checked again whether or not this call reloaded: the poller may have loaded
        // the change between the first check and this one (then there is nothing left
        // to reload, but the snapshot is new).
        if let Err(error) = self.reload_if_changed().await {
            tracing::warn!(%error, "could not check the store for changed applications");
        }
        if let Some(client) = self.check_credentials(credentials) {
            return Ok(client);
        }
        Err(oauth(OAuthErrorCode::InvalidClient, CLIENT_AUTH_FAILED))
    }

    /// Checks credentials against the applications in memory, comparing in constant
    /// time whatever the outcome.
    fn check_credentials(&self, credentials: &ClientCredentials) -> Option<AuthenticatedClient> {
        let snapshot = self.snapshot();
        let presented = hash_secret(credentials.client_secret.expose_secret());
        let app = snapshot.apps.get(&credentials.client_id);
        let (current, previous, previous_valid) = match app {
            Some(app) => (
                app.secret_hash.as_slice(),
                app.previous_secret_hash
                    .as_deref()
                    .unwrap_or(&UNKNOWN_CLIENT_HASH),
                app.previous_secret_expires_at
                    .is_some_and(|until| until > self.clock.now_ms()),
            ),
            None => (
                UNKNOWN_CLIENT_HASH.as_slice(),
                UNKNOWN_CLIENT_HASH.as_slice(),
                false,
            ),
        };
        // Both comparisons always run; `&`/`|` do not short-circuit.
        let matches = hash_matches(&presented, current)
            | (hash_matches(&presented, previous) & previous_valid);
        match app {
            Some(app) if matches && !app.disabled => Some(AuthenticatedClient {
                id: app.id.clone(),
                org_id: app.org_id.clone(),
                scope: app.scope.clone(),
            }),
            _ => None,
        }
    }

    /// The `client_credentials` grant: a new access token and a new refresh-token family.
    ///
    /// # Errors
    /// `invalid_scope` for a scope beyond the application's; storage errors.
    pub async fn grant_client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        let scope = granted_scope(scope, &client.scope)?;
        let now = self.clock.now_ms();
        let (access_token, access_expires_at) = self.mint_access_token(client, &scope, now)?;
        let (refresh_token, refresh_hash) = generate_refresh_token();
        let refresh_expires_at = now + self.refresh_lifetime_ms();
        let started = self
            .store
            .create_refresh_family(NewRefreshFamily {
                family_id: uuid::Uuid::new_v4().to_string(),
                app_id: client.id.clone(),
                scope,
                token_hash: refresh_hash.to_vec(),
                expires_at: refresh_expires_at,
                now,
            })
            .await?;
        if !started {
            // Disabled between authentication (cached) and now (in the store).
            return Err(oauth(OAuthErrorCode::InvalidClient, CLIENT_AUTH_FAILED));
        }
        Ok(self.response(
            now,
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
        ))
    }

    /// The `refresh_token` grant: rotates the refresh token (RFC 9700 §4.14).
    ///
    /// # Errors
    /// `invalid_grant` for an unknown, expired, revoked or replayed token (a replay
    /// after the grace window also revokes its whole family); `invalid_scope`.
    pub async fn grant_refresh_token(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        let requested = requested_scope(scope)?;
        let now = self.clock.now_ms();
        let invalid_grant =
            |description: &str| Err(oauth(OAuthErrorCode::InvalidGrant, description));
        // The rules, in order; then one atomic rotation in the store.
        let token = match self
            .store
            .find_refresh_token(&hash_secret(refresh_token))
            .await?
        {
            Some(token) if token.app_id == client.id => token,
            _ => return invalid_grant("the refresh token is not valid for this client"),
        };
        if token.application_disabled {
            return Err(oauth(OAuthErrorCode::InvalidClient, CLIENT_AUTH_FAILED));
        }
        if token.revoked {
            return invalid_grant("the refresh token has been revoked");
        }
        if token.expires_at <= now {
            return invalid_grant("the refresh token has expired");
        }
        let family_scope = scope_of(&token.scope)?;
        if let Some(requested) = &requested
            && !requested.is_within(&family_scope)
        {
            return Err(oauth(
                OAuthErrorCode::InvalidScope,
                "the requested scope exceeds the scope originally granted",
            ));
        }
        let (new_token, new_hash) = generate_refresh_token();
        let refresh_expires_at = now + self.refresh_lifetime_ms();
        let outcome = self
            .store
            .rotate_refresh_token(RefreshRotation {
                family_id: token.family_id,
                presented_generation: token.generation,
                new_hash: new_hash.to_vec(),
                new_expires_at: refresh_expires_at,
                grace_ms: self.config.refresh_grace_ms,
                now,
            })
            .await?;
        match outcome {
            RotationOutcome::Rotated => {}
            RotationOutcome::Revoked => return invalid_grant("the refresh token has been revoked"),
            RotationOutcome::ReuseDetected => {
                return invalid_grant(
                    "the refresh token was already used; all refresh tokens issued from it are now revoked",
                );
            }
        }
        let scope = requested.unwrap_or(family_scope).to_string();
        let (access_token, access_expires_at) = self.mint_access_token(client, &scope, now)?;
        Ok(self.response(
            now,
            access_token,
            access_expires_at,
            new_token,
            refresh_expires_at,
        ))
    }

    fn refresh_lifetime_ms(&self) -> Millis {
        (self.config.refresh_lifetime_seconds as Millis).saturating_mul(1000)
    }

    fn mint_access_token(
        &self,
        client: &AuthenticatedClient,
        scope: &str,
        now: Millis,
    ) -> Result<(String, Millis)> {
        let lifetime = self
            .config
            .access_lifetime
            .lifetime_seconds(self.issuance.record(now));
        let expires_at = now + (lifetime as Millis) * 1000;
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: client.id.clone(),
            client_id: client.id.clone(),
            org: client.org_id.clone(),
            scope: scope.to_owned(),
            aud: self.config.audience.clone(),
            iat: now.div_euclid(1000),
            exp: expires_at.div_euclid(1000),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = self
            .snapshot()
            .keys
            .sign(&claims)
            .ok_or(Error::NoSigningKey)?;
        Ok((token, expires_at))
    }

    fn response(
        &self,
        now: Millis,
        access_token: String,
        access_expires_at: Millis,
        refresh_token: String,
        refresh_expires_at: Millis,
    ) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "bearer".into(),
            expires_in: ((access_expires_at - now) / 1000) as u64,
            expiration_date: Timestamp::from_millis(access_expires_at).to_string(),
            refresh_token,
            refresh_token_expires_in: ((refresh_expires_at - now) / 1000) as u64,
            refresh_token_expiration_date: Timestamp::from_millis(refresh_expires_at).to_string(),
        }
    }

    /// Verifies a bearer access token, including revocation and its application's state.
    ///
    /// # Errors
    /// The reason the token is refused.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let snapshot = self.snapshot();
        let claims = snapshot.keys.verify(token, self.clock.now_ms())?;
        let app_enabled = snapshot
            .apps
            .get(&claims.client_id)
            .is_some_and(|app| !app.disabled);
        if !app_enabled || snapshot.revoked.contains(&claims.jti) {
            return Err(TokenRejection::Revoked);
        }
        Ok(claims)
    }

    /// Token revocation (RFC 7009): an access token is refused from now on, a refresh
    /// token's whole family is revoked. Tokens of other clients and unknown tokens are
    /// ignored, as the RFC requires.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revoke(&self, client: &AuthenticatedClient, token: &str) -> Result<()> {
        let now = self.clock.now_ms();
        if looks_like_jwt(token) {
            if let Ok(claims) = self.snapshot().keys.verify(token, now)
                && claims.client_id == client.id
            {
                self.store
                    .revoke_access_token(&claims.jti, &client.id, claims.exp.saturating_mul(1000))
                    .await?;
                self.reload_if_changed().await?;
            }
        } else {
            self.store
                .revoke_refresh_family(&hash_secret(token), &client.id, now)
                .await?;
        }
        Ok(())
    }

    /// Token introspection (RFC 7662). A client sees only its own tokens: any other
    /// token is reported inactive.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn introspect(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<IntrospectionResponse> {
        let inactive = IntrospectionResponse::default();
        if looks_like_jwt(token) {
            return Ok(match self.verify_access_token(token) {
                Ok(claims) if claims.client_id == client.id => IntrospectionResponse {
                    active: true,
                    scope: Some(claims.scope),
                    client_id: Some(claims.client_id),
                    sub: Some(claims.sub),
                    org: Some(claims.org),
                    token_type: Some("access_token".into()),
                    exp: Some(claims.exp),
                    iat: Some(claims.iat),
                    iss: Some(claims.iss),
                    aud: Some(claims.aud),
                    jti: Some(claims.jti),
                },
                _ => inactive,
            });
        }
        let now = self.clock.now_ms();
        Ok(
            match self.store.find_refresh_token(&hash_secret(token)).await? {
                Some(info)
                    if info.app_id == client.id
                        && info.current
                        && !info.revoked
                        && info.expires_at > now =>
                {
                    IntrospectionResponse {
                        active: true,
                        scope: Some(info.scope),
                        client_id: Some(info.app_id.clone()),
                        sub: Some(info.app_id),
                        org: Some(client.org_id.clone()),
                        token_type: Some("refresh_token".into()),
                        exp: Some(info.expires_at.div_euclid(1000)),
                        iat: Some(info.issued_at.div_euclid(1000)),
                        iss: Some(self.config.issuer.clone()),
                        ..inactive
                    }
                }
                _ => inactive,
            },
        )
    }
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

/// The scope a request names, if any (an empty one names none).
fn requested_scope(requested: Option<&str>) -> Result<Option<Scope>> {
    let scope = requested.map(scope_of).transpose()?;
    Ok(scope.filter(|scope| !scope.is_empty()))
}

fn scope_of(text: &str) -> Result<Scope> {
    Scope::parse(text).map_err(|error| oauth(OAuthErrorCode::InvalidScope, error.to_string()))
}

/// The scope to grant: the requested one if within the application's, else its whole scope.
fn granted_scope(requested: Option<&str>, application_scope: &str) -> Result<String> {
    let granted = scope_of(application_scope)?;
    match requested_scope(requested)? {
        None => Ok(granted.to_string()),
        Some(requested) if requested.is_within(&granted) => Ok(requested.to_string()),
        Some(_) => Err(oauth(
            OAuthErrorCode::InvalidScope,
            format!("the requested scope exceeds the application's scope ({application_scope})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_defaults_to_the_applications() {
        assert_eq!(granted_scope(None, "data").unwrap(), "data");
        assert_eq!(granted_scope(Some("  "), "data").unwrap(), "data");
        assert_eq!(granted_scope(Some("data"), "data admin").unwrap(), "data");
        assert_eq!(
            granted_scope(Some("admin  data"), "data admin").unwrap(),
            "admin data"
        );
        assert_eq!(granted_scope(Some("data data"), "data").unwrap(), "data");
        assert_eq!(
            granted_scope(Some("admin data admin"), "data admin").unwrap(),
            "admin data"
        );
    }

    #[test]
    fn wider_or_malformed_scopes_are_invalid_scope() {
        for requested in ["admin", "data admin", "da\"ta", "dat\\a"] {
            match granted_scope(Some(requested), "data") {
                Err(Error::OAuth {
                    code: OAuthErrorCode::InvalidScope,
                    ..
                }) => {}
                other => panic!("{requested}: {other:?}"),
            }
        }
    }
}
