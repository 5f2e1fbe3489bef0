//! The web console's people and sessions through the real server, as a browser uses
//! them (cookies read from `Set-Cookie` so that their flags are checked): signing in,
//! the cookie flags, login CSRF, a new session id at each sign-in (no fixation), a
//! user seeing only their organisation, password change with CSRF and Origin checks,
//! sign-in throttling, and signing out; admins manage applications (secret shown once,
//! good for a token), viewers get 403, every change is in the audit log.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use secrecy::SecretString;

use crate::helpers::{Backend, Options, TestApp, on_both_backends, spawn};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser: no redirects followed, cookies kept by hand.
pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    /// The `Set-Cookie` lines of the last answer.
    set_cookies: Vec<String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        self.set_cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &self.set_cookies {
            let (pair, _) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let response = self
            .http
            .get(format!("{}{path}", self.app.url))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String, Option<String>) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.app.url))
            .header(COOKIE, self.cookie_header())
            .form(form);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        self.answer(response).await
    }

    async fn answer(&mut self, response: reqwest::Response) -> (u16, String, Option<String>) {
        self.keep(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), location)
    }

    fn set_cookie(&self, name: &str) -> &str {
        self.set_cookies
            .iter()
            .find(|line| line.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.set_cookies))
    }

    /// The value of a hidden form field in a page.
    pub(crate) fn field(page: &str, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {page}"))
            + marker.len();
        page[start..].split('"').next().unwrap().to_owned()
    }

    /// Opens the sign-in page and signs in.
    pub(crate) async fn sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> (u16, String, Option<String>) {
        let (_, page, _) = self.get("/login").await;
        let csrf = Self::field(&page, "csrf");
        self.post(
            "/login",
            &[("email", email), ("password", password), ("csrf", &csrf)],
            Some(&self.app.url.clone()),
        )
        .await
    }
}

async fn a_user_signs_in_sees_their_organisation_and_signs_out(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let clock = vigie_auth::clock::SystemClock;
    let store = &*app.store;
    // The test app's organisation has the project `pressline`.
    let other = vigie_auth::provision::create_organisation(store, &clock, "globex")
        .await
        .unwrap();
    vigie_auth::provision::create_project(store, &clock, &other.id, "secretline")
        .await
        .unwrap();
    let password = SecretString::from(PASSWORD);
    vigie_auth::people::create_user(
        store,
        &clock,
        &app.org_id,
        "ada@example.com",
        "engineer",
        &password,
    )
    .await
    .unwrap();

    let mut browser = Browser::new(&app);
    // Not signed in: to the sign-in page.
    let (status, _, location) = browser.get("/").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    let (status, page, _) = browser.get("/login").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<label for="email">"#) && page.contains(r#"name="password""#));
    let login_cookie = browser.set_cookie("vigie_login_csrf");
    assert!(
        login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"),
        "{login_cookie}"
    );

    // A forged sign-in (no token, or another site's Origin) is refused.
    let csrf = Browser::field(&page, "csrf");
    let form = [("email", "ada@example.com"), ("password", PASSWORD)];
    let (status, _, _) = browser.post("/login", &form, None).await;
    assert_eq!(status, 403);
    let with_token = [form[0], form[1], ("csrf", csrf.as_str())];
    let (status, _, _) = browser
        .post("/login", &with_token, Some("https://evil.example"))
        .await;
    assert_eq!(status, 403);

    // Wrong password and unknown address get the same answer.
    let (status, wrong_password, _) = browser
        .sign_in("ada@example.com", "not the password at all")
        .await;
    assert_eq!(status, 401);
    let (status, unknown, _) = browser
        .sign_in("eve@example.com", "not the password at all")
        .await;
    assert_eq!(status, 401);
    let strip = |page: &str| Browser::field(page, "csrf").len() + page.len();
    assert_eq!(strip(&wrong_password), strip(&unknown));
    assert!(wrong_password.contains("Wrong e-mail address or password."));

    // A session id planted before signing in is not the one given after (fixation).
    browser
        .cookies
        .insert("vigie_session".into(), "planted-by-an-attacker".into());
    let (status, _, location) = browser.sign_in("Ada@Example.com", PASSWORD).await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let session = browser.set_cookie("vigie_session").to_owned();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain HTTP here: {session}");
    assert_ne!(browser.cookies["vigie_session"], "planted-by-an-attacker");
    assert!(browser.set_cookie("vigie_device").contains("Max-Age="));

    // The organisation's projects, not another's.
    let (status, page, _) = browser.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("pressline") && page.contains("ada@example.com"),
        "{page}"
    );
    assert!(!page.contains("secretline"), "{page}");

    // Changing the password needs the session's token and this site's Origin.
    let token = Browser::field(&page, "csrf");
    for (current, token, expected) in [
        (PASSWORD, "forged", 403),
        ("not the password at all", token.as_str(), 422),
        (PASSWORD, token.as_str(), 200),
    ] {
        let form = [
            ("current", current),
            ("new", "a brand new passphrase"),
            ("csrf", token),
        ];
        let (status, page, _) = browser
            .post("/account/password", &form, Some(&app.url))
            .await;
        assert_eq!(status, expected, "{page}");
        match expected {
            422 => assert!(page.contains("the current password is wrong"), "{page}"),
            200 => assert!(page.contains("Password changed"), "{page}"),
            _ => {}
        }
    }
    // …and this site's Origin.
    let form = [
        ("current", "a brand new passphrase"),
        ("new", "yet another passphrase"),
        ("csrf", &token),
    ];
    let (status, _, _) = browser
        .post("/account/password", &form, Some("https://evil.example"))
        .await;
    assert_eq!(status, 403);

    // Signing out ends the session: its cookie no longer opens anything.
    let old = browser.cookies["vigie_session"].clone();
    let (status, _, location) = browser
        .post("/logout", &[("csrf", &token)], Some(&app.url))
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    browser.cookies.insert("vigie_session".into(), old);
    let (status, _, location) = browser.get("/").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
}

