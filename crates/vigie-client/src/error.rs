//! Typed errors that carry what the server said: its OAuth2 error or its problem+json.

use vigie_proto::{OAuthErrorBody, PROBLEM_JSON, Problem};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network failed (after the retries the policy allows).
    #[error("network error: {0}")]
    Http(#[source] reqwest::Error),
    /// The token endpoint refused (RFC 6749 §5.2 error).
    #[error("token request refused ({status}): {} {}", body.error.as_str(), body.error_description.as_deref().unwrap_or(""))]
    OAuth {
        /// HTTP status.
        status: u16,
        /// The server's OAuth2 error.
        body: OAuthErrorBody,
    },
    /// The API refused (problem+json).
    #[error("request refused ({status}): {}{}", problem.detail.as_deref().unwrap_or(&problem.title), reading_errors(problem))]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's problem details.
        problem: Problem,
    },
    /// An answer that is neither success nor a documented error.
    #[error("unexpected answer ({status}): {body}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// The readings could not be encoded as JSON.
    #[error("encoding the request: {0}")]
    Encode(#[source] serde_json::Error),
}

/// The first per-reading errors of a 422 problem (`; reading 3 date: must be …`), so a
/// refused batch says which reading to fix and why.
fn reading_errors(problem: &Problem) -> String {
    const SHOWN: usize = 3;
    let Some(errors) = problem.extensions.get("errors").and_then(|e| e.as_array()) else {
        return String::new();
    };
    let mut text = String::new();
    for error in errors.iter().take(SHOWN) {
        let (Some(index), Some(field), Some(reason)) = (
            error["index"].as_u64(),
            error["field"].as_str(),
            error["reason"].as_str(),
        ) else {
            continue;
        };
        text.push_str(&format!("; reading {index} {field}: {reason}"));
    }
    if errors.len() > SHOWN {
        text.push_str("; …");
    }
    text
}

impl Error {
    /// The HTTP status of a refusal, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Api { status, .. }
            | Self::Unexpected { status, .. } => Some(*status),
            Self::Http(_) | Self::Encode(_) => None,
        }
    }
}

/// Decodes a success body, or turns the answer into the matching [`Error`].
pub(crate) async fn json_or_problem<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, Error> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    let bytes = response.bytes().await.map_err(Error::Http)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| Error::Unexpected {
            status: status.as_u16(),
            body: format!("{e}: {}", String::from_utf8_lossy(&bytes)),
        });
    }
    let status = status.as_u16();
    if is_problem && let Ok(problem) = serde_json::from_slice::<Problem>(&bytes) {
        return Err(Error::Api { status, problem });
    }
    if let Ok(body) = serde_json::from_slice::<OAuthErrorBody>(&bytes) {
        return Err(Error::OAuth { status, body });
    }
    Err(Error::Unexpected {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}
