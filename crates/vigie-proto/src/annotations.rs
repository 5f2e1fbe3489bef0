//! Wire types of annotations and interventions: a time range on a project, a sensor, a
//! series or an asset, with a kind and a note. A planned stop silences the events
//! that would start on what it covers while it lasts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an annotation records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKind {
    /// Maintenance work.
    Maintenance,
    /// A planned stop: no event starts on what it covers while it lasts.
    PlannedStop,
    /// A change of the process (recipe, set point, part).
    ProcessChange,
    /// Anything else worth knowing.
    Note,
}

/// Every kind, in the order forms list them.
pub const ANNOTATION_KINDS: [AnnotationKind; 4] = [
    AnnotationKind::Maintenance,
    AnnotationKind::PlannedStop,
    AnnotationKind::ProcessChange,
    AnnotationKind::Note,
];

impl AnnotationKind {
    /// The kind's name, as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Maintenance => "maintenance",
            Self::PlannedStop => "planned_stop",
            Self::ProcessChange => "process_change",
            Self::Note => "note",
        }
    }

    /// The kind of a name; `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        ANNOTATION_KINDS.into_iter().find(|k| k.as_str() == name)
    }
}

/// A new annotation. It covers the whole project unless it names a sensor (and maybe
/// one of its variables) or an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAnnotation {
    /// Start of the range (ISO 8601 date and time).
    pub start: String,
    /// End of the range, after the start.
    pub end: String,
    /// What it records.
    pub kind: AnnotationKind,
    /// What happened (up to 2,000 characters).
    #[serde(default)]
    pub note: String,
    /// The sensor it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<String>,
    /// The sensor's variable it covers (with `sensorId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    /// The asset it covers (not with `sensorId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
}

/// An annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// Its id.
    pub id: String,
    /// Start of the range.
    pub start: String,
    /// End of the range.
    pub end: String,
    /// What it records.
    pub kind: AnnotationKind,
    /// What happened.
    pub note: String,
    /// The sensor it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<String>,
    /// The variable it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    /// The asset it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Who wrote it: a user's e-mail address or an application id.
    pub author: String,
    /// When it was written.
    pub created: String,
}

/// A project's annotations over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnnotationsPage {
    /// By start.
    pub annotations: Vec<Annotation>,
}