async fn a_flood_of_sign_ins_is_throttled_but_not_the_owners_browser(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let clock = vigie_auth::clock::SystemClock;
    let password = SecretString::from(PASSWORD);
    vigie_auth::people::create_user(
        &*app.store,
        &clock,
        &app.org_id,
        "ada@example.com",
        "admin",
        &password,
    )
    .await
    .unwrap();
    let mut owner = Browser::new(&app);
    let (status, _, _) = owner.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(status, 303);

    let mut attacker = Browser::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            attacker
                .sign_in("ada@example.com", "guess guess guess")
                .await
                .0,
        );
    }
    assert_eq!(statuses[..9], [401; 9], "{statuses:?}");
    assert_eq!(statuses[9..], [429; 3], "{statuses:?}");
    // Throttled before the password is checked: the right one too.
    assert_eq!(attacker.sign_in("ada@example.com", PASSWORD).await.0, 429);
    // The owner's browser (its device cookie) still signs in.
    assert_eq!(owner.sign_in("ada@example.com", PASSWORD).await.0, 303);
}

/// The explorer puts an asset's health above its series: the pump of the health test,
/// whose fault is an asset event.
async fn the_explorer_shows_an_assets_health_above_its_series(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let token = app.access_token().await;
    let url = app.data_url(&app.org_id, "pressline");
    let readings = crate::health::pump_readings(0..140 * 60, &(90 * 60..120 * 60));
    crate::health::push(&app, &token, &url, &readings, 600).await;
    let clock = vigie_auth::clock::SystemClock;
    let password = SecretString::from(PASSWORD);
    vigie_auth::people::create_user(
        &*app.store,
        &clock,
        &app.org_id,
        "ada@example.com",
        "viewer",
        &password,
    )
    .await
    .unwrap();
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("ada@example.com", PASSWORD).await.0, 303);
    let (status, page, _) = browser.get("/projects/pressline").await;
    assert_eq!(status, 200);
    let asset = page.find("Asset default").expect("the asset's row");
    let series = page.find(">flow<").expect("the flow's row");
    assert!(asset < series, "assets first");
    // The asset's cells open the asset event's page.
    let row = &page[asset..series];
    let start = row
        .find("href=\"/projects/pressline/events/ev_")
        .expect("an asset cell links its event")
        + 6;
    let link = &row[start..start + row[start..].find('"').unwrap()];
    let (status, event_page, _) = browser.get(link).await;
    assert_eq!(status, 200, "{link}");
    assert!(event_page.contains("id=\"status\""), "{event_page}");
}

