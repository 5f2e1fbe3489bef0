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
    rotation_rejects_foreign_expired_and_wider_requests,
    concurrent_rotations_keep_one_live_family,
    signing_keys_rotate_and_retire,
    access_token_revocations_expire,
    generation_changes_with_every_admin_change,
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

fn rotation(app_id: &str, presented: u8, new: u8, now: i64) -> RefreshRotation {
    RefreshRotation {
        presented_hash: vec![presented; 32],
        app_id: app_id.into(),
        requested_scope: None,
        new_hash: vec![new; 32],
        new_expires_at: now + 365 * DAY,
        grace_ms: 10_000,
        now,
    }
}

fn rotated() -> RotationOutcome {
    RotationOutcome::Rotated {
        scope: "data".into(),
    }
}

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
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 11, 300))
            .await
            .unwrap(),
        RotationOutcome::ApplicationDisabled
    );
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
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 11, 200))
            .await
            .unwrap(),
        rotated()
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 11, 12, 300))
            .await
            .unwrap(),
        rotated()
    );
    let info = store.find_refresh_token(&[12; 32]).await.unwrap().unwrap();
    assert!(info.current && !info.revoked);
    assert_eq!(info.app_id, app.id);
    assert!(
        !store
            .find_refresh_token(&[11; 32])
            .await
            .unwrap()
            .unwrap()
            .current
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 99, 13, 300))
            .await
            .unwrap(),
        RotationOutcome::Unknown
    );
}

async fn grace_window_covers_only_the_previous_generation(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 11, 1_000))
            .await
            .unwrap(),
        rotated()
    );
    // A concurrent refresh with the same token, inside the grace window: a sibling.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 12, 2_000))
            .await
            .unwrap(),
        rotated()
    );
    // Both siblings are live; using one advances the family.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 12, 13, 3_000))
            .await
            .unwrap(),
        rotated()
    );
    // The grandparent is two generations back: reuse, even inside the grace window.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 14, 3_500))
            .await
            .unwrap(),
        RotationOutcome::ReuseDetected
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 13, 15, 4_000))
            .await
            .unwrap(),
        RotationOutcome::Revoked
    );
}

async fn reuse_after_grace_revokes_the_family(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 10, 100).await);
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 11, 1_000))
            .await
            .unwrap(),
        rotated()
    );
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 10, 12, 11_001))
            .await
            .unwrap(),
        RotationOutcome::ReuseDetected
    );
    // The whole family is gone, including the legitimate current token.
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 11, 13, 11_002))
            .await
            .unwrap(),
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

async fn rotation_rejects_foreign_expired_and_wider_requests(store: Arc<dyn Store>) {
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
    assert_eq!(
        store
            .rotate_refresh_token(rotation("app-other", 10, 11, 200))
            .await
            .unwrap(),
        RotationOutcome::Unknown,
        "a token is bound to its application"
    );
    let mut wider = rotation(&app.id, 10, 11, 200);
    wider.requested_scope = Some("data admin".into());
    assert_eq!(
        store.rotate_refresh_token(wider).await.unwrap(),
        RotationOutcome::ScopeExceeded
    );
    let mut same = rotation(&app.id, 10, 11, 200);
    same.requested_scope = Some("data".into());
    assert_eq!(store.rotate_refresh_token(same).await.unwrap(), rotated());
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 11, 12, 400 * DAY))
            .await
            .unwrap(),
        RotationOutcome::Expired
    );
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
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 11, 12, 600))
            .await
            .unwrap(),
        RotationOutcome::Revoked
    );
}

async fn concurrent_rotations_keep_one_live_family(store: Arc<dyn Store>) {
    let Fixture { app, .. } = fixture(&store).await;
    assert!(start_family(&store, &app.id, 0, 100).await);
    let mut tasks = Vec::new();
    for n in 1..=50u8 {
        let store = store.clone();
        let app_id = app.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(rotation(&app_id, 0, n, 1_000))
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), rotated());
    }
    // Every minted token belongs to the one family, and each still rotates.
    for n in [1u8, 25, 50] {
        let info = store.find_refresh_token(&[n; 32]).await.unwrap().unwrap();
        assert!(!info.revoked);
    }
    assert_eq!(
        store
            .rotate_refresh_token(rotation(&app.id, 50, 200, 2_000))
            .await
            .unwrap(),
        rotated()
    );
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
