//! The product's Node-RED connector, reproduced as a flow and run in a real Node-RED
//! from the npm registry against the real server: a reading injected into the flow
//! must be stored and read back, and the flow itself must have seen the `201` it
//! counts as success. The Rust-level exchange test (`connectors.rs`) proves what the
//! server answers; this one proves that a JavaScript runtime's `fetch`, sending the
//! connector's requests, gets those answers, including a new token after a `401`.
//!
//! The flow is written from the connector's documented behaviour, not copied from it.
//! A second tab of the same flow pushes to a stand-in server that answers `200`: the
//! flow must count that as a failure, so a server answering `200` to a push would
//! fail this test, and the stand-in also shows the exact requests the flow sends.

use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, spawn};

/// The newest Node-RED that runs on Node.js 20 (5.x needs Node.js 22.9 or later).
const NODE_RED_VERSION: &str = "4.1.15";
/// A cold install took about 12 s here; the bound only stops a hung registry.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long Node-RED may take to start, or one push to show up.
const PATIENCE: Duration = Duration::from_secs(30);

const PROJECT: &str = "pressline";
const FIRST: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:51.000Z","value":19.9,"precision":100}]"#;
const SECOND: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:52.000Z","value":20.5,"precision":100}]"#;

/// The function node: the connector's two requests, its checks, and its token cache.
/// Settings come from the tab's environment, as the connector's config node holds
/// them; every exchange and outcome is kept in the node's context for the test.
const CONNECTOR: &str = r#"
const baseUrl = env.get('VIGIE_BASE_URL');
const clientId = env.get('VIGIE_CLIENT_ID');
const clientSecret = env.get('VIGIE_CLIENT_SECRET');
const organisationId = env.get('VIGIE_ORGANISATION_ID');
const projectCode = env.get('VIGIE_PROJECT_CODE');
const fetch = global.get('fetch');

function remember(key, entry) {
    const entries = context.get(key) || [];
    entries.push(entry);
    context.set(key, entries);
}
function outcome(text, ok) {
    remember('outcomes', text);
    node.status({ fill: ok ? 'green' : 'red', shape: 'dot', text });
}

// The connector's config form refuses anything else.
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
if (!UUID_V4.test(organisationId)) {
    outcome('config:invalid organisation id', false);
    return null;
}
if (!/^[a-z0-9]+$/.test(projectCode)) {
    outcome('config:invalid project code', false);
    return null;
}

async function newToken() {
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    const response = await fetch(`${baseUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'authorization': `basic ${basic}`, 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    remember('exchanges', `token ${response.status}`);
    if (response.status !== 200) {
        return { failed: response.status };
    }
    const token = (await response.json()).access_token;
    context.set('token', token);
    return { token };
}

async function push(token) {
    const response = await fetch(
        `${baseUrl}/organisations/${organisationId}/data/${projectCode}`,
        {
            method: 'POST',
            headers: { 'authorization': `bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(msg.payload),
        },
    );
    remember('exchanges', `push ${response.status}`);
    return response.status;
}

