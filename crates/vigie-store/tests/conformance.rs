//! One suite, two backends: every storage behaviour is checked on SQLite and PostgreSQL.

use std::sync::Arc;

use vigie_store::testing::{temp_postgres_url, temp_sqlite_url};
use vigie_store::*;

const DAY: i64 = 86_400_000;

async fn sqlite() -> Option<Arc<dyn Store>> {
    Some(open(&temp_sqlite_url()).await.expect("open sqlite"))
}

async fn postgres() -> Option<Arc<dyn Store>> {
    let url = temp_postgres_url().await?;
    Some(open(&url).await.expect("open postgres"))
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = super::sqlite().await { super::$name(store).await }
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = super::postgres().await { super::$name(store).await }
            })*
        }
    };
}

conformance!(
    organisations_are_unique_by_name,
    projects_belong_to_existing_organisations,
    applications_keep_only_secret_hashes_and_rotate,
    disabling_revokes_refresh_families_at_once,
    refresh_rotation_advances_generations,
    grace_window_covers_only_the_previous_generation,
    reuse_after_grace_revokes_the_family,
    a_token_is_revoked_only_by_its_own_application,
    concurrent_rotations_keep_one_live_family,
    signing_keys_rotate_and_retire,
    access_token_revocations_expire,
    generation_changes_with_every_admin_change,
    ingestion_counts_new_unchanged_and_replaced,
    duplicates_within_a_request_behave_as_if_sent_one_by_one,
    readings_read_back_in_pages_with_filters,
    series_summaries_follow_ingestion,
    labels_are_stored_replaced_filtered_and_listed,
    series_are_listed_in_pages,
    ingestion_needs_an_existing_project,
    concurrent_ingestion_of_overlapping_batches,
    concurrent_requests_written_together_keep_their_own_counts,
    scores_detector_state_and_anomalies_are_stored_with_the_readings,
    users_are_unique_by_email_and_sessions_end,
    rollups_summarise_readings_and_merge_across_requests,
    rollups_count_each_reading_once_whatever_is_sent_again,
    annotations_are_listed_by_range_within_their_project,
);

struct Fixture {
    org: Organisation,
    app: Application,
}

async fn fixture(store: &Arc<dyn Store>) -> Fixture {
    let org = store.create_organisation("acme", 1).await.unwrap();
    let app = store
        .create_application(NewApplication {
            id: "app-1",
            org_id: &org.id,
            name: "gateway",
            scope: "data",
            secret_hash: &[1; 32],
            now: 2,
        })
        .await
        .unwrap();
    Fixture { org, app }
}

async fn start_family(store: &Arc<dyn Store>, app_id: &str, token: u8, now: i64) -> bool {
    store
        .create_refresh_family(NewRefreshFamily {
            family_id: format!("family-{token}"),
            app_id: app_id.into(),
            scope: "data".into(),
            token_hash: vec![token; 32],
            expires_at: now + 365 * DAY,
            now,
        })
        .await
        .unwrap()
}

/// Rotates the family of token `presented` (its hash is 32 times that byte), as
/// `vigie-auth` does once it has checked that the token may be used.
async fn rotate(store: &Arc<dyn Store>, presented: u8, new: u8, now: i64) -> RotationOutcome {
    let token = store
        .find_refresh_token(&[presented; 32])
        .await
        .unwrap()
        .expect("a stored token");
    store
        .rotate_refresh_token(RefreshRotation {
            family_id: token.family_id,
            presented_generation: token.generation,
            new_hash: vec![new; 32],
            new_expires_at: now + 365 * DAY,
            grace_ms: 10_000,
            now,
        })
        .await
        .unwrap()
}

const ROTATED: RotationOutcome = RotationOutcome::Rotated;

async fn organisations_are_unique_by_name(store: Arc<dyn Store>) {
    let acme = store.create_organisation("acme", 10).await.unwrap();
    assert!(matches!(
        store.create_organisation("acme", 11).await,
        Err(Error::AlreadyExists(_))
    ));
    store.create_organisation("globex", 12).await.unwrap();
    let names: Vec<_> = store
        .list_organisations()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["acme", "globex"]);
    assert_eq!(
        store.find_organisation_by_name("acme").await.unwrap(),
        Some(acme)
    );
    assert_eq!(
        store.find_organisation_by_name("nobody").await.unwrap(),
        None
    );
}

async fn projects_belong_to_existing_organisations(store: Arc<dyn Store>) {
    let org = store.create_organisation("acme", 1).await.unwrap();
    store
        .create_project(&org.id, "press-line", 2)
        .await
        .unwrap();
    assert!(matches!(
        store.create_project(&org.id, "press-line", 3).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_project("no-such-org", "x", 3).await,
        Err(Error::NotFound {
            kind: "organisation",
            ..
        })
    ));
    let other = store.create_organisation("globex", 4).await.unwrap();
    store
        .create_project(&other.id, "press-line", 5)
        .await
        .unwrap();
    assert_eq!(store.list_projects(Some(&org.id)).await.unwrap().len(), 1);
    assert_eq!(store.list_projects(None).await.unwrap().len(), 2);
}

async fn applications_keep_only_secret_hashes_and_rotate(store: Arc<dyn Store>) {
    let Fixture { org, app } = fixture(&store).await;
    assert_eq!(
        store.list_applications(Some(&org.id)).await.unwrap(),
        vec![app.clone()]
    );
    assert!(
        store
            .list_applications(Some("other"))
            .await
            .unwrap()
            .is_empty()
    );
    let before = store.load_credentials().await.unwrap();
    assert_eq!(before[0].secret_hash, vec![1; 32]);
    assert_eq!(before[0].previous_secret_hash, None);

    store
        .rotate_application_secret(&app.id, &[2; 32], 1_000, 10)
        .await
        .unwrap();
    let after = store.load_credentials().await.unwrap();
    assert_eq!(after[0].secret_hash, vec![2; 32]);
    assert_eq!(after[0].previous_secret_hash, Some(vec![1; 32]));
    assert_eq!(after[0].previous_secret_expires_at, Some(1_000));
    assert!(matches!(
        store
            .rotate_application_secret("missing", &[3; 32], 1, 1)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store
            .create_application(NewApplication {
                id: "app-2",
                org_id: "missing-org",
                name: "x",
                scope: "data",
                secret_hash: &[0; 32],
                now: 1
            })
            .await,
        Err(Error::NotFound {
            kind: "organisation",
            ..
        })
    ));
}

