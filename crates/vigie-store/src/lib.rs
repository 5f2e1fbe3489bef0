//! Vigie's storage: the [`Store`] trait the rest of the service talks to, and one
//! implementation, [`SqlStore`], on embedded SQLite (the default) or PostgreSQL, chosen
//! by URL scheme.
//!
//! Both databases run one SQL text through sqlx's `Any` driver (`dialect.rs` holds the
//! few words that differ) and pass one conformance test suite. Token-path writes and
//! ingestion go through a group-commit writer (`writer.rs`) so that many concurrent
//! requests share one durable commit. One module per concern: `directory.rs` (what the
//! operator provisions), `keys.rs`, `tokens.rs`, `ingest.rs`, `queries.rs` (reads), and
//! `store.rs`, which connects and implements the traits with them.
//!
//! The store keeps to atomic operations; the rules (who may rotate a refresh token,
//! which scope a client gets) live in `vigie-auth`.

mod annotations;
mod assets;
mod bulk;
mod database_url;
mod dialect;
mod directory;
mod events;
mod ingest;
mod keys;
mod model;
mod queries;
mod rollups;
mod series_ids;
mod store;
pub mod testing;
mod tokens;
mod users;
mod write_row;
mod writer;

use async_trait::async_trait;

pub use annotations::Annotation;
pub use database_url::DatabaseUrl;
pub use events::{EventHistoryEntry, EventStatus};
pub use model::*;
pub use rollups::{ChartReading, HOUR_S, ROLLUP_WIDTHS_S, Rollup, SeriesRef, bucket_start};
pub use store::SqlStore;
pub use users::{AuditEntry, Invitation, NewUser, Session, User, UserCredentials};
pub use writer::Committing;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The named record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked for (`organisation`, `application`, …).
        kind: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// A record with the same unique key already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The database URL is not one Vigie can use.
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// A detector's or asset model's progress is not what the store holds: another
    /// node scored it meanwhile, or a batch scored before this one failed to commit.
    /// Nothing of the batch was written; reload and score again.
    #[error(
        "{0} was scored further than this request's detectors knew (another server, or a failed earlier request); send it again"
    )]
    Stale(String),
    /// The group-commit writer stopped (the store is shutting down).
    #[error("storage writer is not running")]
    WriterStopped,
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a failed insert into the client's error: a unique key taken, or a parent missing.
pub(crate) fn map_insert_error(
    error: sqlx::Error,
    what: impl FnOnce() -> String,
    parent: (&'static str, &str),
) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::AlreadyExists(what()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound {
            kind: parent.0,
            id: parent.1.to_owned(),
        },
        _ => Error::Database(error),
    }
}

/// Organisations, ML projects and applications: what the operator provisions.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Creates an organisation with a fresh id.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the name is taken.
    async fn create_organisation(&self, name: &str, now: Millis) -> Result<Organisation>;
    /// Lists all organisations, oldest first.
    async fn list_organisations(&self) -> Result<Vec<Organisation>>;
    /// Finds an organisation by its unique name.
    async fn find_organisation_by_name(&self, name: &str) -> Result<Option<Organisation>>;
    /// Creates an ML project in an organisation.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organisation, [`Error::AlreadyExists`] for a
    /// code already used in that organisation.
    async fn create_project(&self, org_id: &str, code: &str, now: Millis) -> Result<MlProject>;
    /// Lists the projects of one organisation, or of all when `org_id` is `None`.
    async fn list_projects(&self, org_id: Option<&str>) -> Result<Vec<MlProject>>;
    /// Creates an application (OAuth2 client) whose secret is stored only as `secret_hash`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organisation.
    async fn create_application(&self, new: NewApplication<'_>) -> Result<Application>;
    /// Lists the applications of one organisation, or of all when `org_id` is `None`.
    async fn list_applications(&self, org_id: Option<&str>) -> Result<Vec<Application>>;
    /// Replaces an application's secret; the previous one stays valid until `previous_valid_until`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or disabled application.
    async fn rotate_application_secret(
        &self,
        app_id: &str,
        new_secret_hash: &[u8],
        previous_valid_until: Millis,
        now: Millis,
    ) -> Result<()>;
    /// Disables an application and revokes all its refresh-token families at once.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown application.
    async fn disable_application(&self, app_id: &str, now: Millis) -> Result<()>;
    /// Everything needed to authenticate every application, for the server's cache.
    async fn load_credentials(&self) -> Result<Vec<ApplicationCredentials>>;
}

