//! The console's pages, rendered on the server. Plain HTML forms with labels, readable
//! without scripts, at any width from a tablet up.

use maud::{DOCTYPE, Markup, html};
use vigie_proto::time::Timestamp;
use vigie_store::{Annotation, MlProject, StoredAnomaly};

use crate::annotations::coverage;
use crate::explorer::{COLUMNS, HeatMap};
use crate::interventions::{Defaults, kind_colour, kind_label, section};
use crate::session::SignedIn;

/// The style of every page: system fonts, high contrast, focus always visible.
const STYLE: &str = "
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fafafa}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#0b3d5c;color:#fff}
header a{color:#fff}header form{margin-left:auto}
main{max-width:60rem;margin:1.5rem auto;padding:0 1.2rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input{font:inherit;padding:.4rem;width:100%;max-width:24rem;border:1px solid #555;border-radius:3px}
button{font:inherit;padding:.45rem 1rem;margin-top:1rem;background:#0b3d5c;color:#fff;border:0;border-radius:3px;cursor:pointer}
header button{margin:0;background:#fff;color:#0b3d5c}
form.inline{display:inline}form.inline button{display:inline;margin:0 .3rem 0 0;padding:.2rem .6rem}
select,textarea{font:inherit;padding:.4rem;max-width:100%}
label.inline{display:inline;font-weight:400;margin:0 .4rem}
main button{display:block}
:focus-visible{outline:3px solid #e69f00;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}
.error{color:#9b1c1c;font-weight:600}.ok{color:#1d5e20;font-weight:600}
table.heat{table-layout:fixed}table.heat th{width:12rem;font-weight:400;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.heat td{padding:0;border:1px solid #fff;height:1.4rem}table.heat td a{display:block;height:100%}
";

/// A page of the console: its header (with the signed-in user) and its body.
pub(crate) fn page(title: &str, signed_in: Option<&SignedIn>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Vigie" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/" { strong { "Vigie" } }
                    @if let Some(signed_in) = signed_in {
                        @if signed_in.user.role == "admin" { a href="/admin/applications" { "Applications" } }
                        a href="/account" { (signed_in.user.email) " (" (signed_in.user.role) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(signed_in.session.csrf_token);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page that only says something.
pub(crate) fn message(title: &str, text: &str) -> Markup {
    page(title, None, html! { p { (text) } })
}

/// The sign-in page.
pub(crate) fn login(csrf: &str, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail address" }
                input #email type="email" name="email" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The organisation's projects.
pub(crate) fn home(signed_in: &SignedIn, projects: &[MlProject]) -> Markup {
    page(
        "Projects",
        Some(signed_in),
        html! {
            @if projects.is_empty() {
                p { "Your organisation has no ML project yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "ML project" } th scope="col" { "Created" } } }
                    tbody {
                        @for project in projects {
                            tr {
                                td { a href={ "/projects/" (project.code) } { (project.code) } }
                                td { (Timestamp::from_millis(project.created_at).to_string()) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The account page: the password change form, and how the last change went.
pub(crate) fn account(signed_in: &SignedIn, outcome: Option<Result<&str, &str>>) -> Markup {
    page(
        "Your account",
        Some(signed_in),
        html! {
            p { "Signed in as " strong { (signed_in.user.email) } ", " (signed_in.user.role) "." }
            h2 { "Change your password" }
            @match outcome {
                Some(Ok(note)) => p.ok role="status" { (note) },
                Some(Err(error)) => p.error role="alert" { (error) },
                None => {},
            }
            form method="post" action="/account/password" {
                input type="hidden" name="csrf" value=(signed_in.session.csrf_token);
                label for="current" { "Current password" }
                input #current type="password" name="current" autocomplete="current-password" required;
                label for="new" { "New password (12 characters at least)" }
                input #new type="password" name="new" autocomplete="new-password" minlength="12" required;
                button type="submit" { "Change password" }
            }
        },
    )
}

/// A cell's colour: white for nothing, then from pale yellow to deep red with the score.
fn heat_colour(score: f64) -> String {
    if score <= 0.0 {
        return "#eef1f4".into();
    }
    let score = score.clamp(0.0, 1.0);
    let lightness = 92.0 - 55.0 * score;
    let hue = 50.0 - 50.0 * score;
    format!("hsl({hue:.0},90%,{lightness:.0}%)")
}

fn date(us: i64) -> String {
    Timestamp::from_micros(us).to_string()
}

/// How long an event lasted, for people.
fn duration(us: i64) -> String {
    let seconds = us / 1_000_000;
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{:.1} h", s as f64 / 3_600.0),
        s => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

/// The explorer's query string for a range and series.
fn explorer_link(code: &str, from_us: i64, to_us: i64, series: Option<(&str, &str)>) -> String {
    let mut query = vec![("from", date(from_us)), ("to", date(to_us))];
    if let Some((sensor, value)) = series {
        query.push(("sensor", sensor.to_owned()));
        query.push(("value", value.to_owned()));
    }
    let encoded: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect();
    format!("/projects/{}?{}", percent(code), encoded.join("&"))
}

/// The series viewer's address for a series and range.
fn series_link(code: &str, from_us: i64, to_us: i64, sensor: &str, value: &str) -> String {
    format!(
        "/projects/{}/series?sensor={}&value={}&from={}&to={}",
        percent(code),
        percent(sensor),
        percent(value),
        percent(&date(from_us)),
        percent(&date(to_us))
    )
}

/// Percent-encodes a query value or path segment (everything but unreserved bytes).
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the explorer shows.
pub(crate) struct Explorer<'a> {
    pub(crate) code: &'a str,
    pub(crate) series_count: i64,
    pub(crate) map: &'a HeatMap,
    /// The series events listed (filtered to a series and range when a cell was
    /// clicked).
    pub(crate) events: &'a [StoredAnomaly],
    /// The series a click filtered on.
    pub(crate) filter: Option<(&'a str, &'a str)>,
    /// Whether more events exist than were read.
    pub(crate) truncated: bool,
    /// The annotations of the range.
    pub(crate) annotations: &'a [Annotation],
    /// This page's address.
    pub(crate) back: &'a str,
}

/// The project explorer: the heat map, then the events.
pub(crate) fn explorer(signed_in: &SignedIn, view: &Explorer<'_>) -> Markup {
    let map = view.map;
    let width = map.column_us(COLUMNS);
    page(
        &format!("Project {}", view.code),
        Some(signed_in),
        html! {
            p {
                (view.series_count) " series · " (date(map.from_us)) " to " (date(map.to_us)) " · "
                a href=(explorer_link(view.code, map.from_us - (map.to_us - map.from_us), map.from_us, None)) { "earlier" }
                " · "
                a href=(explorer_link(view.code, map.to_us, map.to_us + (map.to_us - map.from_us), None)) { "later" }
            }
            h2 { "Anomalies by series and time" }
            @if map.rows.is_empty() && view.annotations.is_empty() {
                p { "No anomaly event in this range." }
            } @else {
                table.heat aria-label="Highest anomaly score per series and time slot" {
                    tbody {
                        @if !view.annotations.is_empty() {
                            tr #annotation-row {
                                th scope="row" { "Annotations" }
                                @for i in 0..COLUMNS {
                                    @let start = map.from_us + i as i64 * width;
                                    @let here: Vec<&Annotation> = view.annotations.iter()
                                        .filter(|a| a.start_us < start + width && a.end_us > start).collect();
                                    @if let Some(first) = here.first() {
                                        @let label = here.iter().map(|a| format!("{} ({}): {}", kind_label(&a.kind), coverage(a), a.note)).collect::<Vec<_>>().join("; ");
                                        td.annotated style={ "background:" (kind_colour(&first.kind)) } title=(label) aria-label=(label) {}
                                    } @else {
                                        td {}
                                    }
                                }
                            }
                        }
                        @for row in &map.rows {
                            tr {
                                @if let Some(asset) = &row.asset {
                                    th scope="row" title=(format!("Health of asset {asset}")) { "Asset " (asset) }
                                } @else {
                                    th scope="row" title=(format!("{} / {}", row.sensor_id, row.value_name)) {
                                        a href=(series_link(view.code, map.from_us, map.to_us, &row.sensor_id, &row.value_name)) {
                                            (row.sensor_id) @if row.value_name != "none" { " / " (row.value_name) }
                                        }
                                    }
                                }
                                @for (i, &score) in row.cells.iter().enumerate() {
                                    @let start = map.from_us + i as i64 * width;
                                    @let label = format!("{} / {}, {}: highest score {:.2}", row.sensor_id, row.value_name, date(start), score);
                                    td style={ "background:" (heat_colour(score)) } {
                                        @if let Some(Some(event)) = row.asset_events.get(i) {
                                            a href={ "/projects/" (view.code) "/events/" (event) } aria-label=(label) title=(label) {}
                                        } @else if score > 0.0 && row.asset.is_none() {
                                            a href=(explorer_link(view.code, start, start + width, Some((&row.sensor_id, &row.value_name))))
                                                aria-label=(label) title=(label) {}
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Events" }
            @if let Some((sensor, value)) = view.filter {
                p { "Only " strong { (sensor) " / " (value) } " in this range · "
                    a href=(explorer_link(view.code, map.from_us, map.to_us, None)) { "all series" } }
            }
            @if view.truncated { p.error { "Only the first events of this range are shown: narrow it." } }
            table #events {
                thead { tr {
                    th scope="col" { "Start" } th scope="col" { "Duration" } th scope="col" { "Peak" }
                    th scope="col" { "Series" } th scope="col" { "Kind" } th scope="col" { "Observed (expected)" }
                    th scope="col" { "Event" }
                } }
                tbody {
                    @for anomaly in view.events {
                        @let event = &anomaly.event;
                        tr {
                            td { (date(event.start_us)) }
                            td { (duration(event.end_us - event.start_us)) }
                            td { (format!("{:.2}", event.peak_score)) }
                            td { (anomaly.sensor_id) " / " (anomaly.value_name) }
                            @if let Some(explanation) = &event.explanation {
                                td { (explanation.kind.replace('_', " ")) }
                                td { (format!("{:.4} ({:.4} to {:.4})", explanation.observed, explanation.expected_low, explanation.expected_high)) }
                            } @else {
                                td {} td {}
                            }
                            td { a href={ "/projects/" (view.code) "/events/" (crate::lifecycle::event_id('s', anomaly.series_id, event.start_us)) } { "details" } }
                        }
                    }
                }
            }
            (section(signed_in, view.code, view.annotations, &Defaults {
                from_us: map.from_us,
                to_us: map.to_us,
                series: view.filter,
                back: view.back,
            }))
        },
    )
}

/// A page saying that this user may not do that.
pub(crate) fn forbidden(signed_in: &SignedIn, what: &str) -> Markup {
    page("Not allowed", Some(signed_in), html! { p { (what) } })
}

/// A page saying that something does not exist (or is not this user's to see).
pub(crate) fn not_found(signed_in: &SignedIn, what: &str) -> Markup {
    page("Not found", Some(signed_in), html! { p { (what) } })
}