async fn disabling_revokes_refresh_families_at_once(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    store.disable_application(&app.id, 200).await.unwrap();
    let token = store.find_refresh_token(&[10; 32]).await.unwrap().unwrap();
    assert!(token.application_disabled && token.revoked);
    assert_eq!(rotate(&store, 10, 11, 300).await, RotationOutcome::Revoked);
    assert!(
        !start_family(&store, &app.id, 12, 300).await,
        "a disabled application gets no new family"
    );
    assert!(store.load_credentials().await.unwrap()[0].disabled);
    assert!(
        store
            .find_refresh_token(&[10; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(matches!(
        store.disable_application("missing", 1).await,
        Err(Error::NotFound { .. })
    ));
}

async fn refresh_rotation_advances_generations(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(rotate(&store, 10, 11, 200).await, ROTATED);
    assert_eq!(rotate(&store, 11, 12, 300).await, ROTATED);
    let info = store.find_refresh_token(&[12; 32]).await.unwrap().unwrap();
    assert!(info.current && !info.revoked && !info.application_disabled);
    assert_eq!(
        (info.app_id.as_str(), info.generation, info.scope.as_str()),
        (app.id.as_str(), 2, "data")
    );
    assert_eq!((info.issued_at, info.expires_at), (300, 300 + 365 * DAY));
    assert!(
        !store
            .find_refresh_token(&[11; 32])
            .await
            .unwrap()
            .unwrap()
            .current
    );
    assert_eq!(store.find_refresh_token(&[99; 32]).await.unwrap(), None);
}

async fn grace_window_covers_only_the_previous_generation(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(rotate(&store, 10, 11, 1_000).await, ROTATED);
    // A concurrent refresh with the same token, inside the grace window: a sibling.
    assert_eq!(rotate(&store, 10, 12, 2_000).await, ROTATED);
    // Both siblings are live; using one advances the family.
    assert_eq!(rotate(&store, 12, 13, 3_000).await, ROTATED);
    // The grandparent is two generations back: reuse, even inside the grace window.
    assert_eq!(
        rotate(&store, 10, 14, 3_500).await,
        RotationOutcome::ReuseDetected
    );
    assert_eq!(
        rotate(&store, 13, 15, 4_000).await,
        RotationOutcome::Revoked
    );
}

async fn reuse_after_grace_revokes_the_family(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(rotate(&store, 10, 11, 1_000).await, ROTATED);
    assert_eq!(
        rotate(&store, 10, 12, 11_001).await,
        RotationOutcome::ReuseDetected
    );
    // The whole family is gone, including the legitimate current token.
    assert_eq!(
        rotate(&store, 11, 13, 11_002).await,
        RotationOutcome::Revoked
    );
    assert!(
        store
            .find_refresh_token(&[11; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

async fn a_token_is_revoked_only_by_its_own_application(store: Arc<dyn Store>) {
    let Fixture { org, app } = fixture(&store).await;
    store
        .create_application(NewApplication {
            id: "app-other",
            org_id: &org.id,
            name: "other",
            scope: "data admin",
            secret_hash: &[9; 32],
            now: 3,
        })
        .await
        .unwrap();
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(rotate(&store, 10, 11, 200).await, ROTATED);
    assert!(
        store
            .revoke_refresh_family(&[11; 32], "app-other", 500)
            .await
            .is_ok_and(|revoked| !revoked)
    );
    assert!(
        store
            .revoke_refresh_family(&[11; 32], &app.id, 500)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_refresh_token(&[11; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(rotate(&store, 11, 12, 600).await, RotationOutcome::Revoked);
}

async fn concurrent_rotations_keep_one_live_family(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 0, 100).await);
    let mut tasks = Vec::new();
    for n in 1..=50u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(
            async move { rotate(&store, 0, n, 1_000).await },
        ));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), ROTATED);
    }
    // Every minted token belongs to the one family, and each still rotates.
    for n in [1u8, 25, 50] {
        let info = store.find_refresh_token(&[n; 32]).await.unwrap().unwrap();
        assert!(!info.revoked);
    }
    assert_eq!(rotate(&store, 50, 200, 2_000).await, ROTATED);
}

fn key(kid: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        private_key: vec![1, 2, 3],
        public_key: vec![4, 5, 6],
    }
}

async fn signing_keys_rotate_and_retire(store: Arc<dyn Store>) {
    assert!(store.ensure_signing_key(key("k1"), 10).await.unwrap());
    assert!(
        !store
            .ensure_signing_key(key("k-ignored"), 11)
            .await
            .unwrap()
    );
    store.rotate_signing_key(key("k2"), 20).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!((keys[0].kid.as_str(), keys[0].retired_at), ("k2", None));
    assert_eq!((keys[1].kid.as_str(), keys[1].retired_at), ("k1", Some(20)));
    assert_eq!(keys[0].private_key, vec![1, 2, 3]);
}

async fn access_token_revocations_expire(store: Arc<dyn Store>) {
    store
        .revoke_access_token("jti-1", "app", 1_000)
        .await
        .unwrap();
    store
        .revoke_access_token("jti-1", "app", 1_000)
        .await
        .unwrap();
    store
        .revoke_access_token("jti-2", "app", 5_000)
        .await
        .unwrap();
    let mut live = store.load_revoked_access_tokens(2_000).await.unwrap();
    live.sort();
    assert_eq!(live, ["jti-2"]);
}

async fn generation_changes_with_every_admin_change(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let g0 = store.generation().await.unwrap();
    let Fixture { app, .. } = fixture(&store).await;
    let g1 = store.generation().await.unwrap();
    assert!(g1 > g0);
    store.disable_application(&app.id, 5).await.unwrap();
    assert!(store.generation().await.unwrap() > g1);
}

use vigie_proto::readings::ValidReading;

fn reading(sensor: &str, name: &str, time_us: i64, value: f64) -> ValidReading {
    ValidReading {
        sensor_id: sensor.into(),
        value_name: name.into(),
        time_us,
        value,
        precision: Some(100),
        labels: Vec::new(),
    }
}

async fn project(store: &Arc<dyn Store>) -> ProjectKey {
    let org = store.create_organisation("acme", 1).await.unwrap();
    store.create_project(&org.id, "line", 2).await.unwrap();
    ProjectKey {
        org_id: org.id,
        code: "line".into(),
    }
}

fn summary(new: u64, unchanged: u64, replaced: u64) -> IngestSummary {
    IngestSummary {
        new,
        unchanged,
        replaced,
    }
}

async fn ingestion_counts_new_unchanged_and_replaced(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let batch = vec![
        reading("s1", "x", 1, 1.0),
        reading("s1", "x", 2, 2.0),
        reading("s2", "none", 1, 3.0),
    ];
    assert_eq!(
        store.ingest(project.clone(), batch.clone()).await.unwrap(),
        summary(3, 0, 0)
    );
    assert_eq!(
        store.ingest(project.clone(), batch.clone()).await.unwrap(),
        summary(0, 3, 0)
    );
    let mut corrected = batch.clone();
    corrected[1].value = 2.5;
    corrected[2].precision = None;
    assert_eq!(
        store.ingest(project.clone(), corrected).await.unwrap(),
        summary(0, 1, 2)
    );
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!((stored[1].value, stored[2].precision), (2.5, None));
}

async fn duplicates_within_a_request_behave_as_if_sent_one_by_one(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let batch = vec![
        reading("s", "x", 5, 1.0),
        reading("s", "x", 5, 1.0),
        reading("s", "x", 5, 9.0),
        reading("s", "x", 6, 0.0),
    ];
    assert_eq!(
        store.ingest(project.clone(), batch).await.unwrap(),
        summary(2, 1, 1)
    );
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.time_us, r.value))
            .collect::<Vec<_>>(),
        [(5, 9.0), (6, 0.0)],
        "the last one wins"
    );
}

