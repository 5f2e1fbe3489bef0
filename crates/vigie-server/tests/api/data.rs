//! The data API over HTTP: the documented push, validation answers, retries and
//! corrections, gzip, reading back, and tenant isolation.

use std::io::Write;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{Backend, Options, TestApp, assert_problem, on_both_backends, spawn};

const DOCS_READING: &str = r#"[{"sensorId":"GDPD-DEB_MASS1.PV","valueName":"x","date":"2020-01-01T08:03:51.000Z","value":19.9,"precision":100}]"#;

impl TestApp {
    async fn push(&self, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.data_url(&self.org_id, "pressline"))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn read(&self, token: &str, query: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}?{query}",
                self.data_url(&self.org_id, "pressline")
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn reading(sensor: &str, second: u32, value: f64) -> Value {
    json!({"sensorId": sensor, "valueName": "x", "date": format!("2024-03-01T00:00:{second:02}.000Z"), "value": value})
}

async fn the_documented_push_is_read_back_intact(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let command = format!(
        "curl -s -X POST '{}' -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' --data-binary '{DOCS_READING}'",
        app.data_url(&app.org_id, "pressline")
    );
    let output = Command::new("sh")
        .args(["-c", &format!("{command} -w '\n%{{http_code}}'")])
        .output()
        .unwrap();
    let output = String::from_utf8(output.stdout).unwrap();
    let (body, status) = output.rsplit_once('\n').unwrap();
    assert_eq!(status, "201", "connectors count anything else as a failure");
    let answer: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        answer,
        json!({"received": 1, "new": 1, "unchanged": 0, "replaced": 0})
    );

    let page: Value = app.read(&token, "").await.json().await.unwrap();
    let sent: Value = serde_json::from_str(DOCS_READING).unwrap();
    let read = &page["readings"][0];
    for field in ["sensorId", "valueName", "date"] {
        assert_eq!(read[field], sent[0][field], "{field}");
    }
    assert_eq!(read["value"].as_f64(), Some(19.9));
    assert_eq!(read["precision"], json!(100), "an integer, as sent");
    assert!(page.get("nextCursor").is_none());

    let series: Value = app
        .get_json(
            format!("{}/series", app.data_url(&app.org_id, "pressline")),
            Some(&token),
        )
        .await;
    assert_eq!(
        series,
        json!({"series": [{"sensorId": "GDPD-DEB_MASS1.PV", "valueName": "x", "count": 1,
                "firstDate": "2020-01-01T08:03:51.000Z", "lastDate": "2020-01-01T08:03:51.000Z",
                "labels": []}]})
    );
}

async fn resends_are_harmless_and_corrections_replace(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let batch = json!([
        reading("s", 1, 1.0),
        reading("s", 2, 2.0),
        reading("t", 1, 3.0)
    ]);
    let first: Value = app
        .push(&token, batch.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        first,
        json!({"received": 3, "new": 3, "unchanged": 0, "replaced": 0})
    );
    let again: Value = app
        .push(&token, batch.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again,
        json!({"received": 3, "new": 0, "unchanged": 3, "replaced": 0})
    );
    let correction = json!([reading("s", 2, 2.5)]);
    let corrected: Value = app
        .push(&token, correction.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        corrected,
        json!({"received": 1, "new": 0, "unchanged": 0, "replaced": 1})
    );
    let page: Value = app.read(&token, "sensorId=s").await.json().await.unwrap();
    let values: Vec<f64> = page["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [1.0, 2.5]);
}

async fn gzip_bodies_are_accepted(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let readings: Vec<Value> = (0..60).map(|s| reading("gz", s, f64::from(s))).collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(Value::from(readings).to_string().as_bytes())
        .unwrap();
    let response = app
        .http
        .post(app.data_url(&app.org_id, "pressline"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>().await.unwrap()["new"], 60);
}

async fn bad_bodies_get_precise_errors_and_store_nothing(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let mixed = json!([reading("ok", 1, 1.0), {"sensorId": "", "date": "nope", "value": "1"}, reading("ok", 2, 2.0)]);
    let response = app.push(&token, mixed.to_string()).await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["invalidReadings"], 1);
    assert_eq!(problem["totalErrors"], 3);
    let fields: Vec<(u64, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, [(1, "sensorId"), (1, "date"), (1, "value")]);

    let too_many = format!(
        "[{}]",
        vec![reading("s", 1, 1.0).to_string(); 100_001].join(",")
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed",
            b"[{\"sensorId\":".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "not an array",
            br#"{"sensorId":"s"}"#.to_vec(),
            400,
            "array",
        ),
        ("empty", b"[]".to_vec(), 400, "empty"),
        ("too many", too_many.into_bytes(), 413, "at most 100000"),
        (
            "oversized",
            vec![b' '; 32 * 1024 * 1024 + 1],
            413,
            "exceeds",
        ),
    ];
    for (name, body, status, mentions) in cases {
        let problem = assert_problem(app.push(&token, body).await, status).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(mentions),
            "{name}: {problem}"
        );
    }
    let url = app.data_url(&app.org_id, "pressline");
    let form = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "text/plain")
        .body(DOCS_READING)
        .send()
        .await
        .unwrap();
    assert_problem(form, 415).await;
    let brotli = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "br")
        .body(DOCS_READING)
        .send()
        .await
        .unwrap();
    assert_problem(brotli, 415).await;
    let corrupt = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body("not gzip")
        .send()
        .await
        .unwrap();
    assert_problem(corrupt, 400).await;

    let page: Value = app.read(&token, "").await.json().await.unwrap();
    assert_eq!(
        page["readings"],
        json!([]),
        "no refused request stored anything"
    );
}

