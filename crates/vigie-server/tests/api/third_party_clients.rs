//! Real third-party clients: Python's requests-oauthlib obtains and renews tokens
//! unmodified, and PyJWT verifies them against the JWKS and refuses `HS256` and `none`
//! forgeries, as our server does.

use serde_json::Value;

use crate::helpers::{Backend, Options, python_with, spawn};

const PACKAGES: &[&str] = &["requests-oauthlib==2.0.0", "PyJWT[crypto]==2.10.1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_oauthlib_and_pyjwt_work_unmodified() {
    let Some(python) = python_with("oauth-clients", PACKAGES) else {
        return;
    };
    let Some(app) = spawn(Backend::Sqlite, Options::default()).await else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/third_party_client.py"
    );
    let output = tokio::process::Command::new(python)
        .args([script, &app.url, &app.app_id, &app.secret, &app.org_id])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(found["fetched_expires_in"], 172_800);
    assert_eq!(found["renewed_refresh_token_differs"], true);
    assert_eq!(found["api_status_with_session"], 200);
    assert_eq!(found["verified_claims"]["client_id"], app.app_id.as_str());
    assert_eq!(found["verified_claims"]["org"], app.org_id.as_str());
    assert_eq!(found["header"]["alg"], "EdDSA");
    assert_eq!(found["header"]["typ"], "at+jwt");
    for forgery in ["HS256", "none"] {
        assert_eq!(found[format!("pyjwt_rejects_{forgery}")], true, "{found}");
        assert_eq!(found[format!("server_status_{forgery}")], 401, "{found}");
        assert!(
            found[format!("server_challenge_{forgery}")]
                .as_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
}
