//! Vigie's HTTP layer: routing, extractors, error mapping and the server's lifecycle.
//! Handlers stay thin; the rules live in `vigie-auth` and `vigie-store`.

mod annotations;
mod anomalies;
mod applications;
pub mod bearer;
mod body;
mod connections;
mod data;
mod discovery;
mod events;
mod extract;
mod health;
pub mod metrics;
mod oauth;
mod ops;
pub mod problem;
mod projects;
mod query;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use vigie_auth::clock::Clock;
use vigie_auth::{AuthConfig, AuthService};
use vigie_store::Store;

pub use crate::connections::ConnectionTimeouts;
use crate::metrics::Metrics;
use crate::problem::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The token server.
    pub auth: Arc<AuthService>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The storage.
    pub store: Arc<dyn Store>,
    /// ML projects known to exist.
    pub projects: Arc<extract::KnownProjects>,
    /// Detection and storage of pushed readings.
    pub pipeline: Arc<vigie_pipeline::Pipeline>,
    /// Longest a request's body may take to arrive.
    pub body_read_timeout: Duration,
    /// The web console.
    pub console: vigie_console::ConsoleState,
    /// The clock (injected: tests move it).
    pub clock: Arc<dyn Clock>,
}

impl axum::extract::FromRef<AppState> for vigie_console::ConsoleState {
    fn from_ref(state: &AppState) -> Self {
        state.console.clone()
    }
}

impl AppState {
    /// Starts the token service and the pipeline on `store`; the issuer is the
    /// configured one, or `default_issuer`.
    ///
    /// # Errors
    /// Storage errors of the token service.
    pub async fn start(
        config: ServerConfig,
        default_issuer: &str,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let mut auth_config = config.auth;
        auth_config.issuer = config.issuer.map_or_else(
            || default_issuer.to_owned(),
            |issuer| issuer.trim_end_matches('/').to_owned(),
        );
        let console = vigie_console::ConsoleState {
            store: store.clone(),
            clock: clock.clone(),
            throttle: Arc::new(vigie_auth::people::SignInThrottle::new(
                vigie_auth::people::SignInQuota::default(),
            )),
            secure_cookies: auth_config.issuer.starts_with("https://"),
        };
        let auth = Arc::new(AuthService::start(store.clone(), clock.clone(), auth_config).await?);
        Ok(Self {
            auth,
            metrics: Arc::new(Metrics::default()),
            pipeline: Arc::new(vigie_pipeline::Pipeline::new(
                store.clone(),
                config.detection,
            )),
            store,
            projects: Arc::default(),
            body_read_timeout: config.timeouts.body_read,
            console,
            clock,
        })
    }
}

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Public base URL (token `iss`); defaults to `http://` and the bound address.
    pub issuer: Option<String>,
    /// Token settings; their `issuer` is replaced by the one above.
    pub auth: AuthConfig,
    /// How often to look for changes made by the operator CLI (applications, keys, revocations).
    pub reload_interval: Duration,
    /// Anomaly detection of pushed readings.
    pub detection: vigie_pipeline::DetectionConfig,
    /// How long clients may take to send requests, and keep idle connections.
    pub timeouts: ConnectionTimeouts,
}

