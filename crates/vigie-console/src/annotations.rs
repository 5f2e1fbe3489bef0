//! Annotations and interventions, for the console and the public API alike: a time
//! range on the whole project, a sensor, a series or an asset, with a kind
//! (maintenance, planned stop, process change, note) and a note. Each creation and
//! deletion goes in the organisation's audit log. A planned stop silences the events
//! that would start on what it covers (`vigie_pipeline` applies it).

use vigie_proto::annotations::{Annotation as WireAnnotation, AnnotationKind, NewAnnotation};
use vigie_proto::time::Timestamp;
use vigie_store::{Annotation, ProjectKey, Store};

use crate::audit;
use crate::lifecycle::{LifecycleError, checked};

/// Longest sensor id, variable name or asset name an annotation names.
const MAX_NAME_CHARS: usize = 256;

/// Annotations listed at most for one range.
pub const MAX_LISTED: u32 = 1_000;

/// Why an annotation cannot be written or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// A value breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The project has no annotation with this id.
    #[error("no such annotation in this project")]
    NotFound,
    /// The project does not exist.
    #[error("no such ML project")]
    NoSuchProject,
    /// The store failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<vigie_store::Error> for AnnotationError {
    fn from(error: vigie_store::Error) -> Self {
        match error {
            vigie_store::Error::NotFound { .. } => AnnotationError::NoSuchProject,
            other => AnnotationError::Storage(other.to_string()),
        }
    }
}

fn name(value: Option<String>, what: &str) -> Result<Option<String>, AnnotationError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > MAX_NAME_CHARS || v.chars().any(char::is_control) => {
            Err(AnnotationError::Invalid(format!(
                "{what} must have 1 to {MAX_NAME_CHARS} characters and no control characters"
            )))
        }
        other => Ok(other),
    }
}

/// Checks a new annotation and makes it the store's (not yet stored); pure.
///
/// # Errors
/// [`AnnotationError::Invalid`] when a date does not parse, the range is empty, the
/// note is too long, or the annotation names a variable without its sensor or both a
/// sensor and an asset.
pub fn validate(
    new: NewAnnotation,
    id: String,
    author: &str,
    now_ms: i64,
) -> Result<Annotation, AnnotationError> {
    let date = |text: &str, what: &str| {
        Timestamp::parse(text).map_err(|_| {
            AnnotationError::Invalid(format!(
                "{what} must be an ISO 8601 date and time, such as 2024-05-01T06:00:00Z"
            ))
        })
    };
    let start_us = date(&new.start, "start")?.as_micros();
    let end_us = date(&new.end, "end")?.as_micros();
    if end_us <= start_us {
        return Err(AnnotationError::Invalid("end must be after start".into()));
    }
    let note = checked(Some(new.note), "note").map_err(|error| match error {
        LifecycleError::Invalid(message) => AnnotationError::Invalid(message),
        other => AnnotationError::Storage(other.to_string()),
    })?;
    let sensor_id = name(new.sensor_id, "sensorId")?;
    let value_name = name(new.value_name, "valueName")?;
    let asset = name(new.asset, "asset")?;
    if value_name.is_some() && sensor_id.is_none() {
        return Err(AnnotationError::Invalid(
            "valueName needs the sensorId it belongs to".into(),
        ));
    }
    if asset.is_some() && sensor_id.is_some() {
        return Err(AnnotationError::Invalid(
            "an annotation covers a sensor or an asset, not both".into(),
        ));
    }
    Ok(Annotation {
        id,
        sensor_id,
        value_name,
        asset,
        start_us,
        end_us,
        kind: new.kind.as_str().to_owned(),
        note: note.unwrap_or_default(),
        author: author.to_owned(),
        created_at: now_ms,
    })
}

/// Writes a new annotation of `project` by `author` (a user's e-mail address or an
/// application id), and its audit entry.
///
/// # Errors
/// See [`validate`]; [`AnnotationError::NoSuchProject`], [`AnnotationError::Storage`].
pub async fn create(
    store: &dyn Store,
    project: &ProjectKey,
    author: &str,
    new: NewAnnotation,
    now_ms: i64,
) -> Result<Annotation, AnnotationError> {
    let id = format!("an_{}", uuid::Uuid::new_v4().simple());
    let annotation = validate(new, id, author, now_ms)?;
    store.create_annotation(project, &annotation).await?;
    let target = format!("{} {} in {}", annotation.kind, annotation.id, project.code);
    audit(
        store,
        &project.org_id,
        author,
        "annotation.create",
        &target,
        now_ms,
    )
    .await;
    Ok(annotation)
}

