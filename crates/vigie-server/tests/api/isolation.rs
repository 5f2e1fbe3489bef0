//! Organisations never see or touch each other's data through the console. Two
//! organisations each have a project `pressline`; the second one's admin aims every
//! console route at the first one's series, events, annotations, applications and
//! users, with a valid session and CSRF token: every read comes back empty or 404,
//! every change is refused with 404 and changes nothing.

use secrecy::SecretString;
use serde_json::{Value, json};
use vigie_store::Store;

use crate::anomalies::{push, series};
use crate::console::{Browser, PASSWORD};
use crate::events::token_with_scope;
use crate::helpers::{Backend, Options, TestApp, on_both_backends, spawn};

on_both_backends!(no_console_route_crosses_organisations);

async fn user(app: &TestApp, org_id: &str, email: &str, role: &str) -> String {
    vigie_auth::people::create_user(
        &*app.store,
        &vigie_auth::clock::SystemClock,
        org_id,
        email,
        role,
        &SecretString::from(PASSWORD),
    )
    .await
    .unwrap()
    .id
}

async fn no_console_route_crosses_organisations(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    // The first organisation: a series with an event, an annotation, an application, an
    // engineer, and a project only it has.
    let data = app.access_token().await;
    for start in (0..3_000).step_by(500) {
        push(&app, &data, series(start..start + 500)).await;
    }
    let anomalies = app
        .get_json(
            format!(
                "{}/v0/organisations/{}/anomalies/pressline",
                app.url, app.org_id
            ),
            Some(&data),
        )
        .await;
    let event_id = anomalies["anomalies"][0]["id"].as_str().unwrap().to_owned();
    let (app_id, events) = token_with_scope(&app, "data events").await;
    let annotation: Value = app
        .http
        .post(format!(
            "{}/v0/organisations/{}/annotations/pressline",
            app.url, app.org_id
        ))
        .bearer_auth(&events)
        .json(
            &json!({"start": "2023-11-15T00:00:00Z", "end": "2023-11-15T06:00:00Z",
                      "kind": "maintenance", "note": "acme's secret work"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let annotation_id = annotation["id"].as_str().unwrap().to_owned();
    let victim = user(&app, &app.org_id, "ada@acme.example", "engineer").await;
    app.store
        .create_project(&app.org_id, "acme-only", 1)
        .await
        .unwrap();

    // The second organisation's admin, signed in.
    let other = app.store.create_organisation("globex", 1).await.unwrap();
    app.store
        .create_project(&other.id, "pressline", 1)
        .await
        .unwrap();
    user(&app, &other.id, "eve@globex.example", "admin").await;
    let mut eve = Browser::new(&app);
    assert_eq!(eve.sign_in("eve@globex.example", PASSWORD).await.0, 303);
    let (_, account, _) = eve.get("/account").await;
    let csrf = Browser::field(&account, "csrf");
    let origin = app.url.clone();

    // Reads: empty, or 404.
    for path in [
        "/",
        "/projects/pressline",
        "/admin/applications",
        "/admin/users",
        "/admin/audit",
    ] {
        let (status, page, _) = eve.get(path).await;
        assert_eq!(status, 200, "{path}");
        for secret in [
            "press-7",
            "ada@acme.example",
            app_id.as_str(),
            "acme's secret work",
            "acme-only",
        ] {
            assert!(!page.contains(secret), "{path} shows {secret}");
        }
    }
    let range = "from=2023-11-01T00:00:00Z&to=2023-12-01T00:00:00Z";
    let (status, chart, _) = eve
        .get(&format!(
            "/projects/pressline/series/data?sensor=press-7&value=temperature&{range}"
        ))
        .await;
    assert_eq!(status, 200);
    let chart: Value = serde_json::from_str(&chart).unwrap();
    for key in ["times", "events", "annotations"] {
        assert_eq!(chart[key], json!([]), "{key}");
    }
    let (_, viewer, _) = eve
        .get(&format!(
            "/projects/pressline/series?sensor=press-7&value=temperature&{range}"
        ))
        .await;
    assert!(!viewer.contains("acme's secret work"));
    for path in [
        "/projects/acme-only".to_owned(),
        format!("/projects/acme-only/series?sensor=press-7&value=temperature&{range}"),
        format!("/projects/pressline/events/{event_id}"),
    ] {
        assert_eq!(eve.get(&path).await.0, 404, "{path}");
    }

    // Changes: 404, and nothing changed.
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/projects/pressline/events/{event_id}"),
            vec![("action", "acknowledge"), ("comment", "mine now")],
        ),
        (
            format!("/projects/pressline/annotations/{annotation_id}/delete"),
            vec![],
        ),
        (format!("/admin/applications/{app_id}/rotate"), vec![]),
        (format!("/admin/applications/{app_id}/disable"), vec![]),
        (format!("/admin/users/{victim}"), vec![("role", "viewer")]),
    ];
    for (path, mut form) in attempts {
        form.push(("csrf", &csrf));
        let (status, _, _) = eve.post(&path, &form, Some(&origin)).await;
        assert_eq!(status, 404, "{path}");
    }
    // A new annotation lands in Eve's own project, never in the other one's.
    let form = [
        ("csrf", csrf.as_str()),
        ("kind", "planned_stop"),
        ("start", "2023-11-15T00:00:00Z"),
        ("end", "2023-11-16T00:00:00Z"),
        ("covers", "project"),
    ];
    assert_eq!(
        eve.post("/projects/pressline/annotations", &form, Some(&origin))
            .await
            .0,
        303
    );
    assert_eq!(
        eve.post("/projects/acme-only/annotations", &form, Some(&origin))
            .await
            .0,
        404
    );

    let record = app
        .get_json(
            format!(
                "{}/v0/organisations/{}/events/pressline/{event_id}",
                app.url, app.org_id
            ),
            Some(&data),
        )
        .await;
    assert_eq!(record["status"], "open");
    let store: &dyn Store = &*app.store;
    let acme = vigie_store::ProjectKey {
        org_id: app.org_id.clone(),
        code: "pressline".into(),
    };
    let kept = store
        .list_annotations(&acme, i64::MIN, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "only acme's own annotation: {kept:?}");
    let apps = store.list_applications(Some(&app.org_id)).await.unwrap();
    assert!(
        apps.iter().all(|a| a.disabled_at.is_none()),
        "no application disabled"
    );
    let users = store.list_users(&app.org_id).await.unwrap();
    assert_eq!(
        users.iter().find(|u| u.id == victim).unwrap().role,
        "engineer"
    );
    let acme_audit = store.list_audit(&app.org_id, 100).await.unwrap();
    assert!(
        acme_audit.iter().all(|e| !e.actor.contains("globex")),
        "{acme_audit:?}"
    );
}
