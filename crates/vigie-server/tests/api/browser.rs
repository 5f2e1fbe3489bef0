//! The console in a real browser: Debian's Chromium, headless, driven through
//! ChromeDriver (WebDriver) with `fantoccini`. A user signs in, sees their projects,
//! opens a project's explorer (heat map, then a click on a cell filters the events),
//! the series viewer (chart, band, events, a new annotation), acknowledges an event and
//! gives a verdict, is told a wrong current password, has a forged form refused and the
//! admin pages closed (403); an admin creates an application whose secret gets a
//! token; both sign out. Each view is saved as a screenshot
//! under the target folder (`console-screenshots/`) and checked not to be blank.
//!
//! Without `chromedriver` and `chromium` the test reports itself skipped, except when
//! `CI` is set (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use secrecy::SecretString;

use crate::helpers::{Backend, Options, TestApp, spawn};

const PASSWORD: &str = "correct horse battery staple";

/// ChromeDriver on a free port, killed when dropped.
struct Driver {
    process: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Option<Self> {
        let found = ["chromedriver", "chromium"].iter().all(|tool| {
            std::process::Command::new("which")
                .arg(tool)
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set: chromium and chromedriver must be installed (.ci/run does)"
            );
            vigie_store::testing::report_skipped("chromium or chromedriver is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Self { process, url });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    /// A headless Chromium at 1280×800.
    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,800"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the page as `name.png` and checks it is not blank (it has many colours).
async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> =
        pixels[..info.buffer_size()].chunks(channels).collect();
    assert!(
        colours.len() > 20,
        "{} looks blank: {} colours",
        path.display(),
        colours.len()
    );
}

/// Waits (5 s at most) until the browser is at `path`: a click returns before the
/// navigation it starts ends.
async fn wait_for_path(browser: &Client, path: &str) {
    for _ in 0..50 {
        if browser.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "still at {} instead of {path}",
        browser.current_url().await.unwrap()
    );
}

/// The text of the first element matching `css`, waiting (5 s at most) for it to
/// appear: a submitted form returns before the next page is there.
async fn text(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
        .text()
        .await
        .unwrap()
}

/// Waits (5 s at most) until the page's heading is `expected`: a submitted form
/// returns while the previous page, and its heading, may still be there.
async fn wait_for_heading(browser: &Client, expected: &str) {
    let mut seen = String::new();
    for _ in 0..50 {
        if let Ok(heading) = browser.find(Locator::Css("h1")).await
            && let Ok(text) = heading.text().await
        {
            if text == expected {
                return;
            }
            seen = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the heading is still {seen:?}, not {expected:?}");
}

async fn sign_in(browser: &Client, app: &TestApp, password: &str) {
    sign_in_as(browser, app, "ada@example.com", password).await;
}

async fn sign_in_as(browser: &Client, app: &TestApp, email: &str, password: &str) {
    browser.goto(&format!("{}/login", app.url)).await.unwrap();
    let form = browser
        .form(Locator::Css("form[action='/login']"))
        .await
        .unwrap();
    form.set_by_name("email", email).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    form.submit().await.unwrap();
}

async fn sign_out(browser: &Client) {
    browser
        .find(Locator::Css("header button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(browser, "/login").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signs_in_and_out_in_a_real_browser() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = spawn(Backend::Sqlite, Options::default()).await.unwrap();
    let clock = vigie_auth::clock::SystemClock;
    let password = SecretString::from(PASSWORD);
    for (email, role) in [
        ("ada@example.com", "engineer"),
        ("root@example.com", "admin"),
    ] {
        vigie_auth::people::create_user(&*app.store, &clock, &app.org_id, email, role, &password)
            .await
            .unwrap();
    }
    let browser = driver.browser().await;

    // Not signed in: the console sends the browser to the sign-in page.
    browser.goto(&format!("{}/", app.url)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");
    screenshot(&browser, "login").await;

    sign_in(&browser, &app, "not the password at all").await;
    assert!(
        text(&browser, "[role=alert]")
            .await
            .contains("Wrong e-mail address or password")
    );

    sign_in(&browser, &app, PASSWORD).await;
    wait_for_path(&browser, "/").await;
    assert_eq!(text(&browser, "h1").await, "Projects");
    assert!(text(&browser, "table").await.contains("pressline"));
    screenshot(&browser, "projects").await;

    // The explorer: the heat map shows the series with the spike; a click on its cell
    // lists that series' events in that time slot, explained.
    let token = app.access_token().await;
    for start in (0..3_000).step_by(500) {
        crate::anomalies::push(&app, &token, crate::anomalies::series(start..start + 500)).await;
    }
    browser
        .find(Locator::LinkText("pressline"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&browser, "/projects/pressline").await;
    assert_eq!(text(&browser, "h1").await, "Project pressline");
    assert!(
        text(&browser, "table.heat")
            .await
            .contains("press-7 / temperature")
    );
    screenshot(&browser, "explorer").await;

    // The series viewer: a click on the series draws its readings (downsampled to the
    // chart's width) with their band of expected values, the scores and the event span.
    let explorer = browser.current_url().await.unwrap();
    browser
        .find(Locator::Css("table.heat th a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&browser, "/projects/pressline/series").await;
    browser
        .wait()
        .for_element(Locator::Css("#chart canvas"))
        .await
        .unwrap();
    let chart = browser.find(Locator::Css("#chart")).await.unwrap();
    let points: usize = chart
        .attr("data-points")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let events: usize = chart
        .attr("data-events")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let band: usize = chart
        .attr("data-band")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(points > 100 && points <= 4 * 1280, "{points} points drawn");
    assert_eq!(events, 1, "the spike's event is shaded");
    assert!(band > points / 2, "{band} of {points} points have a band");
    browser
        .find(Locator::Css("#scores canvas"))
        .await
        .expect("the score track, under the readings");

    // Annotate the shown range of this series: back on the viewer, the annotation is
    // listed and drawn on the chart.
    browser
        .find(Locator::Css("details summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let form = browser.form(Locator::Css("form#annotate")).await.unwrap();
    form.set_by_name("kind", "maintenance").await.unwrap();
    form.set_by_name("note", "bearing greased").await.unwrap();
    form.set_by_name("start", "2023-11-16T06:00:00Z")
        .await
        .unwrap();
    form.set_by_name("end", "2023-11-16T12:00:00Z")
        .await
        .unwrap();
    form.submit().await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#annotations tbody tr"))
        .await
        .unwrap();
    let listed = text(&browser, "#annotations tbody").await;
    assert!(
        listed.contains("Maintenance") && listed.contains("bearing greased"),
        "{listed}"
    );
    let chart = browser
        .wait()
        .for_element(Locator::Css("#chart[data-annotations='1']"))
        .await
        .expect("the annotation drawn on the chart");
    assert!(chart.attr("data-points").await.unwrap().is_some());
    screenshot(&browser, "series").await;

    // Back in the explorer, a click on the spike's cell lists that series' events in
    // that slot.
    browser.goto(explorer.as_str()).await.unwrap();
    browser
        .find(Locator::Css("table.heat td a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("main p strong"))
        .await
        .unwrap();
    let url = browser.current_url().await.unwrap();
    assert!(url.query().unwrap().contains("sensor=press-7"), "{url}");
    let events = text(&browser, "#events tbody").await;
    assert!(
        events.contains("press-7 / temperature") && events.contains("spike"),
        "{events}"
    );
    screenshot(&browser, "explorer-filtered").await;

    // The event: acknowledge it with a comment, then give a verdict; both are in its
    // history.
    browser
        .find(Locator::LinkText("details"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#status"))
        .await
        .unwrap();
    assert_eq!(text(&browser, "#status").await, "open");
    let form = browser
        .form(Locator::Css("form:has(input[value='acknowledge'])"))
        .await
        .unwrap();
    form.set_by_name("comment", "crew on site").await.unwrap();
    form.submit().await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#history li"))
        .await
        .unwrap();
    assert_eq!(text(&browser, "#status").await, "acknowledged");
    browser
        .find(Locator::Css("input[value='not_anomaly']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let form = browser
        .form(Locator::Css("form:has(input[value='verdict'])"))
        .await
        .unwrap();
    form.set_by_name("fault_code", "TEST-1").await.unwrap();
    form.submit().await.unwrap();
    browser
        .wait()
        .for_element(Locator::Css("#history li + li"))
        .await
        .unwrap();
    assert!(
        text(&browser, "#verdict")
            .await
            .contains("Not an anomaly · fault TEST-1")
    );
    let history = text(&browser, "#history").await;
    assert!(
        history.contains("acknowledge: crew on site")
            && history.contains("verdict not_anomaly (TEST-1)"),
        "{history}"
    );
    screenshot(&browser, "event").await;
    browser
        .find(Locator::LinkText("Vigie"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The account page tells a wrong current password.
    browser
        .find(Locator::LinkText("ada@example.com (engineer)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let form = browser
        .form(Locator::Css("form[action='/account/password']"))
        .await
        .unwrap();
    form.set_by_name("current", "not the password at all")
        .await
        .unwrap();
    form.set_by_name("new", "a brand new passphrase")
        .await
        .unwrap();
    form.submit().await.unwrap();
    assert!(
        text(&browser, "[role=alert]")
            .await
            .contains("the current password is wrong")
    );
    screenshot(&browser, "account").await;

    // A form whose CSRF token was tampered with is refused, and changes nothing.
    let form = browser
        .form(Locator::Css("form[action='/account/password']"))
        .await
        .unwrap();
    form.set_by_name("current", PASSWORD).await.unwrap();
    form.set_by_name("new", "a brand new passphrase")
        .await
        .unwrap();
    form.set_by_name("csrf", "forged").await.unwrap();
    form.submit().await.unwrap();
    wait_for_heading(&browser, "Request refused").await;

    // An engineer is not an admin: the applications page answers 403.
    browser
        .goto(&format!("{}/admin/applications", app.url))
        .await
        .unwrap();
    wait_for_heading(&browser, "Not allowed").await;
    sign_out(&browser).await;

    // An admin creates an application: its secret, shown once, gets a token.
    sign_in_as(&browser, &app, "root@example.com", PASSWORD).await;
    wait_for_path(&browser, "/").await;
    browser
        .goto(&format!("{}/admin/applications", app.url))
        .await
        .unwrap();
    let form = browser
        .form(Locator::Css("form[action='/admin/applications']"))
        .await
        .unwrap();
    form.set_by_name("name", "cmms").await.unwrap();
    form.set_by_name("scope", "data events").await.unwrap();
    form.submit().await.unwrap();
    let value = |css: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .wait()
                .for_element(Locator::Css(css))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (app_id, secret) = (value("#app-id").await, value("#secret").await);
    screenshot(&browser, "application").await;
    app.wait_for_reload().await;
    let token = app
        .token_as(&app_id, &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(token.status(), 200, "the secret shown gets a token");

    // Signing out returns to the sign-in page; the console is closed again.
    sign_out(&browser).await;
    browser.goto(&format!("{}/", app.url)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");
    browser.close().await.unwrap();
}
