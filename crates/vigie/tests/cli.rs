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

/// Everything an SQLite database holds, as text: its file and its write-ahead log
/// (where recent writes may still be).
fn stored_text(database_url: &str) -> String {
    let file = database_url.trim_start_matches("sqlite://");
    [file.to_owned(), format!("{file}-wal")]
        .iter()
        .filter_map(|file| std::fs::read(file).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
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
    let stored = stored_text(&db);
    assert!(stored.contains(app_id), "the check reads where the data is");
    assert!(!stored.contains(secret), "stored only as a hash");

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

/// Runs `vigie ARGS…` with `input` on standard input; returns (success, stdout, stderr).
fn vigie_with_input(args: &[&str], input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(VIGIE)
        .args(args)
        .env_remove("VIGIE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn operator_creates_the_first_console_admin() {
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
    let create = |email: &str, role: &str, password: &str| {
        vigie_with_input(
            &[
                "admin",
                "--database-url",
                &db,
                "user",
                "create",
                "--org",
                org_id,
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
                "--json",
            ],
            password,
        )
    };
    let password = "correct horse battery staple";
    let (ok, stdout, stderr) = create("Ada@Example.com", "admin", &format!("{password}\n"));
    assert!(ok, "{stderr}");
    let user: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "admin");
    assert!(!stdout.contains(password) && !stderr.contains(password));
    let stored = stored_text(&db);
    assert!(
        !stored.contains(password),
        "stored only as an argon2id hash"
    );
    assert!(stored.contains("$argon2id$v=19$m=19456,t=2,p=1$"));

    // Clear refusals, never echoing the password.
    for (email, role, password, says) in [
        (
            "ada@example.com",
            "admin",
            "another long passphrase",
            "already exists",
        ),
        (
            "bob@example.com",
            "root",
            "another long passphrase",
            "viewer, engineer or admin",
        ),
        (
            "bob@example.com",
            "viewer",
            "short",
            "at least 12 characters",
        ),
        (
            "not-an-address",
            "viewer",
            "another long passphrase",
            "not an e-mail address",
        ),
    ] {
        let (ok, _, stderr) = create(email, role, password);
        assert!(!ok && stderr.contains(says), "{stderr}");
        assert!(!stderr.contains(password), "{stderr}");
    }
    let (ok, text, _) = vigie(&[
        "admin",
        "--database-url",
        &db,
        "user",
        "list",
        "--org",
        org_id,
    ]);
    assert!(
        ok && text.contains("ada@example.com") && text.contains("admin"),
        "{text}"
    );
    // The password must come from standard input.
    let (ok, _, stderr) = vigie(&[
        "admin",
        "--database-url",
        &db,
        "user",
        "create",
        "--org",
        org_id,
        "--email",
        "c@example.com",
    ]);
    assert!(!ok && stderr.contains("--password-stdin"), "{stderr}");
}

#[test]
fn operator_splits_a_project_into_assets() {
    let db = temp_database();
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "--database-url", &db];
        all.extend_from_slice(args);
        vigie(&all)
    };
    let (_, org, _) = admin(&["org", "create", "acme"]);
    let org_id = org.trim().trim_start_matches("ORGANISATION_ID=").to_owned();
    let on = ["--org", org_id.as_str(), "--project", "pressline"];
    let with = |args: &[&'static str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&on);
        admin(&all)
    };
    // No such project: a clear refusal.
    let (ok, _, stderr) = with(&["asset", "create", "motor", "--series", "current"]);
    assert!(!ok && stderr.contains("pressline"), "{stderr}");
    admin(&["project", "create", "--org", &org_id, "pressline"]);
    let (ok, text, stderr) = with(&[
        "asset",
        "create",
        "motor",
        "--series",
        "current",
        "--series",
        "winding:temperature",
        "--sampling-seconds",
        "1",
    ]);
    assert!(ok && text == "ASSET=motor\n", "{text} {stderr}");
    let (ok, _, stderr) = with(&["asset", "create", "motor2", "--series", "current"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = with(&["asset", "create", "default", "--series", "flow"]);
    assert!(!ok && stderr.contains("project's own asset"), "{stderr}");
    let (ok, text, _) = with(&["asset", "list"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("motor") && text.contains("current:none winding:temperature"),
        "{text}"
    );
    assert!(
        text.contains("default") && text.contains("learnt"),
        "{text}"
    );
    let (ok, text, stderr) = with(&[
        "asset",
        "relearn",
        "motor",
        "--from",
        "2026-01-01T00:00:00Z",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let relearn: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(relearn["relearn_from"], "2026-01-01T00:00:00.000Z");
    let (ok, _, stderr) = with(&["asset", "relearn", "pump"]);
    assert!(!ok && stderr.contains("pump"), "{stderr}");
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
}

/// A reproducible standard normal deviate for row `n` of column `k`.
fn gaussian(n: u64, k: u64) -> f64 {
    let uniform = |seed: u64| {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 27;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let seed = n * 8 + k;
    let (u, v) = (uniform(seed * 2), uniform(seed * 2 + 1));
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[test]
fn detect_scores_several_columns_as_one_asset() {
    let dir = temp_dir("vigie-detect-asset");
    let file = dir.join("pump.csv");
    // Three sensors of one pump, one row a minute, tied to a common load; from row 800
    // the current no longer follows the load (every value stays in its range). Row 600
    // has no pressure reading.
    let mut csv = String::from("timestamp,flow,pressure,current\n");
    for i in 0..1_000_u64 {
        let load = gaussian(i, 0);
        let current = if i >= 800 {
            10.0 + gaussian(i, 4)
        } else {
            10.0 + load
        };
        let pressure = if i == 600 {
            String::new()
        } else {
            format!("{:.4}", 4.0 + 0.2 * load + 0.01 * gaussian(i, 2))
        };
        csv.push_str(&format!(
            "2024-01-01T{:02}:{:02}:00Z,{:.4},{pressure},{:.4}\n",
            i / 60,
            i % 60,
            100.0 + 5.0 * load + 0.2 * gaussian(i, 1),
            current + 0.05 * gaussian(i, 3),
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let (ok, stdout, stderr) = vigie(&["detect", file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        ["timestamp", "anomaly_score", "anomaly", "contributors"]
    );
    assert_eq!(lines.len(), 1_001);
    assert_eq!(lines[1][0], "2024-01-01T00:00:00.000Z");
    // Learning: the first 500 rows score 0 and name no one.
    assert!(
        lines[1..=500]
            .iter()
            .all(|l| l[1] == "0.000000" && l[3].is_empty())
    );
    // Normal operation, the row without pressure included: no anomaly.
    assert!(
        lines[501..=800].iter().all(|l| l[2] == "0"),
        "a false alarm"
    );
    // The broken relation: found within a few rows, for as long as it lasts, and the
    // current named first, with its share.
    let flagged = lines[811..].iter().filter(|l| l[2] == "1").count();
    assert_eq!(flagged, 190, "every row from 810 on");
    for line in &lines[811..] {
        let first = line[3].split(';').next().unwrap();
        let (name, share) = first.split_once(':').unwrap();
        assert_eq!(name, "current", "{line:?}");
        assert!(share.parse::<f64>().unwrap() > 0.3, "{line:?}");
    }
    // One value column is still the series detector's.
    let series = dir.join("series.csv");
    std::fs::write(
        &series,
        "timestamp,flow\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,2\n",
    )
    .unwrap();
    let (ok, stdout, _) = vigie(&["detect", series.to_str().unwrap()]);
    assert!(ok && stdout.starts_with("timestamp,value,anomaly_score,anomaly\n"));
    // A row of the wrong width is refused, naming its line.
    let ragged = dir.join("ragged.csv");
    std::fs::write(
        &ragged,
        "timestamp,a,b\n2024-01-01T00:00:00Z,1,2\n2024-01-01T00:01:00Z,1\n",
    )
    .unwrap();
    let (ok, _, stderr) = vigie(&["detect", ragged.to_str().unwrap()]);
    assert!(!ok && stderr.contains("line 3"), "{stderr}");
}

/// The TEP data folder; it must be there under CI (`CI` set).
fn tep_dir() -> Option<String> {
    let dir = vigie_detect::tep::data::repository_data_dir();
    assert!(
        dir.is_some() || std::env::var_os("CI").is_none(),
        "CI is set but the TEP data is missing"
    );
    Some(dir?.display().to_string())
}

#[test]
fn eval_tep_prints_every_fault_beside_the_pca_reference() {
    let Some(dir) = tep_dir() else { return };
    let results = vigie_json(&["eval", "tep", &dir, "--json"]);
    let mean = |key: &str| results[key]["mean_detection_rate"].as_f64().unwrap();
    // Pinned as in `crates/vigie-detect/tests/tep.rs`.
    assert!((mean("asset_model") - 0.9235).abs() < 0.005, "{results}");
    assert!((mean("pca_reference") - 0.8027).abs() < 0.005, "{results}");
    assert!(mean("asset_model_at_threshold") >= 0.75, "{results}");
    for key in ["asset_model", "pca_reference"] {
        let far = results[key]["false_alarm_rate"].as_f64().unwrap();
        assert!((0.045..=0.05).contains(&far), "{key}: {far}");
        let faults = results[key]["faults"].as_array().unwrap();
        assert_eq!(faults.len(), 21);
        let counted = faults.iter().filter(|f| f["counted"] == true).count();
        assert_eq!(counted, 18);
        assert!(faults.iter().all(|f| f["detection_rate"].is_f64()));
        assert!(faults[0]["delay_minutes"].as_f64().unwrap() <= 15.0);
    }
    let strict = results["asset_model_at_threshold"]["false_alarm_rate"]
        .as_f64()
        .unwrap();
    assert!(strict <= 0.001, "{strict}");
    // The table names every fault and the means.
    let (ok, stdout, stderr) = vigie(&["eval", "tep", &dir]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("PCA rate") && stdout.contains("mean") && stdout.contains("FAR"));
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("(not counted)"))
            .count(),
        3
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