/// Admins invite people (a one-time link), change roles and disable users; never
/// themselves.
async fn admins_invite_people_and_manage_their_roles(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let clock = vigie_auth::clock::SystemClock;
    let password = SecretString::from(PASSWORD);
    let root = vigie_auth::people::create_user(
        &*app.store,
        &clock,
        &app.org_id,
        "root@example.com",
        "admin",
        &password,
    )
    .await
    .unwrap();
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("root@example.com", PASSWORD).await.0, 303);
    let (status, page, _) = admin.get("/admin/users").await;
    assert_eq!(status, 200);
    let token = Browser::field(&page, "csrf");
    let form = [
        ("email", "Bob@Example.com"),
        ("role", "engineer"),
        ("csrf", token.as_str()),
    ];
    let (status, page, _) = admin
        .post("/admin/users/invite", &form, Some(&app.url))
        .await;
    assert_eq!(status, 200, "{page}");
    let marker = r#"id="link" readonly value=""#;
    let link = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let path = link.trim_start_matches(&app.url).to_owned();
    assert!(path.starts_with("/invite/"), "{link}");

    // The invited person chooses a password (12 characters at least), once.
    let mut bob = Browser::new(&app);
    let (status, page, _) = bob.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("bob@example.com"));
    let csrf = Browser::field(&page, "csrf");
    let (status, _, _) = bob
        .post(
            &path,
            &[("password", "short"), ("csrf", &csrf)],
            Some(&app.url),
        )
        .await;
    assert_eq!(status, 422);
    let (_, page, _) = bob.get(&path).await;
    let csrf = Browser::field(&page, "csrf");
    let bobs = "bob's own long passphrase";
    let (status, _, location) = bob
        .post(
            &path,
            &[("password", bobs), ("csrf", &csrf)],
            Some(&app.url),
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    assert_eq!(bob.get(&path).await.0, 404, "the link works once");
    assert_eq!(bob.sign_in("bob@example.com", bobs).await.0, 303);
    let (_, home, _) = bob.get("/").await;
    assert!(home.contains("bob@example.com (engineer)"), "{home}");
    assert_eq!(bob.get("/admin/users").await.0, 403);

    // Bob's role changes, then he is disabled: his session ends and he cannot sign in.
    let bob_id = app
        .store
        .list_users(&app.org_id)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "bob@example.com")
        .unwrap()
        .id;
    let change = format!("/admin/users/{bob_id}");
    let form = [
        ("role", "viewer"),
        ("enabled", "true"),
        ("csrf", token.as_str()),
    ];
    assert_eq!(admin.post(&change, &form, Some(&app.url)).await.0, 303);
    let (_, home, _) = bob.get("/").await;
    assert!(home.contains("(viewer)"), "{home}");
    let form = [("role", "viewer"), ("csrf", token.as_str())];
    assert_eq!(admin.post(&change, &form, Some(&app.url)).await.0, 303);
    assert_eq!(
        bob.get("/").await.0,
        303,
        "the disabled user's session ended"
    );
    assert_eq!(bob.sign_in("bob@example.com", bobs).await.0, 401);

    // Never oneself; never another organisation's user.
    let own = format!("/admin/users/{}", root.id);
    let form = [
        ("role", "viewer"),
        ("enabled", "true"),
        ("csrf", token.as_str()),
    ];
    let (status, page, _) = admin.post(&own, &form, Some(&app.url)).await;
    assert_eq!(status, 422);
    assert!(page.contains("cannot demote or disable yourself"));
    let other = vigie_auth::provision::create_organisation(&*app.store, &clock, "globex")
        .await
        .unwrap();
    let stranger = vigie_auth::people::create_user(
        &*app.store,
        &clock,
        &other.id,
        "eve@example.com",
        "admin",
        &password,
    )
    .await
    .unwrap();
    let theirs = format!("/admin/users/{}", stranger.id);
    assert_eq!(admin.post(&theirs, &form, Some(&app.url)).await.0, 404);

    let (_, log, _) = admin.get("/admin/audit").await;
    for action in ["user.invite", "user.join", "user.set_role", "user.disable"] {
        assert!(log.contains(action), "{action}: {log}");
    }
}

