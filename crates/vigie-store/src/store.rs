//! [`SqlStore`]: the storage traits on SQLite or PostgreSQL, through sqlx's `Any` driver
//! so that one implementation serves both; connecting, migrating, and delegating each
//! operation to the module of its concern.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::dialect::Dialect;
use crate::ingest::IngestJob;
use crate::writer::Writer;
use crate::*;
use crate::{annotations, assets, events, rollups, users};

/// The store on either database; cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    writer: Writer,
}

/// Settings every SQLite connection gets: WAL with a full fsync at each commit (a
/// reading is on disk before its push is answered), a wait rather than an error when
/// another connection writes, and foreign keys enforced. The WAL is copied back into
/// the database every 10,000 pages (40 MB) rather than every 1,000: a page written by
/// many transactions in between is copied once (ingestion's store ceiling 1.045×,
/// median of three paired runs, `vigie-bench store-ceiling --detection`).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

impl SqlStore {
    /// Opens the database a URL names (`sqlite://…`, created with its folder if
    /// needed, or `postgres://…`) and applies its migrations.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for another scheme; I/O, database and migration errors.
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (dialect, pool) = match url.scheme() {
            "sqlite" => (Dialect::Sqlite, open_sqlite(url).await?),
            "postgres" | "postgresql" => {
                let options = AnyConnectOptions::from_str(url.expose())?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                (Dialect::Postgres, pool)
            }
            _ => return Err(Error::UnsupportedUrl(url.redacted())),
        };
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Self {
            writer: Writer::start(pool.clone(), dialect),
            pool,
            dialect,
        })
    }
}

