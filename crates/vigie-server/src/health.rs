//! Asset health: the health rows and asset events of a project's assets, the assets
//! themselves (a project split into named assets by its admins), and the authorised
//! "this is the new normal" (a relearn).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vigie_pipeline::layout::{LayoutError, NewAsset};
use vigie_proto::time::Timestamp;
use vigie_proto::{
    AssetEvent, AssetEventsPage, AssetInfo, AssetRequest, Contribution, HealthPage, HealthRow,
    Problem, RelearnRequest, SeriesRef,
};
use vigie_store::{AnomalyQuery, HealthQuery};

use crate::AppState;
use crate::anomalies::event_id;
use crate::extract::{Path, ProjectAccess, ProjectAdmin, Query};
use crate::problem::{ApiError, ProjectProblems, QueryProblem, json_body};
use crate::query::{AssetEventParams, Cursor, HealthParams};

/// Health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health_get))
        .routes(routes!(health_events_get))
        .routes(routes!(assets_get))
        .routes(routes!(asset_put))
        .routes(routes!(relearn_post))
}

fn contributions(contributors: Vec<vigie_store::Contribution>) -> Vec<Contribution> {
    contributors
        .into_iter()
        .map(|c| Contribution {
            sensor_id: c.sensor_id,
            value_name: c.value_name,
            share: c.share,
            observed: c.detail.and_then(|d| d.observed),
            expected: c.detail.map(|d| d.expected),
            normal_low: c.detail.and_then(|d| d.normal_low),
            normal_high: c.detail.and_then(|d| d.normal_high),
        })
        .collect()
}

/// The health scores of the project's assets, with their top contributing sensors,
/// by asset then date, in pages.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/health/{project}", tag = "health",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), HealthParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of health rows", body = HealthPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn health_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<HealthParams>,
) -> Result<Json<HealthPage>, ApiError> {
    let query = HealthQuery {
        project,
        asset: params.asset,
        from_us: params.from.map(|date| date.0),
        to_us: params.to.map(|date| date.0),
        after: params.cursor.map(|cursor| (cursor.0, cursor.1)),
        limit: params.limit.0,
    };
    let rows = state.store.read_health(&query).await?;
    let next_cursor = match rows.last() {
        Some(last) if rows.len() == query.limit as usize => {
            Some(Cursor(last.asset_id, last.row.time_us).encode())
        }
        _ => None,
    };
    Ok(Json(HealthPage {
        rows: rows
            .into_iter()
            .map(|h| HealthRow {
                asset: h.asset,
                date: Timestamp::from_micros(h.row.time_us).to_string(),
                health: h.row.health,
                contributors: contributions(h.row.contributors),
            })
            .collect(),
        next_cursor,
    }))
}

/// The project's asset events (runs of abnormal rows), by start date, with the top
/// contributing sensors at their peak.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/health/{project}/events", tag = "health",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"), AssetEventParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of asset events", body = AssetEventsPage),
        QueryProblem,
        ProjectProblems,
    ))]
async fn health_events_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
    Query(params): Query<AssetEventParams>,
) -> Result<Json<AssetEventsPage>, ApiError> {
    let query = AnomalyQuery {
        project,
        sensor_id: None,
        value_name: None,
        from_us: params.from.map(|date| date.0),
        to_us: params.to.map(|date| date.0),
        min_score: params.min_score.map(|score| score.0),
        after: params.cursor.map(|cursor| (cursor.0, cursor.1)),
        limit: params.limit.0,
    };
    let events = state.store.list_asset_events(&query).await?;
    let next_cursor = match events.last() {
        Some(last) if events.len() == query.limit as usize => {
            Some(Cursor(last.event.start_us, last.asset_id).encode())
        }
        _ => None,
    };
    Ok(Json(AssetEventsPage {
        events: events
            .into_iter()
            .map(|e| AssetEvent {
                id: event_id('a', e.asset_id, e.event.start_us),
                asset: e.asset,
                start: Timestamp::from_micros(e.event.start_us).to_string(),
                end: Timestamp::from_micros(e.event.end_us).to_string(),
                peak_date: Timestamp::from_micros(e.event.peak_us).to_string(),
                peak_score: e.event.peak_score,
                kind: e.event.kind,
                contributors: contributions(e.event.contributors),
            })
            .collect(),
        next_cursor,
    }))
}