fn labelled(second: u32, labels: Value) -> Value {
    let mut reading = reading("s", second, 1.0);
    reading["labels"] = labels;
    reading
}

async fn labels_and_precision_follow_the_public_docs(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    // (case, reading, field at fault, reason)
    let invalid = [
        (
            "precision above 100",
            json!({"precision": 101}),
            "precision",
            "integer from 0 to 100, not 101",
        ),
        (
            "precision below 0",
            json!({"precision": -1}),
            "precision",
            "not -1",
        ),
        (
            "fractional precision",
            json!({"precision": 99.5}),
            "precision",
            "not 99.5",
        ),
        (
            "precision as text",
            json!({"precision": "100"}),
            "precision",
            "not a string",
        ),
        (
            "no labels",
            json!({"labels": []}),
            "labels",
            "1 to 16 labels, not 0",
        ),
        (
            "17 labels",
            json!({"labels": (0..17).map(|i| format!("l{i}")).collect::<Vec<_>>()}),
            "labels",
            "not 17",
        ),
        (
            "labels as text",
            json!({"labels": "a"}),
            "labels",
            "array of strings",
        ),
        (
            "a number label",
            json!({"labels": ["a", 2]}),
            "labels",
            "label 1 must be a string",
        ),
        (
            "a space",
            json!({"labels": ["line 2"]}),
            "labels",
            "ASCII letters, digits",
        ),
        (
            "a long label",
            json!({"labels": ["l".repeat(65)]}),
            "labels",
            "1 to 64",
        ),
        (
            "an empty label",
            json!({"labels": [""]}),
            "labels",
            "label 0",
        ),
    ];
    for (case, fields, field, reason) in invalid {
        let mut bad = reading("s", 0, 1.0);
        for (name, value) in fields.as_object().unwrap() {
            bad[name] = value.clone();
        }
        let problem = assert_problem(app.push(&token, json!([bad]).to_string()).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{case}: {problem}");
        let said = problem["errors"][0]["reason"].as_str().unwrap();
        assert!(said.contains(reason), "{case}: {said}");
    }

    let batch = json!([
        labelled(1, json!(["line:2", "batch_7", "line:2"])),
        labelled(2, json!(["line:2"])),
        labelled(3, Value::Null),
        {"sensorId": "t", "date": "2024-03-01T00:00:01Z", "value": 5, "precision": 0, "labels": ["A.b-c"]},
    ]);
    assert_eq!(app.push(&token, batch.to_string()).await.status(), 201);
    let labels_read = |query: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let page: Value = app.read(token, query).await.json().await.unwrap();
            page["readings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["sensorId"].as_str().unwrap().to_owned(),
                        r["date"].as_str().unwrap()[17..19].to_owned(),
                        r.get("labels").cloned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let s = |second: &str, labels: Option<Value>| ("s".to_owned(), second.to_owned(), labels);
    assert_eq!(
        labels_read("").await,
        [
            s("01", Some(json!(["batch_7", "line:2"]))),
            s("02", Some(json!(["line:2"]))),
            s("03", None),
            ("t".to_owned(), "01".to_owned(), Some(json!(["A.b-c"]))),
        ],
        "a set, read back sorted; no field without labels"
    );
    assert_eq!(
        labels_read("label=line:2").await,
        [
            s("01", Some(json!(["batch_7", "line:2"]))),
            s("02", Some(json!(["line:2"])))
        ]
    );
    assert_eq!(labels_read("label=batch_7&sensorId=s").await.len(), 1);
    assert_eq!(labels_read("label=line").await, [], "whole labels only");
    let problem = assert_problem(app.read(&token, "label=a%20b").await, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("label"),
        "{problem}"
    );

    // A resend with other labels is a correction; without labels it clears them.
    let resend = json!([
        labelled(1, json!(["checked"])),
        reading("s", 2, 1.0),
        labelled(3, Value::Null)
    ]);
    let answer: Value = app
        .push(&token, resend.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"received": 3, "new": 0, "unchanged": 1, "replaced": 2})
    );
    assert_eq!(
        labels_read("sensorId=s").await,
        [
            s("01", Some(json!(["checked"]))),
            s("02", None),
            s("03", None)
        ]
    );
    let series = app
        .get_json(
            format!("{}/series", app.data_url(&app.org_id, "pressline")),
            Some(&token),
        )
        .await;
    assert_eq!(
        series["series"][0]["labels"],
        json!(["batch_7", "checked", "line:2"]),
        "every label seen"
    );
    assert_eq!(series["series"][1]["labels"], json!(["A.b-c"]));
    let page: Value = app.read(&token, "sensorId=t").await.json().await.unwrap();
    assert_eq!(page["readings"][0]["precision"], json!(0));
}

