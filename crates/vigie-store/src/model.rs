//! Records stored and returned by the [`crate::Store`].

use serde::Serialize;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A customer organisation (`ORGANISATION_ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Organisation {
    /// The `ORGANISATION_ID`.
    pub id: String,
    /// Unique display name.
    pub name: String,
    /// Creation time.
    pub created_at: Millis,
}

/// An anomaly-detection project of an organisation (`ML_PROJECT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MlProject {
    /// The owning organisation.
    pub org_id: String,
    /// The `ML_PROJECT` code, unique within the organisation.
    pub code: String,
    /// Creation time.
    pub created_at: Millis,
}

/// An application (OAuth2 confidential client), without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Application {
    /// The `APPLICATION_ID` (OAuth2 `client_id`).
    pub id: String,
    /// The owning organisation.
    pub org_id: String,
    /// Display name.
    pub name: String,
    /// Granted scope, space separated.
    pub scope: String,
    /// Creation time.
    pub created_at: Millis,
    /// When the application was disabled, if it was.
    pub disabled_at: Option<Millis>,
}

/// What creating an application needs.
#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    /// The new `APPLICATION_ID`.
    pub id: &'a str,
    /// The owning organisation.
    pub org_id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Granted scope, space separated.
    pub scope: &'a str,
    /// Hash of the secret; the secret itself is never stored.
    pub secret_hash: &'a [u8],
    /// Creation time.
    pub now: Millis,
}

/// What authenticating an application needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationCredentials {
    /// The `APPLICATION_ID`.
    pub id: String,
    /// The owning organisation.
    pub org_id: String,
    /// Granted scope, space separated.
    pub scope: String,
    /// Hash of the current secret.
    pub secret_hash: Vec<u8>,
    /// Hash of the previous secret while its grace period runs.
    pub previous_secret_hash: Option<Vec<u8>>,
    /// End of the previous secret's grace period.
    pub previous_secret_expires_at: Option<Millis>,
    /// Whether the application is disabled.
    pub disabled: bool,
}

/// A new token-signing key.
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    /// Key id, published in the JWKS and in JWT headers.
    pub kid: String,
    /// JWS algorithm (`EdDSA`).
    pub algorithm: String,
    /// Private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Raw public key.
    pub public_key: Vec<u8>,
}

/// A stored token-signing key.
#[derive(Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    /// Key id.
    pub kid: String,
    /// JWS algorithm.
    pub algorithm: String,
    /// Private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Raw public key.
    pub public_key: Vec<u8>,
    /// Creation time.
    pub created_at: Millis,
    /// When the key stopped signing, if it did.
    pub retired_at: Option<Millis>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// The first refresh token of a new family (issued with a `client_credentials` grant).
#[derive(Debug, Clone)]
pub struct NewRefreshFamily {
    /// New family id.
    pub family_id: String,
    /// The application the tokens are bound to.
    pub app_id: String,
    /// Scope granted to the family, space separated.
    pub scope: String,
    /// Hash of the first refresh token.
    pub token_hash: Vec<u8>,
    /// Expiry of the first refresh token.
    pub expires_at: Millis,
    /// Issue time.
    pub now: Millis,
}

/// An atomic rotation of a refresh-token family, once the presented token was checked.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// The family of the presented token.
    pub family_id: String,
    /// The generation of the presented token.
    pub presented_generation: i64,
    /// Hash of the refresh token to issue.
    pub new_hash: Vec<u8>,
    /// Expiry of the refresh token to issue.
    pub new_expires_at: Millis,
    /// How long after a rotation the immediately previous token still rotates.
    pub grace_ms: Millis,
    /// Current time.
    pub now: Millis,
}

/// Result of [`crate::TokenStore::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The new token is stored, in the next generation (or, within the grace window,
    /// beside the current one).
    Rotated,
    /// The family was revoked meanwhile (by a reuse elsewhere, the client or the
    /// operator); nothing changed.
    Revoked,
    /// The presented token was already rotated, past the grace window: the family is
    /// now revoked.
    ReuseDetected,
}