try {
    let token = context.get('token');
    if (!token) {
        const fetched = await newToken();
        if (fetched.failed) {
            outcome(`token:failing ${fetched.failed}`, false);
            return null;
        }
        token = fetched.token;
    }
    let status = await push(token);
    if (status === 401) {
        // The token expired or was revoked: drop it and try once with a new one.
        context.set('token', undefined);
        const fetched = await newToken();
        if (fetched.failed) {
            outcome(`token:failing ${fetched.failed}`, false);
            return null;
        }
        status = await push(fetched.token);
    }
    if (status === 201) {
        outcome('data:ok', true);
    } else {
        outcome(`data:failing ${status}`, false);
    }
} catch (error) {
    outcome(`data:failing ${error.message}`, false);
}
return null;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_node_red_flow_pushes_readings_the_connectors_way() {
    let Some(red) = node_red().await else {
        return;
    };
    // The manual clock lets the test expire the flow's token.
    let options = Options {
        manual_clock: true,
        ..Options::default()
    };
    let Some(app) = spawn(Backend::Sqlite, options).await else {
        return;
    };
    let stand_in = StandIn::start().await;
    let flows = json!([
        tab("vigie", &format!("{}/v0", app.url), &app),
        inject("vigie-first", "vigie", FIRST, "vigie-connector"),
        inject("vigie-second", "vigie", SECOND, "vigie-connector"),
        function("vigie-connector", "vigie"),
        tab("stand-in", &format!("{}/v0", stand_in.url), &app),
        inject("stand-in-first", "stand-in", FIRST, "stand-in-connector"),
        function("stand-in-connector", "stand-in"),
    ]);
    let mut node_red = NodeRed::start(&red, &flows);
    let http = &app.http;

    // A first push: a new token, then the push.
    node_red.inject(http, "vigie-first").await;
    let first = wait_for_reading(&app, &node_red, "2020-01-01T08:03:51.000Z", 1).await;
    assert_eq!(first["sensorId"], "GDPD-DEB_MASS1.PV");
    assert_eq!(first["valueName"], "x");
    assert_eq!(first["value"].as_f64(), Some(19.9));
    assert_eq!(first["precision"], 100);
    let vigie = node_red.context(http, "vigie-connector").await;
    assert_eq!(vigie["outcomes"], json!(["data:ok"]), "{}", node_red.log());
    assert_eq!(vigie["exchanges"], json!(["token 200", "push 201"]));

    // The cached token expires (the clock moves past its lifetime): the server must
    // answer 401 so the flow drops it and fetches another, and the retried push must
    // be stored.
    let lifetime = app.new_token().await["expires_in"]
        .as_i64()
        .expect("tokens say how long they last");
    app.advance(lifetime + 1);
    node_red.inject(http, "vigie-second").await;
    let second = wait_for_reading(&app, &node_red, "2020-01-01T08:03:52.000Z", 2).await;
    assert_eq!(second["sensorId"], "GDPD-DEB_MASS1.PV");
    assert_eq!(second["value"].as_f64(), Some(20.5));
    let vigie = node_red.context(http, "vigie-connector").await;
    assert_eq!(
        vigie["outcomes"],
        json!(["data:ok", "data:ok"]),
        "{}",
        node_red.log()
    );
    assert_eq!(
        vigie["exchanges"],
        json!(["token 200", "push 201", "push 401", "token 200", "push 201"])
    );

    // The same flow against a server that answers 200 to the push: a failure.
    node_red.inject(http, "stand-in-first").await;
    let stand_in_outcomes = poll("the stand-in's outcome", || async {
        let record = node_red.context(http, "stand-in-connector").await;
        record["outcomes"]
            .as_array()
            .is_some_and(|outcomes| !outcomes.is_empty())
            .then_some(record)
    })
    .await;
    assert_eq!(
        stand_in_outcomes["outcomes"],
        json!(["data:failing 200"]),
        "a 200 to a push is not a stored push to the connector"
    );
    let basic = STANDARD.encode(format!("{}:{}", app.app_id, app.secret));
    let sent: Vec<Value> = stand_in.seen.lock().unwrap().clone();
    assert_eq!(
        sent,
        [
            json!({
                "method": "POST",
                "path": "/v0/oauth2/token",
                "authorization": format!("basic {basic}"),
                "content-type": "application/json",
                "body": {"grant_type": "client_credentials"},
            }),
            json!({
                "method": "POST",
                "path": format!("/v0/organisations/{}/data/{PROJECT}", app.org_id),
                "authorization": format!("bearer {}", StandIn::TOKEN),
                "content-type": "application/json",
                "body": serde_json::from_str::<Value>(FIRST).unwrap(),
            }),
        ],
        "the flow sends the connector's requests"
    );

    let port = node_red.port;
    let status = node_red.stop();
    assert!(!status.success(), "Node-RED was killed, not left running");
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "nothing answers on Node-RED's port any more"
    );
}

/// Polls Vigie until the reading at `date` is stored and the flow has recorded
/// `outcomes` outcomes, and returns the reading.
async fn wait_for_reading(app: &TestApp, node_red: &NodeRed, date: &str, outcomes: usize) -> Value {
    let token = app.access_token().await;
    let url = app.data_url(&app.org_id, PROJECT);
    poll(&format!("the reading at {date}"), || async {
        let recorded = node_red.context(&app.http, "vigie-connector").await["outcomes"]
            .as_array()
            .map_or(0, Vec::len);
        let page = app.get_json(&url, Some(&token)).await;
        let reading = page["readings"]
            .as_array()?
            .iter()
            .find(|reading| reading["date"] == date)?
            .clone();
        (recorded >= outcomes).then_some(reading)
    })
    .await
}

