//! The real `vigie` binary: operator commands, `serve --demo` as a newcomer uses it,
//! graceful shutdown, and logs that never contain a secret or a token.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

mod common;
use common::{VIGIE, free_port, temp_database, temp_dir, wait_listening};

/// Runs `vigie ARGS…`; returns (success, stdout, stderr).
fn vigie(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(VIGIE)
        .args(args)
        .env_remove("VIGIE_DATABASE_URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn vigie_json(args: &[&str]) -> Value {
    let (ok, stdout, stderr) = vigie(args);
    assert!(ok, "vigie {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn operator_provisions_with_flags_anywhere() {
    let db = temp_database();
    let org = vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "org",
        "create",
        "acme",
        "--json",
    ]);
    let org_id = org["organisation_id"].as_str().unwrap();
    let project = vigie_json(&[
        "admin",
        "project",
        "create",
        "--org",
        org_id,
        "pressline",
        "--json",
        "--database-url",
        &db,
    ]);
    assert_eq!(project["ml_project"], "pressline");
    let app = vigie_json(&[
        "--database-url",
        &db,
        "admin",
        "--json",
        "app",
        "create",
        "--org",
        org_id,
        "gateway",
    ]);
    let app_id = app["application_id"].as_str().unwrap();
    let secret = app["application_secret"].as_str().unwrap();
    assert!(secret.starts_with("vgs_") && secret.len() == 47, "{secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    );
    assert_eq!(app["scope"], "data");

    let apps = vigie_json(&["admin", "app", "list", "--json", "--database-url", &db]);
    assert_eq!(apps[0]["id"], app_id);
    let (ok, text, _) = vigie(&["admin", "app", "list", "--database-url", &db]);
    assert!(ok && text.contains(app_id) && text.contains("enabled"));
    assert!(!text.contains(secret), "a secret is never shown again");
    let db_file = db.trim_start_matches("sqlite://");
    assert!(
        !String::from_utf8_lossy(&std::fs::read(db_file).unwrap()).contains(secret),
        "stored only as a hash"
    );

    let (ok, text, _) = vigie(&["admin", "--database-url", &db, "org", "create", "globex"]);
    assert!(ok && text.starts_with("ORGANISATION_ID="), "{text}");
    let orgs = vigie_json(&["admin", "--database-url", &db, "org", "list", "--json"]);
    assert_eq!(orgs.as_array().unwrap().len(), 2);

    let rotated = vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "app",
        "rotate-secret",
        app_id,
        "--grace-seconds",
        "60",
        "--json",
    ]);
    assert_ne!(rotated["application_secret"], secret);
    let keys = vigie_json(&["admin", "--database-url", &db, "keys", "rotate", "--json"]);
    assert!(keys["kid"].is_string());
    let disabled = vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "app",
        "disable",
        app_id,
        "--json",
    ]);
    assert_eq!(disabled["disabled"], true);
}

#[test]
fn operator_mistakes_get_clear_errors() {
    let db = temp_database();
    vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "org",
        "create",
        "acme",
        "--json",
    ]);
    let (ok, _, stderr) = vigie(&["admin", "--database-url", &db, "org", "create", "acme"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = vigie(&[
        "admin",
        "--database-url",
        &db,
        "project",
        "create",
        "--org",
        "nope",
        "line",
    ]);
    assert!(
        !ok && stderr.contains("organisation nope not found"),
        "{stderr}"
    );
    let org_id = vigie_json(&["admin", "--database-url", &db, "org", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, stderr) = vigie(&[
        "admin",
        "--database-url",
        &db,
        "project",
        "create",
        "--org",
        &org_id,
        "Press-Line",
    ]);
    assert!(
        !ok && stderr.contains("a-z, 0-9") && stderr.contains("\"pressline\""),
        "a code every client accepts, and a suggestion: {stderr}"
    );
    let (ok, _, stderr) = vigie(&["admin", "--database-url", &db, "app", "disable", "nope"]);
    assert!(!ok && stderr.contains("not found"), "{stderr}");
    let (ok, _, stderr) = vigie(&["admin", "--database-url", "mysql://x", "org", "list"]);
    assert!(
        !ok && stderr.contains("unsupported database URL"),
        "{stderr}"
    );
}

struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(db: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(VIGIE)
            .args(["serve", "--database-url", db, "--listen", &listen])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let service = Self {
            child,
            url: format!("http://{listen}"),
        };
        wait_listening(port);
        service
    }

    /// Sends SIGTERM and returns (exit success, stdout, stderr).
    fn stop(mut self) -> (bool, String, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let output = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into(),
            String::from_utf8_lossy(&output.stderr).into(),
        )
    }
}

