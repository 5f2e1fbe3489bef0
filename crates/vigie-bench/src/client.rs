//! A minimal HTTP/1.1 keep-alive client for the token and data requests: one TCP
//! connection, `hyper`'s connection-level API, no pool and no per-request allocation
//! beyond the request itself.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The body of every token request.
const FORM: &[u8] = b"grant_type=client_credentials";

/// Longest wait for one token response; a request that takes longer counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where token requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` to connect to.
    address: String,
    /// Value of the `Host` header.
    host: HeaderValue,
    /// Path and query of the token endpoint.
    path: Uri,
}

impl Target {
    /// Parses an `http://host:port/path` URL.
    ///
    /// # Errors
    /// Not an `http` URL with a host.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("only http:// URLs are supported: {url}");
        }
        let authority = uri.authority().context("the URL has no host")?;
        let address = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).parse()?;
        Ok(Self {
            address,
            host: HeaderValue::from_str(authority.as_str())?,
            path,
        })
    }
}

/// `Authorization: Basic …` for `client_id:client_secret` (both already form-safe).
pub fn basic_authorization(client_id: &str, client_secret: &str) -> HeaderValue {
    let encoded = STANDARD.encode(format!("{client_id}:{client_secret}"));
    HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header value")
}

/// A complete response.
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its whole body.
    pub body: Bytes,
}

/// One keep-alive connection that reconnects after any failure.
pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Connection {
    /// A connection to `target`, opened on first use, waiting 5 s at most for a response.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            sender: None,
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// The same, waiting `timeout` at most for each response.
    pub fn with_timeout(target: Target, timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::new(target)
        }
    }

    /// Sends the `client_credentials` token request and reads the whole response.
    ///
    /// # Errors
    /// Connection, protocol or timeout errors; the connection is then dropped and the
    /// next request opens a new one.
    pub async fn token_request(&mut self, authorization: &HeaderValue) -> anyhow::Result<Reply> {
        let content_type = HeaderValue::from_static("application/x-www-form-urlencoded");
        self.post(authorization, content_type, Bytes::from_static(FORM))
            .await
    }

    /// Sends `POST` with this `Authorization`, `Content-Type` and body to the target's
    /// path and reads the whole response.
    ///
    /// # Errors
    /// As [`Self::token_request`].
    pub async fn post(
        &mut self,
        authorization: &HeaderValue,
        content_type: HeaderValue,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let reply = tokio::time::timeout(
            self.timeout,
            self.exchange(authorization, content_type, body),
        )
        .await
        .unwrap_or_else(|elapsed| Err(elapsed.into()));
        if reply.is_err() {
            self.sender = None;
        }
        reply
    }

    async fn exchange(
        &mut self,
        authorization: &HeaderValue,
        content_type: HeaderValue,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            stale => stale.insert(connect(&self.target.address).await?),
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.target.path.clone())
            .header(HOST, self.target.host.clone())
            .header(AUTHORIZATION, authorization.clone())
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(body))?;
        sender.ready().await?;
        let (parts, body) = sender.send_request(request).await?.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

async fn connect(address: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Its errors reach the sender, which reports them on the next request.
    tokio::spawn(connection);
    Ok(sender)
}

/// The `q` quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with microsecond precision, for JSON output.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}
