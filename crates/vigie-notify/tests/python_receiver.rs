//! The Python receiver of `docs/webhooks.md`, run as written against messages this
//! crate signs: what it accepts and refuses is what the guide promises. Needs `python3`;
//! skipped (and said so) without it, except under CI.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use vigie_notify::signature::{Secret, sign};

/// The guide's Python code block.
fn guide_python() -> String {
    let guide = include_str!("../../../docs/webhooks.md");
    let start = guide.find("```python\n").expect("a Python block") + "```python\n".len();
    let end = start + guide[start..].find("```").expect("its end");
    guide[start..end].to_owned()
}

/// A received request: the secret shown to its receiver, its headers and body.
type Case = (String, [(String, String); 3], Vec<u8>);

/// Runs the guide's function on each case, one answer each.
fn python_verdicts(cases: &[Case]) -> Option<Vec<bool>> {
    let harness = format!(
        "{}\nimport json, sys\nfor case in json.load(sys.stdin):\n    print(verify_vigie_webhook(case['secret'], case['headers'], bytes(case['body'])))\n",
        guide_python()
    );
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(secret, headers, body)| {
            serde_json::json!({
                "secret": secret,
                "headers": headers.iter().cloned().collect::<std::collections::HashMap<_, _>>(),
                "body": body,
            })
        })
        .collect();
    let child = Command::new("python3")
        .args(["-c", &harness])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if std::env::var_os("CI").is_none() => {
            // Straight to the standard error, which the test runner does not capture.
            let _ = writeln!(std::io::stderr().lock(), "SKIPPED: no python3 ({error})");
            return None;
        }
        Err(error) => panic!("CI is set but python3 cannot run: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the guide's Python failed");
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| line == "True")
            .collect(),
    )
}

#[test]
fn the_guides_python_accepts_what_vigie_signs_and_nothing_else() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (old, new) = (Secret::generate(), Secret::generate());
    let body = br#"{"transition":"opened","status":"firing"}"#.to_vec();
    let case = |secret: &Secret, signers: &[Secret], id: &str, at: i64, sent: &[u8]| {
        let headers = [
            ("webhook-id".to_owned(), id.to_owned()),
            ("webhook-timestamp".to_owned(), at.to_string()),
            ("webhook-signature".to_owned(), sign(signers, id, at, &body)),
        ];
        (secret.expose(), headers, sent.to_vec())
    };
    let cases = vec![
        case(&old, std::slice::from_ref(&old), "msg_1", now, &body),
        // During a rotation both secrets verify.
        case(&old, &[new.clone(), old.clone()], "msg_2", now, &body),
        case(&new, &[new.clone(), old.clone()], "msg_2", now, &body),
        // Another body, another secret, an old timestamp: refused.
        case(&old, std::slice::from_ref(&old), "msg_3", now, b"{}"),
        case(&new, std::slice::from_ref(&old), "msg_4", now, &body),
        case(
            &old,
            std::slice::from_ref(&old),
            "msg_5",
            now - 3_600,
            &body,
        ),
    ];
    let Some(verdicts) = python_verdicts(&cases) else {
        return;
    };
    assert_eq!(verdicts, [true, true, true, false, false, false]);
}
