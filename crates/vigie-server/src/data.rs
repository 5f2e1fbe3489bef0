//! The data API: `POST` readings to an ML project (CONTRACT §4), read them back, list
//! the project's series. The extractors (`extract.rs`) check the token's reach and the
//! body; the handlers only call the pipeline or the store and shape the answer.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::readings;
use vigie_proto::time::Timestamp;
use vigie_proto::{IngestResponse, Problem, ReadingsPage, ScoredReading, SeriesInfo, SeriesPage};
use vigie_store::{ReadingQuery, SeriesQuery};

use crate::AppState;
use crate::extract::{ProjectAccess, Query, ReadingsBody};
use crate::problem::{ApiError, ProjectProblems, QueryProblem};
use crate::query::{Cursor, ReadingsParams, SeriesCursor, SeriesParams};

/// Data routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(data_post, data_get))
        .routes(routes!(series_get))
}

/// Push readings: a JSON array, stored all or none, durably before the answer.
/// Resending a reading is harmless; a new value for the same sensor, variable and date
/// replaces the old one.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/data/{project}", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT")),
    request_body(content = Vec<readings::Reading>, content_type = "application/json",
        description = "At most 100000 readings and 32 MiB (after gzip decompression)"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored durably: how many readings were new, unchanged or replaced", body = IngestResponse),
        (status = 400, description = "Malformed JSON, not an array, empty array or corrupt gzip", body = Problem, content_type = "application/problem+json"),
        ProjectProblems,
        (status = 408, description = "The body did not arrive within the body timeout", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too large or too many readings", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json, or an unsupported Content-Encoding", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid readings (index, field, reason of each); nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The series were scored further meanwhile (by other servers, or after an earlier request that failed); nothing stored, send again", body = Problem, content_type = "application/problem+json"),
    ))]
async fn data_post(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    ReadingsBody(readings): ReadingsBody,
) -> Result<(StatusCode, axum::Json<IngestResponse>), ApiError> {
    let received = readings.len() as u64;
    let summary = state
        .pipeline
        .ingest(project, readings)
        .await
        .map_err(|error| match error {
            // Other servers kept scoring these series first, attempt after attempt, or
            // this request was scored after one whose commit failed.
            vigie_pipeline::Error::Storage(vigie_store::Error::Stale(_)) => ApiError::Unavailable(
                "these series were scored further meanwhile (by other servers, or after an earlier request that failed); nothing was stored, send again",
            ),
            other => ApiError::internal(&other),
        })?;
    state.metrics.readings_ingested(received);
    // 201, as the product's connectors require: anything else is a failure to them.
    Ok((
        StatusCode::CREATED,
        axum::Json(IngestResponse {
            received,
            new: summary.new,
            unchanged: summary.unchanged,
            replaced: summary.replaced,
        }),
    ))
}

/// Read readings back, ordered by series then date, in pages.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/data/{project}", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), ReadingsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of readings", body = ReadingsPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn data_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<ReadingsParams>,
) -> Result<axum::Json<ReadingsPage>, ApiError> {
    let query = ReadingQuery {
        project,
        sensor_id: params.sensor_id,
        value_name: params.value_name,
        from_us: params.from.map(|date| date.0),
        to_us: params.to.map(|date| date.0),
        label: params.label.map(|label| label.0),
        after: params.cursor.map(|cursor| (cursor.0, cursor.1)),
        limit: params.limit.0,
    };
    let rows = state.store.read_readings(&query).await?;
    let next_cursor = match rows.last() {
        Some(last) if rows.len() == query.limit as usize => {
            Some(Cursor(last.series_id, last.time_us).encode())
        }
        _ => None,
    };
    let readings = rows
        .into_iter()
        .map(|r| ScoredReading {
            reading: readings::Reading {
                sensor_id: r.sensor_id,
                value_name: r.value_name,
                date: Timestamp::from_micros(r.time_us).to_string(),
                value: r.value,
                precision: r.precision,
                labels: r.labels,
            },
            anomaly_score: r.score,
        })
        .collect();
    Ok(axum::Json(ReadingsPage {
        readings,
        next_cursor,
    }))
}

/// The project's series with their reading counts, date ranges and labels, in pages.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/data/{project}/series", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), SeriesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of series", body = SeriesPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn series_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<SeriesParams>,
) -> Result<axum::Json<SeriesPage>, ApiError> {
    let query = SeriesQuery {
        project,
        after: params.cursor.map(|cursor| (cursor.0, cursor.1)),
        limit: params.limit.0,
    };
    let series = state.store.list_series(&query).await?;
    let next_cursor = match series.last() {
        Some(last) if series.len() == query.limit as usize => {
            Some(SeriesCursor::encode(&last.sensor_id, &last.value_name))
        }
        _ => None,
    };
    Ok(axum::Json(SeriesPage {
        series: series
            .into_iter()
            .map(|s| SeriesInfo {
                sensor_id: s.sensor_id,
                value_name: s.value_name,
                count: s.count,
                first_date: s
                    .first_time_us
                    .map(|t| Timestamp::from_micros(t).to_string()),
                last_date: s
                    .last_time_us
                    .map(|t| Timestamp::from_micros(t).to_string()),
                labels: s.labels,
            })
            .collect(),
        next_cursor,
    }))
}