on_both_backends!(
    annotating_needs_an_engineer_and_the_csrf_token,
    admins_invite_people_and_manage_their_roles,
    the_explorer_shows_an_assets_health_above_its_series,
    a_user_signs_in_sees_their_organisation_and_signs_out,
    a_flood_of_sign_ins_is_throttled_but_not_the_owners_browser,
    admins_manage_applications_and_viewers_cannot
);

async fn admins_manage_applications_and_viewers_cannot(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let clock = vigie_auth::clock::SystemClock;
    let store = &*app.store;
    let password = SecretString::from(PASSWORD);
    for (email, role) in [("root@example.com", "admin"), ("val@example.com", "viewer")] {
        vigie_auth::people::create_user(store, &clock, &app.org_id, email, role, &password)
            .await
            .unwrap();
    }
    let other = vigie_auth::provision::create_organisation(store, &clock, "globex")
        .await
        .unwrap();
    let (foreign, _) =
        vigie_auth::provision::create_application(store, &clock, &other.id, "theirs", "data")
            .await
            .unwrap();

    // A viewer: 403 on every admin page and action.
    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.sign_in("val@example.com", PASSWORD).await.0, 303);
    let (_, home, _) = viewer.get("/").await;
    let token = Browser::field(&home, "csrf");
    assert_eq!(viewer.get("/admin/applications").await.0, 403);
    assert_eq!(viewer.get("/admin/audit").await.0, 403);
    let form = [
        ("name", "sneaky"),
        ("scope", "data"),
        ("csrf", token.as_str()),
    ];
    assert_eq!(
        viewer
            .post("/admin/applications", &form, Some(&app.url))
            .await
            .0,
        403
    );
    let disable = format!("/admin/applications/{}/disable", app.app_id);
    assert_eq!(
        viewer
            .post(&disable, &[("csrf", &token)], Some(&app.url))
            .await
            .0,
        403
    );

    // An admin creates an application: its secret is shown once and gets a token.
    let mut admin = Browser::new(&app);
    assert_eq!(admin.sign_in("root@example.com", PASSWORD).await.0, 303);
    let (status, page, _) = admin.get("/admin/applications").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&app.app_id),
        "the organisation's applications: {page}"
    );
    assert!(!page.contains(&foreign.id), "not another organisation's");
    let token = Browser::field(&page, "csrf");
    let form = [
        ("name", "line 2 gateway"),
        ("scope", "data"),
        ("csrf", token.as_str()),
    ];
    assert_eq!(admin.post("/admin/applications", &form, None).await.0, 200);
    let (status, page, _) = admin
        .post("/admin/applications", &form, Some(&app.url))
        .await;
    assert_eq!(status, 200, "{page}");
    let marker = r#"id="app-id" readonly value=""#;
    let id = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let marker = r#"id="secret" readonly value=""#;
    let secret = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        secret.starts_with("vgs_") && page.contains("curl -X POST"),
        "{page}"
    );
    let issued = app
        .token_as(&id, &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(issued.status(), 200);
    // Shown once: the list never shows it again.
    let (_, list, _) = admin.get("/admin/applications").await;
    assert!(list.contains(&id) && !list.contains(&secret));

    // Another organisation's application cannot be touched; the admin's own can.
    let foreign_rotate = format!("/admin/applications/{}/rotate", foreign.id);
    assert_eq!(
        admin
            .post(&foreign_rotate, &[("csrf", &token)], Some(&app.url))
            .await
            .0,
        404
    );
    let rotate = format!("/admin/applications/{id}/rotate");
    let (status, page, _) = admin
        .post(&rotate, &[("csrf", &token)], Some(&app.url))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("previous one keeps working"));
    let disable = format!("/admin/applications/{id}/disable");
    let (status, _, location) = admin
        .post(&disable, &[("csrf", &token)], Some(&app.url))
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/applications"))
    );
    let (_, list, _) = admin.get("/admin/applications").await;
    assert!(list.contains("disabled"), "{list}");

    // Every change is in the audit log, with who did it.
    let (status, log, _) = admin.get("/admin/audit").await;
    assert_eq!(status, 200);
    for action in [
        "application.create",
        "application.rotate_secret",
        "application.disable",
    ] {
        assert!(log.contains(action), "{action} missing: {log}");
    }
    assert!(log.contains("root@example.com"));
}