/// Deletes an annotation of `project`, and writes the audit entry.
///
/// # Errors
/// [`AnnotationError::NotFound`] when the project has none with this id.
pub async fn delete(
    store: &dyn Store,
    project: &ProjectKey,
    actor: &str,
    id: &str,
    now_ms: i64,
) -> Result<(), AnnotationError> {
    if !store.delete_annotation(project, id).await? {
        return Err(AnnotationError::NotFound);
    }
    let target = format!("{id} in {}", project.code);
    audit(
        store,
        &project.org_id,
        actor,
        "annotation.delete",
        &target,
        now_ms,
    )
    .await;
    Ok(())
}

/// An annotation as the API gives it.
pub fn wire(annotation: &Annotation) -> WireAnnotation {
    WireAnnotation {
        id: annotation.id.clone(),
        start: Timestamp::from_micros(annotation.start_us).to_string(),
        end: Timestamp::from_micros(annotation.end_us).to_string(),
        kind: AnnotationKind::parse(&annotation.kind).unwrap_or(AnnotationKind::Note),
        note: annotation.note.clone(),
        sensor_id: annotation.sensor_id.clone(),
        value_name: annotation.value_name.clone(),
        asset: annotation.asset.clone(),
        author: annotation.author.clone(),
        created: Timestamp::from_millis(annotation.created_at).to_string(),
    }
}

/// What an annotation covers, in words.
pub fn coverage(annotation: &Annotation) -> String {
    match (
        &annotation.sensor_id,
        &annotation.value_name,
        &annotation.asset,
    ) {
        (Some(sensor), Some(value), _) => format!("{sensor} / {value}"),
        (Some(sensor), None, _) => format!("sensor {sensor}"),
        (None, _, Some(asset)) => format!("asset {asset}"),
        (None, _, None) => "the whole project".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(start: &str, end: &str) -> NewAnnotation {
        NewAnnotation {
            start: start.into(),
            end: end.into(),
            kind: AnnotationKind::PlannedStop,
            note: "  yearly overhaul ".into(),
            sensor_id: None,
            value_name: None,
            asset: None,
        }
    }

    fn invalid(new: NewAnnotation) -> String {
        match validate(new, "an_1".into(), "ada", 0) {
            Err(AnnotationError::Invalid(message)) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_annotation_is_trimmed_and_kept_whole() {
        let mut asked = new("2024-05-01T06:00:00Z", "2024-05-01T08:00:00Z");
        asked.sensor_id = Some("press-7".into());
        asked.value_name = Some("force".into());
        let annotation = validate(asked, "an_1".into(), "ada@example.com", 9).unwrap();
        assert_eq!(annotation.note, "yearly overhaul");
        assert_eq!(annotation.kind, "planned_stop");
        assert_eq!(annotation.end_us - annotation.start_us, 7_200_000_000);
        assert_eq!(coverage(&annotation), "press-7 / force");
        let back = wire(&annotation);
        assert_eq!(back.start, "2024-05-01T06:00:00.000Z");
        assert_eq!(back.kind, AnnotationKind::PlannedStop);
    }

    #[test]
    fn bad_ranges_names_and_notes_are_refused_with_the_reason() {
        let ok = ("2024-05-01T06:00:00Z", "2024-05-01T08:00:00Z");
        assert!(invalid(new("yesterday", ok.1)).starts_with("start must be"));
        assert_eq!(invalid(new(ok.1, ok.0)), "end must be after start");
        assert_eq!(invalid(new(ok.0, ok.0)), "end must be after start");
        let mut variable_alone = new(ok.0, ok.1);
        variable_alone.value_name = Some("force".into());
        assert!(invalid(variable_alone).contains("needs the sensorId"));
        let mut both = new(ok.0, ok.1);
        both.sensor_id = Some("press".into());
        both.asset = Some("line".into());
        assert!(invalid(both).contains("not both"));
        let mut long = new(ok.0, ok.1);
        long.note = "x".repeat(2_001);
        assert!(invalid(long).contains("at most 2000"));
        let mut control = new(ok.0, ok.1);
        control.sensor_id = Some("press\u{7}".into());
        assert!(invalid(control).contains("no control characters"));
    }
}
