//! Real third-party clients: Python's requests-oauthlib obtains and renews tokens
//! unmodified, and PyJWT verifies them against the JWKS and refuses `HS256` and `none`
//! forgeries, as our server does. The Python packages come from PyPI into a virtual
//! environment under the target folder; without network this test is skipped, except
//! when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::helpers::{Backend, Options, spawn};

const PACKAGES: &[&str] = &["requests-oauthlib==2.0.0", "PyJWT[crypto]==2.10.1"];

/// The virtual environment's Python, created once per test run.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-oauth-clients");
            let python = venv.join("bin/python");
            let ready = venv.join(".installed");
            if !ready.exists() {
                let created = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .is_ok_and(|s| s.success())
                    && Command::new(&python)
                        .args([
                            "-m",
                            "pip",
                            "install",
                            "--quiet",
                            "--disable-pip-version-check",
                        ])
                        .args(PACKAGES)
                        .status()
                        .is_ok_and(|s| s.success());
                if !created {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "CI is set: the Python OAuth2 clients must install"
                    );
                    eprintln!("skipping: could not install {PACKAGES:?} from PyPI");
                    return None;
                }
                std::fs::write(&ready, PACKAGES.join("\n")).unwrap();
            }
            Some(python)
        })
        .as_deref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_oauthlib_and_pyjwt_work_unmodified() {
    let Some(python) = python() else { return };
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
