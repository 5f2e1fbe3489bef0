//! Durability under `kill -9`: the real server binary ingests from concurrent clients
//! and is killed at a random moment, several times. Every reading that was answered
//! with a 2xx must be there after the restart, and once the clients resend what was in
//! flight, every reading is there exactly once.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{VIGIE, admin, client_credentials_token, free_port, temp_dir, wait_listening};

const CLIENTS: usize = 8;
const BATCH: usize = 250;
const ROUNDS: usize = 4;

fn start(db: &str, port: u16) -> Child {
    let child = Command::new(VIGIE)
        .args([
            "serve",
            "--database-url",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    child
}

/// A pseudo-random number from the clock, enough to vary the moment of the kill.
fn jitter(max: u64) -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    ) % max
}

fn batch(client: usize, sequence: usize) -> (Vec<String>, String) {
    let keys: Vec<String> = (0..BATCH)
        .map(|i| format!("c{client}-b{sequence}-{i}"))
        .collect();
    let readings: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| json!({"sensorId": key, "date": format!("2024-01-01T00:00:{:02}.000Z", i % 60), "value": i}))
        .collect();
    (keys, Value::from(readings).to_string())
}

struct Ledger {
    acknowledged: HashSet<String>,
    unacknowledged: Vec<(usize, usize)>,
}

async fn all_sensor_ids(http: &reqwest::Client, data_url: &str, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!("{data_url}?limit=10000{cursor}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(
            page["readings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["sensorId"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

async fn survive_kill_minus_nine(db: &str) {
    let org = admin(db, &["org", "create", "plant"])["organisation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    admin(db, &["project", "create", "--org", &org, "line"]);
    let app = admin(db, &["app", "create", "--org", &org, "gateway"]);
    let (app_id, secret) = (
        app["application_id"].as_str().unwrap().to_owned(),
        app["application_secret"].as_str().unwrap().to_owned(),
    );
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let data_url = format!("{url}/v0/organisations/{org}/data/line");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let ledger = Arc::new(Mutex::new(Ledger {
        acknowledged: HashSet::new(),
        unacknowledged: Vec::new(),
    }));
    let mut sequence_base = 0;

    for round in 0..ROUNDS {
        let mut server = start(db, port);
        let token = client_credentials_token(&http, &url, &app_id, &secret).await;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (http, data_url, token, ledger) = (
                    http.clone(),
                    data_url.clone(),
                    token.clone(),
                    ledger.clone(),
                );
                tokio::spawn(async move {
                    for sequence in sequence_base.. {
                        let (keys, body) = batch(client, sequence);
                        let sent = http
                            .post(&data_url)
                            .bearer_auth(&token)
                            .header("Content-Type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        let mut ledger = ledger.lock().unwrap();
                        match sent {
                            Ok(response) if response.status().is_success() => {
                                ledger.acknowledged.extend(keys)
                            }
                            _ => {
                                // The server died with this batch in flight.
                                ledger.unacknowledged.push((client, sequence));
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        // Let this round acknowledge something (a loaded machine starts slowly), then
        // kill at a random moment.
        let before = ledger.lock().unwrap().acknowledged.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ledger.lock().unwrap().acknowledged.len() == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: nothing was acknowledged within a minute"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(jitter(900))).await;
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        for client in clients {
            client.await.unwrap();
        }
        sequence_base += 100_000;
    }

    let mut server = start(db, port);
    let token = client_credentials_token(&http, &url, &app_id, &secret).await;
    let stored: HashSet<String> = all_sensor_ids(&http, &data_url, &token)
        .await
        .into_iter()
        .collect();
    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    let lost: Vec<&String> = ledger
        .acknowledged
        .iter()
        .filter(|key| !stored.contains(*key))
        .take(5)
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged readings lost after kill -9: {lost:?}"
    );

    // The clients resend what was in flight; nothing is duplicated.
    let mut expected = ledger.acknowledged.clone();
    for &(client, sequence) in &ledger.unacknowledged {
        let (keys, body) = batch(client, sequence);
        let response = http
            .post(&data_url)
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        expected.extend(keys);
    }
    let ids = all_sensor_ids(&http, &data_url, &token).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no reading is stored twice");
    assert_eq!(unique.len(), expected.len(), "every reading is stored once");
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "{ROUNDS} kills: {} readings acknowledged, {} batches in flight resent",
        ledger.acknowledged.len(),
        ledger.unacknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_readings_survive_kill_minus_nine_on_sqlite() {
    let dir = temp_dir("vigie-crash");
    survive_kill_minus_nine(&format!("sqlite://{}/vigie.db", dir.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_readings_survive_kill_minus_nine_on_postgres() {
    let Some(url) = vigie_store::testing::temp_postgres_url().await else {
        return;
    };
    survive_kill_minus_nine(url.expose()).await;
}