/// Viewers read annotations but do not write them; a form without the session's CSRF
/// token, or from another origin, writes nothing.
async fn annotating_needs_an_engineer_and_the_csrf_token(backend: Backend) {
    let Some(app) = spawn(backend, Options::default()).await else {
        return;
    };
    let clock = vigie_auth::clock::SystemClock;
    let password = SecretString::from(PASSWORD);
    for (email, role) in [
        ("vic@example.com", "viewer"),
        ("eng@example.com", "engineer"),
    ] {
        vigie_auth::people::create_user(&*app.store, &clock, &app.org_id, email, role, &password)
            .await
            .unwrap();
    }
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("kind", "note".to_owned()),
            ("start", "2024-01-01T00:00:00Z".to_owned()),
            ("end", "2024-01-01T01:00:00Z".to_owned()),
            ("covers", "project".to_owned()),
            ("back", "/projects/pressline".to_owned()),
        ]
    };
    let count = || async {
        let project = vigie_store::ProjectKey {
            org_id: app.org_id.clone(),
            code: "pressline".into(),
        };
        app.store
            .list_annotations(&project, i64::MIN, i64::MAX, 100)
            .await
            .unwrap()
            .len()
    };

    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.sign_in("vic@example.com", PASSWORD).await.0, 303);
    let (_, page, _) = viewer.get("/projects/pressline").await;
    assert!(
        !page.contains("form id=\"annotate\""),
        "no form for viewers"
    );
    let csrf = Browser::field(&viewer.get("/account").await.1, "csrf");
    let fields = form(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let origin = Some(app.url.clone());
    let (status, _, _) = viewer
        .post(
            "/projects/pressline/annotations",
            &fields,
            origin.as_deref(),
        )
        .await;
    assert_eq!(status, 403);

    let mut engineer = Browser::new(&app);
    assert_eq!(engineer.sign_in("eng@example.com", PASSWORD).await.0, 303);
    let (_, page, _) = engineer.get("/projects/pressline").await;
    assert!(
        page.contains("form id=\"annotate\""),
        "the form for engineers"
    );
    let csrf = Browser::field(&engineer.get("/account").await.1, "csrf");
    for (token, from) in [
        ("", origin.as_deref()),
        ("forged", origin.as_deref()),
        (csrf.as_str(), Some("https://evil.example")),
    ] {
        let fields = form(token);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, _) = engineer
            .post("/projects/pressline/annotations", &fields, from)
            .await;
        assert_eq!(status, 403, "token {token:?} from {from:?}");
    }
    assert_eq!(count().await, 0);
    let fields = form(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, location) = engineer
        .post(
            "/projects/pressline/annotations",
            &fields,
            origin.as_deref(),
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/projects/pressline"))
    );
    assert_eq!(count().await, 1);
    let (_, page, _) = viewer
        .get("/projects/pressline?from=2023-12-31T00:00:00Z&to=2024-01-02T00:00:00Z")
        .await;
    assert!(
        page.contains("id=\"annotation-row\"") && page.contains("eng@example.com"),
        "viewers see it"
    );
}
