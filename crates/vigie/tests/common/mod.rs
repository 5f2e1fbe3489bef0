//! Helpers shared by the test binaries that drive the real `vigie` binary. Each test
//! binary uses only some of them.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");

/// A new empty folder under the system's temporary folder.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The URL of a new SQLite database.
pub fn temp_database() -> String {
    format!("sqlite://{}/vigie.db", temp_dir("vigie-test").display())
}

/// `vigie admin --json --database-url DB ARGS…`, which must succeed; its JSON output.
pub fn admin(db: &str, args: &[&str]) -> Value {
    let output = Command::new(VIGIE)
        .args(["admin", "--json", "--database-url", db])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until a server listens on `port` (30 s at most).
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `client_credentials` access token of an application from the server at `url`
/// (the contract's token endpoint).
pub async fn client_credentials_token(
    http: &reqwest::Client,
    url: &str,
    app: &str,
    secret: &str,
) -> String {
    let response: Value = http
        .post(format!("{url}/v0/oauth2token"))
        .basic_auth(app, Some(secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

/// Stops a server with SIGKILL (no graceful shutdown) and reaps it, if it runs.
pub fn kill(child: &mut Option<std::process::Child>) {
    if let Some(mut child) = child.take() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
