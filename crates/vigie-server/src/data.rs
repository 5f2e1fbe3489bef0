//! The data API: `POST` readings to an ML project (CONTRACT §4), read them back, list
//! the project's series. A token reaches only its own organisation's projects; another
//! organisation's project answers exactly as a missing one does.

use std::collections::HashSet;
use std::io::Read;
use std::sync::RwLock;

use crate::extract::Path;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_proto::readings::{self, BatchError, MAX_BODY_BYTES, format_time_us};
use vigie_proto::{IngestResponse, Problem, ReadingsPage, ScoredReading, SeriesInfo, SeriesPage};
use vigie_store::{ProjectKey, ReadingQuery, SeriesQuery};

use crate::AppState;
use crate::bearer::Bearer;
use crate::body::{self, BodyError};
use crate::problem::ApiError;
use crate::query::{QueryParams, encode_cursor, encode_series_cursor};

/// Data routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(data_post, data_get))
        .routes(routes!(series_get))
}

/// Query parameters of the read-back (documentation only: they are parsed strictly by hand).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ReadingsParams {
    /// Only this sensor.
    #[param(rename = "sensorId")]
    sensor_id: Option<String>,
    /// Only this variable.
    #[param(rename = "valueName")]
    value_name: Option<String>,
    /// From this date (inclusive), ISO-8601 with a time zone.
    from: Option<String>,
    /// Until this date (exclusive), ISO-8601 with a time zone.
    to: Option<String>,
    /// Only readings carrying this label.
    #[param(pattern = "^[A-Za-z0-9_.:-]{1,64}$")]
    label: Option<String>,
    /// Readings per page, 1 to 10000 (default 1000).
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// Projects known to exist; projects are never deleted, so a hit needs no query.
#[derive(Default)]
pub struct KnownProjects(RwLock<HashSet<ProjectKey>>);

/// Checks the token and finds the project it addresses.
pub(crate) async fn authorised_project(
    state: &AppState,
    bearer: Bearer,
    org_id: String,
    code: String,
) -> Result<ProjectKey, ApiError> {
    let claims = bearer.require_scope("data")?;
    let project = ProjectKey { org_id, code };
    let not_found = || ApiError::not_found("no such ML project in this organisation");
    if claims.org != project.org_id {
        return Err(not_found());
    }
    if state
        .projects
        .0
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&project)
    {
        return Ok(project);
    }
    if !state.store.project_exists(&project).await? {
        return Err(not_found());
    }
    state
        .projects
        .0
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(project.clone());
    Ok(project)
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
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks scope data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ML project in this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too large or too many readings", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json, or an unsupported Content-Encoding", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid readings (index, field, reason of each); nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
async fn data_post(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, code)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<IngestResponse>), ApiError> {
    let project = authorised_project(&state, bearer, org_id, code).await?;
    if body::media_type(&headers) != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json (set the Content-Type header)",
        ));
    }
    let gzip = content_encoding_is_gzip(&headers)?;
    let deadline = state.body_read_timeout;
    let bytes = body::read_body(&headers, body, MAX_BODY_BYTES, deadline)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => too_large(),
            BodyError::TooSlow => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs_f64()
                ),
            ),
            BodyError::Unreadable => ApiError::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ),
        })?;
    let bytes = if gzip {
        gunzip(&bytes)?
    } else {
        bytes.to_vec()
    };
    let readings = readings::parse_batch(&bytes).map_err(batch_problem)?;
    let received = readings.len() as u64;
    let summary = state
        .pipeline
        .ingest(project, readings)
        .await
        .map_err(|e| ApiError::internal(&e))?;
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

fn content_encoding_is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(encoding) if encoding == "identity" || encoding.is_empty() => Ok(false),
        Some(encoding) if encoding == "gzip" || encoding == "x-gzip" => Ok(true),
        Some(_) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Encoding; use gzip or none",
        )),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body exceeds {MAX_BODY_BYTES} bytes (after decompression)"),
    )
}

/// Decompresses a gzip body, stopping as soon as the output passes the limit.
fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(MAX_BODY_BYTES));
    flate2::read::MultiGzDecoder::new(compressed)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "the gzip body is corrupt"))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(out)
}

fn batch_problem(error: BatchError) -> ApiError {
    let detail = error.to_string();
    match error {
        BatchError::Malformed(_) | BatchError::NotAnArray | BatchError::Empty => {
            ApiError::new(StatusCode::BAD_REQUEST, detail)
        }
        BatchError::TooManyReadings => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, detail),
        BatchError::Invalid {
            invalid_readings,
            total_errors,
            errors,
        } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
            .with_extension("invalidReadings", json!(invalid_readings))
            .with_extension("totalErrors", json!(total_errors))
            .with_extension("errors", json!(errors)),
    }
}

/// Read readings back, ordered by series then date, in pages.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/data/{project}", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), ReadingsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of readings", body = ReadingsPage),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks scope data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ML project in this organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn data_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<ReadingsPage>, ApiError> {
    let project = authorised_project(&state, bearer, org_id, code).await?;
    let query = reading_query(project, raw.as_deref())?;
    let rows = state.store.read_readings(&query).await?;
    let next_cursor = match rows.last() {
        Some(last) if rows.len() == query.limit as usize => {
            Some(encode_cursor(last.series_id, last.time_us))
        }
        _ => None,
    };
    let readings = rows
        .into_iter()
        .map(|r| ScoredReading {
            reading: readings::Reading {
                sensor_id: r.sensor_id,
                value_name: r.value_name,
                date: format_time_us(r.time_us),
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

fn reading_query(project: ProjectKey, raw: Option<&str>) -> Result<ReadingQuery, ApiError> {
    let mut parameters = QueryParams::parse(raw)?;
    Ok(ReadingQuery {
        from_us: parameters.time("from")?,
        to_us: parameters.time("to")?,
        label: parameters.label()?,
        after: parameters.cursor()?,
        limit: parameters.limit()?,
        sensor_id: parameters.text("sensorId"),
        value_name: parameters.text("valueName"),
        project,
    })
}

/// Query parameters of the series listing (documentation only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SeriesParams {
    /// Series per page, 1 to 10000 (default 1000).
    limit: Option<u32>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// The project's series with their reading counts, date ranges and labels, in pages.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/data/{project}/series", tag = "data",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), SeriesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of series", body = SeriesPage),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks scope data", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ML project in this organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn series_get(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((org_id, code)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<SeriesPage>, ApiError> {
    let project = authorised_project(&state, bearer, org_id, code).await?;
    let parameters = QueryParams::parse(raw.as_deref())?;
    let query = SeriesQuery {
        project,
        after: parameters.series_cursor()?,
        limit: parameters.limit()?,
    };
    let series = state.store.list_series(&query).await?;
    let next_cursor = match series.last() {
        Some(last) if series.len() == query.limit as usize => {
            Some(encode_series_cursor(&last.sensor_id, &last.value_name))
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
                first_date: s.first_time_us.map(format_time_us),
                last_date: s.last_time_us.map(format_time_us),
                labels: s.labels,
            })
            .collect(),
        next_cursor,
    }))
}