/// Calls `probe` every 100 ms until it gives a value, for at most [`PATIENCE`].
async fn poll<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what} in vain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tab whose environment holds what the connector's config node would.
fn tab(id: &str, base_url: &str, app: &TestApp) -> Value {
    let env = |name: &str, value: &str| json!({"name": name, "value": value, "type": "str"});
    json!({
        "id": id,
        "type": "tab",
        "label": format!("connector to {base_url}"),
        "env": [
            env("VIGIE_BASE_URL", base_url),
            env("VIGIE_CLIENT_ID", &app.app_id),
            env("VIGIE_CLIENT_SECRET", &app.secret),
            env("VIGIE_ORGANISATION_ID", &app.org_id),
            env("VIGIE_PROJECT_CODE", PROJECT),
        ],
    })
}

/// An inject node whose payload is `readings`, parsed as JSON. Nodes carry no name:
/// Node-RED takes a property equal to a node's id for a reference to that node.
fn inject(id: &str, tab: &str, readings: &str, to: &str) -> Value {
    json!({
        "id": id,
        "type": "inject",
        "z": tab,
        "props": [{"p": "payload", "v": readings, "vt": "json"}],
        "repeat": "",
        "once": false,
        "wires": [[to]],
    })
}

fn function(id: &str, tab: &str) -> Value {
    json!({
        "id": id,
        "type": "function",
        "z": tab,
        "func": CONNECTOR,
        "outputs": 0,
        "libs": [],
        "wires": [],
    })
}

/// A Node-RED process, killed when dropped so that a failed assertion never leaves
/// it running; its folder is kept after a failure, for its log.
struct NodeRed {
    child: Option<Child>,
    dir: PathBuf,
    url: String,
    port: u16,
}