fn query(project: &ProjectKey) -> ReadingQuery {
    ReadingQuery {
        project: project.clone(),
        sensor_id: None,
        value_name: None,
        from_us: None,
        to_us: None,
        label: None,
        after: None,
        limit: 1000,
    }
}

async fn readings_read_back_in_pages_with_filters(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let mut batch = Vec::new();
    for t in 0..25 {
        batch.push(reading("a", "x", t, t as f64));
        batch.push(reading("b", "x", t, -(t as f64)));
        batch.push(reading("a", "y", t, 0.5));
    }
    store.ingest(project.clone(), batch).await.unwrap();
    let mut pages = 0;
    let mut seen = Vec::new();
    let mut page_query = ReadingQuery {
        limit: 10,
        ..query(&project)
    };
    loop {
        let page = store.read_readings(&page_query).await.unwrap();
        pages += 1;
        seen.extend(
            page.iter()
                .map(|r| (r.sensor_id.clone(), r.value_name.clone(), r.time_us)),
        );
        match page.last() {
            Some(last) if page.len() == 10 => {
                page_query.after = Some((last.series_id, last.time_us))
            }
            _ => break,
        }
    }
    assert_eq!(seen.len(), 75);
    assert_eq!(pages, 8);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 75, "no reading twice across pages");

    let filtered = ReadingQuery {
        sensor_id: Some("a".into()),
        value_name: Some("x".into()),
        from_us: Some(10),
        to_us: Some(20),
        ..query(&project)
    };
    let rows = store.read_readings(&filtered).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.time_us).collect::<Vec<_>>(),
        (10..20).collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .all(|r| r.sensor_id == "a" && r.value_name == "x" && r.value == r.time_us as f64)
    );

    let other_org = store.create_organisation("globex", 3).await.unwrap();
    store
        .create_project(&other_org.id, "line", 4)
        .await
        .unwrap();
    let other = ProjectKey {
        org_id: other_org.id,
        code: "line".into(),
    };
    assert!(
        store
            .read_readings(&query(&other))
            .await
            .unwrap()
            .is_empty(),
        "same code, other tenant: nothing"
    );
}

async fn series_summaries_follow_ingestion(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let empty = store.project_span(&project).await.unwrap();
    assert_eq!(
        empty,
        ProjectSpan {
            series: 0,
            readings: None
        }
    );
    store
        .ingest(
            project.clone(),
            vec![reading("s", "x", 50, 1.0), reading("s", "x", 10, 1.0)],
        )
        .await
        .unwrap();
    store
        .ingest(
            project.clone(),
            vec![
                reading("s", "x", 10, 2.0),
                reading("s", "x", 99, 1.0),
                reading("t", "none", 7, 1.0),
            ],
        )
        .await
        .unwrap();
    let series = store
        .list_series(&SeriesQuery::first(&project, 1000))
        .await
        .unwrap();
    assert_eq!(
        series,
        [
            SeriesSummary {
                sensor_id: "s".into(),
                value_name: "x".into(),
                count: 3,
                first_time_us: Some(10),
                last_time_us: Some(99),
                labels: Vec::new(),
            },
            SeriesSummary {
                sensor_id: "t".into(),
                value_name: "none".into(),
                count: 1,
                first_time_us: Some(7),
                last_time_us: Some(7),
                labels: Vec::new(),
            },
        ]
    );
    let span = store.project_span(&project).await.unwrap();
    assert_eq!(
        span,
        ProjectSpan {
            series: 2,
            readings: Some((7, 99))
        }
    );
}

