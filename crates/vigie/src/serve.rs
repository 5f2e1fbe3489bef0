//! `vigie serve`: open the store, bind, optionally provision the demo, serve until
//! SIGTERM or Ctrl-C, then finish in-flight requests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use vigie_auth::clock::{Clock, SystemClock};
use vigie_auth::lifetime::LifetimePolicy;
use vigie_auth::limits::FailureQuota;
use vigie_auth::{AuthConfig, provision};
use vigie_server::{Server, ServerConfig};
use vigie_store::{DatabaseUrl, Store};

use crate::cli::ServeArgs;

/// Name of the organisation `--demo` provisions.
const DEMO_ORGANISATION: &str = "demo";
/// Code of the ML project `--demo` provisions.
const DEMO_PROJECT: &str = "demo";

pub(crate) async fn serve(args: ServeArgs, database_url: &DatabaseUrl) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let store = vigie_store::open(database_url)
        .await
        .with_context(|| format!("opening {database_url}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut auth = AuthConfig::with_issuer("");
    auth.audience = args.audience;
    auth.access_lifetime = LifetimePolicy {
        base_seconds: args.access_token_ttl,
        max_seconds: args
            .access_token_ttl_max
            .unwrap_or(args.access_token_ttl.saturating_mul(2)),
        load_low: args.token_load_low,
        load_high: args.token_load_high,
    };
    auth.refresh_lifetime_seconds = args.refresh_token_ttl;
    auth.refresh_grace_ms = (args.refresh_grace_seconds as i64).saturating_mul(1000);
    auth.failure_quota = FailureQuota {
        per_client_id: args.failed_auth_per_client,
        per_address: args.failed_auth_per_address,
    };
    let config = ServerConfig {
        listen: args.listen,
        issuer: args.issuer,
        auth,
        reload_interval: Duration::from_millis(args.reload_interval_ms.max(10)),
        detection: vigie_pipeline::DetectionConfig {
            enabled: args.detection,
            assets: args.asset_health,
            threshold: args.anomaly_threshold,
            memory_budget_bytes: args.detector_memory_mib.saturating_mul(1024 * 1024),
            ..vigie_pipeline::DetectionConfig::default()
        },
        timeouts: vigie_server::ConnectionTimeouts {
            header_read: Duration::from_secs_f64(args.header_read_timeout),
            idle: Duration::from_secs_f64(args.idle_timeout),
            body_read: Duration::from_secs_f64(args.body_read_timeout),
        },
    };
    let server = Server::bind(config, store.clone(), clock.clone())
        .await
        .context("starting the server")?;
    let url = format!("http://{}", server.local_addr());
    if args.demo {
        provision_demo(&*store, &*clock, &url).await?;
    }
    tracing::info!(%url, storage = store.backend(), database = %database_url, "vigie is listening");
    server.run_until(shutdown).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Provisions the demo organisation, project and application on first start and
/// prints everything a newcomer needs to get a token.
async fn provision_demo(store: &dyn Store, clock: &dyn Clock, url: &str) -> anyhow::Result<()> {
    if let Some(org) = store.find_organisation_by_name(DEMO_ORGANISATION).await? {
        let apps = store.list_applications(Some(&org.id)).await?;
        println!(
            "Demo already provisioned (its secret was printed at first start and is stored only as a hash)."
        );
        println!("ORGANISATION_ID={}", org.id);
        if let Some(app) = apps.first() {
            println!("APPLICATION_ID={}", app.id);
            println!("New secret: vigie admin app rotate-secret {}", app.id);
        }
        println!("ML_PROJECT={DEMO_PROJECT}");
        return Ok(());
    }
    let org = provision::create_organisation(store, clock, DEMO_ORGANISATION).await?;
    provision::create_project(store, clock, &org.id, DEMO_PROJECT).await?;
    let (app, secret) = provision::create_application(
        store,
        clock,
        &org.id,
        "demo application",
        provision::DEFAULT_SCOPE,
    )
    .await?;
    println!("Demo credentials (the secret is shown once and stored only as a hash):");
    println!();
    println!("export ORGANISATION_ID={}", org.id);
    println!("export APPLICATION_ID={}", app.id);
    println!("export APPLICATION_SECRET={}", secret.expose_secret());
    println!("export ML_PROJECT={DEMO_PROJECT}");
    println!();
    println!("Get a token:");
    println!(
        "curl -X POST '{url}/v0/oauth2token' -u\"$APPLICATION_ID:$APPLICATION_SECRET\" \
         -H'Content-Type: application/x-www-form-urlencoded' --data-binary 'grant_type=client_credentials'"
    );
    println!();
    Ok(())
}

/// Listens for SIGTERM and Ctrl-C (SIGINT) from now on, so that a signal arriving
/// while the server starts is not lost (nor kills it): the future completes at the
/// first one.
///
/// # Errors
/// The signal handlers cannot be installed.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let signalled = {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
    };
    #[cfg(not(unix))]
    let signalled = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    Ok(async move {
        signalled.await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