impl NodeRed {
    fn start(red: &Path, flows: &Value) -> Self {
        let unique = RandomState::new().hash_one(Instant::now());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("node-red-run-{}-{unique:x}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create Node-RED's folder");
        let flow_file = dir.join("flows.json");
        std::fs::write(&flow_file, flows.to_string()).expect("write the flow");
        // Node-RED has no "any free port" setting (0 falls back to 1880): take one the
        // system hands out and let go of it just before Node-RED binds it.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let js = |value: &Path| Value::from(value.to_string_lossy()).to_string();
        // No editor, no palette manager, no telemetry or update check: nothing that
        // reaches the internet. The admin API stays on, for /inject and /context.
        // The function sandbox has no `fetch`: the global context hands out Node's.
        let settings = format!(
            "module.exports = {{
    uiHost: '127.0.0.1',
    uiPort: {port},
    userDir: {user_dir},
    flowFile: {flow_file},
    credentialSecret: false,
    disableEditor: true,
    httpNodeRoot: false,
    diagnostics: {{ enabled: false, ui: false }},
    runtimeState: {{ enabled: false, ui: false }},
    telemetry: {{ enabled: false, updateNotification: false }},
    externalModules: {{
        autoInstall: false,
        palette: {{ allowInstall: false, allowUpload: false }},
        modules: {{ allowInstall: false }},
    }},
    editorTheme: {{ projects: {{ enabled: false }} }},
    logging: {{ console: {{ level: 'info', metrics: false, audit: false }} }},
    functionGlobalContext: {{ fetch: globalThis.fetch }},
}};
",
            user_dir = js(&dir),
            flow_file = js(&flow_file),
        );
        let settings_file = dir.join("settings.js");
        std::fs::write(&settings_file, settings).expect("write Node-RED's settings");
        let log = std::fs::File::create(dir.join("node-red.log")).expect("create the log");
        let child = std::process::Command::new("node")
            .arg(red)
            .arg("--settings")
            .arg(&settings_file)
            .arg("--userDir")
            .arg(&dir)
            .env("NODE_RED_DISABLE_TELEMETRY", "1")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the log"))
            .stderr(log)
            .spawn()
            .expect("start Node-RED with the machine's node");
        Self {
            child: Some(child),
            dir,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// What Node-RED printed so far.
    fn log(&self) -> String {
        let mut log = String::new();
        if let Ok(mut file) = std::fs::File::open(self.dir.join("node-red.log")) {
            let _ = file.read_to_string(&mut log);
        }
        format!("Node-RED's log:\n{log}")
    }

    /// Presses an inject node's button through the admin API, waiting for Node-RED to
    /// answer and its flows to start (until then the node is not found).
    async fn inject(&mut self, http: &reqwest::Client, node: &str) {
        let url = format!("{}/inject/{node}", self.url);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let answer = http.post(&url).send().await;
            if answer.is_ok_and(|response| response.status() == 200) {
                return;
            }
            let child = self.child.as_mut().expect("Node-RED is running");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("Node-RED stopped ({status}) {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "Node-RED did not take an inject within {PATIENCE:?}: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A function node's context, each key's value decoded from the admin API's form.
    async fn context(&self, http: &reqwest::Client, node: &str) -> Value {
        let url = format!("{}/context/node/{node}", self.url);
        let Ok(response) = http.get(&url).send().await else {
            return Value::Null;
        };
        let body: Value = response.json().await.unwrap_or_default();
        let Some(memory) = body["memory"].as_object() else {
            return Value::Null;
        };
        memory
            .iter()
            .map(|(key, entry)| {
                let text = entry["msg"].as_str().unwrap_or_default();
                let value = serde_json::from_str(text).unwrap_or_else(|_| Value::from(text));
                (key.clone(), value)
            })
            .collect()
    }

    /// Kills Node-RED and waits for it to be gone.
    fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("Node-RED is running");
        child.kill().expect("kill Node-RED");
        child.wait().expect("reap Node-RED")
    }
}

impl Drop for NodeRed {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("Node-RED's folder is kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A server that answers every request `200` and keeps what it was sent.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl StandIn {
    const TOKEN: &str = "stand-in-token";

    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new()
            .fallback(Self::answer)
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the stand-in");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, seen }
    }

    async fn answer(
        State(seen): State<Arc<Mutex<Vec<Value>>>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, Json<Value>) {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        seen.lock().unwrap().push(json!({
            "method": method.as_str(),
            "path": uri.path(),
            "authorization": header("authorization"),
            "content-type": header("content-type"),
            "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::from(body)),
        }));
        let answer = if uri.path().ends_with("/oauth2/token") {
            json!({"access_token": Self::TOKEN, "token_type": "bearer", "expires_in": 3600})
        } else {
            json!({"received": 1, "new": 1, "unchanged": 0, "replaced": 0})
        };
        (StatusCode::OK, Json(answer))
    }
}

/// The path of Node-RED's `red.js`, installed from the npm registry into the target
/// folder once and reused by later runs. Without npm or network the caller skips
/// (`None`), except when `CI` is set.
async fn node_red() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-red");
    let red = dir.join("node_modules/node-red/red.js");
    let marker = dir.join(".installed");
    if red.is_file() && std::fs::read_to_string(&marker).is_ok_and(|v| v == NODE_RED_VERSION) {
        return Some(red);
    }
    let failure = match install(&dir).await {
        Ok(()) if red.is_file() => None,
        Ok(()) => Some(format!("npm succeeded but {} is missing", red.display())),
        Err(why) => Some(why),
    };
    if let Some(why) = failure {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: node-red@{NODE_RED_VERSION} must install from the npm registry: {why}"
        );
        vigie_store::testing::report_skipped(&format!(
            "could not install node-red@{NODE_RED_VERSION}: {why}"
        ));
        return None;
    }
    std::fs::write(&marker, NODE_RED_VERSION).expect("write the install marker");
    Some(red)
}

async fn install(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    // A package of its own, so that npm installs here and not into a parent folder.
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "vigie-node-red-test", "private": true}"#,
    )
    .map_err(|e| format!("write package.json: {e}"))?;
    let started = Instant::now();
    let npm = tokio::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--loglevel=error",
            "--save-exact",
            // Without a registry npm fails in seconds instead of retrying for a minute.
            "--fetch-timeout=60000",
            "--fetch-retries=2",
            "--fetch-retry-mintimeout=2000",
            "--fetch-retry-maxtimeout=10000",
        ])
        .arg(format!("node-red@{NODE_RED_VERSION}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(INSTALL_TIMEOUT, npm)
        .await
        .map_err(|_| format!("npm install took longer than {INSTALL_TIMEOUT:?}"))?
        .map_err(|e| format!("npm could not run: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        return Err(format!(
            "npm install failed ({}):\n{}",
            output.status,
            lines[lines.len().saturating_sub(20)..].join("\n")
        ));
    }
    eprintln!(
        "installed node-red@{NODE_RED_VERSION} in {:.1?}",
        started.elapsed()
    );
    Ok(())
}
