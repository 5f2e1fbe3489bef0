//! The SDK and the client CLI against the real server binary with short-lived tokens:
//! uploads that span several expiries with each renewal strategy, a refresh-token
//! family revoked mid-upload, a server restart mid-upload, and `vigie push` progress
//! and resumption.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_client::{Client, ClientConfig, RenewalStrategy};
use vigie_proto::readings::Reading;

mod common;
use common::{VIGIE, admin, free_port, temp_dir, wait_listening};

const TTL_SECONDS: u64 = 2;

struct Service {
    db: String,
    port: u16,
    org: String,
    app: String,
    secret: String,
    child: Option<Child>,
}

impl Service {
    fn start() -> Self {
        let dir = temp_dir("vigie-client");
        let db = format!("sqlite://{}/vigie.db", dir.display());
        let org = admin(&db, &["org", "create", "plant"])["organisation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        admin(&db, &["project", "create", "--org", &org, "line"]);
        let app = admin(&db, &["app", "create", "--org", &org, "gateway"]);
        let port = free_port();
        let mut service = Self {
            db,
            port,
            org,
            app: app["application_id"].as_str().unwrap().to_owned(),
            secret: app["application_secret"].as_str().unwrap().to_owned(),
            child: None,
        };
        service.restart();
        service
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let ttl = TTL_SECONDS.to_string();
        let child = Command::new(VIGIE)
            .args([
                "serve",
                "--database-url",
                &self.db,
                "--listen",
                &format!("127.0.0.1:{}", self.port),
            ])
            .env("VIGIE_ACCESS_TOKEN_TTL", &ttl)
            .env("VIGIE_ACCESS_TOKEN_TTL_MAX", &ttl)
            .env("VIGIE_DETECTION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(self.port);
        self.child = Some(child);
    }

    fn kill(&mut self) {
        common::kill(&mut self.child);
    }

    fn client(&self, renewal: RenewalStrategy) -> Client {
        let mut config = ClientConfig::new(self.url(), &self.org, "line", &self.app, &self.secret);
        config.renewal = renewal;
        Client::new(config).unwrap()
    }

    fn cli(&self) -> Command {
        let mut command = Command::new(VIGIE);
        command
            .env("VIGIE_URL", self.url())
            .env("ORGANISATION_ID", &self.org)
            .env("ML_PROJECT", "line")
            .env("APPLICATION_ID", &self.app)
            .env("APPLICATION_SECRET", &self.secret);
        command
    }

    /// `GET`s a path of the project's data API (`""`, `"/series"`, `"?label=…"`).
    async fn get_data(&self, path: &str) -> Value {
        let client = self.client(RenewalStrategy::default());
        let token = client
            .tokens()
            .access_token(&vigie_client::RetryPolicy::default())
            .await
            .unwrap();
        reqwest::Client::new()
            .get(format!(
                "{}/v0/organisations/{}/data/line{path}",
                self.url(),
                self.org
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Readings stored in the project, by the series listing.
    async fn stored(&self) -> i64 {
        self.get_data("/series?limit=10000").await["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_i64().unwrap())
            .sum()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

fn readings(sensor: &str, from: usize, count: usize) -> Vec<Reading> {
    (from..from + count)
        .map(|i| Reading {
            sensor_id: sensor.into(),
            value_name: "x".into(),
            date: vigie_proto::time::Timestamp::from_micros(
                1_700_000_000_000_000 + i as i64 * 1_000_000,
            )
            .to_string(),
            value: i as f64,
            precision: None,
            labels: Vec::new(),
        })
        .collect()
}

/// 16 tasks push batches for `seconds`; returns (batches, failures).
async fn upload_for(client: &Client, sensor: &str, seconds: u64) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let client = client.clone();
            let sensor = format!("{sensor}-{task}");
            tokio::spawn(async move {
                let (mut batches, mut failures) = (0, 0);
                while Instant::now() < deadline {
                    if client
                        .push(&readings(&sensor, batches * 20, 20))
                        .await
                        .is_err()
                    {
                        failures += 1;
                    }
                    batches += 1;
                }
                (batches, failures)
            })
        })
        .collect();
    let mut total = (0, 0);
    for task in tasks {
        let (batches, failures) = task.await.unwrap();
        total = (total.0 + batches, total.1 + failures);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_spanning_several_expiries_need_one_token_request_per_expiry() {
    let service = Service::start();
    let margin = Duration::from_secs(60); // capped to a tenth of the 2 s lifetime
    for (name, strategy) in [
        ("expires-in", RenewalStrategy::ExpiresIn { margin }),
        ("jwt-exp", RenewalStrategy::JwtExpiry { margin }),
        ("on-401", RenewalStrategy::OnUnauthorized),
    ] {
        let client = service.client(strategy);
        let seconds = 7;
        let (batches, failures) = upload_for(&client, name, seconds).await;
        let requests = client.tokens().token_requests();
        let expiries = seconds / TTL_SECONDS;
        eprintln!(
            "{name}: {batches} batches, {failures} failed, {requests} token requests, {expiries} expiries"
        );
        assert_eq!(failures, 0, "{name}: no batch fails");
        assert!(
            batches > 100,
            "{name}: the upload really ran ({batches} batches)"
        );
        // The first token, then one per expiry; JWT `exp` is whole seconds, so a token
        // can live up to a second less than `expires_in`: allow for that.
        let most = 1 + seconds / (TTL_SECONDS - 1);
        assert!(
            (expiries..=most).contains(&requests),
            "{name}: {requests} token requests for {expiries} expiries"
        );
        assert_eq!(
            client.tokens().refresh_fallbacks(),
            0,
            "{name}: renewals used the refresh token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_family_falls_back_to_client_credentials() {
    let service = Service::start();
    let client = service.client(RenewalStrategy::default());
    let first = tokio::spawn({
        let client = client.clone();
        async move { upload_for(&client, "revoked", 5).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    client
        .tokens()
        .revoke(&vigie_client::RetryPolicy::default())
        .await
        .unwrap();
    let (batches, failures) = first.await.unwrap();
    assert_eq!(failures, 0, "{batches} batches");
    assert!(
        client.tokens().refresh_fallbacks() >= 1,
        "the refused refresh token led to client credentials"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_survives_a_server_restart_without_duplicates_or_gaps() {
    let mut service = Service::start();
    let dir = temp_dir("vigie-push");
    let file = dir.join("readings.ndjson");
    let lines: Vec<String> = readings("restart", 0, 20_000)
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let upload = service
        .cli()
        .args([
            "push",
            file.to_str().unwrap(),
            "--batch-size",
            "200",
            "--concurrency",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    service.kill();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    service.restart();
    let output = tokio::task::spawn_blocking(move || upload.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("0 batch(es) failed"), "{stdout}");
    assert_eq!(
        service.stored().await,
        20_000,
        "every reading once: no gap, no duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_reports_progress_and_resumes_an_interrupted_upload() {
    let service = Service::start();
    let dir = temp_dir("vigie-push");
    let file = dir.join("readings.csv");
    let mut csv = String::from("sensorId,valueName,date,value,precision\n");
    for r in readings("csv", 0, 30_000) {
        csv.push_str(&format!(
            "{},{},{},{},\n",
            r.sensor_id, r.value_name, r.date, r.value
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let state = dir.join("readings.csv.vigie-progress");

    // Interrupt the first upload once some batches are recorded as accepted.
    let mut first = service
        .cli()
        .args([
            "push",
            file.to_str().unwrap(),
            "--batch-size",
            "100",
            "--concurrency",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.exists() {
        assert!(
            Instant::now() < deadline,
            "the upload never recorded progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().unwrap();
    first.wait().unwrap();

    let output = service
        .cli()
        .args([
            "push",
            file.to_str().unwrap(),
            "--batch-size",
            "100",
            "--concurrency",
            "4",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("progress: ") && l.contains("readings/s")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("progress: 30000/30000 readings (100.0%)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("besides") && stdout.contains("0 batch(es) failed"),
        "{stdout}"
    );
    assert!(
        !state.exists(),
        "the progress file goes once everything is accepted"
    );
    assert_eq!(service.stored().await, 30_000);

    // A bad file: a clear error and a non-zero exit.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[{\"sensorId\": 1}]").unwrap();
    let output = service
        .cli()
        .args(["push", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_sends_labels_and_precision_from_csv_and_json() {
    let service = Service::start();
    let dir = temp_dir("vigie-push-labels");
    let csv = dir.join("labelled.csv");
    std::fs::write(
        &csv,
        "sensorId,valueName,date,value,precision,labels\n\
         p1,,2024-01-01T00:00:00Z,1.5,90,line:2 batch_7\n\
         p1,,2024-01-01T00:00:01Z,2.5,,\n",
    )
    .unwrap();
    let json = dir.join("labelled.json");
    std::fs::write(
        &json,
        r#"[{"sensorId":"p2","date":"2024-01-01T00:00:00Z","value":3,"precision":100,"labels":["line:2"]}]"#,
    )
    .unwrap();
    for file in [&csv, &json] {
        let output = service.cli().arg("push").arg(file).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let page = service.get_data("?label=line:2").await;
    let found: Vec<(&str, &str, Value, Value)> = page["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sensorId"].as_str().unwrap(),
                r["valueName"].as_str().unwrap(),
                r["precision"].clone(),
                r["labels"].clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "p1",
                "none",
                90.into(),
                serde_json::json!(["batch_7", "line:2"])
            ),
            ("p2", "none", 100.into(), serde_json::json!(["line:2"])),
        ]
    );
    assert_eq!(service.stored().await, 3);

    // A precision the public docs do not allow: the server's reason, and a failure.
    let bad = dir.join("bad-precision.csv");
    std::fs::write(
        &bad,
        "sensorId,date,value,precision\np1,2024-01-01T00:00:02Z,1,250\n",
    )
    .unwrap();
    let output = service.cli().arg("push").arg(&bad).output().unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("integer from 0 to 100"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_command_prints_the_documented_response() {
    let service = Service::start();
    let output = service.cli().arg("token").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], TTL_SECONDS);
    assert_eq!(token.as_object().unwrap().len(), 7);
    let refused = service
        .cli()
        .arg("token")
        .env("APPLICATION_SECRET", "vgs_wrong")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid_client"));
}
