//! Several `vigie serve` nodes on one PostgreSQL database behind HAProxy behave as one
//! service: one series pushed in time order, round-robin through three nodes, one of
//! them killed with SIGKILL half-way and restarted, gets exactly the scores one node
//! alone gives, and nothing acknowledged is lost; an application created or disabled
//! in the store is honoured by every node at once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{VIGIE, admin, free_port, temp_dir, wait_listening};

/// Times of the series, one a minute, pushed 100 to a request.
const READINGS: usize = 4_000;
const BATCH: usize = 100;

/// Two series of one press: its temperature (a daily wave, deterministic noise, a
/// spike and a level shift) and its force, which follows the temperature; both make
/// the project's default asset.
fn batch(index: usize) -> Value {
    let readings: Vec<Value> = (index * BATCH..(index + 1) * BATCH)
        .flat_map(|i| {
            let t = 1_700_000_000_000_000 + i as i64 * 60_000_000;
            let daily = (i as f64 * std::f64::consts::TAU / 1440.0).sin() * 10.0;
            let noise = ((i * 7919) % 101) as f64 / 100.0 - 0.5;
            let event = match i {
                2_500 => 40.0,
                3_200.. => 8.0,
                _ => 0.0,
            };
            let date = vigie_proto::time::Timestamp::from_micros(t).to_string();
            let temperature = 50.0 + daily + noise + event;
            let force = 2.0 * temperature + ((i * 104_729) % 97) as f64 / 50.0;
            [
                json!({"sensorId": "press-7", "valueName": "temperature", "date": date, "value": temperature}),
                json!({"sensorId": "press-7", "valueName": "force", "date": date, "value": force}),
            ]
        })
        .collect();
    Value::from(readings)
}

/// A `vigie serve` node.
struct Node {
    port: u16,
    db: String,
    issuer: String,
    child: Option<Child>,
}

impl Node {
    fn start(db: &str, issuer: &str) -> Self {
        let mut node = Self {
            port: free_port(),
            db: db.to_owned(),
            issuer: issuer.to_owned(),
            child: None,
        };
        node.restart();
        node
    }

    fn restart(&mut self) {
        let child = Command::new(VIGIE)
            .args(["serve", "--database-url", &self.db])
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("VIGIE_ISSUER", &self.issuer)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(self.port);
        self.child = Some(child);
    }