async fn series_are_listed_in_pages(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let mut batch = Vec::new();
    for sensor in ["b", "a", "c.2", "c_1"] {
        for name in ["y", "x"] {
            batch.push(ValidReading {
                labels: vec![format!("{sensor}-{name}")],
                ..reading(sensor, name, 1, 1.0)
            });
        }
    }
    store.ingest(project.clone(), batch).await.unwrap();
    let all = store
        .list_series(&SeriesQuery::first(&project, 100))
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    let mut paged = Vec::new();
    let mut query = SeriesQuery::first(&project, 3);
    loop {
        let page = store.list_series(&query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.after = Some((last.sensor_id.clone(), last.value_name.clone()));
        let full = page.len() == 3;
        paged.extend(page);
        if !full {
            break;
        }
    }
    assert_eq!(
        paged, all,
        "pages add up to the whole list, in order, each once"
    );
    assert!(
        all.windows(2)
            .all(|w| (&w[0].sensor_id, &w[0].value_name) < (&w[1].sensor_id, &w[1].value_name))
            || store.backend() == "postgres",
        "SQLite orders by bytes"
    );
    assert!(
        paged
            .iter()
            .all(|s| s.labels == [format!("{}-{}", s.sensor_id, s.value_name)])
    );
}

fn labelled(time_us: i64, labels: &[&str]) -> ValidReading {
    ValidReading {
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        ..reading("s", "x", time_us, 1.0)
    }
}

async fn labels_are_stored_replaced_filtered_and_listed(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let batch = vec![
        labelled(1, &["batch_7", "line:2"]),
        labelled(2, &["line:2"]),
        labelled(3, &[]),
        // `_` and `%` must not act as wildcards, nor a label match a part of another.
        labelled(4, &["batchx7", "line:20"]),
    ];
    assert_eq!(
        store.ingest(project.clone(), batch.clone()).await.unwrap(),
        summary(4, 0, 0)
    );
    assert_eq!(
        store.ingest(project.clone(), batch).await.unwrap(),
        summary(0, 4, 0),
        "the same labels again: unchanged"
    );
    let labels_of = |rows: Vec<StoredReading>| -> Vec<(i64, Vec<String>)> {
        rows.into_iter().map(|r| (r.time_us, r.labels)).collect()
    };
    let with = |label: &str| ReadingQuery {
        label: Some(label.into()),
        ..query(&project)
    };
    let strings = |labels: &[&str]| labels.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        labels_of(store.read_readings(&with("line:2")).await.unwrap()),
        [
            (1, strings(&["batch_7", "line:2"])),
            (2, strings(&["line:2"]))
        ]
    );
    assert_eq!(
        labels_of(store.read_readings(&with("batch_7")).await.unwrap()),
        [(1, strings(&["batch_7", "line:2"]))]
    );
    assert!(store.read_readings(&with("line")).await.unwrap().is_empty());

    // A resend with other labels is a correction that replaces them.
    assert_eq!(
        store
            .ingest(
                project.clone(),
                vec![
                    labelled(1, &["checked"]),
                    labelled(2, &[]),
                    labelled(3, &["late"])
                ]
            )
            .await
            .unwrap(),
        summary(0, 0, 3)
    );
    assert_eq!(
        labels_of(store.read_readings(&query(&project)).await.unwrap()),
        [
            (1, strings(&["checked"])),
            (2, vec![]),
            (3, strings(&["late"])),
            (4, strings(&["batchx7", "line:20"]))
        ]
    );
    assert_eq!(
        labels_of(store.read_readings(&with("line:2")).await.unwrap()),
        []
    );
    let series = store
        .list_series(&SeriesQuery::first(&project, 1000))
        .await
        .unwrap();
    assert_eq!(
        series[0].labels,
        strings(&["batch_7", "batchx7", "checked", "late", "line:2", "line:20"]),
        "every label the series has carried"
    );
}

async fn ingestion_needs_an_existing_project(store: Arc<dyn Store>) {
    let project = project(&store).await;
    assert!(store.project_exists(&project).await.unwrap());
    let missing = ProjectKey {
        org_id: project.org_id.clone(),
        code: "nope".into(),
    };
    assert!(!store.project_exists(&missing).await.unwrap());
    assert!(matches!(
        store.ingest(missing, vec![reading("s", "x", 1, 1.0)]).await,
        Err(Error::NotFound { .. })
    ));
    // The failed job does not disturb the next one.
    assert_eq!(
        store
            .ingest(project, vec![reading("s", "x", 1, 1.0)])
            .await
            .unwrap(),
        summary(1, 0, 0)
    );
}

async fn concurrent_ingestion_of_overlapping_batches(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = store.clone();
            let project = project.clone();
            tokio::spawn(async move {
                // Every task writes times 0..500 of sensor (task % 4): four tasks share each key set.
                let batch = (0..500)
                    .map(|t| reading(&format!("s{}", task % 4), "x", t, 1.0))
                    .collect();
                store.ingest(project, batch).await.unwrap()
            })
        })
        .collect();
    let mut total = IngestSummary::default();
    for task in tasks {
        let s = task.await.unwrap();
        total.new += s.new;
        total.unchanged += s.unchanged;
        total.replaced += s.replaced;
    }
    assert_eq!(total, summary(2000, 6000, 0));
    let series = store
        .list_series(&SeriesQuery::first(&project, 1000))
        .await
        .unwrap();
    assert!(series.iter().all(|s| s.count == 500), "{series:?}");
}