/// Token signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Adds a key and retires every other active key at `now`.
    async fn rotate_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<()>;
    /// Adds `key` only when no active key exists; returns whether it was added.
    async fn ensure_signing_key(&self, key: NewSigningKey, now: Millis) -> Result<bool>;
    /// All keys, newest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
}

/// Refresh tokens and access-token revocations.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Starts a refresh-token family for an enabled application.
    ///
    /// Returns `false`, storing nothing, when the application is unknown or disabled.
    async fn create_refresh_family(&self, family: NewRefreshFamily) -> Result<bool>;
    /// Rotates a refresh token of a family in one atomic operation (see
    /// [`RotationOutcome`]); the caller has checked that it may.
    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> Result<RotationOutcome>;
    /// Looks up a refresh token by hash, with its family and application.
    async fn find_refresh_token(&self, hash: &[u8]) -> Result<Option<RefreshTokenInfo>>;
    /// Revokes the family of a refresh token if it belongs to `app_id`; returns whether it did.
    async fn revoke_refresh_family(&self, hash: &[u8], app_id: &str, now: Millis) -> Result<bool>;
    /// Records the revocation of an access token until it expires.
    async fn revoke_access_token(&self, jti: &str, app_id: &str, expires_at: Millis) -> Result<()>;
    /// The ids of revoked access tokens that have not expired yet.
    async fn load_revoked_access_tokens(&self, now: Millis) -> Result<Vec<String>>;
}

