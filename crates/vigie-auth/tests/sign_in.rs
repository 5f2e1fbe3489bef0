//! Signing in on a real store: the right password opens a session, anything else is
//! refused alike; throttling refuses a flood before checking passwords, but never the
//! owner's known browser; sessions end when idle, on a new password, and for disabled
//! users.

use std::net::IpAddr;
use std::num::NonZeroU32;

use secrecy::{ExposeSecret, SecretString};
use vigie_auth::clock::ManualClock;
use vigie_auth::people::{
    self, SESSION_IDLE_MS, SignIn, SignInOutcome, SignInQuota, SignInThrottle,
};
use vigie_auth::provision;
use vigie_store::testing::temp_sqlite_url;

const PASSWORD: &str = "correct horse battery staple";

fn attempt<'a>(email: &'a str, password: &'a SecretString, device: Option<&'a str>) -> SignIn<'a> {
    SignIn {
        email,
        password,
        address: IpAddr::from([10, 0, 0, 7]),
        device,
    }
}

#[tokio::test]
async fn sign_in_throttles_strangers_but_never_the_owners_browser() {
    let store = vigie_store::open(&temp_sqlite_url()).await.unwrap();
    let clock = ManualClock::at(1_000_000);
    let org = provision::create_organisation(&*store, &clock, "acme")
        .await
        .unwrap();
    let right = SecretString::from(PASSWORD);
    let wrong = SecretString::from("a wrong password, long enough");
    people::create_user(&*store, &clock, &org.id, "Ada@Example.com", "admin", &right)
        .await
        .unwrap();
    let quota = SignInQuota {
        per_account_and_address: NonZeroU32::new(3).unwrap(),
        ..SignInQuota::default()
    };
    let throttle = SignInThrottle::new(quota);

    // The owner signs in once: a session and a device cookie.
    let SignInOutcome::SignedIn(first) = people::sign_in(
        &*store,
        &clock,
        &throttle,
        attempt("ada@example.com", &right, None),
    )
    .await
    .unwrap() else {
        panic!("the right password signs in")
    };
    assert_eq!(first.user.email, "ada@example.com");
    let device = first.new_device.clone().expect("a new device cookie");

    // Unknown address and wrong password are refused alike; past the quota (3 attempts
    // a minute for the account from this address, the first sign-in included) the flood
    // is throttled before any password is checked, the right one included.
    for email in ["eve@example.com", "ada@example.com", "ada@example.com"] {
        let outcome = people::sign_in(&*store, &clock, &throttle, attempt(email, &wrong, None));
        assert!(matches!(outcome.await.unwrap(), SignInOutcome::Refused));
    }
    for password in [&wrong, &right] {
        let outcome = people::sign_in(
            &*store,
            &clock,
            &throttle,
            attempt("ada@example.com", password, None),
        );
        assert!(matches!(
            outcome.await.unwrap(),
            SignInOutcome::Throttled(_)
        ));
    }

    // The owner's browser is never throttled, and keeps its device cookie.
    let known = Some(device.expose_secret());
    let outcome = people::sign_in(
        &*store,
        &clock,
        &throttle,
        attempt("ada@example.com", &right, known),
    );
    let SignInOutcome::SignedIn(second) = outcome.await.unwrap() else {
        panic!("the owner's browser signs in during the attack")
    };
    assert!(second.new_device.is_none());
    assert_ne!(
        second.session.id_hash, first.session.id_hash,
        "a new session id each time"
    );
    // The device cookie only vouches for its own user.
    let outcome = people::sign_in(
        &*store,
        &clock,
        &throttle,
        attempt("ada@example.com", &wrong, known),
    );
    assert!(matches!(outcome.await.unwrap(), SignInOutcome::Refused));

    // Sessions: found by their id, ended when idle, and by a new password (but the one
    // that changed it).
    let (session, user) = people::session(&*store, &clock, second.id.expose_secret())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    let new = SecretString::from("another long passphrase");
    people::change_password(&*store, &user, &session, &wrong, &new)
        .await
        .expect_err("the current password is checked");
    people::change_password(&*store, &user, &session, &right, &new)
        .await
        .unwrap();
    assert!(
        people::session(&*store, &clock, second.id.expose_secret())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        people::session(&*store, &clock, first.id.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    clock.advance_ms(SESSION_IDLE_MS + 1);
    assert!(
        people::session(&*store, &clock, second.id.expose_secret())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        people::session(&*store, &clock, "forged")
            .await
            .unwrap()
            .is_none()
    );
}
