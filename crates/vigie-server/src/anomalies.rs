//! `GET /v0/organisations/{ORGANISATION_ID}/anomalies/{ML_PROJECT}`: the anomaly events
//! detection found in a project, newest data first visible within a second of its push.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::time::Timestamp;
use vigie_proto::{AnomaliesPage, Anomaly, Explanation};
use vigie_store::AnomalyQuery;

use crate::AppState;
use crate::extract::{ProjectAccess, Query};
use crate::problem::{ApiError, ProjectProblems, QueryProblem};
use crate::query::{AnomalyParams, Cursor};

/// Anomaly routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(anomalies_get))
}

/// The project's anomaly events (runs of consecutive anomalous readings), by start date.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/anomalies/{project}", tag = "anomalies",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), AnomalyParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of anomaly events", body = AnomaliesPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn anomalies_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<AnomalyParams>,
) -> Result<axum::Json<AnomaliesPage>, ApiError> {
    let query = AnomalyQuery {
        project,
        sensor_id: params.sensor_id,
        value_name: params.value_name,
        from_us: params.from.map(|date| date.0),
        to_us: params.to.map(|date| date.0),
        min_score: params.min_score.map(|score| score.0),
        after: params.cursor.map(|cursor| (cursor.0, cursor.1)),
        limit: params.limit.0,
    };
    let rows = state.store.list_anomalies(&query).await?;
    let next_cursor = match rows.last() {
        Some(last) if rows.len() == query.limit as usize => {
            Some(Cursor(last.event.start_us, last.series_id).encode())
        }
        _ => None,
    };
    let anomalies = rows
        .into_iter()
        .map(|row| Anomaly {
            id: event_id('s', row.series_id, row.event.start_us),
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            start: Timestamp::from_micros(row.event.start_us).to_string(),
            end: Timestamp::from_micros(row.event.end_us).to_string(),
            peak_date: Timestamp::from_micros(row.event.peak_us).to_string(),
            peak_score: row.event.peak_score,
            explanation: row.event.explanation.map(|e| Explanation {
                kind: e.kind,
                expected_low: e.expected_low,
                expected_high: e.expected_high,
                observed: e.observed,
            }),
        })
        .collect();
    Ok(axum::Json(AnomaliesPage {
        anomalies,
        next_cursor,
    }))
}

pub(crate) use vigie_console::lifecycle::event_id;