/// The OpenAPI document's frame; the paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Vigie", description = "Sensor readings in, anomalies out: OAuth2 token server and data API."),
    modifiers(&Documented),
    tags(
        (name = "oauth2", description = "Tokens (RFC 6749, 7009, 7662)"),
        (name = "data", description = "Readings of ML projects"),
        (name = "anomalies", description = "Anomaly events found in ML projects"),
        (name = "health", description = "Asset health: whether a machine is abnormal now, from all its sensors"),
        (name = "applications", description = "An organisation's API applications, managed by an application with scope admin"),
        (name = "annotations", description = "Maintenance, planned stops, process changes and notes on a project's series and assets"),
        (name = "discovery", description = "Keys and metadata"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// Adds the security schemes.
struct Documented;

impl utoipa::Modify for Documented {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The OpenAPI document of every public endpoint, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().1
}

/// The API's routes and their OpenAPI document, including the paths that are not
/// annotated handlers: the token endpoint's second path and the document's own two.
fn documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) =
        utoipa_axum::router::OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
            .merge(oauth::router())
            .merge(discovery::router())
            .merge(ops::router())
            .merge(projects::router())
            .merge(data::router())
            .merge(anomalies::router())
            .merge(events::router())
            .merge(annotations::router())
            .merge(applications::router())
            .merge(health::router())
            .split_for_parts();
    if let Some(mut alias) = document.paths.paths.get(oauth::TOKEN_PATH).cloned() {
        if let Some(operation) = alias.post.as_mut() {
            operation.operation_id = Some("token_post_documented_alias".into());
        }
        document
            .paths
            .paths
            .insert(oauth::TOKEN_PATH_ALIAS.into(), alias);
    }
    for (path, operation_id) in [
        (OPENAPI_PATH, "openapi_get"),
        (OPENAPI_PATH_PUBLIC, "openapi_get_public_path"),
    ] {
        document
            .paths
            .paths
            .insert(path.into(), openapi_path_item(operation_id));
    }
    (routes, document)
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the public product serves its API description; the same document.
pub const OPENAPI_PATH_PUBLIC: &str = "/v0/openAPI";

/// All routes of the service, with their middleware.
pub fn router(state: AppState) -> Router {
    let (routes, document) = documented_routes();
    let document = axum::body::Bytes::from(document.to_pretty_json().unwrap_or_default());
    let serve_document = axum::routing::get(move || {
        let document = document.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                document,
            )
        }
    });
    routes
        .route(OPENAPI_PATH, serve_document.clone())
        .route(OPENAPI_PATH_PUBLIC, serve_document)
        .merge(vigie_console::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::record_latency))
        .layer(
            // Only method and path are recorded: never headers, query strings or bodies,
            // which can carry secrets and tokens.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::debug!(status = response.status().as_u16(), ?latency, "response");
                })
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .with_state(state)
}

fn openapi_path_item(operation_id: &str) -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
    let ok = ResponseBuilder::new()
        .description("This document")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new()))
                .build(),
        )
        .build();
    utoipa::openapi::PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .operation_id(Some(operation_id))
            .summary(Some("The OpenAPI document of this service"))
            .tag("discovery")
            .response("200", ok)
            .build(),
    )
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    auth: Arc<AuthService>,
    sign_in_throttle: Arc<vigie_auth::people::SignInThrottle>,
    reload_interval: Duration,
    timeouts: ConnectionTimeouts,
}

impl Server {
    /// Binds the listener and starts the token service on `store`.
    ///
    /// # Errors
    /// Binding or storage errors.
    pub async fn bind(
        config: ServerConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.listen).await?;
        let local = listener.local_addr()?;
        let (reload_interval, timeouts) = (config.reload_interval, config.timeouts);
        let state = AppState::start(config, &format!("http://{local}"), store, clock).await?;
        Ok(Self {
            listener,
            auth: state.auth.clone(),
            sign_in_throttle: state.console.throttle.clone(),
            router: router(state),
            reload_interval,
            timeouts,
        })
    }

    /// The bound address.
    ///
    /// # Panics
    /// Never for a bound TCP listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The token service, for callers that provision or inspect.
    pub fn auth(&self) -> &Arc<AuthService> {
        &self.auth
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    ///
    /// # Errors
    /// None today: accept errors are logged and retried; kept for future listeners.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let reloader = self.auth.spawn_reloader(self.reload_interval);
        let throttle = self.sign_in_throttle;
        let forgetter = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(60));
            loop {
                ticker.tick().await;
                throttle.forget_idle();
            }
        });
        connections::serve(self.listener, self.router, self.timeouts, shutdown).await;
        reloader.abort();
        forgetter.abort();
        Ok(())
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The token service could not start.
    #[error(transparent)]
    Auth(#[from] vigie_auth::Error),
}