async fn open_sqlite(url: &DatabaseUrl) -> Result<AnyPool> {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url.expose())?.create_if_missing(true);
    if let Some(folder) = options.get_filename().parent()
        && !folder.as_os_str().is_empty()
        && !Path::new(folder).exists()
    {
        std::fs::create_dir_all(folder).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
    }
    let options = AnyConnectOptions::from_url(&options.to_url_lossy())?;
    Ok(AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn create_organisation(&self, name: &str, now: Millis) -> Result<Organisation> {
        directory::create_organisation(&self.pool, name, now).await
    }

    async fn list_organisations(&self) -> Result<Vec<Organisation>> {
        directory::list_organisations(&self.pool).await
    }

    async fn find_organisation_by_name(&self, name: &str) -> Result<Option<Organisation>> {
        directory::find_organisation_by_name(&self.pool, name).await
    }

    async fn create_project(&self, org_id: &str, code: &str, now: Millis) -> Result<MlProject> {
        directory::create_project(&self.pool, org_id, code, now).await
    }

    async fn list_projects(&self, org_id: Option<&str>) -> Result<Vec<MlProject>> {
        directory::list_projects(&self.pool, org_id).await
    }

    async fn create_application(&self, new: NewApplication<'_>) -> Result<Application> {
        directory::create_application(&self.pool, self.dialect, new).await
    }

    async fn list_applications(&self, org_id: Option<&str>) -> Result<Vec<Application>> {
        directory::list_applications(&self.pool, org_id).await
    }

    async fn rotate_application_secret(
        &self,
        app_id: &str,
        new_secret_hash: &[u8],
        previous_valid_until: Millis,
        _now: Millis,
    ) -> Result<()> {
        directory::rotate_application_secret(
            &self.pool,
            self.dialect,
            app_id,
            new_secret_hash,
            previous_valid_until,
        )
        .await
    }

    async fn disable_application(&self, app_id: &str, now: Millis) -> Result<()> {
        directory::disable_application(&self.pool, self.dialect, app_id, now).await
    }

    async fn load_credentials(&self) -> Result<Vec<ApplicationCredentials>> {
        directory::load_credentials(&self.pool).await
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn rotate_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<()> {
        keys::rotate_signing_key(&self.pool, self.dialect, key, now).await
    }

    async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<bool> {
        keys::ensure_signing_key(&self.pool, self.dialect, key, now).await
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        keys::list_signing_keys(&self.pool).await
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_refresh_family(&self, family: NewRefreshFamily) -> Result<bool> {
        self.writer.create_family(family).await
    }

    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> Result<RotationOutcome> {
        self.writer.rotate(rotation).await
    }

    async fn find_refresh_token(&self, hash: &[u8]) -> Result<Option<RefreshTokenInfo>> {
        tokens::find_refresh_token(&self.pool, hash).await
    }

    async fn revoke_refresh_family(&self, hash: &[u8], app_id: &str, now: Millis) -> Result<bool> {
        tokens::revoke_refresh_family(&self.pool, hash, app_id, now).await
    }

    async fn revoke_access_token(&self, jti: &str, app_id: &str, expires_at: Millis) -> Result<()> {
        tokens::revoke_access_token(&self.pool, self.dialect, jti, app_id, expires_at).await
    }

    async fn load_revoked_access_tokens(&self, now: Millis) -> Result<Vec<String>> {
        tokens::load_revoked_access_tokens(&self.pool, now).await
    }
}

#[async_trait]
impl ReadingStore for SqlStore {
    async fn project_exists(&self, project: &ProjectKey) -> Result<bool> {
        directory::project_exists(&self.pool, &project.org_id, &project.code).await
    }

    async fn queue_batch(&self, project: ProjectKey, batch: IngestBatch) -> Result<Committing> {
        self.writer
            .queue_ingest(IngestJob::new(project, batch))
            .await
    }

    async fn series_detections(
        &self,
        project: &ProjectKey,
        series: &[(&str, &str)],
    ) -> Result<Vec<StoredDetection>> {
        queries::series_detections(&self.pool, self.dialect, project, series).await
    }

    async fn save_checkpoints(&self, checkpoints: Vec<EvictedCheckpoint>) -> Result<()> {
        queries::save_checkpoints(&self.pool, self.dialect, &checkpoints).await
    }

    async fn scored_readings(
        &self,
        project: &ProjectKey,
        sensor_id: &str,
        value_name: &str,
        after_us: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ScoredPoint>> {
        queries::scored_readings(&self.pool, project, sensor_id, value_name, after_us, limit).await
    }

    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<Vec<StoredAnomaly>> {
        queries::list_anomalies(&self.pool, query).await
    }

    async fn read_readings(&self, query: &ReadingQuery) -> Result<Vec<StoredReading>> {
        queries::read_readings(&self.pool, self.dialect, query).await
    }

    async fn list_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesSummary>> {
        queries::list_series(&self.pool, self.dialect, query).await
    }

    async fn project_span(&self, project: &ProjectKey) -> Result<ProjectSpan> {
        queries::project_span(&self.pool, project).await
    }

    async fn series_rollups(
        &self,
        series: SeriesRef<'_>,
        width_s: i64,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<Rollup>> {
        rollups::read(&self.pool, series, width_s, from_us, to_us).await
    }

    async fn chart_readings(
        &self,
        series: SeriesRef<'_>,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> Result<Vec<ChartReading>> {
        rollups::chart_readings(&self.pool, series, from_us, to_us, limit).await
    }
}

#[async_trait]
impl AssetStore for SqlStore {
    async fn asset_layouts(&self, project: &ProjectKey, now: Millis) -> Result<Vec<AssetLayout>> {
        assets::asset_layouts(&self.pool, project, now).await
    }

    async fn create_asset(
        &self,
        project: &ProjectKey,
        name: &str,
        members: &[(String, String)],
        sampling_us: Option<i64>,
        now: Millis,
    ) -> Result<()> {
        assets::create_asset(
            &self.pool,
            self.dialect,
            project,
            name,
            members,
            sampling_us,
            now,
        )
        .await
    }

    async fn relearn_asset(&self, project: &ProjectKey, name: &str, from_us: i64) -> Result<()> {
        assets::relearn_asset(&self.pool, self.dialect, project, name, from_us).await
    }

    async fn read_health(&self, query: &HealthQuery) -> Result<Vec<StoredHealth>> {
        assets::read_health(&self.pool, query).await
    }

    async fn list_asset_events(&self, query: &AnomalyQuery) -> Result<Vec<StoredAssetEvent>> {
        assets::list_asset_events(&self.pool, query).await
    }

    async fn asset_readings(
        &self,
        project: &ProjectKey,
        asset: &AssetLayout,
        after_us: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AssetReading>> {
        assets::asset_readings(
            &self.pool,
            project,
            asset.id,
            asset.members.is_none(),
            after_us,
            limit,
        )
        .await
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: NewUser<'_>, now: Millis) -> Result<User> {
        users::create_user(&self.pool, user, now).await
    }

    async fn user_credentials(&self, email: &str) -> Result<Option<UserCredentials>> {
        users::user_credentials(&self.pool, email).await
    }

    async fn list_users(&self, org_id: &str) -> Result<Vec<User>> {
        users::list_users(&self.pool, org_id).await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        users::set_password(
            &self.pool,
            self.dialect,
            user_id,
            password_hash,
            keep_session,
        )
        .await
    }

    async fn create_session(&self, user_id: &str, session: &Session) -> Result<()> {
        users::create_session(&self.pool, user_id, session).await
    }

    async fn session(&self, id_hash: &str, now: Millis) -> Result<Option<(Session, User)>> {
        users::session(&self.pool, id_hash, now).await
    }

    async fn touch_session(&self, id_hash: &str, now: Millis) -> Result<()> {
        users::touch_session(&self.pool, id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        users::delete_session(&self.pool, id_hash).await
    }

    async fn add_known_device(&self, user_id: &str, id_hash: &str, now: Millis) -> Result<()> {
        users::add_known_device(&self.pool, user_id, id_hash, now).await
    }

    async fn known_device_user(&self, id_hash: &str) -> Result<Option<String>> {
        users::known_device_user(&self.pool, id_hash).await
    }

    async fn record_audit(
        &self,
        org_id: &str,
        actor: &str,
        action: &str,
        target: &str,
        now: Millis,
    ) -> Result<()> {
        users::record_audit(&self.pool, org_id, actor, action, target, now).await
    }

    async fn list_audit(&self, org_id: &str, limit: u32) -> Result<Vec<AuditEntry>> {
        users::list_audit(&self.pool, org_id, limit).await
    }

    async fn set_user_role(
        &self,
        org_id: &str,
        user_id: &str,
        role: &str,
        disabled_at: Option<Millis>,
    ) -> Result<()> {
        users::set_user_role(&self.pool, self.dialect, org_id, user_id, role, disabled_at).await
    }

    async fn create_invitation(&self, invitation: &Invitation) -> Result<()> {
        users::create_invitation(&self.pool, invitation).await
    }

    async fn invitation(&self, id_hash: &str, now: Millis) -> Result<Option<Invitation>> {
        users::invitation(&self.pool, id_hash, now).await
    }

    async fn accept_invitation(
        &self,
        id_hash: &str,
        user: NewUser<'_>,
        now: Millis,
    ) -> Result<User> {
        users::accept_invitation(&self.pool, self.dialect, id_hash, user, now).await
    }
}

#[async_trait]
impl AnnotationStore for SqlStore {
    async fn create_annotation(&self, project: &ProjectKey, annotation: &Annotation) -> Result<()> {
        annotations::create(&self.pool, project, annotation).await
    }

    async fn list_annotations(
        &self,
        project: &ProjectKey,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> Result<Vec<Annotation>> {
        annotations::list(&self.pool, project, from_us, to_us, limit).await
    }

    async fn delete_annotation(&self, project: &ProjectKey, id: &str) -> Result<bool> {
        annotations::delete(&self.pool, project, id).await
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn series_event_exists(
        &self,
        project: &ProjectKey,
        series_id: i64,
        start_us: i64,
    ) -> Result<bool> {
        events::series_event_exists(&self.pool, project, series_id, start_us).await
    }

    async fn asset_event_exists(
        &self,
        project: &ProjectKey,
        asset_id: i64,
        start_us: i64,
    ) -> Result<bool> {
        events::asset_event_exists(&self.pool, project, asset_id, start_us).await
    }

    async fn event_status(
        &self,
        project: &ProjectKey,
        event_id: &str,
    ) -> Result<Option<EventStatus>> {
        events::event_status(&self.pool, project, event_id).await
    }

    async fn event_history(
        &self,
        project: &ProjectKey,
        event_id: &str,
    ) -> Result<Vec<EventHistoryEntry>> {
        events::event_history(&self.pool, project, event_id).await
    }

    async fn record_event_action(
        &self,
        project: &ProjectKey,
        event_id: &str,
        status: &EventStatus,
        entry: &EventHistoryEntry,
    ) -> Result<()> {
        events::record_event_action(&self.pool, self.dialect, project, event_id, status, entry)
            .await
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn generation(&self) -> Result<i64> {
        directory::generation(&self.pool).await
    }

    fn backend(&self) -> &'static str {
        self.dialect.name()
    }
}