/// Requests waiting for the writer together are written with shared statements (one
/// insert for all their readings): each still gets its own counts, and series of the
/// same name in two projects stay apart.
async fn concurrent_requests_written_together_keep_their_own_counts(store: Arc<dyn Store>) {
    let line = project(&store).await;
    store
        .create_project(&line.org_id, "press", 3)
        .await
        .unwrap();
    let press = ProjectKey {
        org_id: line.org_id.clone(),
        code: "press".into(),
    };
    let first = |task: usize| -> Vec<ValidReading> {
        (0..5)
            .map(|t| reading(&format!("s{}", task / 2), "x", t, task as f64))
            .collect()
    };
    // Tasks 2k and 2k+1 send the same sensor names, one to each project.
    let project_of = |task: usize| {
        if task.is_multiple_of(2) {
            line.clone()
        } else {
            press.clone()
        }
    };
    let send = |batches: Vec<(ProjectKey, Vec<ValidReading>)>| {
        let store = store.clone();
        async move {
            let tasks: Vec<_> = batches
                .into_iter()
                .map(|(project, batch)| {
                    let store = store.clone();
                    tokio::spawn(async move { store.ingest(project, batch).await.unwrap() })
                })
                .collect();
            let mut summaries = Vec::new();
            for task in tasks {
                summaries.push(task.await.unwrap());
            }
            summaries
        }
    };
    let created = send(
        (0..40)
            .map(|task| (project_of(task), first(task)))
            .collect(),
    )
    .await;
    assert!(
        created.iter().all(|s| *s == summary(5, 0, 0)),
        "{created:?}"
    );
    // Again: the same readings; two of them changed, with labels; or three more.
    let again = send(
        (0..40)
            .map(|task| {
                let mut batch = first(task);
                match task % 3 {
                    0 => {}
                    1 => {
                        batch[1].value = -1.0;
                        batch[3].labels = vec![format!("task:{task}")];
                    }
                    _ => batch
                        .extend((5..8).map(|t| reading(&format!("s{}", task / 2), "x", t, 0.5))),
                }
                (project_of(task), batch)
            })
            .collect(),
    )
    .await;
    for (task, got) in again.iter().enumerate() {
        let expected = match task % 3 {
            0 => summary(0, 5, 0),
            1 => summary(0, 3, 2),
            _ => summary(3, 5, 0),
        };
        assert_eq!(*got, expected, "task {task}");
    }
    for (task, project) in (0..40).map(|task| (task, project_of(task))) {
        let series = store
            .list_series(&SeriesQuery::first(&project, 1000))
            .await
            .unwrap();
        let mine = series
            .iter()
            .find(|s| s.sensor_id == format!("s{}", task / 2))
            .unwrap();
        assert_eq!(mine.count, if task % 3 == 2 { 8 } else { 5 }, "task {task}");
        let mut query = query(&project);
        query.sensor_id = Some(mine.sensor_id.clone());
        let stored = store.read_readings(&query).await.unwrap();
        let values: Vec<f64> = stored.iter().map(|r| r.value).collect();
        let mut expected = vec![task as f64; 5];
        match task % 3 {
            1 => expected[1] = -1.0,
            2 => expected.extend([0.5; 3]),
            _ => {}
        }
        assert_eq!(values, expected, "task {task}");
        if task % 3 == 1 {
            assert_eq!(stored[3].labels, [format!("task:{task}")]);
        }
    }
}