/// The project's assets: the default one (every series no named asset lists) and the
/// named ones with their series.
#[utoipa::path(get, path = "/v0/organisations/{org_id}/assets/{project}", tag = "health",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The assets", body = Vec<AssetInfo>),
        ProjectProblems,
    ))]
async fn assets_get(
    State(state): State<AppState>,
    ProjectAccess(project): ProjectAccess,
) -> Result<Json<Vec<AssetInfo>>, ApiError> {
    let now = state.clock.now_ms();
    let layouts = state.store.asset_layouts(&project, now).await?;
    Ok(Json(
        layouts
            .into_iter()
            .map(|layout| AssetInfo {
                name: layout.name,
                series: layout.members.map(|members| {
                    members
                        .into_iter()
                        .map(|(sensor_id, value_name)| SeriesRef {
                            sensor_id,
                            value_name,
                        })
                        .collect()
                }),
                sampling_seconds: layout.sampling_us.map(|us| us as f64 / 1e6),
            })
            .collect(),
    ))
}

/// Creates a named asset: these series leave the default asset and are scored
/// together by their own model. Needs a token with scope `admin`.
#[utoipa::path(put, path = "/v0/organisations/{org_id}/assets/{project}/{asset}", tag = "health",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"),
        ("asset" = String, Path, description = "The asset's name: 1 to 64 ASCII letters, digits, '-', '_' or '.'")),
    request_body(content = AssetRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = AssetInfo),
        (status = 400, description = "Malformed body, name or series", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or a series is in another named asset", body = Problem, content_type = "application/problem+json"),
        ProjectProblems,
    ))]
async fn asset_put(
    State(state): State<AppState>,
    ProjectAdmin(project): ProjectAdmin,
    Path(path): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AssetInfo>), ApiError> {
    let request: AssetRequest = json_body(&body, "an asset")?;
    let asset = NewAsset {
        name: path.2,
        series: request
            .series
            .iter()
            .map(|s| (s.sensor_id.clone(), s.value_name.clone()))
            .collect(),
        sampling_seconds: request.sampling_seconds,
    };
    let now = state.clock.now_ms();
    asset
        .create(
            &*state.store,
            &project,
            state.pipeline.config().asset_max_sensors,
            now,
        )
        .await
        .map_err(|error| match error {
            LayoutError::Invalid(message) => ApiError::BadRequest(message),
            LayoutError::Storage(vigie_store::Error::AlreadyExists(what)) => {
                ApiError::Conflict(format!("{what} already exists"))
            }
            LayoutError::Storage(vigie_store::Error::NotFound { .. }) => {
                ApiError::NotFound("no such project")
            }
            LayoutError::Storage(other) => ApiError::from(other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(AssetInfo {
            name: asset.name,
            series: Some(request.series),
            sampling_seconds: request.sampling_seconds,
        }),
    ))
}

/// "This is the new normal": the asset's model learns normal operation again from the
/// given date (now when absent). Needs a token with scope `admin`.
#[utoipa::path(post, path = "/v0/organisations/{org_id}/assets/{project}/{asset}/relearn", tag = "health",
    params(("org_id" = String, Path, description = "ORGANISATION_ID"), ("project" = String, Path, description = "ML_PROJECT"),
        ("asset" = String, Path, description = "The asset's name")),
    request_body(content = RelearnRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Recorded: applied to the first row at or after the date"),
        (status = 400, description = "Malformed body or date", body = Problem, content_type = "application/problem+json"),
        ProjectProblems,
    ))]
async fn relearn_post(
    State(state): State<AppState>,
    ProjectAdmin(project): ProjectAdmin,
    Path(path): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let asset = path.2;
    let request: RelearnRequest = if body.is_empty() {
        RelearnRequest::default()
    } else {
        json_body(&body, "a relearn request")?
    };
    let from_us = match request.from {
        Some(date) => Timestamp::parse(&date)
            .map_err(|error| ApiError::BadRequest(format!("from {error}")))?
            .as_micros(),
        None => Timestamp::from_millis(state.clock.now_ms()).as_micros(),
    };
    state
        .store
        .relearn_asset(&project, &asset, from_us)
        .await
        .map_err(|error| match error {
            vigie_store::Error::NotFound { .. } => {
                ApiError::NotFound("no such asset in this project")
            }
            other => ApiError::from(other),
        })?;
    Ok(StatusCode::ACCEPTED)
}
