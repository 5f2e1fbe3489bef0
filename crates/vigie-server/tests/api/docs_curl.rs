//! The two curl commands of the public documentation, run verbatim (joined onto one
//! line, host and placeholders replaced), with every field of the answers checked.

use std::process::Command;

use chrono::DateTime;
use serde_json::Value;

use crate::helpers::{Backend, Options, form_encode, jwt_parts, on_both_backends, spawn};

const DOCS_HOST: &str = "https://api.diagrams-technologies.com";
const DOCS_TOKEN: &str = "curl -X POST 'https://api.diagrams-technologies.com/v0/oauth2token' -u\"APPLICATION_ID:APPLICATION_SECRET\" -H'Content-Type: application/x-www-form-urlencoded' --data-binary 'grant_type=client_credentials'";
const DOCS_REFRESH: &str = "curl -X POST 'https://api.diagrams-technologies.com/v0/oauth2/token' -H'Content-Type: application/x-www-form-urlencoded' --data-binary 'grant_type=refresh_token&scope=data&refresh_token=refresh_token_encoded' -u\"APPLICATION_ID:APPLICATION_SECRET\"";

/// When the original page is at hand (beside the repository, as in CI), the commands
/// above must be exactly its code blocks joined onto one line.
#[test]
fn commands_are_the_documented_ones() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seeds/authentication-guide.md"
    );
    let Ok(page) = std::fs::read_to_string(seed) else {
        vigie_store::testing::report_skipped(&format!("{seed} is not present"));
        return;
    };
    let blocks: Vec<String> = page
        .split("```bash")
        .skip(1)
        .map(|block| {
            block
                .split("```")
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(blocks, [DOCS_TOKEN, DOCS_REFRESH]);
}

fn run_curl(command: &str) -> Value {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn check_token_response(response: &Value) {
    let object = response.as_object().unwrap();
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "access_token",
            "expiration_date",
            "expires_in",
            "refresh_token",
            "refresh_token_expiration_date",
            "refresh_token_expires_in",
            "token_type"
        ]
    );
    assert_eq!(response["token_type"], "bearer");
    assert_eq!(response["expires_in"], 172_800);
    assert_eq!(response["refresh_token_expires_in"], 31_557_600);
    let date = |field: &str| {
        let text = response[field].as_str().unwrap();
        assert_eq!(
            text.len(),
            24,
            "{field} is YYYY-MM-DDTHH:MM:SS.mmmZ: {text}"
        );
        assert!(text.ends_with('Z'));
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let expires = date("expiration_date");
    assert!(
        (expires - now - 172_800_000).abs() < 5_000,
        "expiration_date is now + expires_in"
    );
    let refresh_expires = date("refresh_token_expiration_date");
    assert!((refresh_expires - now - 31_557_600_000).abs() < 5_000);

    let (header, claims) = jwt_parts(response["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        expires.div_euclid(1000),
        "JWT exp agrees with expiration_date"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        172_800
    );
    let refresh = response["refresh_token"].as_str().unwrap();
    assert!(
        refresh.len() >= 43 && !refresh.contains('.'),
        "refresh tokens are opaque"
    );
}

async fn docs_commands_work_verbatim(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let with_credentials = |command: &str| {
        command
            .replace(DOCS_HOST, &app.url)
            .replace("APPLICATION_ID", &app.app_id)
            .replace("APPLICATION_SECRET", &app.secret)
    };
    let first = run_curl(&with_credentials(DOCS_TOKEN));
    check_token_response(&first);
    let (_, claims) = jwt_parts(first["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], app.app_id);
    assert_eq!(claims["client_id"], app.app_id);
    assert_eq!(claims["org"], app.org_id);
    assert_eq!(claims["scope"], "data");
    assert_eq!(claims["aud"], "vigie-api");
    assert_eq!(claims["iss"], app.url);
    assert!(claims["jti"].is_string());

    let refresh = with_credentials(DOCS_REFRESH).replace(
        "refresh_token_encoded",
        &form_encode(first["refresh_token"].as_str().unwrap()),
    );
    let second = run_curl(&refresh);
    check_token_response(&second);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "refresh tokens rotate"
    );
    assert_ne!(second["access_token"], first["access_token"]);
    let projects = app
        .projects(&app.org_id, second["access_token"].as_str().unwrap())
        .await;
    assert_eq!(projects.status(), 200);
}

on_both_backends!(docs_commands_work_verbatim);