    /// SIGKILL: no graceful shutdown.
    fn kill(&mut self) {
        common::kill(&mut self.child);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy in front of the nodes: round-robin, a failed connection tried again on
/// another node, a dead node taken out by its health check.
struct Balancer {
    port: u16,
    child: Child,
}

impl Balancer {
    fn start(nodes: &[Node]) -> Self {
        let port = free_port();
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                format!(
                    "  server n{i} 127.0.0.1:{} check inter 200ms fall 1 rise 1\n",
                    node.port
                )
            })
            .collect();
        let config = format!(
            "global\n  maxconn 256\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  retries 3\n  option redispatch\n\
             frontend vigie\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
             backend nodes\n  balance roundrobin\n  option httpchk GET /healthz\n{servers}"
        );
        let path = temp_dir("vigie-haproxy").join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy runs");
        wait_listening(port);
        Self { port, child }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provisioned database: its URL, organisation, application and secret.
struct Plant {
    db: String,
    org: String,
    app: String,
    secret: String,
}

impl Plant {
    fn provision(db: String) -> Self {
        let org = admin(&db, &["org", "create", "plant"])["organisation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        admin(&db, &["project", "create", "--org", &org, "line"]);
        let app = admin(&db, &["app", "create", "--org", &org, "gateway"]);
        Self {
            db,
            org,
            app: app["application_id"].as_str().unwrap().to_owned(),
            secret: app["application_secret"].as_str().unwrap().to_owned(),
        }
    }

    async fn token(&self, http: &reqwest::Client, url: &str) -> String {
        common::client_credentials_token(http, url, &self.app, &self.secret).await
    }

    /// Pushes the whole series in time order, batch by batch, each acknowledged
    /// before the next; `between(i)` runs before batch `i`. The time each push took.
    async fn push(&self, url: &str, mut between: impl FnMut(usize)) -> Vec<Duration> {
        let http = reqwest::Client::new();
        let token = self.token(&http, url).await;
        let mut took = Vec::new();
        for i in 0..READINGS / BATCH {
            between(i);
            let started = Instant::now();
            let response = http
                .post(format!("{url}/v0/organisations/{}/data/line", self.org))
                .bearer_auth(&token)
                .json(&batch(i))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                201,
                "batch {i}: {}",
                response.text().await.unwrap()
            );
            took.push(started.elapsed());
        }
        took
    }

    /// Every item of a paged listing of the project (`path` after the organisation,
    /// the items under `key`), page by page.
    async fn all_pages(&self, url: &str, path: &str, key: &str) -> Vec<Value> {
        let http = reqwest::Client::new();
        let token = self.token(&http, url).await;
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut request = http
                .get(format!("{url}/v0/organisations/{}/{path}", self.org))
                .bearer_auth(&token)
                .query(&[("limit", "1000")]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            all.extend(page[key].as_array().unwrap().iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }

    /// Every health row of the default asset: (date, health), in time order.
    async fn health(&self, url: &str) -> Vec<(String, f64)> {
        let rows = self.all_pages(url, "health/line", "rows").await;
        rows.iter()
            .map(|row| {
                (
                    row["date"].as_str().unwrap().to_owned(),
                    row["health"].as_f64().unwrap(),
                )
            })
            .collect()
    }

    /// Every stored reading: (date, value, score), in time order.
    async fn scores(&self, url: &str) -> Vec<(String, f64, Option<f64>)> {
        let readings = self.all_pages(url, "data/line", "readings").await;
        readings
            .iter()
            .map(|r| {
                (
                    r["date"].as_str().unwrap().to_owned(),
                    r["value"].as_f64().unwrap(),
                    r["anomalyScore"].as_f64(),
                )
            })
            .collect()
    }
}

fn haproxy_installed() -> bool {
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: haproxy must be installed (.ci/run does)"
        );
        vigie_store::testing::report_skipped("haproxy is not installed");
    }
    found
}

fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_haproxy_score_as_one_and_honour_application_changes_at_once() {
    if !haproxy_installed() {
        return;
    }
    let (Some(single_db), Some(shared_db)) = (
        vigie_store::testing::temp_postgres_url().await,
        vigie_store::testing::temp_postgres_url().await,
    ) else {
        return;
    };
    // One node alone: the reference.
    let single = Plant::provision(single_db.expose().to_owned());
    let alone_url = {
        let node = Node::start(&single.db, "http://vigie.test");
        let url = format!("http://127.0.0.1:{}", node.port);
        let took = single.push(&url, |_| {}).await;
        let expected = single.scores(&url).await;
        let health = single.health(&url).await;
        (node, url, took, expected, health)
    };
    let (_alone, _, alone_took, expected, expected_health) = alone_url;
    assert_eq!(expected.len(), 2 * READINGS);
    assert!(
        expected_health.len() > READINGS / 2,
        "{} health rows",
        expected_health.len()
    );
    let anomalous = expected
        .iter()
        .filter(|(_, _, s)| s.is_some_and(|s| s > 0.5))
        .count();
    assert!(anomalous >= 1, "the spike is an anomaly");

    // Three nodes on one database behind HAProxy; node 1 is killed with SIGKILL after
    // batch 15 and restarted after batch 25.
    let shared = Plant::provision(shared_db.expose().to_owned());
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&shared.db, "http://vigie.test"))
        .collect();
    let balancer = Balancer::start(&nodes);
    let url = format!("http://127.0.0.1:{}", balancer.port);
    let took = shared
        .push(&url, |i| match i {
            15 => nodes[1].kill(),
            25 => nodes[1].restart(),
            _ => {}
        })
        .await;
    let stored = shared.scores(&url).await;
    assert_eq!(
        stored.len(),
        2 * READINGS,
        "every acknowledged reading is stored"
    );
    let differences = stored.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(differences, 0, "scores differ from one node's");
    let health = shared.health(&url).await;
    assert_eq!(health.len(), expected_health.len());
    let health_differences = health
        .iter()
        .zip(&expected_health)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        health_differences, 0,
        "asset health differs from one node's"
    );
    // Each node counts the pushes it scored again after another node's.
    let mut retries = 0.0;
    for node in &nodes {
        let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", node.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("vigie_stale_detector_retries_total "))
            .expect("the counter is exported");
        retries += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    }
    assert!(retries >= 20.0, "{retries} pushes scored again");
    eprintln!(
        "{} scores and {} health rows, all equal to one node's; {retries} pushes scored again",
        stored.len(),
        health.len()
    );

    // An application created in the store is good for a token from every node at once,
    // and refused by every node at once once disabled.
    let app = admin(&shared.db, &["app", "create", "--org", &shared.org, "cmms"]);
    let late = Plant {
        app: app["application_id"].as_str().unwrap().to_owned(),
        secret: app["application_secret"].as_str().unwrap().to_owned(),
        db: shared.db.clone(),
        org: shared.org.clone(),
    };
    let http = reqwest::Client::new();
    let token_status = |port: u16| {
        let request = http
            .post(format!("http://127.0.0.1:{port}/v0/oauth2/token"))
            .basic_auth(&late.app, Some(&late.secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for node in &nodes {
        assert_eq!(
            token_status(node.port).await,
            200,
            "a new application, at once"
        );
    }
    admin(&shared.db, &["app", "disable", &late.app]);
    for node in &nodes {
        assert_eq!(
            token_status(node.port).await,
            401,
            "a disabled application, at once"
        );
    }
    eprintln!(
        "push of {} readings: median {:?} on one node, {:?} round-robin over three \
         (every push a change of node)",
        2 * BATCH,
        median(&alone_took),
        median(&took)
    );
}
