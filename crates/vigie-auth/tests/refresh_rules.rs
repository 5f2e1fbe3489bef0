//! The refresh-token rules, which live here and not in the store: a token is refused
//! when it is another client's, expired, revoked, of a disabled application, or asked
//! for a wider scope; on SQLite and PostgreSQL, with the clock moved by hand.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use vigie_auth::clock::ManualClock;
use vigie_auth::{AuthConfig, AuthService, ClientCredentials, Error, provision};
use vigie_proto::OAuthErrorCode;
use vigie_store::Store;
use vigie_store::testing::{temp_postgres_url, temp_sqlite_url};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn code_of<T: std::fmt::Debug>(result: Result<T, Error>) -> (OAuthErrorCode, String) {
    match result {
        Err(Error::OAuth { code, description }) => (code, description),
        other => panic!("expected an OAuth2 error, got {other:?}"),
    }
}

async fn the_rules_refuse_what_they_must(store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::at(1_700_000_000_000));
    let org = provision::create_organisation(&*store, &*clock, "acme")
        .await
        .unwrap();
    let (app, secret) = provision::create_application(&*store, &*clock, &org.id, "gateway", "data")
        .await
        .unwrap();
    let (other, other_secret) =
        provision::create_application(&*store, &*clock, &org.id, "other", "data")
            .await
            .unwrap();
    let mut config = AuthConfig::with_issuer("http://vigie.test");
    config.refresh_lifetime_seconds = 3_600;
    let auth = AuthService::start(store.clone(), clock.clone(), config)
        .await
        .unwrap();
    let client = |id: &str, secret: &SecretString| {
        let credentials = ClientCredentials {
            client_id: id.to_owned(),
            client_secret: SecretString::from(secret.expose_secret().to_owned()),
        };
        let auth = &auth;
        async move { auth.authenticate(&credentials, LOCAL).await.unwrap() }
    };
    let gateway = client(&app.id, &secret).await;
    let intruder = client(&other.id, &other_secret).await;
    let granted = auth.grant_client_credentials(&gateway, None).await.unwrap();
    let token = granted.refresh_token;

    let (code, said) = code_of(auth.grant_refresh_token(&intruder, &token, None).await);
    assert_eq!(
        (code, said.as_str()),
        (
            OAuthErrorCode::InvalidGrant,
            "the refresh token is not valid for this client"
        )
    );
    let (code, _) = code_of(
        auth.grant_refresh_token(&gateway, "vgr_unknown", None)
            .await,
    );
    assert_eq!(code, OAuthErrorCode::InvalidGrant);
    let (code, _) = code_of(
        auth.grant_refresh_token(&gateway, &token, Some("data admin"))
            .await,
    );
    assert_eq!(code, OAuthErrorCode::InvalidScope);
    let (code, _) = code_of(
        auth.grant_refresh_token(&gateway, &token, Some("da\\ta"))
            .await,
    );
    assert_eq!(code, OAuthErrorCode::InvalidScope);
    let renewed = auth
        .grant_refresh_token(&gateway, &token, Some("data data"))
        .await
        .expect("the same scope, written twice, is the same scope");

    clock.advance_ms(3_600_001);
    let (code, said) = code_of(
        auth.grant_refresh_token(&gateway, &renewed.refresh_token, None)
            .await,
    );
    assert_eq!(
        (code, said.as_str()),
        (
            OAuthErrorCode::InvalidGrant,
            "the refresh token has expired"
        )
    );

    let fresh = auth.grant_client_credentials(&gateway, None).await.unwrap();
    auth.revoke(&gateway, &fresh.refresh_token).await.unwrap();
    let (code, said) = code_of(
        auth.grant_refresh_token(&gateway, &fresh.refresh_token, None)
            .await,
    );
    assert_eq!(
        (code, said.as_str()),
        (
            OAuthErrorCode::InvalidGrant,
            "the refresh token has been revoked"
        )
    );

    let last = auth.grant_client_credentials(&gateway, None).await.unwrap();
    store.disable_application(&app.id, 1).await.unwrap();
    let (code, _) = code_of(
        auth.grant_refresh_token(&gateway, &last.refresh_token, None)
            .await,
    );
    assert_eq!(
        code,
        OAuthErrorCode::InvalidClient,
        "a disabled application's token"
    );
}

#[tokio::test]
async fn on_sqlite() {
    let store = vigie_store::open(&temp_sqlite_url()).await.unwrap();
    the_rules_refuse_what_they_must(store).await;
}

#[tokio::test]
async fn on_postgres() {
    let Some(url) = temp_postgres_url().await else {
        return;
    };
    let store = vigie_store::open(&url).await.unwrap();
    the_rules_refuse_what_they_must(store).await;
}
