//! The series viewer: a series' readings as a line with the band of values its
//! detector expected, its anomaly scores on a chart below (crosshairs shared), and its
//! anomaly events shaded on both. The server reads readings or rollups
//! ([`crate::chart`]) and downsamples them to the chart's width ([`crate::m4`]); events
//! are never downsampled. Drag to zoom: the range goes in the address (a permalink)
//! and the data is fetched again at the new resolution. Charts are drawn
//! by uPlot, vendored (`assets/uplot-1.6.31`) and embedded in the binary.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{PreEscaped, html};
use serde::{Deserialize, Serialize};
use vigie_proto::annotations::AnnotationKind;
use vigie_proto::time::Timestamp;
use vigie_store::{Annotation, AnomalyQuery, ProjectKey, SeriesRef};

use crate::annotations::MAX_LISTED;
use crate::interventions::{Defaults, kind_colour, section};

use crate::chart::chart;
use crate::session::SignedIn;
use crate::{ConsoleState, internal, pages};

const UPLOT_JS: &str = include_str!("../assets/uplot-1.6.31/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/uplot-1.6.31/uPlot.min.css");

/// Widest chart, in columns.
const MAX_WIDTH: usize = 4_000;

/// The viewer's routes.
pub(crate) fn routes<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/projects/{code}/series", get(page))
        .route("/projects/{code}/series/data", get(data))
        .route(
            "/assets/uplot.js",
            get(|| async { asset("text/javascript", UPLOT_JS) }),
        )
        .route(
            "/assets/uplot.css",
            get(|| async { asset("text/css", UPLOT_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// Which series, over which range, at which width.
#[derive(Deserialize)]
struct SeriesQuery {
    sensor: String,
    #[serde(default = "default_value_name")]
    value: String,
    from: Option<String>,
    to: Option<String>,
    #[serde(default = "default_width")]
    width: usize,
}

fn default_value_name() -> String {
    vigie_proto::readings::DEFAULT_VALUE_NAME.to_owned()
}

fn default_width() -> usize {
    1_200
}

/// What the chart draws (times in seconds, as uPlot takes them).
#[derive(Serialize)]
struct ChartData {
    times: Vec<f64>,
    values: Vec<f64>,
    scores: Vec<Option<f64>>,
    /// The band of expected values at each point (its column's outer edges).
    band_low: Vec<Option<f64>>,
    band_high: Vec<Option<f64>>,
    /// (start, end, peak score) of each event.
    events: Vec<(f64, f64, f64)>,
    /// (start, end, kind, colour) of each annotation covering the series.
    annotations: Vec<(f64, f64, &'static str, &'static str)>,
    /// What each point stands for: every reading, or summaries of a bucket width.
    resolution: &'static str,
}

/// The annotations of the range that cover the series.
async fn covering(
    state: &ConsoleState,
    project: &ProjectKey,
    query: &SeriesQuery,
    from_us: i64,
    to_us: i64,
) -> vigie_store::Result<Vec<Annotation>> {
    let mut found = state
        .store
        .list_annotations(project, from_us, to_us, MAX_LISTED)
        .await?;
    found.retain(|a| a.covers_series(&query.sensor, &query.value));
    Ok(found)
}

fn range(query: &SeriesQuery) -> Option<(i64, i64)> {
    let parse = |d: &Option<String>| d.as_deref().and_then(|d| Timestamp::parse(d).ok());
    Some((
        parse(&query.from)?.as_micros(),
        parse(&query.to)?.as_micros(),
    ))
    .filter(|(from, to)| from < to)
}

async fn data(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(code): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Response {
    let Some((from_us, to_us)) = range(&query) else {
        return (
            StatusCode::BAD_REQUEST,
            "from and to must be dates, from before to",
        )
            .into_response();
    };
    let project = ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code,
    };
    let series = SeriesRef {
        project: &project,
        sensor_id: &query.sensor,
        value_name: &query.value,
    };
    let columns = query.width.clamp(10, MAX_WIDTH);
    let (kept, source) = match chart(&*state.store, series, from_us, to_us, columns).await {
        Ok(chart) => chart,
        Err(error) => return internal(&error),
    };
    let anomalies = AnomalyQuery {
        project: project.clone(),
        sensor_id: Some(query.sensor.clone()),
        value_name: Some(query.value.clone()),
        from_us: Some(from_us),
        to_us: Some(to_us),
        min_score: None,
        after: None,
        limit: 10_000,
    };
    let events = match state.store.list_anomalies(&anomalies).await {
        Ok(events) => events,
        Err(error) => return internal(&error),
    };
    let annotations = match covering(&state, &project, &query, from_us, to_us).await {
        Ok(annotations) => annotations,
        Err(error) => return internal(&error),
    };
    let seconds = |us: i64| us as f64 / 1e6;
    Json(ChartData {
        times: kept.iter().map(|p| seconds(p.time_us)).collect(),
        values: kept.iter().map(|p| p.value).collect(),
        scores: kept.iter().map(|p| p.score).collect(),
        band_low: kept
            .iter()
            .map(|p| p.expected.map(|(low, _)| low))
            .collect(),
        band_high: kept
            .iter()
            .map(|p| p.expected.map(|(_, high)| high))
            .collect(),
        events: events
            .iter()
            .map(|a| {
                (
                    seconds(a.event.start_us),
                    seconds(a.event.end_us),
                    a.event.peak_score,
                )
            })
            .collect(),
        annotations: annotations
            .iter()
            .map(|a| {
                let kind = AnnotationKind::parse(&a.kind).map_or("note", AnnotationKind::as_str);
                (
                    seconds(a.start_us),
                    seconds(a.end_us),
                    kind,
                    kind_colour(kind),
                )
            })
            .collect(),
        resolution: source.describe(),
    })
    .into_response()
}

/// The charts' script: fetch the data for the range and width, draw the readings with
/// their band of expected values and the scores below them, crosshairs shared; on a
/// drag-selection over either, zoom in (new range in the address, data fetched again).
const CHART_SCRIPT: &str = r#"
(function () {
  const root = document.getElementById('chart');
  const scoreRoot = document.getElementById('scores');
  const params = new URLSearchParams(location.search);
  function load() {
    params.set('width', String(Math.max(200, root.clientWidth)));
    fetch(location.pathname + '/data?' + params.toString(), {credentials: 'same-origin'})
      .then(r => r.json())
      .then(draw);
  }
  let plots = [];
  function draw(d) {
    plots.forEach(p => p.destroy());
    root.dataset.points = String(d.times.length);
    root.dataset.events = String(d.events.length);
    root.dataset.band = String(d.band_low.filter(v => v !== null).length);
    root.dataset.annotations = String(d.annotations.length);
    document.getElementById('resolution').textContent = d.resolution;
    const shade = u => {
      const ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = 'rgba(200, 30, 30, 0.18)';
      for (const [start, end] of d.events) {
        const x0 = u.valToPos(start, 'x', true), x1 = u.valToPos(end, 'x', true);
        ctx.fillRect(x0 - 2, u.bbox.top, Math.max(4, x1 - x0 + 4), u.bbox.height);
      }
      ctx.restore();
    };
    const annotate = u => {
      const ctx = u.ctx;
      ctx.save();
      for (const [start, end, kind, colour] of d.annotations) {
        const x0 = Math.max(u.bbox.left, u.valToPos(start, 'x', true));
        const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(end, 'x', true));
        if (x1 < x0) continue;
        ctx.globalAlpha = 0.12;
        ctx.fillStyle = colour;
        ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        ctx.globalAlpha = 1;
        ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), 6);
        ctx.textAlign = 'left';
        ctx.textBaseline = 'top';
        ctx.font = Math.round(12 * devicePixelRatio) + 'px sans-serif';
        ctx.fillText(kind.replace('_', ' '), x0 + 3, u.bbox.top + 9);
      }
      ctx.restore();
    };
    const zoom = u => {
      if (u.select.width < 5) return;
      const from = u.posToVal(u.select.left, 'x'), to = u.posToVal(u.select.left + u.select.width, 'x');
      params.set('from', new Date(from * 1000).toISOString());
      params.set('to', new Date(to * 1000).toISOString());
      history.replaceState(null, '', location.pathname + '?' + params.toString());
      load();
    };
    const common = {
      width: root.clientWidth,
      cursor: {drag: {x: true, y: false}, sync: {key: 'vigie', setSeries: false}},
      hooks: {draw: [shade, annotate], setSelect: [zoom]},
    };
    const band = 'rgba(11, 61, 92, 0.35)';
    plots = [
      new uPlot(Object.assign({}, common, {
        height: 320,
        scales: {x: {time: true}},
        series: [{}, {label: 'value', stroke: '#0b3d5c', width: 1.5},
                 {label: 'expected high', stroke: band, width: 1, spanGaps: false},
                 {label: 'expected low', stroke: band, width: 1, spanGaps: false}],
        bands: [{series: [2, 3], fill: 'rgba(11, 61, 92, 0.10)'}],
      }), [d.times, d.values, d.band_high, d.band_low], root),
      new uPlot(Object.assign({}, common, {
        height: 140,
        scales: {x: {time: true}, y: {range: [0, 1]}},
        series: [{}, {label: 'anomaly score', stroke: '#c0392b', paths: () => null, points: {show: true, size: 5}}],
      }), [d.times, d.scores], scoreRoot),
    ];
  }
  load();
})();
"#;

async fn page(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(code): Path<String>,
    Query(query): Query<SeriesQuery>,
    uri: Uri,
) -> Response {
    let project = ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code: code.clone(),
    };
    match state.store.project_exists(&project).await {
        Ok(true) => {}
        Ok(false) => {
            let page = pages::not_found(&signed_in, "Your organisation has no such ML project.");
            return (StatusCode::NOT_FOUND, page).into_response();
        }
        Err(error) => return internal(&error),
    }
    let Some((from_us, to_us)) = range(&query) else {
        return (
            StatusCode::BAD_REQUEST,
            "from and to must be dates, from before to",
        )
            .into_response();
    };
    let annotations = match covering(&state, &project, &query, from_us, to_us).await {
        Ok(annotations) => annotations,
        Err(error) => return internal(&error),
    };
    let back = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let defaults = Defaults {
        from_us,
        to_us,
        series: Some((&query.sensor, &query.value)),
        back,
    };
    let title = format!("{} / {}", query.sensor, query.value);
    pages::page(
        &title,
        Some(&signed_in),
        html! {
            link rel="stylesheet" href="/assets/uplot.css";
            script src="/assets/uplot.js" {}
            p {
                a href={ "/projects/" (code) } { "Project " (code) } " · "
                (query.from.as_deref().unwrap_or("")) " to " (query.to.as_deref().unwrap_or(""))
                " · drag across the chart to zoom; the address keeps the range."
            }
            p { "Drawn from " span #resolution { "…" } "; the shaded band is the range the detector expected." }
            div #chart role="img" aria-label={ "Readings of " (title) " and the band of expected values" } {}
            div #scores role="img" aria-label={ "Anomaly scores of " (title) } {}
            (section(&signed_in, &code, &annotations, &defaults))
            script { (PreEscaped(CHART_SCRIPT)) }
        },
    )
    .into_response()
}
