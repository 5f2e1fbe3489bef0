//! Wire types of what people do with anomaly events: the actions, and an event's
//! status with its history.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An action on an anomaly event (series or asset event), tagged by `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventAction {
    /// Someone is on it (an open event only).
    Acknowledge {
        /// Why, what next.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// It is over (any event not resolved yet).
    Resolve {
        /// How it ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// It is not over after all (an acknowledged or resolved event).
    Reopen {
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A comment only.
    Comment {
        /// The comment (1 to 2,000 characters).
        comment: String,
    },
    /// Who is on it (empty to unassign).
    Assign {
        /// Their name or e-mail address.
        assignee: String,
    },
    /// Was it an anomaly?
    Verdict {
        /// `anomaly`, `not_anomaly` or `neutral`.
        verdict: String,
        /// The fault, in the plant's own codes.
        #[serde(default, rename = "faultCode", skip_serializing_if = "Option::is_none")]
        fault_code: Option<String>,
        /// A note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// An anomaly event's status and the actions taken on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// The event's id.
    pub id: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Who is on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// `anomaly`, `not_anomaly` or `neutral`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The fault code given with the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<String>,
    /// The note given with the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The actions taken, oldest first.
    pub history: Vec<EventHistoryItem>,
}

/// One action taken on an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventHistoryItem {
    /// When.
    pub date: String,
    /// Who: a console user's e-mail address, or an application id.
    pub actor: String,
    /// `acknowledge`, `resolve`, `reopen`, `comment`, `assign` or `verdict`.
    pub action: String,
    /// The comment, or the verdict's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The verdict given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The fault code given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<String>,
    /// The assignee given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}