fn curl(args: &[&str]) -> Value {
    let output = Command::new("curl").arg("-s").args(args).output().unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn demo_gives_a_newcomer_a_token_and_shuts_down_gracefully() {
    let db = temp_database();
    let mut service = Service::start(&db, &["--demo"], &[]);
    let stdout = service.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.starts_with("curl ");
        printed.push(line);
        if done {
            break;
        }
    }
    let var = |name: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("{printed:?}"))
            .to_owned()
    };
    let (org, app, secret, project) = (
        var("ORGANISATION_ID"),
        var("APPLICATION_ID"),
        var("APPLICATION_SECRET"),
        var("ML_PROJECT"),
    );
    assert_eq!(project, "demo");
    // The printed command, run as printed with the printed variables exported.
    let command = printed.last().unwrap();
    let output = Command::new("sh")
        .args(["-c", command])
        .envs([("APPLICATION_ID", &app), ("APPLICATION_SECRET", &secret)])
        .output()
        .unwrap();
    let token: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(token["token_type"], "bearer");
    let bearer = format!(
        "Authorization: Bearer {}",
        token["access_token"].as_str().unwrap()
    );
    let projects = curl(&[
        "-H",
        &bearer,
        &format!("{}/v0/organisations/{org}/projects", service.url),
    ]);
    assert_eq!(projects[0]["code"], "demo");
    let (ok, _, stderr) = service.stop();
    assert!(ok, "SIGTERM is a clean exit: {stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");

    // Second start: nothing new is created and the secret is not shown again.
    let (ok, stdout, _) = Service::start(&db, &["--demo"], &[]).stop();
    assert!(ok);
    assert!(
        stdout.contains("already provisioned")
            && stdout.contains(&app)
            && !stdout.contains(&secret),
        "{stdout}"
    );
}

#[test]
fn logs_never_contain_secrets_or_tokens() {
    let db = temp_database();
    let org = vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "org",
        "create",
        "acme",
        "--json",
    ]);
    let org_id = org["organisation_id"].as_str().unwrap().to_owned();
    let app = vigie_json(&[
        "admin",
        "--database-url",
        &db,
        "app",
        "create",
        "--org",
        &org_id,
        "gw",
        "--json",
    ]);
    let (app_id, secret) = (
        app["application_id"].as_str().unwrap(),
        app["application_secret"].as_str().unwrap(),
    );
    let service = Service::start(
        &db,
        &[],
        &[("VIGIE_LOG", "trace"), ("VIGIE_LOG_FORMAT", "json")],
    );
    let token_url = format!("{}/v0/oauth2/token", service.url);
    let credentials = format!("{app_id}:{secret}");
    let form = ["-H", "Content-Type: application/x-www-form-urlencoded"];
    let first = curl(
        &[
            &["-u", &credentials],
            &form[..],
            &["-d", "grant_type=client_credentials", &token_url],
        ]
        .concat(),
    );
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();
    let second = curl(
        &[
            &["-u", &credentials],
            &form[..],
            &[
                "-d",
                &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
                &token_url,
            ],
        ]
        .concat(),
    );
    let access = second["access_token"].as_str().unwrap().to_owned();
    let wrong_secret = "vgs_this-wrong-secret-must-not-be-logged";
    curl(
        &[
            &["-u", &format!("{app_id}:{wrong_secret}")],
            &form[..],
            &["-d", "grant_type=client_credentials", &token_url],
        ]
        .concat(),
    );
    let bearer = format!("Authorization: Bearer {access}");
    curl(&[
        "-H",
        &bearer,
        &format!("{}/v0/organisations/{org_id}/projects", service.url),
    ]);
    let introspect = format!("{}/v0/oauth2/introspect", service.url);
    curl(
        &[
            &["-u", &credentials],
            &form[..],
            &["-d", &format!("token={access}"), &introspect],
        ]
        .concat(),
    );
    let (ok, _, stderr) = service.stop();
    assert!(ok);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() > 10, "trace logging produced output: {stderr}");
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    for needle in [
        secret,
        wrong_secret,
        refresh_token.as_str(),
        second["refresh_token"].as_str().unwrap(),
        access.as_str(),
    ] {
        assert!(
            !stderr.contains(needle),
            "a secret or token appears in the logs"
        );
    }
    let signature = access.rsplit('.').next().unwrap();
    assert!(!stderr.contains(signature));
}

