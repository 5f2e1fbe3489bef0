//! Annotations and interventions in the console: the list and the form the series
//! viewer and the explorer show, and the routes that write and delete them (engineers
//! and admins, CSRF-checked, audited by [`crate::annotations`]).

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;
use vigie_proto::annotations::{ANNOTATION_KINDS, AnnotationKind, NewAnnotation};
use vigie_proto::time::Timestamp;
use vigie_store::{Annotation, ProjectKey};

use crate::annotations::{self, AnnotationError, coverage};
use crate::session::SignedIn;
use crate::{ConsoleState, internal, pages};

/// The routes that write and delete annotations.
pub(crate) fn routes<S>() -> Router<S>
where
    ConsoleState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/projects/{code}/annotations", post(create))
        .route("/projects/{code}/annotations/{id}/delete", post(delete))
}

/// A kind for people.
pub(crate) fn kind_label(kind: &str) -> &str {
    match kind {
        "maintenance" => "Maintenance",
        "planned_stop" => "Planned stop",
        "process_change" => "Process change",
        "note" => "Note",
        other => other,
    }
}

/// A kind's colour on charts and the heat map.
pub(crate) fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "planned_stop" => "#7a7a7a",
        "maintenance" => "#1f6fb2",
        "process_change" => "#7b3fa0",
        _ => "#b88a00",
    }
}

/// Where the form was, to go back to: a page of this project only (never another
/// site's address).
fn back_to(code: &str, back: &str) -> String {
    let project = format!("/projects/{code}");
    let safe = back == project
        || back.starts_with(&format!("{project}?"))
        || back.starts_with(&format!("{project}/series?"));
    if safe && !back.contains(['\r', '\n']) {
        back.to_owned()
    } else {
        project
    }
}

/// The new-annotation form's fields.
#[derive(Deserialize)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    kind: String,
    #[serde(default)]
    note: String,
    start: String,
    end: String,
    /// `project`, `sensor` or `series`.
    covers: String,
    #[serde(default)]
    sensor: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    back: String,
}

fn failure(signed_in: &SignedIn, error: AnnotationError) -> Response {
    match error {
        AnnotationError::Invalid(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message("Not annotated", &message),
        )
            .into_response(),
        AnnotationError::NotFound | AnnotationError::NoSuchProject => (
            StatusCode::NOT_FOUND,
            pages::not_found(
                signed_in,
                "Your organisation has no such annotation or project.",
            ),
        )
            .into_response(),
        AnnotationError::Storage(cause) => internal(&cause),
    }
}

async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Path(code): Path<String>,
    Form(form): Form<NewForm>,
) -> Response {
    if let Some(refused) = signed_in.refuse_engineer_form(
        &headers,
        &form.csrf,
        "Annotating is for engineers and admins.",
    ) {
        return refused;
    }
    let Some(kind) = AnnotationKind::parse(&form.kind) else {
        return failure(&signed_in, AnnotationError::Invalid("unknown kind".into()));
    };
    let (sensor_id, value_name) = match form.covers.as_str() {
        "project" => (None, None),
        "sensor" => (Some(form.sensor), None),
        "series" => (Some(form.sensor), Some(form.value)),
        _ => {
            return failure(
                &signed_in,
                AnnotationError::Invalid("unknown coverage".into()),
            );
        }
    };
    let new = NewAnnotation {
        start: form.start,
        end: form.end,
        kind,
        note: form.note,
        sensor_id,
        value_name,
        asset: None,
    };
    let project = ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code: code.clone(),
    };
    let now = state.clock.now_ms();
    match annotations::create(&*state.store, &project, &signed_in.user.email, new, now).await {
        Ok(_) => Redirect::to(&back_to(&code, &form.back)).into_response(),
        Err(error) => failure(&signed_in, error),
    }
}

/// The delete button's fields.
#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

async fn delete(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Some(refused) = signed_in.refuse_engineer_form(
        &headers,
        &form.csrf,
        "Annotating is for engineers and admins.",
    ) {
        return refused;
    }
    let project = ProjectKey {
        org_id: signed_in.user.org_id.clone(),
        code: code.clone(),
    };
    let now = state.clock.now_ms();
    match annotations::delete(&*state.store, &project, &signed_in.user.email, &id, now).await {
        Ok(()) => Redirect::to(&back_to(&code, &form.back)).into_response(),
        Err(error) => failure(&signed_in, error),
    }
}

