//! What people do with an anomaly event, for the console and the public API alike:
//! `open → acknowledged → resolved` (and back to open), comments, an assignee, and a
//! verdict (`anomaly`, `not_anomaly`, `neutral`) with a fault code and a note. Every
//! action is kept in the event's history with who took it and when.
//!
//! Events are named by their public id (`ev_…`, as the anomalies and health APIs give
//! it): a series event or an asset event of the project.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use vigie_store::{EventHistoryEntry, EventStatus, ProjectKey, Store};

/// Longest comment, note, fault code or assignee.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// An event's public id: `ev_` and, in base64url, `s.{series}.{start}` for a series
/// event or `a.{asset}.{start}` for an asset event.
pub fn event_id(kind: char, owner: i64, start_us: i64) -> String {
    format!(
        "ev_{}",
        URL_SAFE_NO_PAD.encode(format!("{kind}.{owner}.{start_us}"))
    )
}

/// What an event id names: (`'s'` or `'a'`, owner, start); `None` for anything else.
pub fn parse_event_id(id: &str) -> Option<(char, i64, i64)> {
    let decoded = URL_SAFE_NO_PAD.decode(id.strip_prefix("ev_")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let mut parts = text.splitn(3, '.');
    let kind = match parts.next()? {
        "s" => 's',
        "a" => 'a',
        _ => return None,
    };
    Some((
        kind,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

pub use vigie_proto::events::EventAction as Action;

/// Why an action cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The action carries a value that breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The action does not apply to the event as it stands (acknowledging a resolved
    /// event…); the message says why.
    #[error("{0}")]
    Conflict(String),
    /// The project has no event with this id.
    #[error("no such event in this project")]
    NoSuchEvent,
    /// The store failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<vigie_store::Error> for LifecycleError {
    fn from(error: vigie_store::Error) -> Self {
        LifecycleError::Storage(error.to_string())
    }
}

pub(crate) fn checked(text: Option<String>, what: &str) -> Result<Option<String>, LifecycleError> {
    match text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => Err(LifecycleError::Invalid(format!(
            "the {what} must have at most {MAX_TEXT_CHARS} characters"
        ))),
        Some(t)
            if t.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') =>
        {
            Err(LifecycleError::Invalid(format!(
                "the {what} must not contain control characters"
            )))
        }
        other => Ok(other),
    }
}

/// The status of an event nobody acted on.
fn untouched(now: i64) -> EventStatus {
    EventStatus {
        status: "open".into(),
        assignee: None,
        verdict: None,
        fault_code: None,
        note: None,
        updated_at: now,
    }
}

/// The status after `action` (by `actor` at `now`) and its history entry; pure.
///
/// # Errors
/// [`LifecycleError::Conflict`] for an action that does not apply (acknowledging a
/// resolved event, resolving one twice), [`LifecycleError::Invalid`] for a value that
/// breaks a rule (an unknown verdict, an empty comment…).
pub fn apply(
    current: Option<&EventStatus>,
    action: Action,
    actor: &str,
    now: i64,
) -> Result<(EventStatus, EventHistoryEntry), LifecycleError> {
    let mut status = current.cloned().unwrap_or_else(|| untouched(now));
    let mut entry = EventHistoryEntry {
        actor: actor.to_owned(),
        action: String::new(),
        comment: None,
        verdict: None,
        fault_code: None,
        assignee: None,
        at: now,
    };
    let invalid = |message: &str| Err(LifecycleError::Invalid(message.to_owned()));
    let conflict = |message: &str| Err(LifecycleError::Conflict(message.to_owned()));
    match action {
        Action::Acknowledge { comment } => {
            if status.status != "open" {
                return conflict("only an open event can be acknowledged");
            }
            status.status = "acknowledged".into();
            entry.action = "acknowledge".into();
            entry.comment = checked(comment, "comment")?;
        }
        Action::Resolve { comment } => {
            if status.status == "resolved" {
                return conflict("the event is resolved already");
            }
            status.status = "resolved".into();
            entry.action = "resolve".into();
            entry.comment = checked(comment, "comment")?;
        }
        Action::Reopen { comment } => {
            if status.status == "open" {
                return conflict("the event is open already");
            }
            status.status = "open".into();
            entry.action = "reopen".into();
            entry.comment = checked(comment, "comment")?;
        }
        Action::Comment { comment } => {
            let Some(comment) = checked(Some(comment), "comment")? else {
                return invalid("a comment must not be empty");
            };
            entry.action = "comment".into();
            entry.comment = Some(comment);
        }
        Action::Assign { assignee } => {
            let assignee = checked(Some(assignee), "assignee")?;
            entry.action = "assign".into();
            entry.assignee.clone_from(&assignee);
            status.assignee = assignee;
        }
        Action::Verdict {
            verdict,
            fault_code,
            note,
        } => {
            if !["anomaly", "not_anomaly", "neutral"].contains(&verdict.as_str()) {
                return invalid("the verdict must be anomaly, not_anomaly or neutral");
            }
            let (fault_code, note) = (checked(fault_code, "fault code")?, checked(note, "note")?);
            entry.action = "verdict".into();
            entry.verdict = Some(verdict.clone());
            entry.fault_code.clone_from(&fault_code);
            entry.comment.clone_from(&note);
            status.verdict = Some(verdict);
            status.fault_code = fault_code;
            status.note = note;
        }
    }
    status.updated_at = now;
    Ok((status, entry))
}

/// An event's status and history.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Its status (`open` with nothing else when nobody acted on it).
    pub status: EventStatus,
    /// The actions taken, oldest first.
    pub history: Vec<EventHistoryEntry>,
}

/// Checks that the project has the event.
async fn existing(store: &dyn Store, project: &ProjectKey, id: &str) -> Result<(), LifecycleError> {
    let found = match parse_event_id(id) {
        Some(('s', series, start)) => store.series_event_exists(project, series, start).await?,
        Some((_, asset, start)) => store.asset_event_exists(project, asset, start).await?,
        None => false,
    };
    if found {
        Ok(())
    } else {
        Err(LifecycleError::NoSuchEvent)
    }
}

/// An event's status and history.
///
/// # Errors
/// [`LifecycleError::NoSuchEvent`]; storage errors.
pub async fn record(
    store: &dyn Store,
    project: &ProjectKey,
    id: &str,
    now: i64,
) -> Result<EventRecord, LifecycleError> {
    existing(store, project, id).await?;
    let status = store.event_status(project, id).await?;
    let history = store.event_history(project, id).await?;
    Ok(EventRecord {
        status: status.unwrap_or_else(|| untouched(now)),
        history,
    })
}

/// Takes an action on an event and returns its record after it.
///
/// # Errors
/// [`LifecycleError`].
pub async fn act(
    store: &dyn Store,
    project: &ProjectKey,
    id: &str,
    actor: &str,
    action: Action,
    now: i64,
) -> Result<EventRecord, LifecycleError> {
    existing(store, project, id).await?;
    let current = store.event_status(project, id).await?;
    let (status, entry) = apply(current.as_ref(), action, actor, now)?;
    store
        .record_event_action(project, id, &status, &entry)
        .await?;
    record(store, project, id, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_nothing_else_parses() {
        assert_eq!(parse_event_id(&event_id('s', 42, -7)), Some(('s', 42, -7)));
        assert_eq!(
            parse_event_id(&event_id('a', 1, 1_700_000_000_000_000)),
            Some(('a', 1, 1_700_000_000_000_000))
        );
        for bad in [
            "",
            "ev_",
            "ev_!!",
            "s.1.2",
            &format!("ev_{}", URL_SAFE_NO_PAD.encode("x.1.2")),
        ] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_lifecycle_follows_its_rules() {
        let ack = Action::Acknowledge {
            comment: Some("  on it ".into()),
        };
        let (acked, entry) = apply(None, ack.clone(), "ada", 10).unwrap();
        assert_eq!(
            (acked.status.as_str(), entry.comment.as_deref()),
            ("acknowledged", Some("on it"))
        );
        assert!(
            apply(Some(&acked), ack, "ada", 11).is_err(),
            "acknowledged twice"
        );
        let (resolved, _) =
            apply(Some(&acked), Action::Resolve { comment: None }, "ada", 12).unwrap();
        assert_eq!(resolved.status, "resolved");
        assert!(
            apply(
                Some(&resolved),
                Action::Resolve { comment: None },
                "ada",
                13
            )
            .is_err()
        );
        let (reopened, _) =
            apply(Some(&resolved), Action::Reopen { comment: None }, "bob", 14).unwrap();
        assert_eq!(reopened.status, "open");
        assert!(apply(None, Action::Reopen { comment: None }, "bob", 14).is_err());

        let verdict = Action::Verdict {
            verdict: "not_anomaly".into(),
            fault_code: Some("PM-12".into()),
            note: Some("planned test".into()),
        };
        let (judged, entry) = apply(Some(&reopened), verdict, "bob", 15).unwrap();
        assert_eq!(
            (
                judged.verdict.as_deref(),
                judged.fault_code.as_deref(),
                judged.status.as_str()
            ),
            (Some("not_anomaly"), Some("PM-12"), "open")
        );
        assert_eq!(entry.action, "verdict");
        let wrong = Action::Verdict {
            verdict: "maybe".into(),
            fault_code: None,
            note: None,
        };
        assert!(apply(None, wrong, "bob", 16).is_err());
        assert!(
            apply(
                None,
                Action::Comment {
                    comment: "   ".into()
                },
                "bob",
                16
            )
            .is_err()
        );
        assert!(
            apply(
                None,
                Action::Comment {
                    comment: "x".repeat(MAX_TEXT_CHARS + 1)
                },
                "bob",
                16
            )
            .is_err()
        );
        assert!(
            apply(
                None,
                Action::Comment {
                    comment: "bell\u{7}".into()
                },
                "bob",
                16
            )
            .is_err()
        );
        let (assigned, _) = apply(
            None,
            Action::Assign {
                assignee: "night shift".into(),
            },
            "bob",
            17,
        )
        .unwrap();
        assert_eq!(assigned.assignee.as_deref(), Some("night shift"));
    }
}
