//! An anomaly event's page: its status, verdict and history, and, for engineers and
//! admins, the forms that acknowledge, resolve, reopen, comment on, assign and judge it
//! (the same actions as the API, through [`crate::lifecycle`]); each is audited.

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;
use vigie_proto::events::EventAction;
use vigie_proto::time::Timestamp;
use vigie_store::ProjectKey;

use crate::lifecycle::{self, EventRecord, LifecycleError};
use crate::session::SignedIn;
use crate::{ConsoleState, internal, pages, record_audit};

/// The event page's routes.
pub(crate) fn routes<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/projects/{code}/events/{id}", get(show).post(act))
}

fn project(signed_in: &SignedIn, code: &str) -> ProjectKey {
    ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code: code.to_owned(),
    }
}

fn failure(signed_in: &SignedIn, error: LifecycleError) -> Response {
    match error {
        LifecycleError::NoSuchEvent => (
            StatusCode::NOT_FOUND,
            pages::not_found(signed_in, "This project has no such event."),
        )
            .into_response(),
        LifecycleError::Storage(cause) => internal(&cause),
        LifecycleError::Invalid(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message("Not done", &message),
        )
            .into_response(),
        LifecycleError::Conflict(message) => {
            (StatusCode::CONFLICT, pages::message("Not done", &message)).into_response()
        }
    }
}

async fn show(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path((code, id)): Path<(String, String)>,
) -> Response {
    let now = state.clock.now_ms();
    match lifecycle::record(&*state.store, &project(&signed_in, &code), &id, now).await {
        Ok(record) => page(&signed_in, &code, &id, &record).into_response(),
        Err(error) => failure(&signed_in, error),
    }
}

/// The event forms: one `action` and its fields.
#[derive(Deserialize)]
struct ActionForm {
    action: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    fault_code: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    csrf: String,
}

fn optional(text: String) -> Option<String> {
    Some(text).filter(|t| !t.trim().is_empty())
}

async fn act(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let what = "Acting on events is for engineers and admins.";
    if let Some(refused) = signed_in.refuse_engineer_form(&headers, &form.csrf, what) {
        return refused;
    }
    let action = match form.action.as_str() {
        "acknowledge" => EventAction::Acknowledge {
            comment: optional(form.comment),
        },
        "resolve" => EventAction::Resolve {
            comment: optional(form.comment),
        },
        "reopen" => EventAction::Reopen {
            comment: optional(form.comment),
        },
        "comment" => EventAction::Comment {
            comment: form.comment,
        },
        "assign" => EventAction::Assign {
            assignee: form.assignee,
        },
        "verdict" => EventAction::Verdict {
            verdict: form.verdict,
            fault_code: optional(form.fault_code),
            note: optional(form.comment),
        },
        _ => return failure(&signed_in, LifecycleError::Invalid("unknown action".into())),
    };
    let project = project(&signed_in, &code);
    let now = state.clock.now_ms();
    let email = signed_in.user.email.clone();
    match lifecycle::act(&*state.store, &project, &id, &email, action, now).await {
        Ok(_) => {
            record_audit(
                &state,
                &signed_in.user,
                &format!("event.{}", form.action),
                &id,
            )
            .await;
            Redirect::to(&format!("/projects/{code}/events/{id}")).into_response()
        }
        Err(error) => failure(&signed_in, error),
    }
}

/// The verdicts, as stored.
const VERDICTS: [&str; 3] = ["anomaly", "not_anomaly", "neutral"];

/// A verdict for people.
fn verdict_label(verdict: &str) -> &str {
    match verdict {
        "anomaly" => "Anomaly",
        "not_anomaly" => "Not an anomaly",
        "neutral" => "Neutral",
        other => other,
    }
}

fn page(signed_in: &SignedIn, code: &str, id: &str, record: &EventRecord) -> Markup {
    let status = &record.status;
    let csrf = &signed_in.session.csrf_token;
    let may_act = signed_in.is_engineer();
    let action_form = |action: &str, label: &str| {
        html! {
            form method="post" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value=(action);
                label for={ "comment-" (action) } { "Comment" }
                input id={ "comment-" (action) } name="comment" maxlength="2000";
                button type="submit" { (label) }
            }
        }
    };
    pages::page(
        "Event",
        Some(signed_in),
        html! {
            p { a href={ "/projects/" (code) } { "Project " (code) } " · " code { (id) } }
            dl {
                dt { "Status" } dd #status { (status.status) }
                dt { "Assignee" } dd { (status.assignee.as_deref().unwrap_or("nobody")) }
                dt { "Verdict" } dd #verdict {
                    (status.verdict.as_deref().map_or("none yet", verdict_label))
                    @if let Some(code) = &status.fault_code { " · fault " (code) }
                    @if let Some(note) = &status.note { " · " (note) }
                }
            }
            @if may_act {
                @match status.status.as_str() {
                    "open" => { (action_form("acknowledge", "Acknowledge")) (action_form("resolve", "Resolve")) },
                    "acknowledged" => { (action_form("resolve", "Resolve")) (action_form("reopen", "Reopen")) },
                    _ => { (action_form("reopen", "Reopen")) },
                }
                h2 { "Verdict" }
                form method="post" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="action" value="verdict";
                    fieldset {
                        legend { "Was it an anomaly?" }
                        @for value in VERDICTS {
                            label { input type="radio" name="verdict" value=(value) required; " " (verdict_label(value)) }
                        }
                    }
                    label for="fault-code" { "Fault code" }
                    input #fault-code name="fault_code" maxlength="2000";
                    label for="note" { "Note" }
                    input #note name="comment" maxlength="2000";
                    button type="submit" { "Give the verdict" }
                }
                h2 { "Comment or assign" }
                (action_form("comment", "Add the comment"))
                form method="post" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="action" value="assign";
                    label for="assignee" { "Assignee" }
                    input #assignee name="assignee" maxlength="2000";
                    button type="submit" { "Assign" }
                }
            }
            h2 { "History" }
            @if record.history.is_empty() { p { "Nobody has acted on this event yet." } }
            ol #history {
                @for entry in &record.history {
                    li {
                        (Timestamp::from_millis(entry.at).to_string()) " · " (entry.actor) " · " strong { (entry.action) }
                        @if let Some(verdict) = &entry.verdict { " " (verdict) }
                        @if let Some(code) = &entry.fault_code { " (" (code) ")" }
                        @if let Some(assignee) = &entry.assignee { " to " (assignee) }
                        @if let Some(comment) = &entry.comment { ": " (comment) }
                    }
                }
            }
        },
    )
}