/// A stored refresh token, with its family and application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenInfo {
    /// Its family.
    pub family_id: String,
    /// Its generation within the family.
    pub generation: i64,
    /// Whether it is of the family's current generation.
    pub current: bool,
    /// The application it is bound to.
    pub app_id: String,
    /// The family's granted scope.
    pub scope: String,
    /// Issue time.
    pub issued_at: Millis,
    /// Expiry.
    pub expires_at: Millis,
    /// Whether the family is revoked.
    pub revoked: bool,
    /// Whether its application is disabled.
    pub application_disabled: bool,
}

/// Where readings go: one ML project of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectKey {
    /// The organisation.
    pub org_id: String,
    /// The `ML_PROJECT` code.
    pub code: String,
}

/// What an ingestion did with the readings it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// Readings whose key was not stored yet.
    pub new: u64,
    /// Readings identical to what was stored (resent).
    pub unchanged: u64,
    /// Readings that corrected a stored value.
    pub replaced: u64,
}

/// A page request over a project's readings, ordered by series then time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingQuery {
    /// The project.
    pub project: ProjectKey,
    /// Only this sensor.
    pub sensor_id: Option<String>,
    /// Only this variable.
    pub value_name: Option<String>,
    /// From this time (inclusive), microseconds.
    pub from_us: Option<i64>,
    /// Until this time (exclusive), microseconds.
    pub to_us: Option<i64>,
    /// Only readings carrying this label.
    pub label: Option<String>,
    /// Resume after this (series id, time) position.
    pub after: Option<(i64, i64)>,
    /// Most readings to return.
    pub limit: u32,
}

/// A stored reading with its series.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    /// Internal series id (for pagination).
    pub series_id: i64,
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Microseconds since the epoch, UTC.
    pub time_us: i64,
    /// The value.
    pub value: f64,
    /// The precision, if sent (readings stored before precision had to be a whole
    /// percentage may hold any number).
    pub precision: Option<f64>,
    /// The reading's labels, sorted.
    pub labels: Vec<String>,
    /// The anomaly score, if the reading was scored.
    pub score: Option<f64>,
}

/// A page request over a project's series, ordered by sensor then variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    /// The project.
    pub project: ProjectKey,
    /// Resume after this (sensorId, valueName).
    pub after: Option<(String, String)>,
    /// Most series to return.
    pub limit: u32,
}

impl SeriesQuery {
    /// The first `limit` series of a project.
    pub fn first(project: &ProjectKey, limit: u32) -> Self {
        Self {
            project: project.clone(),
            after: None,
            limit,
        }
    }
}

/// One series of a project and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSummary {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Number of stored readings.
    pub count: i64,
    /// Earliest reading time, microseconds.
    pub first_time_us: Option<i64>,
    /// Latest reading time, microseconds.
    pub last_time_us: Option<i64>,
    /// Every label its readings have carried, sorted.
    pub labels: Vec<String>,
}

/// How many series a project has and when its readings start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectSpan {
    /// Its series.
    pub series: i64,
    /// The earliest and latest reading, microseconds; `None` without readings.
    pub readings: Option<(i64, i64)>,
}

/// A validated reading and its anomaly score, if it was scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredReading {
    /// The reading.
    pub reading: vigie_proto::readings::ValidReading,
    /// Its anomaly score in [0, 1]; `None` when it was not scored (late, or detection off).
    pub score: Option<f64>,
    /// The range the detector expected it in, `(low, high)`, when it had one: the
    /// series viewer's band of expected values.
    pub expected: Option<(f64, f64)>,
    /// The feed of its asset's model that took it (the asset's `fed_version` after the
    /// request), when it was fed to one: a reload replays feed by feed, as they came.
    pub asset_feed: Option<i64>,
}

/// A run of consecutive anomalous readings of one series.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct AnomalyEvent {
    /// Time of the first anomalous reading, microseconds.
    pub start_us: i64,
    /// Time of the last anomalous reading so far, microseconds.
    pub end_us: i64,
    /// Time of the highest score, microseconds.
    pub peak_us: i64,
    /// The highest score.
    pub peak_score: f64,
    /// What the peak reading was, against what the detector expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<EventExplanation>,
}