/// What the form offers by default: the range shown, and the series shown if any.
pub(crate) struct Defaults<'a> {
    pub(crate) from_us: i64,
    pub(crate) to_us: i64,
    pub(crate) series: Option<(&'a str, &'a str)>,
    /// This page's address, to come back to.
    pub(crate) back: &'a str,
}

/// The annotations of a page and, for engineers and admins, the form for a new one
/// and a delete button on each.
pub(crate) fn section(
    signed_in: &SignedIn,
    code: &str,
    listed: &[Annotation],
    defaults: &Defaults<'_>,
) -> Markup {
    let csrf = &signed_in.session.csrf_token;
    let may_act = signed_in.is_engineer();
    let date = |us: i64| Timestamp::from_micros(us).to_string();
    html! {
        h2 { "Annotations" }
        @if listed.is_empty() {
            p { "No annotation in this range." }
        } @else {
            table #annotations {
                thead { tr {
                    th scope="col" { "Kind" } th scope="col" { "From" } th scope="col" { "To" }
                    th scope="col" { "Covers" } th scope="col" { "Note" } th scope="col" { "By" }
                    @if may_act { th scope="col" { "Action" } }
                } }
                tbody {
                    @for annotation in listed {
                        tr {
                            td { span style={ "color:" (kind_colour(&annotation.kind)) } { "■ " } (kind_label(&annotation.kind)) }
                            td { (date(annotation.start_us)) }
                            td { (date(annotation.end_us)) }
                            td { (coverage(annotation)) }
                            td { (annotation.note) }
                            td { (annotation.author) }
                            @if may_act {
                                td {
                                    form.inline method="post" action={ "/projects/" (code) "/annotations/" (annotation.id) "/delete" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="back" value=(defaults.back);
                                        button type="submit" aria-label={ "Delete the annotation from " (date(annotation.start_us)) } { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_act {
            details {
                summary { "Annotate a time range" }
                form #annotate method="post" action={ "/projects/" (code) "/annotations" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="back" value=(defaults.back);
                    label for="annotation-kind" { "Kind" }
                    select #annotation-kind name="kind" {
                        @for kind in ANNOTATION_KINDS {
                            option value=(kind.as_str()) { (kind_label(kind.as_str())) }
                        }
                    }
                    label for="annotation-start" { "From (UTC, ISO 8601)" }
                    input #annotation-start name="start" required value=(date(defaults.from_us));
                    label for="annotation-end" { "To" }
                    input #annotation-end name="end" required value=(date(defaults.to_us));
                    fieldset {
                        legend { "Covers" }
                        @if let Some((sensor, value)) = defaults.series {
                            input type="hidden" name="sensor" value=(sensor);
                            input type="hidden" name="value" value=(value);
                            label.inline { input type="radio" name="covers" value="series" checked; " " (sensor) " / " (value) }
                            label.inline { input type="radio" name="covers" value="sensor"; " every variable of " (sensor) }
                            label.inline { input type="radio" name="covers" value="project"; " the whole project" }
                        } @else {
                            label.inline { input type="radio" name="covers" value="project" checked; " the whole project" }
                        }
                    }
                    label for="annotation-note" { "Note" }
                    textarea #annotation-note name="note" maxlength="2000" rows="2" {}
                    p { small { "A planned stop silences the events that would start on what it covers while it lasts." } }
                    button type="submit" { "Annotate" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_goes_back_only_to_a_page_of_its_project() {
        assert_eq!(
            back_to("line", "/projects/line?from=x"),
            "/projects/line?from=x"
        );
        assert_eq!(
            back_to("line", "/projects/line/series?sensor=a"),
            "/projects/line/series?sensor=a"
        );
        for hostile in [
            "https://evil.example/",
            "//evil.example/projects/line",
            "/projects/line2",
            "/projects/linex?a",
            "/projects/line?x\r\nSet-Cookie: a=b",
            "",
        ] {
            assert_eq!(back_to("line", hostile), "/projects/line", "{hostile:?}");
        }
    }
}
