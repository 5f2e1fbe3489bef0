//! Reading a request body within a size limit and a deadline: what every endpoint that
//! takes a body needs, so that a slow or endless upload neither holds the server's
//! memory nor its connections. Each caller turns a [`BodyError`] into its own error
//! shape (RFC 6749 for the token endpoints, problem+json for the rest).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// It is longer than the limit (declared or actual).
    TooLarge,
    /// It did not arrive completely before the deadline.
    TooSlow,
    /// The connection failed while reading it.
    Unreadable,
}

/// Reads a whole body of at most `limit` bytes, refusing it as soon as it is known to
/// be larger (from `Content-Length`, or while reading), and giving up after `deadline`.
///
/// # Errors
/// A [`BodyError`] saying which limit was hit.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            Err(if over_limit {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable
            })
        }
    }
}

/// The media type of a request (`Content-Type` without parameters), lower-cased.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decompresses a gzip body, stopping as soon as the output passes `limit`.
///
/// # Errors
/// [`BodyError::TooLarge`] past the limit, [`BodyError::Unreadable`] for corrupt data.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| BodyError::Unreadable)?;
    if out.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}
