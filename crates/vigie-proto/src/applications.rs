//! Wire types of an organisation's API applications, managed through the API by an
//! application with scope `admin` as the console's admins manage them. Secrets are
//! given once, when created or rotated, and never again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An application, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationInfo {
    /// APPLICATION_ID, the OAuth2 `client_id`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The scopes it is granted, space separated.
    pub scope: String,
    /// When it was created.
    pub created: String,
    /// When it was disabled, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

/// A new application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplicationRequest {
    /// Its name (1 to 100 characters).
    pub name: String,
    /// One or more of `data`, `events`, `admin`, space separated.
    pub scope: String,
}

/// A rotation of an application's secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// How long the previous secret keeps working, in seconds (0 to 604800; default
    /// 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u64>,
}

/// An application's new secret: shown once, store it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSecret {
    /// The application.
    #[serde(flatten)]
    pub application: ApplicationInfo,
    /// APPLICATION_SECRET, the OAuth2 `client_secret`.
    pub client_secret: String,
}