/// The NAB corpus folder; it must be there under CI (`CI` set).
fn nab_dir() -> Option<String> {
    let dir = vigie_detect::nab::corpus::repository_corpus_dir();
    assert!(
        dir.is_some() || std::env::var_os("CI").is_none(),
        "CI is set but the NAB corpus is missing"
    );
    Some(dir?.display().to_string())
}

#[test]
fn detect_scores_a_local_csv_without_a_server() {
    let dir = temp_dir("vigie-detect");
    let file = dir.join("series.csv");
    let mut csv = String::from("timestamp,value\n");
    for i in 0..600 {
        let value = if i == 500 {
            90.0
        } else {
            10.0 + f64::from(i % 7) * 0.1
        };
        csv.push_str(&format!(
            "2024-01-01 {:02}:{:02}:00,{value}\n",
            i / 60,
            i % 60
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let (ok, stdout, stderr) = vigie(&["detect", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "timestamp,value,anomaly_score,anomaly");
    assert_eq!(lines.len(), 601);
    let score = |line: &str| line.split(',').nth(2).unwrap().parse::<f64>().unwrap();
    assert!(lines[1..].iter().all(|l| (0.0..=1.0).contains(&score(l))));
    let spike = lines[501];
    assert!(spike.starts_with("2024-01-01T08:20:00.000Z,90,"), "{spike}");
    assert!(
        lines[1..].iter().all(|l| score(l) <= score(spike)),
        "the spike scores highest"
    );
    let (ok, _, stderr) = vigie(&["detect", "/no/such/file.csv"]);
    assert!(!ok && stderr.contains("/no/such/file.csv"), "{stderr}");
    // Several value columns: refused, not silently scored on the first.
    let wide = dir.join("wide.csv");
    std::fs::write(
        &wide,
        "timestamp,flow,pressure\n2024-01-01T00:00:00Z,1,2\n2024-01-01T00:01:00Z,1,2\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = vigie(&["detect", wide.to_str().unwrap()]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("3 columns") && stderr.contains("one series"),
        "{stderr}"
    );
}

#[test]
fn eval_prints_the_three_nab_scores_and_scores_customer_labels() {
    let Some(dir) = nab_dir() else { return };
    let results = vigie_json(&["eval", "nab", &dir, "--json"]);
    let profiles: Vec<&str> = results["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["profile"].as_str().unwrap())
        .collect();
    assert_eq!(
        profiles,
        ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
    );
    for profile in results["profiles"].as_array().unwrap() {
        let score = profile["normalised"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&score), "{profile}");
    }
    // A customer's own file and incident windows, in the documented formats.
    let data = format!("{dir}/data/realKnownCause/nyc_taxi.csv");
    let labels = std::env::temp_dir().join(format!("vigie-labels-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&labels, "start,end\n2014-11-01 19:00:00,2014-11-03 04:00:00\n2015-01-26 00:00:00,2015-01-28 00:00:00\n").unwrap();
    let (ok, stdout, stderr) = vigie(&[
        "eval",
        "--data",
        &data,
        "--labels",
        labels.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("standard") && stdout.contains("optimised"),
        "{stdout}"
    );
}
