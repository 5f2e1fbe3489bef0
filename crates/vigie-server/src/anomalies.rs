//! `GET /v0/organisations/{ORGANISATION_ID}/anomalies/{ML_PROJECT}`: the anomaly events
//! detection found in a project, newest data first visible within a second of its push.

use crate::extract::Path;
use axum::extract::{RawQuery, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::readings::format_time_us;
use vigie_proto::{AnomaliesPage, Anomaly, Problem};
use vigie_store::AnomalyQuery;

use crate::AppState;
use crate::bearer::Bearer;
use crate::data::authorised_project;
use crate::problem::ApiError;
use crate::query::{QueryParams, encode_cursor};

/// Anomaly routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(anomalies_get))
}

/// Query parameters (documentation only: they are parsed strictly by hand).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct AnomalyParams {
    /// Only this sensor.
    #[param(rename = "sensorId")]
    sensor_id: Option<String>,
    /// Only this variable.
    #[param(rename = "valueName")]
    value_name: Option<String>,
    /// Events ending at or after this date, ISO-8601 with a time zone.
    from: Option<String>,
    /// Events starting before this date, ISO-8601 with a time zone.
    to: Option<String>,
    /// Only events whose peak score is at least this.
    #[param(rename = "minScore")]
    min_score: Option<f64>,
    /// Events per page, 1 to 10000 (default 1000).
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// The project's anomaly events (runs of consecutive anomalous readings), by start date.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/anomalies/{project}", tag = "anomalies",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), AnomalyParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of anomaly events", body = AnomaliesPage),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks scope data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ML project in this organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn anomalies_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<AnomaliesPage>, ApiError> {
    let project = authorised_project(&state, bearer, org_id, code).await?;
    let mut parameters = QueryParams::parse(raw.as_deref())?;
    let query = AnomalyQuery {
        from_us: parameters.time("from")?,
        to_us: parameters.time("to")?,
        min_score: parameters.number("minScore")?,
        after: parameters.cursor()?,
        limit: parameters.limit()?,
        sensor_id: parameters.text("sensorId"),
        value_name: parameters.text("valueName"),
        project,
    };
    let rows = state.store.list_anomalies(&query).await?;
    let next_cursor = match rows.last() {
        Some(last) if rows.len() == query.limit as usize => {
            Some(encode_cursor(last.event.start_us, last.series_id))
        }
        _ => None,
    };
    let anomalies = rows
        .into_iter()
        .map(|row| Anomaly {
            sensor_id: row.sensor_id,
            value_name: row.value_name,
            start: format_time_us(row.event.start_us),
            end: format_time_us(row.event.end_us),
            peak_date: format_time_us(row.event.peak_us),
            peak_score: row.event.peak_score,
        })
        .collect();
    Ok(axum::Json(AnomaliesPage {
        anomalies,
        next_cursor,
    }))
}
