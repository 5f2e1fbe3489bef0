//! Throw-away databases for tests of this and other crates: a fresh SQLite file or a
//! fresh PostgreSQL database per call.
//!
//! PostgreSQL is found at `VIGIE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without a reachable server the
//! PostgreSQL variants are skipped, except when `CI` is set: there they must run.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::DatabaseUrl;

/// Says that a test checks nothing because a prerequisite is missing, where the test
/// runner does not hide it (it captures `eprintln!`, not the standard error itself),
/// so that a run without PostgreSQL, PyPI or npm is not mistaken for a green one.
pub fn report_skipped(reason: &str) {
    use std::io::Write;
    let test = std::thread::current();
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {}: {reason}",
        test.name().unwrap_or("a test")
    );
}

/// URL of a new SQLite database file in a fresh temporary folder.
pub fn temp_sqlite_url() -> DatabaseUrl {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "vigie-test-{}-{}-{n}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).expect("create temporary folder");
    DatabaseUrl::new(format!("sqlite://{}/vigie.db", dir.display()))
}

/// URL of a new, empty PostgreSQL database, or `None` (with a note on stderr) when no
/// server answers and `CI` is not set.
///
/// # Panics
/// When `CI` is set and PostgreSQL cannot be reached or the database cannot be created.
pub async fn temp_postgres_url() -> Option<DatabaseUrl> {
    let admin = std::env::var("VIGIE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(conn) => conn,
        Err(error) if std::env::var_os("CI").is_none() => {
            report_skipped(&format!("no PostgreSQL at {admin} ({error})"));
            return None;
        }
        Err(error) => {
            panic!("CI is set, so PostgreSQL tests must run, but {admin} is unreachable: {error}")
        }
    };
    let name = format!("vigie_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Some(DatabaseUrl::new(format!("{base}/{name}")))
}

/// A pool of one connection to a new, empty PostgreSQL database through sqlx's `Any`
/// driver, as the store uses it (one connection, so a statement's second run reuses its
/// first one's preparation); `None` as for [`temp_postgres_url`].
#[cfg(test)]
pub(crate) async fn one_postgres_connection() -> Option<sqlx::AnyPool> {
    let url = temp_postgres_url().await?;
    sqlx::any::install_default_drivers();
    Some(
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url.expose())
            .await
            .expect("connect to the test database"),
    )
}