/// Sensor readings.
#[async_trait]
pub trait ReadingStore: Send + Sync {
    /// Whether the organisation has this ML project.
    async fn project_exists(&self, project: &ProjectKey) -> Result<bool>;
    /// Stores validated readings, their scores and the detection results in one durable
    /// transaction (committed and synced) before returning. Within one call, the last
    /// reading of a key wins over earlier ones. A corrected reading keeps its score.
    async fn ingest_batch(&self, project: ProjectKey, batch: IngestBatch) -> Result<IngestSummary> {
        self.queue_batch(project, batch).await?.outcome().await
    }
    /// Queues a batch for [`ReadingStore::ingest_batch`] and returns once it is queued,
    /// before its commit: batches queued one after another are committed in that order
    /// (each maybe with others in one transaction), and a batch whose conditional
    /// updates find the progress of an earlier one that failed fails as
    /// [`Error::Stale`]. [`Committing::outcome`] tells the outcome.
    async fn queue_batch(&self, project: ProjectKey, batch: IngestBatch) -> Result<Committing>;
    /// Stores readings without scores; see [`ReadingStore::ingest_batch`].
    async fn ingest(
        &self,
        project: ProjectKey,
        readings: Vec<vigie_proto::readings::ValidReading>,
    ) -> Result<IngestSummary> {
        self.ingest_batch(project, readings.into()).await
    }
    /// The stored detection progress of each series (empty for a new series), in the
    /// order asked.
    async fn series_detections(
        &self,
        project: &ProjectKey,
        series: &[(&str, &str)],
    ) -> Result<Vec<StoredDetection>>;
    /// The stored detection progress of one series (empty when the series is new).
    async fn series_detection(
        &self,
        project: &ProjectKey,
        sensor_id: &str,
        value_name: &str,
    ) -> Result<StoredDetection> {
        Ok(self
            .series_detections(project, &[(sensor_id, value_name)])
            .await?
            .pop()
            .unwrap_or_default())
    }
    /// Saves the checkpoints of detectors dropped from memory, each only where it is
    /// newer than the stored checkpoint and covers committed readings (so a late save
    /// never replaces a newer one).
    async fn save_checkpoints(&self, checkpoints: Vec<EvictedCheckpoint>) -> Result<()>;
    /// The last `limit` scored readings of a series after `after_us` (all of them when
    /// `None`), in time order: what a detector replays after its checkpoint.
    async fn scored_readings(
        &self,
        project: &ProjectKey,
        sensor_id: &str,
        value_name: &str,
        after_us: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ScoredPoint>>;
    /// A page of anomaly events, ordered by start time then series.
    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<Vec<StoredAnomaly>>;
    /// A page of readings, ordered by series then time.
    async fn read_readings(&self, query: &ReadingQuery) -> Result<Vec<StoredReading>>;
    /// A page of the series of a project, ordered by sensor and variable.
    async fn list_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesSummary>>;
    /// How many series a project has and when its readings start and end.
    async fn project_span(&self, project: &ProjectKey) -> Result<ProjectSpan>;
    /// A series' rollups of `width_s` seconds (one of [`ROLLUP_WIDTHS_S`]) whose buckets
    /// start in `[from_us, to_us)`, oldest first.
    async fn series_rollups(
        &self,
        series: SeriesRef<'_>,
        width_s: i64,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<Rollup>>;
    /// A series' readings in `[from_us, to_us)` as a chart draws them, oldest first, at
    /// most `limit`.
    async fn chart_readings(
        &self,
        series: SeriesRef<'_>,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> Result<Vec<ChartReading>>;
}

/// Assets: series of a project scored together by a health model.
#[async_trait]
pub trait AssetStore: Send + Sync {
    /// The assets of a project, its default asset created if missing.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project.
    async fn asset_layouts(&self, project: &ProjectKey, now: Millis) -> Result<Vec<AssetLayout>>;
    /// Creates a named asset of these series; a series belongs to one named asset at
    /// most (the others stay in the default asset).
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] for a name taken or a series already in a named asset.
    async fn create_asset(
        &self,
        project: &ProjectKey,
        name: &str,
        members: &[(String, String)],
        sampling_us: Option<i64>,
        now: Millis,
    ) -> Result<()>;
    /// Asks for an asset's model to learn normal operation again from `from_us`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown asset.
    async fn relearn_asset(&self, project: &ProjectKey, name: &str, from_us: i64) -> Result<()>;
    /// A page of health rows, ordered by asset then time.
    async fn read_health(&self, query: &HealthQuery) -> Result<Vec<StoredHealth>>;
    /// A page of asset events, ordered by start time then asset.
    async fn list_asset_events(&self, query: &AnomalyQuery) -> Result<Vec<StoredAssetEvent>>;
    /// The readings of an asset's series after `after_us`, in time order (at most
    /// `limit`): what its model replays after a checkpoint.
    async fn asset_readings(
        &self,
        project: &ProjectKey,
        asset: &AssetLayout,
        after_us: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AssetReading>>;
}

/// Console users and their sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] for an e-mail address taken; [`Error::NotFound`] for an
    /// organisation that does not exist.
    async fn create_user(&self, user: NewUser<'_>, now: Millis) -> Result<User>;
    /// The user with this (lower-cased) e-mail address and their password hash.
    async fn user_credentials(&self, email: &str) -> Result<Option<UserCredentials>>;
    /// The organisation's users, by e-mail address.
    async fn list_users(&self, org_id: &str) -> Result<Vec<User>>;
    /// Replaces a user's password hash and ends their sessions but `keep_session`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a user that does not exist.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()>;
    /// Records a new session of the user.
    async fn create_session(&self, user_id: &str, session: &Session) -> Result<()>;
    /// The live session with this id hash and its (enabled) user.
    async fn session(&self, id_hash: &str, now: Millis) -> Result<Option<(Session, User)>>;
    /// Notes a request of the session.
    async fn touch_session(&self, id_hash: &str, now: Millis) -> Result<()>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Remembers a browser the user signed in from (by its cookie's hash).
    async fn add_known_device(&self, user_id: &str, id_hash: &str, now: Millis) -> Result<()>;
    /// The user a known browser signed in as.
    async fn known_device_user(&self, id_hash: &str) -> Result<Option<String>>;
    /// Appends to an organisation's audit log.
    async fn record_audit(
        &self,
        org_id: &str,
        actor: &str,
        action: &str,
        target: &str,
        now: Millis,
    ) -> Result<()>;
    /// The latest entries of an organisation's audit log, newest first.
    async fn list_audit(&self, org_id: &str, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Sets a user's role, and disables (ending their sessions) or enables them.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a user that is not the organisation's.
    async fn set_user_role(
        &self,
        org_id: &str,
        user_id: &str,
        role: &str,
        disabled_at: Option<Millis>,
    ) -> Result<()>;
    /// Records an invitation.
    async fn create_invitation(&self, invitation: &Invitation) -> Result<()>;
    /// The live invitation with this token hash.
    async fn invitation(&self, id_hash: &str, now: Millis) -> Result<Option<Invitation>>;
    /// Uses up a live invitation and creates its user, together.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the invitation is used or expired;
    /// [`Error::AlreadyExists`] when the address has an account.
    async fn accept_invitation(
        &self,
        id_hash: &str,
        user: NewUser<'_>,
        now: Millis,
    ) -> Result<User>;
}

/// What people do with anomaly events (see `vigie_console::lifecycle`).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Whether the project has the series event `(series_id, start_us)`.
    async fn series_event_exists(
        &self,
        project: &ProjectKey,
        series_id: i64,
        start_us: i64,
    ) -> Result<bool>;
    /// Whether the project has the asset event `(asset_id, start_us)`.
    async fn asset_event_exists(
        &self,
        project: &ProjectKey,
        asset_id: i64,
        start_us: i64,
    ) -> Result<bool>;
    /// An event's status, if anyone acted on it.
    async fn event_status(
        &self,
        project: &ProjectKey,
        event_id: &str,
    ) -> Result<Option<EventStatus>>;
    /// The actions taken on an event, oldest first.
    async fn event_history(
        &self,
        project: &ProjectKey,
        event_id: &str,
    ) -> Result<Vec<EventHistoryEntry>>;
    /// Records an action and the status it leads to, together.
    async fn record_event_action(
        &self,
        project: &ProjectKey,
        event_id: &str,
        status: &EventStatus,
        entry: &EventHistoryEntry,
    ) -> Result<()>;
}

/// Annotations and interventions on a project's series and assets.
#[async_trait]
pub trait AnnotationStore: Send + Sync {
    /// Stores a new annotation of `project`.
    async fn create_annotation(&self, project: &ProjectKey, annotation: &Annotation) -> Result<()>;
    /// The project's annotations overlapping `[from_us, to_us)`, by start, at most `limit`.
    async fn list_annotations(
        &self,
        project: &ProjectKey,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> Result<Vec<Annotation>>;
    /// Deletes an annotation of the project; whether it existed there.
    async fn delete_annotation(&self, project: &ProjectKey, id: &str) -> Result<bool>;
}

/// The whole storage of the service.
#[async_trait]
pub trait Store:
    DirectoryStore
    + KeyStore
    + TokenStore
    + ReadingStore
    + AssetStore
    + UserStore
    + EventStore
    + AnnotationStore
{
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// A number that changes whenever applications, keys or revocations change.
    async fn generation(&self) -> Result<i64>;
    /// The backend name, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether several servers may share this store (PostgreSQL; an embedded SQLite
    /// file has one): another server may then have changed what this one holds in
    /// memory since it read it.
    fn shared(&self) -> bool {
        self.backend() == "postgres"
    }
}

/// Opens (creating if needed) the store a URL names and applies its migrations.
///
/// # Errors
/// [`Error::UnsupportedUrl`] for another scheme; database and migration errors.
pub async fn open(url: &DatabaseUrl) -> Result<std::sync::Arc<dyn Store>> {
    Ok(std::sync::Arc::new(SqlStore::open(url).await?))
}
