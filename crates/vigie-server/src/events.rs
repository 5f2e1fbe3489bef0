//! What people do with anomaly events, through the API: an event's status and history
//! (`GET …/events/{project}/{event_id}`, scope `data`), and actions on it (`POST
//! …/events/{project}/{event_id}/actions`, scope `events`): acknowledge, resolve,
//! reopen, comment, assign, verdict. The console does the same through
//! `vigie_console::lifecycle`.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_console::lifecycle::{self, EventRecord as Record, LifecycleError};
use vigie_proto::Problem;
use vigie_proto::events::{EventAction, EventHistoryItem, EventRecord};
use vigie_proto::time::Timestamp;

use crate::AppState;
use crate::extract::{Path, ProjectAccess, ProjectEvents};
use crate::problem::{ApiError, ProjectProblems, json_body};

/// Event lifecycle routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(event_get))
        .routes(routes!(event_action_post))
}

fn wire(id: &str, record: Record) -> EventRecord {
    EventRecord {
        id: id.to_owned(),
        status: record.status.status,
        assignee: record.status.assignee,
        verdict: record.status.verdict,
        fault_code: record.status.fault_code,
        note: record.status.note,
        history: record
            .history
            .into_iter()
            .map(|entry| EventHistoryItem {
                date: Timestamp::from_millis(entry.at).to_string(),
                actor: entry.actor,
                action: entry.action,
                comment: entry.comment,
                verdict: entry.verdict,
                fault_code: entry.fault_code,
                assignee: entry.assignee,
            })
            .collect(),
    }
}

fn api_error(error: LifecycleError) -> ApiError {
    match error {
        LifecycleError::Invalid(message) => ApiError::BadRequest(message),
        LifecycleError::Conflict(message) => ApiError::Conflict(message),
        LifecycleError::NoSuchEvent => ApiError::NotFound("no such event in this project"),
        LifecycleError::Storage(cause) => ApiError::internal(&cause),
    }
}

/// An anomaly event's status (`open`, `acknowledged`, `resolved`), assignee, verdict
/// and the actions taken on it.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/events/{project}/{event_id}", tag = "anomalies",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"),
        ("event_id" = String, Path, description = "The event's id, as the anomalies and health events give it")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event's status and history", body = EventRecord),
        ProjectProblems,
    ))]
async fn event_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Path(path): Path<(String, String, String)>,
) -> Result<Json<EventRecord>, ApiError> {
    let id = path.2;
    let record = lifecycle::record(&*state.store, &project, &id, state.clock.now_ms())
        .await
        .map_err(api_error)?;
    Ok(Json(wire(&id, record)))
}

/// Acts on an anomaly event: acknowledge, resolve, reopen, comment, assign, or give a
/// verdict. Needs a token with scope `events`; the application is recorded as the actor.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/events/{project}/{event_id}/actions", tag = "anomalies",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"),
        ("event_id" = String, Path, description = "The event's id")),
    request_body(content = EventAction, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event after the action", body = EventRecord),
        (status = 400, description = "Malformed action or value", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The action does not apply to the event as it stands", body = Problem, content_type = "application/problem+json"),
        ProjectProblems,
    ))]
async fn event_action_post(
    State(state): State<AppState>,
    ProjectEvents { project, client_id }: ProjectEvents,
    Path(path): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<EventRecord>, ApiError> {
    let action: EventAction = json_body(&body, "an event action")?;
    let id = path.2;
    let record = lifecycle::act(
        &*state.store,
        &project,
        &id,
        &client_id,
        action,
        state.clock.now_ms(),
    )
    .await
    .map_err(api_error)?;
    Ok(Json(wire(&id, record)))
}