async fn projects_created_before_the_code_rule_keep_working(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    // Stored directly, as an earlier version's `admin project create` could.
    app.store
        .create_project(&app.org_id, "press-line.v1", 1)
        .await
        .unwrap();
    let token = app.access_token().await;
    let url = app.data_url(&app.org_id, "press-line.v1");
    let pushed = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(DOCS_READING)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);
    let page = app.get_json(&url, Some(&token)).await;
    assert_eq!(page["readings"][0]["value"], json!(19.9));
}

async fn reading_back_pages_and_filters(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let batch: Vec<Value> = (0..30)
        .flat_map(|s| [reading("a", s, f64::from(s)), reading("b", s, 0.0)])
        .collect();
    assert_eq!(
        app.push(&token, Value::from(batch).to_string())
            .await
            .status(),
        201
    );
    let mut cursor = String::new();
    let mut seen = 0;
    loop {
        let page: Value = app
            .read(&token, &format!("limit=7{cursor}"))
            .await
            .json()
            .await
            .unwrap();
        seen += page["readings"].as_array().unwrap().len();
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, 60);
    let window: Value = app
        .read(
            &token,
            "sensorId=a&valueName=x&from=2024-03-01T00:00:10Z&to=2024-03-01T02:00:20%2B02:00",
        )
        .await
        .json()
        .await
        .unwrap();
    let dates: Vec<&str> = window["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 10);
    assert_eq!(dates[0], "2024-03-01T00:00:10.000Z");
    for (query, mentions) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("from=yesterday", "from"),
        ("cursor=%%%", "cursor"),
        ("sensorId=a&sensorId=b", "repeated"),
    ] {
        let problem = assert_problem(app.read(&token, query).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(mentions),
            "{query}: {problem}"
        );
    }
}

async fn tenants_cannot_read_or_write_each_other(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let acme_token = app.access_token().await;
    assert_eq!(app.push(&acme_token, DOCS_READING).await.status(), 201);

    // Globex has a project with the same code, and its own application.
    let globex = app.store.create_organisation("globex", 1).await.unwrap();
    app.store
        .create_project(&globex.id, "pressline", 2)
        .await
        .unwrap();
    let (globex_app, globex_secret) = app.create_app(&globex.id, "data").await;
    app.wait_for_reload().await;
    let response = app
        .token_as(&globex_app, &globex_secret, "grant_type=client_credentials")
        .await;
    let globex_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let acme_project = app.data_url(&app.org_id, "pressline");
    let missing_project = app.data_url(&app.org_id, "no-such-project");
    let post = |url: String, token: String| {
        let request = app
            .http
            .post(url)
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(DOCS_READING);
        async move { request.send().await.unwrap() }
    };
    let foreign_write =
        assert_problem(post(acme_project.clone(), globex_token.clone()).await, 404).await;
    let foreign_read = assert_problem(
        app.http
            .get(&acme_project)
            .bearer_auth(&globex_token)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let missing_write =
        assert_problem(post(missing_project.clone(), acme_token.clone()).await, 404).await;
    let missing_read = assert_problem(
        app.http
            .get(&missing_project)
            .bearer_auth(&acme_token)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(
        foreign_write, missing_write,
        "another tenant's project looks exactly like a missing one"
    );
    assert_eq!(foreign_read, missing_read);

    let globex_page: Value = app
        .get_json(app.data_url(&globex.id, "pressline"), Some(&globex_token))
        .await;
    assert_eq!(
        globex_page["readings"],
        json!([]),
        "same code, other tenant, no data"
    );
    let no_token = app
        .http
        .post(&acme_project)
        .header("Content-Type", "application/json")
        .body(DOCS_READING)
        .send()
        .await
        .unwrap();
    assert_problem(no_token, 401).await;
}

on_both_backends!(
    the_documented_push_is_read_back_intact,
    resends_are_harmless_and_corrections_replace,
    gzip_bodies_are_accepted,
    bad_bodies_get_precise_errors_and_store_nothing,
    reading_back_pages_and_filters,
    labels_and_precision_follow_the_public_docs,
    projects_created_before_the_code_rule_keep_working,
    tenants_cannot_read_or_write_each_other,
);