/// Why a reading was anomalous: the kind of anomaly, and the range the detector
/// expected against the value observed.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct EventExplanation {
    /// `spike`, `level_shift`, `drift`, `variance_change`, `new_pattern`, …
    pub kind: String,
    /// Lowest value expected.
    pub expected_low: f64,
    /// Highest value expected.
    pub expected_high: f64,
    /// The value observed.
    pub observed: f64,
}

/// One sensor's share of an asset's health score.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Contribution {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Its share, in `[0, 1]`.
    pub share: f64,
    /// What the sensor read against what was expected (kept for an event's peak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<SensorDetail>,
}

/// A sensor's reading at an asset event's peak, against what the model expected.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, Serialize)]
pub struct SensorDetail {
    /// The value read (`None` when the sensor was missing from the row).
    pub observed: Option<f64>,
    /// The value expected given the asset's other sensors.
    pub expected: f64,
    /// The lowest value learnt in normal operation.
    pub normal_low: Option<f64>,
    /// The highest value learnt in normal operation.
    pub normal_high: Option<f64>,
}

/// An asset's health at one aligned time.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthRow {
    /// The row's time, microseconds.
    pub time_us: i64,
    /// The health score in `[0, 1]` (higher is more abnormal).
    pub health: f64,
    /// The top contributors, largest first.
    pub contributors: Vec<Contribution>,
}

/// A run of abnormal rows of an asset.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct AssetEvent {
    /// Time of the first abnormal row, microseconds.
    pub start_us: i64,
    /// Time of the last abnormal row so far, microseconds.
    pub end_us: i64,
    /// Time of the highest score, microseconds.
    pub peak_us: i64,
    /// The highest score.
    pub peak_score: f64,
    /// The top contributors at the peak, largest first.
    pub contributors: Vec<Contribution>,
    /// `broken_relation`, `out_of_range`, … as the model tells it.
    pub kind: String,
}

/// What the health model of one asset produced in a batch, stored with it atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetDetection {
    /// The asset.
    pub asset_id: i64,
    /// The model's serialised state after the batch, when the batch checkpoints it.
    pub checkpoint: Option<String>,
    /// Time of the last row scored, microseconds; `None` when no row was scored yet.
    pub scored_until_us: Option<i64>,
    /// How many requests had fed the asset's model when it took this one (the store's
    /// `fed_version` when it was loaded, plus the requests it took since): the batch is
    /// refused with [`crate::Error::Stale`] unless the store still holds it, so that an
    /// asset is scored as by one model whatever node receives its readings.
    pub previous_version: i64,
    /// The rows scored (none when the request only brought readings still waiting
    /// for their row).
    pub rows: Vec<HealthRow>,
    /// Events created or extended (upserted by start time).
    pub events: Vec<AssetEvent>,
    /// Whether a requested relearn was carried out (it is then cleared).
    pub relearned: bool,
}

/// What detection produced for one series of a batch, stored with it atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDetection {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// The detector's serialised state after the batch, when the batch checkpoints it
    /// (otherwise the stored checkpoint stays).
    pub checkpoint: Option<String>,
    /// Time of the last scored reading, microseconds.
    pub scored_until_us: i64,
    /// The progress the detector started the batch from (the store's
    /// `scored_until_us` when it loaded or last wrote): the batch is refused with
    /// [`crate::Error::Stale`] unless the store still holds it, so that a series is
    /// scored in time order by one detector whatever node receives its readings.
    pub previous_scored_until_us: Option<i64>,
    /// Events created or extended by the batch (upserted by start time).
    pub events: Vec<AnomalyEvent>,
}

/// Readings to store in one transaction, with what detection made of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestBatch {
    /// The readings and their scores.
    pub readings: Vec<ScoredReading>,
    /// Per-series detection results.
    pub detection: Vec<SeriesDetection>,
    /// Per-asset health results.
    pub assets: Vec<AssetDetection>,
}

impl From<Vec<vigie_proto::readings::ValidReading>> for IngestBatch {
    fn from(readings: Vec<vigie_proto::readings::ValidReading>) -> Self {
        Self {
            readings: readings
                .into_iter()
                .map(|reading| ScoredReading {
                    reading,
                    score: None,
                    expected: None,
                    asset_feed: None,
                })
                .collect(),
            detection: Vec::new(),
            assets: Vec::new(),
        }
    }
}

