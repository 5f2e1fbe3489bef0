//! Extractors whose rejections are ours: axum's own answer `text/plain`, and every
//! error of this API is `application/problem+json`.

use axum::extract::FromRequestParts;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;

use crate::problem::ApiError;

/// Path parameters, like `axum::extract::Path`, refused as a problem (an id that is
/// not UTF-8 once percent-decoded, for instance).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let reason: String = rejection.body_text().chars().take(200).collect();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the path is not valid: {reason}"),
        )
    }
}
