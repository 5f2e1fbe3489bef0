//! The OpenAPI document: generated from the handlers, served at `/openapi.json` and
//! at `/v0/openAPI` (where the public product serves its API description), and
//! checked against the live server by schemathesis (from PyPI): no 5xx, and every
//! response conforms to the document (status, content type, headers, schema).

use serde_json::Value;

use crate::helpers::{Backend, Options, python_with, spawn};

const SCHEMATHESIS: &[&str] = &["schemathesis==4.32.5"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_endpoint_is_documented() {
    let Some(app) = spawn(Backend::Sqlite, Options::default()).await else {
        return;
    };
    let document: Value = app
        .get_json(format!("{}/openapi.json", app.url), None)
        .await;
    let mut paths: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/.well-known/jwks.json",
            "/.well-known/oauth-authorization-server",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/v0/oauth2/introspect",
            "/v0/oauth2/revoke",
            "/v0/oauth2/token",
            "/v0/oauth2token",
            "/v0/openAPI",
            "/v0/organisations/{org_id}/annotations/{project}",
            "/v0/organisations/{org_id}/annotations/{project}/{annotation_id}",
            "/v0/organisations/{org_id}/anomalies/{project}",
            "/v0/organisations/{org_id}/applications",
            "/v0/organisations/{org_id}/applications/{app_id}/disable",
            "/v0/organisations/{org_id}/applications/{app_id}/rotate",
            "/v0/organisations/{org_id}/assets/{project}",
            "/v0/organisations/{org_id}/assets/{project}/{asset}",
            "/v0/organisations/{org_id}/assets/{project}/{asset}/relearn",
            "/v0/organisations/{org_id}/data/{project}",
            "/v0/organisations/{org_id}/data/{project}/series",
            "/v0/organisations/{org_id}/events/{project}/{event_id}",
            "/v0/organisations/{org_id}/events/{project}/{event_id}/actions",
            "/v0/organisations/{org_id}/health/{project}",
            "/v0/organisations/{org_id}/health/{project}/events",
            "/v0/organisations/{org_id}/projects",
        ]
    );
    assert_eq!(
        document,
        serde_json::to_value(vigie_server::openapi()).unwrap(),
        "served as generated"
    );
    assert_eq!(
        app.get_json(format!("{}/v0/openAPI", app.url), None).await,
        document,
        "the public path serves the same document"
    );
    let push = &document["paths"]["/v0/organisations/{org_id}/data/{project}"]["post"];
    assert!(push["responses"]["200"].is_null(), "a push answers 201");
    for status in ["201", "400", "401", "403", "404", "413", "415", "422"] {
        assert!(
            push["responses"][status].is_object(),
            "push documents {status}"
        );
    }
    let token = &document["paths"]["/v0/oauth2/token"]["post"]["requestBody"]["content"];
    for media_type in ["application/x-www-form-urlencoded", "application/json"] {
        assert!(
            token[media_type].is_object(),
            "the token endpoint documents {media_type}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_spec_violation() {
    let Some(python) = python_with("schemathesis", SCHEMATHESIS) else {
        return;
    };
    let Some(app) = spawn(Backend::Sqlite, Options::default()).await else {
        return;
    };
    let token = app.new_token().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("schemathesis-{}.toml", uuid::Uuid::new_v4()));
    // Real identifiers, so the data operations reach their logic instead of a 404.
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.org_id\" = \"{}\"\n\"path.project\" = \"pressline\"\n",
            app.org_id
        ),
    )
    .unwrap();
    let schemathesis = python.parent().unwrap().join("schemathesis");
    let output = tokio::process::Command::new(schemathesis)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", app.url)])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
        ])
        // One worker: with several, hypothesis parses lambdas' source from threads at
        // once and CPython 3.11 sometimes fails in `ast.parse` ("AST constructor
        // recursion depth mismatch"), a flake of the tool, not of the server.
        .args(["--max-examples", "40", "--seed", "20261128", "--workers", "1", "--request-timeout", "30"])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