/// A series' stored detection progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredDetection {
    /// The detector's last checkpoint (its serialised state), if one was written.
    pub checkpoint: Option<String>,
    /// Time of the last reading the checkpoint had scored, microseconds.
    pub checkpoint_until_us: Option<i64>,
    /// Time of the last scored reading, microseconds.
    pub scored_until_us: Option<i64>,
}

/// The checkpoint of a detector dropped from memory, saved so that its reload replays
/// nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct EvictedCheckpoint {
    /// The project.
    pub project: ProjectKey,
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// The detector's serialised state.
    pub state: String,
    /// Time of the last reading it scored, microseconds.
    pub scored_until_us: i64,
}

/// A scored reading as detection replays it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPoint {
    /// Time, microseconds since the Unix epoch.
    pub time_us: i64,
    /// The value.
    pub value: f64,
    /// The score it was given.
    pub score: f64,
}

/// A page request over a project's anomaly events, ordered by start then series.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyQuery {
    /// The project.
    pub project: ProjectKey,
    /// Only this sensor.
    pub sensor_id: Option<String>,
    /// Only this variable.
    pub value_name: Option<String>,
    /// Events that end at or after this time, microseconds.
    pub from_us: Option<i64>,
    /// Events that start before this time, microseconds.
    pub to_us: Option<i64>,
    /// Only events whose peak score is at least this.
    pub min_score: Option<f64>,
    /// Resume after this (start time, series id) position.
    pub after: Option<(i64, i64)>,
    /// Most events to return.
    pub limit: u32,
}

/// A stored anomaly event with its series.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnomaly {
    /// Internal series id (for pagination).
    pub series_id: i64,
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// The event.
    pub event: AnomalyEvent,
}

/// An asset as the pipeline needs it: its series and its stored progress.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetLayout {
    /// Internal id.
    pub id: i64,
    /// Its name, unique in the project (`default` for the project's default asset).
    pub name: String,
    /// Its series; `None` for the default asset, which holds every series of the
    /// project that no named asset lists.
    pub members: Option<Vec<(String, String)>>,
    /// The operator's sampling interval, microseconds; learnt when `None`.
    pub sampling_us: Option<i64>,
    /// The health model's checkpoint, if one was written.
    pub state: Option<String>,
    /// Time of the last row the checkpoint had scored, microseconds.
    pub state_until_us: Option<i64>,
    /// Time of the last row scored, microseconds.
    pub scored_until_us: Option<i64>,
    /// A requested "new normal": learn again from the first row at or after this time.
    pub relearn_from_us: Option<i64>,
    /// How many requests have fed its model (see [`AssetDetection::previous_version`]).
    pub fed_version: i64,
}

/// The name of a project's default asset.
pub const DEFAULT_ASSET: &str = "default";

/// A page request over an asset's health scores, ordered by asset then time.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthQuery {
    /// The project.
    pub project: ProjectKey,
    /// Only this asset.
    pub asset: Option<String>,
    /// From this time (inclusive), microseconds.
    pub from_us: Option<i64>,
    /// Until this time (exclusive), microseconds.
    pub to_us: Option<i64>,
    /// Resume after this (asset id, time) position.
    pub after: Option<(i64, i64)>,
    /// Most rows to return.
    pub limit: u32,
}

/// A stored health row with its asset.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHealth {
    /// Internal asset id (for pagination).
    pub asset_id: i64,
    /// The asset's name.
    pub asset: String,
    /// The row.
    pub row: HealthRow,
}

/// A stored asset event with its asset.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAssetEvent {
    /// Internal asset id (for pagination).
    pub asset_id: i64,
    /// The asset's name.
    pub asset: String,
    /// The event.
    pub event: AssetEvent,
}

/// A reading of an asset's series as a replay needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetReading {
    /// The sensor.
    pub sensor_id: String,
    /// The variable.
    pub value_name: String,
    /// Time, microseconds.
    pub time_us: i64,
    /// The value.
    pub value: f64,
    /// The feed of the asset's model that took it ([`ScoredReading::asset_feed`]).
    pub feed: Option<i64>,
}
