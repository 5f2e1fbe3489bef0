//! Tokens over time: rotation under concurrency, reuse detection, disabling, secret and
//! key rotation, the load-adaptive lifetime, revocation and introspection.

use serde_json::Value;

use crate::helpers::{
    Backend, Options, TestApp, assert_oauth_error, jwt_parts, on_both_backends, spawn,
};

fn refresh_token_of(response: &Value) -> String {
    response["refresh_token"].as_str().unwrap().to_owned()
}

fn access_token_of(response: &Value) -> String {
    response["access_token"].as_str().unwrap().to_owned()
}

async fn fifty_concurrent_refreshes_keep_one_live_family(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let app = std::sync::Arc::new(app);
    let first = app.new_token().await;
    let shared = refresh_token_of(&first);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            let shared = shared.clone();
            tokio::spawn(async move {
                let response = app.refresh(&shared).await;
                assert_eq!(response.status(), 200, "no concurrent refresh is refused");
                response.json::<Value>().await.unwrap()
            })
        })
        .collect();
    let mut minted = Vec::new();
    for task in tasks {
        minted.push(task.await.unwrap());
    }
    // Whichever answer the client keeps, it holds a working access and refresh token.
    for response in [&minted[0], &minted[24], &minted[49]] {
        assert_eq!(
            app.projects(&app.org_id, &access_token_of(response))
                .await
                .status(),
            200
        );
    }
    let kept = refresh_token_of(&minted[49]);
    let next = app.refresh(&kept).await;
    assert_eq!(next.status(), 200);
    let next: Value = next.json().await.unwrap();

    // One family: revoking its newest token ends every token the 50 refreshes minted.
    let revoke = app
        .http
        .post(format!("{}/v0/oauth2/revoke", app.url))
        .basic_auth(&app.app_id, Some(&app.secret))
        .form(&[("token", refresh_token_of(&next))])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    for response in [&minted[0], &minted[10], &minted[49]] {
        assert_oauth_error(
            app.refresh(&refresh_token_of(response)).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

async fn replay_after_the_grace_window_revokes_the_family(backend: Backend) {
    let options = Options {
        manual_clock: true,
        configure: Box::new(|config| config.auth.refresh_grace_ms = 2_000),
    };
    let Some(app) = spawn(backend, options).await else {
        return;
    };
    let first = app.new_token().await;
    let second: Value = app
        .refresh(&refresh_token_of(&first))
        .await
        .json()
        .await
        .unwrap();
    // Within the grace window the previous token still rotates (a concurrent refresh).
    app.advance(1);
    let sibling = app.refresh(&refresh_token_of(&first)).await;
    assert_eq!(sibling.status(), 200);
    // After it, presenting the old token again is reuse: the whole family is revoked.
    app.advance(2);
    let description = assert_oauth_error(
        app.refresh(&refresh_token_of(&first)).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(description.contains("already used"), "{description}");
    let description = assert_oauth_error(
        app.refresh(&refresh_token_of(&second)).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(description.contains("revoked"), "{description}");
    // The client recovers the documented way: a new client-credentials token.
    assert_eq!(
        app.token("grant_type=client_credentials").await.status(),
        200
    );
}

async fn disabling_an_application_stops_everything_fast(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.new_token().await;
    app.store
        .disable_application(&app.app_id, chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    // At once, before the server has even reloaded: refresh and new grants stop.
    assert_oauth_error(
        app.refresh(&refresh_token_of(&token)).await,
        401,
        "invalid_client",
    )
    .await;
    // Within one reload interval: client authentication and access tokens stop.
    app.wait_for_reload().await;
    assert_oauth_error(
        app.token("grant_type=client_credentials").await,
        401,
        "invalid_client",
    )
    .await;
    let refused = app.projects(&app.org_id, &access_token_of(&token)).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

async fn rotated_secrets_keep_working_for_the_grace_period(backend: Backend) {
    let Some(app) = spawn(
        backend,
        Options {
            manual_clock: true,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let new_secret =
        vigie_auth::provision::rotate_secret(&*app.store, &*app.clock, &app.app_id, 60)
            .await
            .unwrap();
    let new_secret = secrecy::ExposeSecret::expose_secret(&new_secret).to_owned();
    app.wait_for_reload().await;
    assert_eq!(
        app.token("grant_type=client_credentials").await.status(),
        200,
        "old secret, in grace"
    );
    assert_eq!(
        app.token_as(&app.app_id, &new_secret, "grant_type=client_credentials")
            .await
            .status(),
        200
    );
    app.advance(61);
    assert_oauth_error(
        app.token("grant_type=client_credentials").await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(
        app.token_as(&app.app_id, &new_secret, "grant_type=client_credentials")
            .await
            .status(),
        200
    );
}

async fn key_rotation_keeps_issued_tokens_valid(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let before = access_token_of(&app.new_token().await);
    vigie_auth::provision::rotate_signing_key(&*app.store, &*app.clock)
        .await
        .unwrap();
    app.wait_for_reload().await;
    let after = access_token_of(&app.new_token().await);
    let kid = |token: &str| jwt_parts(token).0["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid(&before), kid(&after));
    assert_eq!(app.projects(&app.org_id, &before).await.status(), 200);
    assert_eq!(app.projects(&app.org_id, &after).await.status(), 200);
    let jwks: Value = app
        .get_json(format!("{}/.well-known/jwks.json", app.url), None)
        .await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&kid(&before).as_str()) && kids.contains(&kid(&after).as_str()));
}

async fn lifetime_stretches_under_load_within_bounds(backend: Backend) {
    let options = Options {
        manual_clock: true,
        configure: Box::new(|config| {
            // Load thresholds of 30 and 60 tokens per minute, so a test can reach them.
            config.auth.access_lifetime = vigie_auth::lifetime::LifetimePolicy {
                base_seconds: 100,
                max_seconds: 200,
                load_low: 0.5,
                load_high: 1.0,
            };
        }),
    };
    let Some(app) = spawn(backend, options).await else {
        return;
    };
    let mut lifetimes = Vec::new();
    for _ in 0..70 {
        let token = app.new_token().await;
        let (_, claims) = jwt_parts(&access_token_of(&token));
        let expires_in = token["expires_in"].as_i64().unwrap();
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            expires_in
        );
        lifetimes.push(expires_in);
    }
    assert!(
        lifetimes[..30].iter().all(|&l| l == 100),
        "base lifetime at low load: {lifetimes:?}"
    );
    assert!(
        lifetimes.windows(2).all(|w| w[0] <= w[1]),
        "grows with load: {lifetimes:?}"
    );
    assert!(
        lifetimes[59..].iter().all(|&l| l == 200),
        "capped at the maximum: {lifetimes:?}"
    );
    // A minute later the load has passed and the base lifetime is back.
    app.advance(61);
    assert_eq!(app.new_token().await["expires_in"], 100);
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let response = app
        .http
        .post(format!("{}/v0/oauth2/introspect", app.url))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn revocation_and_introspection(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.new_token().await;
    let access = access_token_of(&token);
    let refresh = refresh_token_of(&token);
    let info = introspect(&app, &app.app_id, &app.secret, &access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], app.app_id.as_str());
    assert_eq!(info["org"], app.org_id.as_str());
    assert_eq!(info["token_type"], "access_token");
    assert_eq!(
        introspect(&app, &app.app_id, &app.secret, &refresh).await["token_type"],
        "refresh_token"
    );

    // Another client learns nothing about these tokens, and cannot revoke them.
    let (other_id, other_secret) = app.create_app(&app.org_id, "data").await;
    app.wait_for_reload().await;
    assert_eq!(
        introspect(&app, &other_id, &other_secret, &access).await,
        serde_json::json!({"active": false})
    );
    let revoke = |id: String, secret: String, token: String| {
        let request = app
            .http
            .post(format!("{}/v0/oauth2/revoke", app.url))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)]);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        revoke(other_id.clone(), other_secret.clone(), access.clone()).await,
        200
    );
    assert_eq!(app.projects(&app.org_id, &access).await.status(), 200);

    // The owner revokes: the access token is refused at once.
    assert_eq!(
        revoke(app.app_id.clone(), app.secret.clone(), access.clone()).await,
        200
    );
    let refused = app.projects(&app.org_id, &access).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        introspect(&app, &app.app_id, &app.secret, &access).await["active"],
        false
    );
    assert_eq!(
        revoke(app.app_id.clone(), app.secret.clone(), refresh.clone()).await,
        200
    );
    assert_eq!(
        introspect(&app, &app.app_id, &app.secret, &refresh).await["active"],
        false
    );
    assert_oauth_error(app.refresh(&refresh).await, 400, "invalid_grant").await;
    // Unknown tokens are fine to revoke (RFC 7009 §2.2); a bad client is not.
    assert_eq!(
        revoke(app.app_id.clone(), app.secret.clone(), "whatever".into()).await,
        200
    );
    assert_eq!(
        revoke(app.app_id.clone(), "vgs_wrong".into(), "whatever".into()).await,
        401
    );
}

on_both_backends!(
    fifty_concurrent_refreshes_keep_one_live_family,
    replay_after_the_grace_window_revokes_the_family,
    disabling_an_application_stops_everything_fast,
    rotated_secrets_keep_working_for_the_grace_period,
    key_rotation_keeps_issued_tokens_valid,
    lifetime_stretches_under_load_within_bounds,
    revocation_and_introspection,
);
