//! Starts the real server on a free port, on a fresh SQLite or PostgreSQL database,
//! with one provisioned organisation, project and application.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;
use vigie_auth::AuthConfig;
use vigie_auth::clock::{Clock, ManualClock, SystemClock};
use vigie_auth::provision;
use vigie_server::{Server, ServerConfig};
use vigie_store::Store;
use vigie_store::testing::{temp_postgres_url, temp_sqlite_url};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::helpers::Backend::Postgres).await })*
        }
    };
}
pub(crate) use on_both_backends;

/// A running server and the credentials of its application.
pub struct TestApp {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClockOrSystem>,
    pub org_id: String,
    pub app_id: String,
    pub secret: String,
    pub http: reqwest::Client,
    pub auth: Arc<vigie_auth::AuthService>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The clock of a test server: the system's, or one the test moves.
pub enum ManualClockOrSystem {
    Manual(ManualClock),
    System,
}

impl Clock for ManualClockOrSystem {
    fn now_ms(&self) -> i64 {
        match self {
            Self::Manual(clock) => clock.now_ms(),
            Self::System => SystemClock.now_ms(),
        }
    }
}

impl TestApp {
    /// Moves a manual clock forward.
    pub fn advance(&self, seconds: i64) {
        match &*self.clock {
            ManualClockOrSystem::Manual(clock) => clock.advance_ms(seconds * 1000),
            ManualClockOrSystem::System => panic!("this test app runs on the system clock"),
        }
    }

    /// `POST` a form to the token endpoint with Basic credentials.
    pub async fn token(&self, body: &str) -> reqwest::Response {
        self.token_as(&self.app_id, &self.secret, body).await
    }

    /// `POST` a form to the token endpoint as another client.
    pub async fn token_as(&self, id: &str, secret: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v0/oauth2/token", self.url))
            .basic_auth(id, Some(secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// A fresh `client_credentials` token response.
    pub async fn new_token(&self) -> Value {
        let response = self.token("grant_type=client_credentials").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A fresh access token.
    pub async fn access_token(&self) -> String {
        self.new_token().await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The data URL of a project.
    pub fn data_url(&self, org_id: &str, project: &str) -> String {
        format!("{}/v0/organisations/{org_id}/data/{project}", self.url)
    }

    /// Refreshes with a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&format!(
            "grant_type=refresh_token&refresh_token={}",
            form_encode(refresh_token)
        ))
        .await
    }

    /// `GET`s `url`, with a bearer token if given, and parses the JSON answer.
    pub async fn get_json(&self, url: impl reqwest::IntoUrl, token: Option<&str>) -> Value {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// `GET` the organisation's projects with a bearer token.
    pub async fn projects(&self, org_id: &str, access_token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v0/organisations/{org_id}/projects", self.url))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// Creates another application in an organisation; returns (id, secret).
    pub async fn create_app(&self, org_id: &str, scope: &str) -> (String, String) {
        let (app, secret) =
            provision::create_application(&*self.store, &*self.clock, org_id, "another", scope)
                .await
                .unwrap();
        (app.id, secret.expose_secret().to_owned())
    }

    /// Waits until the server's poller has loaded the store's latest changes (it polls
    /// every 50 ms in tests), or fails after 10 s.
    pub async fn wait_for_reload(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let target = self.store.generation().await.unwrap();
        while self.auth.loaded_generation() < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never reloaded"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Form-encodes a value (the refresh tokens are unreserved, so this only proves intent).
pub fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Options of a test server.
pub struct Options {
    pub manual_clock: bool,
    pub configure: Box<dyn FnOnce(&mut ServerConfig) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            manual_clock: false,
            configure: Box::new(|_| {}),
        }
    }
}

/// Starts a server on `backend`, or returns `None` when PostgreSQL is unavailable outside CI.
pub async fn spawn(backend: Backend, options: Options) -> Option<TestApp> {
    let url = match backend {
        Backend::Sqlite => temp_sqlite_url(),
        Backend::Postgres => temp_postgres_url().await?,
    };
    let store = vigie_store::open(&url).await.expect("open store");
    Some(spawn_on(store, options).await)
}

/// Starts a server on an existing store.
pub async fn spawn_on(store: Arc<dyn Store>, options: Options) -> TestApp {
    let clock = Arc::new(if options.manual_clock {
        ManualClockOrSystem::Manual(ManualClock::at(SystemClock.now_ms()))
    } else {
        ManualClockOrSystem::System
    });
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        issuer: None,
        auth: AuthConfig::with_issuer(""),
        reload_interval: Duration::from_millis(50),
        detection: vigie_pipeline::DetectionConfig::default(),
        timeouts: vigie_server::ConnectionTimeouts::default(),
    };
    (options.configure)(&mut config);
    let server = Server::bind(config, store.clone(), clock.clone())
        .await
        .expect("start server");
    let url = format!("http://{}", server.local_addr());
    let auth = server.auth().clone();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stop.await;
    }));
    let (org_id, app_id, secret) = match store.find_organisation_by_name("acme").await.unwrap() {
        Some(org) => {
            let app = store
                .list_applications(Some(&org.id))
                .await
                .unwrap()
                .remove(0);
            (org.id, app.id, String::new())
        }
        None => {
            let org = provision::create_organisation(&*store, &*clock, "acme")
                .await
                .unwrap();
            provision::create_project(&*store, &*clock, &org.id, "pressline")
                .await
                .unwrap();
            let (app, secret) =
                provision::create_application(&*store, &*clock, &org.id, "gateway", "data")
                    .await
                    .unwrap();
            (org.id, app.id, secret.expose_secret().to_owned())
        }
    };
    let app = TestApp {
        url,
        store,
        clock,
        org_id,
        app_id,
        secret,
        http: reqwest::Client::new(),
        auth,
        _shutdown: shutdown,
    };
    app.wait_for_reload().await;
    app
}

/// Decodes a JWT's header and payload without verifying it.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let decode = |part: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let mut parts = token.split('.');
    (decode(parts.next().unwrap()), decode(parts.next().unwrap()))
}

/// Asserts an RFC 6749 §5.2 error answer and returns its description.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "expected {status} {code}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    body["error_description"]
        .as_str()
        .expect("a description")
        .to_owned()
}

/// Asserts a problem+json answer and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// A Python with `packages` installed from PyPI into a virtual environment under the
/// target folder, created once per test run and reused by later runs. Without network
/// the caller skips (`None`), except when `CI` is set.
pub fn python_with(name: &str, packages: &[&str]) -> Option<std::path::PathBuf> {
    use std::collections::HashMap;
    use std::process::Command;
    use std::sync::{Mutex, OnceLock};
    static READY: OnceLock<Mutex<HashMap<String, Option<std::path::PathBuf>>>> = OnceLock::new();
    let mut ready = READY.get_or_init(Mutex::default).lock().unwrap();
    ready
        .entry(name.to_owned())
        .or_insert_with(|| {
            let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("py-{name}"));
            let python = venv.join("bin/python");
            let marker = venv.join(".installed");
            if std::fs::read_to_string(&marker)
                .is_ok_and(|installed| installed == packages.join("\n"))
            {
                return Some(python);
            }
            let installed = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(packages)
                    .status()
                    .is_ok_and(|s| s.success());
            if !installed {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set: {packages:?} must install from PyPI"
                );
                vigie_store::testing::report_skipped(&format!(
                    "could not install {packages:?} from PyPI"
                ));
                return None;
            }
            std::fs::write(&marker, packages.join("\n")).unwrap();
            Some(python)
        })
        .clone()
}