async fn scores_detector_state_and_anomalies_are_stored_with_the_readings(store: Arc<dyn Store>) {
    let project = project(&store).await;
    assert_eq!(
        store.series_detection(&project, "s", "x").await.unwrap(),
        StoredDetection::default()
    );
    let scored = |time_us: i64, value: f64, score: Option<f64>| ScoredReading {
        reading: reading("s", "x", time_us, value),
        score,
        expected: None,
        asset_feed: None,
    };
    let event = AnomalyEvent {
        start_us: 2,
        end_us: 2,
        peak_us: 2,
        peak_score: 0.9,
        explanation: Some(EventExplanation {
            kind: "spike".into(),
            expected_low: 0.5,
            expected_high: 1.5,
            observed: 50.0,
        }),
    };
    let batch = IngestBatch {
        readings: vec![
            scored(1, 1.0, Some(0.1)),
            scored(2, 50.0, Some(0.9)),
            scored(3, 1.0, None),
        ],
        detection: vec![SeriesDetection {
            sensor_id: "s".into(),
            value_name: "x".into(),
            checkpoint: Some(r#"{"n":3}"#.into()),
            scored_until_us: 2,
            previous_scored_until_us: None,
            events: vec![event.clone()],
        }],
        assets: Vec::new(),
    };
    assert_eq!(
        store.ingest_batch(project.clone(), batch).await.unwrap(),
        summary(3, 0, 0)
    );
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.score).collect::<Vec<_>>(),
        [Some(0.1), Some(0.9), None]
    );
    assert_eq!(
        store.series_detection(&project, "s", "x").await.unwrap(),
        StoredDetection {
            checkpoint: Some(r#"{"n":3}"#.into()),
            checkpoint_until_us: Some(2),
            scored_until_us: Some(2)
        }
    );

    // The open event grows in a later batch (upsert by start); a correction keeps its score.
    let grown = AnomalyEvent {
        end_us: 4,
        peak_us: 4,
        peak_score: 0.95,
        ..event
    };
    let batch = IngestBatch {
        readings: vec![scored(2, 49.0, Some(0.2)), scored(4, 60.0, Some(0.95))],
        detection: vec![SeriesDetection {
            sensor_id: "s".into(),
            value_name: "x".into(),
            checkpoint: None,
            scored_until_us: 4,
            previous_scored_until_us: Some(2),
            events: vec![grown.clone()],
        }],
        assets: Vec::new(),
    };
    assert_eq!(
        store.ingest_batch(project.clone(), batch).await.unwrap(),
        summary(1, 0, 1)
    );
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!((stored[1].value, stored[1].score), (49.0, Some(0.9)));
    // A batch without a checkpoint moves the progress and keeps the last checkpoint.
    assert_eq!(
        store.series_detection(&project, "s", "x").await.unwrap(),
        StoredDetection {
            checkpoint: Some(r#"{"n":3}"#.into()),
            checkpoint_until_us: Some(2),
            scored_until_us: Some(4)
        }
    );
    // A stale writer (a detector that had not seen the latest readings, as another
    // node's would be) is refused whole: no reading, no progress, no checkpoint.
    let stale = IngestBatch {
        readings: vec![scored(3, 1.0, Some(0.5))],
        detection: vec![SeriesDetection {
            sensor_id: "s".into(),
            value_name: "x".into(),
            checkpoint: Some(r#"{"n":"stale"}"#.into()),
            scored_until_us: 3,
            previous_scored_until_us: Some(2),
            events: vec![],
        }],
        assets: Vec::new(),
    };
    assert!(matches!(
        store.ingest_batch(project.clone(), stale).await,
        Err(Error::Stale(series)) if series == "s/x"
    ));
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!(
        stored[2].score, None,
        "nothing written: the stale score is not"
    );
    assert_eq!(
        store.series_detection(&project, "s", "x").await.unwrap(),
        StoredDetection {
            checkpoint: Some(r#"{"n":3}"#.into()),
            checkpoint_until_us: Some(2),
            scored_until_us: Some(4)
        },
        "progress never moves backwards"
    );
    // What a reload replays: the latest scored readings, as corrected, in time order.
    let point = |time_us, value, score| ScoredPoint {
        time_us,
        value,
        score,
    };
    let replay = |after_us, limit| store.scored_readings(&project, "s", "x", after_us, limit);
    assert_eq!(
        replay(None, 10).await.unwrap(),
        [
            point(1, 1.0, 0.1),
            point(2, 49.0, 0.9),
            point(4, 60.0, 0.95)
        ]
    );
    assert_eq!(
        replay(Some(1), 10).await.unwrap(),
        [point(2, 49.0, 0.9), point(4, 60.0, 0.95)]
    );
    assert_eq!(replay(None, 1).await.unwrap(), [point(4, 60.0, 0.95)]);
    assert!(
        store
            .scored_readings(&project, "other", "x", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let anomaly_query = AnomalyQuery {
        project: project.clone(),
        sensor_id: None,
        value_name: None,
        from_us: None,
        to_us: None,
        min_score: None,
        after: None,
        limit: 10,
    };
    let anomalies = store.list_anomalies(&anomaly_query).await.unwrap();
    assert_eq!(anomalies.len(), 1);
    assert_eq!(
        (anomalies[0].sensor_id.as_str(), anomalies[0].event.clone()),
        ("s", grown)
    );
    let strict = AnomalyQuery {
        min_score: Some(0.99),
        ..anomaly_query.clone()
    };
    assert!(store.list_anomalies(&strict).await.unwrap().is_empty());
    let later = AnomalyQuery {
        from_us: Some(5),
        ..anomaly_query.clone()
    };
    assert!(store.list_anomalies(&later).await.unwrap().is_empty());
    let after = AnomalyQuery {
        after: Some((anomalies[0].event.start_us, anomalies[0].series_id)),
        ..anomaly_query
    };
    assert!(store.list_anomalies(&after).await.unwrap().is_empty());
}

fn new_user<'a>(id: &'a str, email: &'a str, org_id: &'a str) -> NewUser<'a> {
    NewUser {
        id,
        org_id,
        email,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        role: "admin",
    }
}

fn session(id_hash: &str, now: i64) -> Session {
    Session {
        id_hash: id_hash.into(),
        csrf_token: format!("csrf-{id_hash}"),
        created_at: now,
        last_seen_at: now,
        expires_at: now + DAY,
    }
}

async fn users_are_unique_by_email_and_sessions_end(store: Arc<dyn Store>) {
    let Fixture { org, .. } = fixture(&store).await;
    let org_id = org.id.as_str();
    let ada = store
        .create_user(new_user("u-1", "ada@example.com", org_id), 10)
        .await
        .unwrap();
    assert_eq!(ada.role, "admin");
    assert!(matches!(
        store
            .create_user(new_user("u-2", "ada@example.com", org_id), 11)
            .await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        store
            .create_user(new_user("u-3", "bob@example.com", "no-such-org"), 11)
            .await,
        Err(Error::NotFound { .. })
    ));
    let found = store
        .user_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, ada);
    assert!(found.password_hash.starts_with("$argon2id$"));
    assert!(
        store
            .user_credentials("eve@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_users(org_id).await.unwrap(),
        std::slice::from_ref(&ada)
    );

    // Sessions: found by their id hash while live, touched, ended.
    store
        .create_session("u-1", &session("s1", 100))
        .await
        .unwrap();
    store
        .create_session("u-1", &session("s2", 100))
        .await
        .unwrap();
    let (live, user) = store.session("s1", 200).await.unwrap().unwrap();
    assert_eq!((live, user), (session("s1", 100), ada.clone()));
    assert!(
        store.session("s1", 100 + DAY).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.session("nope", 200).await.unwrap().is_none());
    store.touch_session("s1", 300).await.unwrap();
    assert_eq!(
        store
            .session("s1", 400)
            .await
            .unwrap()
            .unwrap()
            .0
            .last_seen_at,
        300
    );
    // A new password ends the user's other sessions.
    store
        .set_password("u-1", "$argon2id$new", Some("s1"))
        .await
        .unwrap();
    assert!(store.session("s1", 400).await.unwrap().is_some());
    assert!(store.session("s2", 400).await.unwrap().is_none());
    assert_eq!(
        store
            .user_credentials("ada@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    assert!(matches!(
        store.set_password("u-9", "x", None).await,
        Err(Error::NotFound { .. })
    ));
    store.delete_session("s1").await.unwrap();
    assert!(store.session("s1", 400).await.unwrap().is_none());

    store.add_known_device("u-1", "d1", 500).await.unwrap();
    assert_eq!(
        store.known_device_user("d1").await.unwrap().as_deref(),
        Some("u-1")
    );
    assert_eq!(store.known_device_user("d2").await.unwrap(), None);
    assert!(matches!(
        store.add_known_device("u-9", "d3", 500).await,
        Err(Error::NotFound { .. })
    ));

    // The audit log: newest first, per organisation.
    store
        .record_audit(
            org_id,
            "ada@example.com",
            "application.create",
            "app-1",
            600,
        )
        .await
        .unwrap();
    store
        .record_audit(
            org_id,
            "ada@example.com",
            "application.disable",
            "app-1",
            700,
        )
        .await
        .unwrap();
    let log = store.list_audit(org_id, 10).await.unwrap();
    let actions: Vec<(&str, i64)> = log.iter().map(|e| (e.action.as_str(), e.at)).collect();
    assert_eq!(
        actions,
        [("application.disable", 700), ("application.create", 600)]
    );
    assert_eq!(store.list_audit(org_id, 1).await.unwrap().len(), 1);
    assert!(store.list_audit("other-org", 10).await.unwrap().is_empty());

    // Invitations: found while live, used once, creating their user.
    let invitation = Invitation {
        id_hash: "i1".into(),
        org_id: org_id.to_owned(),
        email: "bob@example.com".into(),
        role: "engineer".into(),
        invited_by: "ada@example.com".into(),
        expires_at: 1_000,
    };
    store.create_invitation(&invitation).await.unwrap();
    assert_eq!(
        store.invitation("i1", 900).await.unwrap(),
        Some(invitation.clone())
    );
    assert_eq!(
        store.invitation("i1", 1_000).await.unwrap(),
        None,
        "expired"
    );
    let bob = new_user("u-2", "bob@example.com", org_id);
    assert!(matches!(
        store.accept_invitation("i1", bob.clone(), 1_000).await,
        Err(Error::NotFound { .. })
    ));
    let joined = store
        .accept_invitation("i1", bob.clone(), 900)
        .await
        .unwrap();
    assert_eq!(
        (joined.email.as_str(), joined.role.as_str()),
        ("bob@example.com", "admin")
    );
    assert!(matches!(
        store.accept_invitation("i1", bob, 900).await,
        Err(Error::NotFound { .. })
    ));

    // Roles and disabling, within the organisation only; disabling ends sessions.
    store
        .create_session("u-2", &session("s3", 900))
        .await
        .unwrap();
    store
        .set_user_role(org_id, "u-2", "viewer", None)
        .await
        .unwrap();
    assert_eq!(
        store.session("s3", 950).await.unwrap().unwrap().1.role,
        "viewer"
    );
    store
        .set_user_role(org_id, "u-2", "viewer", Some(960))
        .await
        .unwrap();
    assert!(store.session("s3", 970).await.unwrap().is_none());
    assert!(matches!(
        store.set_user_role("other-org", "u-2", "admin", None).await,
        Err(Error::NotFound { .. })
    ));
}

/// Twenty readings a second for `seconds` seconds from `start_us`, value = index,
/// score = index / 10,000, expected range value ± 1.
fn dense(start_us: i64, seconds: i64) -> IngestBatch {
    IngestBatch {
        readings: (0..seconds * 20)
            .map(|i| ScoredReading {
                reading: reading("s", "x", start_us + i * 50_000, i as f64),
                score: Some(i as f64 / 10_000.0),
                expected: Some((i as f64 - 1.0, i as f64 + 1.0)),
                asset_feed: None,
            })
            .collect(),
        detection: Vec::new(),
        assets: Vec::new(),
    }
}

/// One hour, in microseconds.
const HOUR: i64 = 3_600_000_000;

/// Series `s`/`x` of `project`, which `dense` writes.
fn series_s_x(project: &ProjectKey) -> SeriesRef<'_> {
    SeriesRef {
        project,
        sensor_id: "s",
        value_name: "x",
    }
}

/// A resent request is not counted again; a correction, or a request mixing stored
/// and new readings, has its buckets recomputed from the readings, exactly.
async fn rollups_count_each_reading_once_whatever_is_sent_again(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let series = series_s_x(&project);
    let summary_of = |rollups: &[Rollup]| -> Vec<(i64, i64, f64, f64, f64)> {
        rollups
            .iter()
            .map(|r| {
                (
                    r.bucket_us,
                    r.reading_count,
                    r.min_value,
                    r.max_value,
                    r.last_value,
                )
            })
            .collect()
    };
    let widths = |store: Arc<dyn Store>| async move {
        let mut all = Vec::new();
        for width in [1, 60, 3_600] {
            let rollups = store
                .series_rollups(series, width, 0, 10 * HOUR)
                .await
                .unwrap();
            all.push(summary_of(&rollups));
        }
        all
    };
    // 40 readings 50 ms apart: two seconds, one minute, one hour, all written.
    store
        .ingest_batch(project.clone(), dense(HOUR, 2))
        .await
        .unwrap();
    let first = widths(store.clone()).await;
    assert_eq!(first[2], [(HOUR, 40, 0.0, 39.0, 39.0)]);
    assert_eq!(first[0].iter().map(|s| s.1).collect::<Vec<_>>(), [20, 20]);
    // The same request again: nothing changes.
    store
        .ingest_batch(project.clone(), dense(HOUR, 2))
        .await
        .unwrap();
    assert_eq!(widths(store.clone()).await, first);
    // The last reading corrected upwards: counts unchanged, highest and last moved.
    let mut corrected = dense(HOUR, 2);
    corrected.readings[39].reading.value = 100.0;
    assert_eq!(
        store
            .ingest_batch(project.clone(), corrected)
            .await
            .unwrap(),
        summary(0, 39, 1)
    );
    let after = widths(store.clone()).await;
    assert_eq!(after[2], [(HOUR, 40, 0.0, 100.0, 100.0)]);
    assert_eq!(after[1], [(HOUR, 40, 0.0, 100.0, 100.0)]);
    assert_eq!(after[0][1], (HOUR + 1_000_000, 20, 20.0, 100.0, 100.0));
    // Two seconds: the first one stored already (its last reading back to 39), the
    // next one new.
    let mut mixed = dense(HOUR + 1_000_000, 2);
    for scored in &mut mixed.readings {
        scored.reading.value += 20.0;
    }
    assert_eq!(
        store.ingest_batch(project.clone(), mixed).await.unwrap(),
        summary(20, 19, 1)
    );
    let rebuilt = widths(store.clone()).await;
    // Recomputed from the readings: the highest is exact again (100 is gone).
    assert_eq!(rebuilt[2], [(HOUR, 60, 0.0, 59.0, 59.0)]);
    assert_eq!(rebuilt[0][1], (HOUR + 1_000_000, 20, 20.0, 39.0, 39.0));
    assert_eq!(
        rebuilt[0].iter().map(|s| s.1).collect::<Vec<_>>(),
        [20, 20, 20]
    );
    let stored = store.read_readings(&query(&project)).await.unwrap();
    assert_eq!(stored.len(), 60);
    // One reading corrected alone (too sparse for seconds and minutes of its own): the
    // existing second and minute are recomputed too, none is created.
    let low = IngestBatch::from(vec![reading("s", "x", HOUR, -50.0)]);
    assert_eq!(
        store.ingest_batch(project.clone(), low).await.unwrap(),
        summary(0, 0, 1)
    );
    let corrected = widths(store.clone()).await;
    assert_eq!(corrected[2], [(HOUR, 60, -50.0, 59.0, 59.0)]);
    assert_eq!(corrected[1], [(HOUR, 60, -50.0, 59.0, 59.0)]);
    assert_eq!(corrected[0][0], (HOUR, 20, -50.0, 19.0, 19.0));
    assert_eq!(corrected[0].len(), 3);
}

async fn rollups_summarise_readings_and_merge_across_requests(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let series = series_s_x(&project);
    // Two dense requests in one hour (the second one's minute overlaps the first's),
    // then one reading alone: too sparse for seconds and minutes.
    store
        .ingest_batch(project.clone(), dense(HOUR, 90))
        .await
        .unwrap();
    store
        .ingest_batch(project.clone(), dense(HOUR + 90_000_000, 30))
        .await
        .unwrap();
    let alone = IngestBatch::from(vec![reading("s", "x", HOUR + 600_000_000, -5.0)]);
    store.ingest_batch(project.clone(), alone).await.unwrap();

    let hours = store
        .series_rollups(series, 3_600, 0, 10 * HOUR)
        .await
        .unwrap();
    assert_eq!(hours.len(), 1, "{hours:?}");
    let hour = &hours[0];
    assert_eq!((hour.bucket_us, hour.reading_count), (HOUR, 2401));
    assert_eq!((hour.first_us, hour.first_value), (HOUR, 0.0));
    assert_eq!((hour.last_us, hour.last_value), (HOUR + 600_000_000, -5.0));
    assert_eq!((hour.min_value, hour.max_value), (-5.0, 1799.0));
    assert_eq!(hour.max_score, Some(0.1799));
    assert_eq!(
        (hour.expected_low, hour.expected_high),
        (Some(-1.0), Some(1800.0))
    );

    // Minutes: the second minute merges both requests (30 s + 30 s of readings).
    let minutes = store
        .series_rollups(series, 60, HOUR, 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(
        minutes.iter().map(|m| m.reading_count).collect::<Vec<_>>(),
        [1200, 1200],
        "{minutes:?}"
    );
    let second_minute = &minutes[1];
    assert_eq!(second_minute.first_value, 1200.0);
    assert_eq!(
        second_minute.last_value, 599.0,
        "the later request's last reading"
    );
    assert_eq!(
        (second_minute.min_value, second_minute.max_value),
        (0.0, 1799.0)
    );
    // The lone reading is in the hour only: the minutes do not add up to it.
    let in_minutes: i64 = minutes.iter().map(|m| m.reading_count).sum();
    assert_eq!(hour.reading_count - in_minutes, 1);
    let seconds = store
        .series_rollups(series, 1, HOUR, HOUR + 10_000_000)
        .await
        .unwrap();
    assert_eq!(seconds.len(), 10);
    assert!(seconds.iter().all(|s| s.reading_count == 20));

    // Chart readings keep score and expected range, in time order, up to the limit.
    let readings = store
        .chart_readings(series, HOUR, HOUR + 1_000_000, 5)
        .await
        .unwrap();
    assert_eq!(readings.len(), 5);
    assert_eq!(readings[2].time_us, HOUR + 100_000);
    assert_eq!(readings[2].score, Some(0.0002));
    assert_eq!(
        (readings[2].expected_low, readings[2].expected_high),
        (Some(1.0), Some(3.0))
    );
    let other = ProjectKey {
        org_id: "another-org".into(),
        code: "line".into(),
    };
    let elsewhere = SeriesRef {
        project: &other,
        ..series
    };
    assert!(
        store
            .series_rollups(elsewhere, 3_600, 0, 10 * HOUR)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .chart_readings(elsewhere, 0, 10 * HOUR, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn annotation(id: &str, sensor_id: Option<&str>, start_us: i64, end_us: i64) -> Annotation {
    Annotation {
        id: id.into(),
        sensor_id: sensor_id.map(Into::into),
        value_name: None,
        asset: None,
        start_us,
        end_us,
        kind: "planned_stop".into(),
        note: "line stopped".into(),
        author: "ada@example.com".into(),
        created_at: 5,
    }
}

async fn annotations_are_listed_by_range_within_their_project(store: Arc<dyn Store>) {
    let project = project(&store).await;
    let whole = annotation("a1", None, 100, 200);
    let press = annotation("a2", Some("press"), 150, 300);
    for a in [&press, &whole] {
        store.create_annotation(&project, a).await.unwrap();
    }
    let listed = |from, to| {
        let store = Arc::clone(&store);
        let project = project.clone();
        async move {
            let found = store
                .list_annotations(&project, from, to, 10)
                .await
                .unwrap();
            found.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(0, 1_000).await, ["a1", "a2"], "by start");
    assert_eq!(
        listed(200, 250).await,
        ["a2"],
        "ranges end before their end"
    );
    assert_eq!(listed(0, 100).await, Vec::<String>::new());
    let read = store.list_annotations(&project, 0, 1_000, 1).await.unwrap();
    assert_eq!(
        read,
        std::slice::from_ref(&whole),
        "read back whole, up to the limit"
    );
    assert!(matches!(
        store.create_annotation(&project, &whole).await,
        Err(Error::AlreadyExists(_))
    ));

    // Another organisation's project of the same code neither sees nor deletes them.
    let other_org = store.create_organisation("other", 1).await.unwrap();
    store
        .create_project(&other_org.id, "line", 2)
        .await
        .unwrap();
    let other = ProjectKey {
        org_id: other_org.id,
        code: "line".into(),
    };
    assert!(
        store
            .list_annotations(&other, 0, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.delete_annotation(&other, "a1").await.unwrap());
    assert!(store.delete_annotation(&project, "a1").await.unwrap());
    assert!(!store.delete_annotation(&project, "a1").await.unwrap());
    assert_eq!(listed(0, 1_000).await, ["a2"]);
    let missing = ProjectKey {
        code: "nope".into(),
        ..project.clone()
    };
    assert!(matches!(
        store
            .create_annotation(&missing, &annotation("a3", None, 0, 1))
            .await,
        Err(Error::NotFound { .. })
    ));
}
