//! Command-line interface. Every setting is a flag and a `VIGIE_` environment variable;
//! the doc comments are the reference (`vigie serve --help`).

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Default database: an embedded SQLite file, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./vigie-data/vigie.db";

/// Vigie: sensor readings in, anomalies out.
#[derive(Debug, Parser)]
#[command(name = "vigie", version, about)]
pub struct Cli {
    /// Database: `sqlite://PATH` (default, embedded) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(long, global = true, env = "VIGIE_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Provision organisations, projects, applications and keys (works on the database directly).
    Admin(AdminArgs),
    /// Score the anomaly detectors: the series detector on the NAB corpus (`eval nab DIR`)
    /// or on your own labelled incidents (`eval --data FILE.csv --labels FILE.csv`), the
    /// asset health model on the Tennessee Eastman process (`eval tep DIR`).
    Eval(EvalArgs),
    /// Print a fresh token response (JSON), as the documentation's first curl command.
    Token(ClientArgs),
    /// Upload readings from CSV, JSON or NDJSON files, resuming an interrupted upload.
    Push(PushArgs),
    /// List the anomaly events of the project.
    Anomalies(AnomaliesArgs),
    /// Score a local CSV and write one line per row to stdout. With one value column
    /// (`timestamp,value`): `timestamp,value,anomaly_score,anomaly`, by the series
    /// detector. With several (`timestamp,flow,pressure,…`, one aligned row per line):
    /// the columns are scored as one asset, `timestamp,anomaly_score,anomaly,contributors`
    /// with the top contributors and their shares (`pressure:0.61;flow:0.22`).
    Detect {
        /// The CSV file: a header line naming the columns is optional (without it, value
        /// columns are named c1, c2, …), timestamps in ISO-8601; an empty field is a
        /// missing value (several columns only).
        file: std::path::PathBuf,
        /// Score at or above which the `anomaly` column is 1 (default: the series
        /// detector's threshold for one column, the asset threshold, 0.5, for several).
        #[arg(long)]
        threshold: Option<f64>,
    },
}

/// `vigie eval …`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    /// The benchmark corpus to score on.
    #[command(subcommand)]
    pub corpus: Option<EvalCorpus>,
    /// Your data: CSV `timestamp,value`.
    #[arg(long, requires = "labels")]
    pub data: Option<std::path::PathBuf>,
    /// Your incidents: CSV `start,end` (one window per line) or JSON `[["start","end"], …]`.
    #[arg(long, requires = "data")]
    pub labels: Option<std::path::PathBuf>,
    /// The threshold the service uses, for the score at a fixed threshold.
    #[arg(long, default_value_t = vigie_pipeline::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Benchmark corpora.
#[derive(Debug, Subcommand)]
pub enum EvalCorpus {
    /// The Numenta Anomaly Benchmark: prints the standard, reward_low_FP_rate and
    /// reward_low_FN_rate scores (null detector 0, perfect 100).
    Nab {
        /// The corpus folder (with data/ and labels/combined_windows.json).
        dir: std::path::PathBuf,
    },
    /// The Tennessee Eastman process: prints the asset model's detection rate and delay
    /// for each of the 21 faults beside the PCA reference's, their means over the 18
    /// detectable faults at 5 % false alarms, and the model at its own threshold.
    Tep {
        /// The data folder (d00.dat, d00_te.dat, d01_te.dat … d21_te.dat).
        dir: std::path::PathBuf,
        /// Also measure the alternatives the model was chosen against (MEWMA, dynamic
        /// and per-row Mahalanobis distances, other smoothings).
        #[arg(long)]
        alternatives: bool,
    },
}

/// Settings of `vigie serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "VIGIE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Public base URL of this service, the `iss` of its tokens (default: http:// and the listen address).
    #[arg(long, env = "VIGIE_ISSUER")]
    pub issuer: Option<String>,

    /// `aud` of issued access tokens.
    #[arg(long, env = "VIGIE_AUDIENCE", default_value = "vigie-api")]
    pub audience: String,

    /// Access-token lifetime in seconds at normal load.
    #[arg(long, env = "VIGIE_ACCESS_TOKEN_TTL", default_value_t = 172_800)]
    pub access_token_ttl: u64,

    /// Longest access-token lifetime under load, seconds (default: twice the lifetime).
    #[arg(long, env = "VIGIE_ACCESS_TOKEN_TTL_MAX")]
    pub access_token_ttl_max: Option<u64>,

    /// Token issuance rate (tokens/s over the last minute) up to which the lifetime is not stretched.
    #[arg(long, env = "VIGIE_TOKEN_LOAD_LOW", default_value_t = 50.0)]
    pub token_load_low: f64,

    /// Token issuance rate from which lifetimes are at their maximum.
    #[arg(long, env = "VIGIE_TOKEN_LOAD_HIGH", default_value_t = 500.0)]
    pub token_load_high: f64,

    /// Refresh-token lifetime in seconds (365.25 days).
    #[arg(long, env = "VIGIE_REFRESH_TOKEN_TTL", default_value_t = 31_557_600)]
    pub refresh_token_ttl: u64,

    /// Seconds during which the immediately previous refresh token still works, so
    /// concurrent refreshes by one client do not lock it out.
    #[arg(long, env = "VIGIE_REFRESH_GRACE_SECONDS", default_value_t = 10)]
    pub refresh_grace_seconds: u64,

    /// Failed client authentications allowed per minute for one client id before 429.
    #[arg(
        long,
        env = "VIGIE_FAILED_AUTH_PER_MINUTE_PER_CLIENT",
        default_value = "20"
    )]
    pub failed_auth_per_client: std::num::NonZeroU32,

    /// Failed client authentications allowed per minute from one address before 429.
    #[arg(
        long,
        env = "VIGIE_FAILED_AUTH_PER_MINUTE_PER_ADDRESS",
        default_value = "60"
    )]
    pub failed_auth_per_address: std::num::NonZeroU32,

    /// How often to pick up changes made with `vigie admin` (disabled applications,
    /// rotated secrets and keys, revocations), milliseconds.
    #[arg(long, env = "VIGIE_RELOAD_INTERVAL_MS", default_value_t = 1000)]
    pub reload_interval_ms: u64,

    /// Score every pushed reading for anomalies (`false` stores readings unscored).
    #[arg(long, env = "VIGIE_DETECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub detection: bool,

    /// Score each ML project's assets (its series together) for abnormal states, beside
    /// each series alone; needs detection.
    #[arg(long, env = "VIGIE_ASSET_HEALTH", default_value_t = true, action = clap::ArgAction::Set)]
    pub asset_health: bool,

    /// Score at or above which a reading is anomalous and joins an anomaly event.
    #[arg(long, env = "VIGIE_ANOMALY_THRESHOLD", default_value_t = vigie_pipeline::DEFAULT_THRESHOLD)]
    pub anomaly_threshold: f64,

    /// Seconds a client may take from the start of a request (or of its connection) to
    /// the end of its header.
    #[arg(long, env = "VIGIE_HEADER_READ_TIMEOUT", default_value_t = 10.0, value_parser = positive_seconds)]
    pub header_read_timeout: f64,

    /// Seconds after which a connection with no request in progress is closed.
    #[arg(long, env = "VIGIE_IDLE_TIMEOUT", default_value_t = 60.0, value_parser = positive_seconds)]
    pub idle_timeout: f64,

    /// Seconds a client may take to send a request's body.
    #[arg(long, env = "VIGIE_BODY_READ_TIMEOUT", default_value_t = 60.0, value_parser = positive_seconds)]
    pub body_read_timeout: f64,

    /// Memory the anomaly detectors kept between requests may take, MiB; past it the
    /// least recently used are checkpointed and dropped (they reload when needed).
    #[arg(long, env = "VIGIE_DETECTOR_MEMORY_MIB", default_value_t = 256)]
    pub detector_memory_mib: usize,

    /// Provision a demo organisation, application and ML project on first start and print their credentials.
    #[arg(long)]
    pub demo: bool,
}

/// A number of seconds above 0 and below a year.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds < 31_557_600.0 => Ok(seconds),
        _ => Err(format!("{text:?} is not a number of seconds above 0")),
    }
}

/// `vigie admin …`
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to manage.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organisations (ORGANISATION_ID).
    #[command(subcommand)]
    Org(OrgCommand),
    /// ML projects (ML_PROJECT).
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Applications (APPLICATION_ID and APPLICATION_SECRET).
    #[command(subcommand)]
    App(AppCommand),
    /// Token-signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Assets: a project's series scored together by one health model.
    #[command(subcommand)]
    Asset(AssetCommand),
    /// People who sign in to the web console.
    #[command(subcommand)]
    User(UserCommand),
}

/// `vigie admin user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a console user (the first admin of an organisation, typically); the
    /// password is read from standard input, never from the command line.
    Create {
        /// ORGANISATION_ID of the user's organisation.
        #[arg(long)]
        org: String,
        /// Their e-mail address (the sign-in name).
        #[arg(long)]
        email: String,
        /// viewer, engineer or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from standard input (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List an organisation's users.
    List {
        /// ORGANISATION_ID.
        #[arg(long)]
        org: String,
    },
}

/// `vigie admin org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation; prints its ORGANISATION_ID.
    Create {
        /// Unique name.
        name: String,
    },
    /// List organisations.
    List,
}

/// `vigie admin project …`
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create an ML project; its code is the ML_PROJECT.
    Create {
        /// ORGANISATION_ID of the owner.
        #[arg(long)]
        org: String,
        /// Project code: ASCII letters, digits, '-', '_', '.'.
        code: String,
    },
    /// List projects.
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
}

/// `vigie admin app …`
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application; prints APPLICATION_ID and APPLICATION_SECRET (shown once).
    Create {
        /// ORGANISATION_ID of the owner.
        #[arg(long)]
        org: String,
        /// Display name.
        name: String,
        /// Granted scope, space separated.
        #[arg(long, default_value = vigie_auth::provision::DEFAULT_SCOPE)]
        scope: String,
    },
    /// List applications (never their secrets).
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
    /// Issue a new secret; the old one keeps working for the grace period.
    RotateSecret {
        /// APPLICATION_ID.
        app_id: String,
        /// Seconds the old secret keeps working.
        #[arg(long, default_value_t = vigie_auth::provision::DEFAULT_SECRET_ROTATION_GRACE_SECONDS)]
        grace_seconds: u64,
    },
    /// Disable an application: refresh tokens stop at once, access tokens within one reload interval.
    Disable {
        /// APPLICATION_ID.
        app_id: String,
    },
}

/// `vigie admin keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the old one stays published until its tokens expire.
    Rotate,
    /// List keys (ids and dates only).
    List,
}

/// The ML project an asset command works on.
#[derive(Debug, Args)]
pub struct AssetProject {
    /// ORGANISATION_ID of the owner.
    #[arg(long)]
    pub org: String,
    /// ML_PROJECT.
    #[arg(long)]
    pub project: String,
}

/// `vigie admin asset …`
#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// Split series off the project's default asset into a named asset with its own model.
    Create {
        /// The project.
        #[command(flatten)]
        project: AssetProject,
        /// The asset's name: 1 to 64 ASCII letters, digits, '-', '_' or '.'.
        name: String,
        /// A series, as SENSOR_ID or SENSOR_ID:VALUE_NAME; repeat for each.
        #[arg(
            long = "series",
            required = true,
            value_name = "SENSOR_ID[:VALUE_NAME]"
        )]
        series: Vec<String>,
        /// The sampling interval its rows are aligned at, seconds (learnt when absent).
        #[arg(long)]
        sampling_seconds: Option<f64>,
    },
    /// List the project's assets (created with the default one when needed).
    List {
        /// The project.
        #[command(flatten)]
        project: AssetProject,
    },
    /// "This is the new normal": the asset's model learns normal operation again.
    Relearn {
        /// The project.
        #[command(flatten)]
        project: AssetProject,
        /// The asset's name (`default` for the project's own).
        name: String,
        /// From this date (ISO 8601 with a time zone); now when absent.
        #[arg(long)]
        from: Option<String>,
    },
}

/// How the client commands reach the service; the credentials are the ones the public
/// documentation names, read from the environment (prefer it to flags for the secret).
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Base URL of the service.
    #[arg(long, env = "VIGIE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// ORGANISATION_ID.
    #[arg(long, env = "ORGANISATION_ID", default_value = "")]
    pub organisation_id: String,
    /// ML_PROJECT.
    #[arg(long, env = "ML_PROJECT", default_value = "")]
    pub project: String,
    /// APPLICATION_ID.
    #[arg(long, env = "APPLICATION_ID")]
    pub application_id: String,
    /// APPLICATION_SECRET.
    #[arg(long, env = "APPLICATION_SECRET", hide_env_values = true)]
    pub application_secret: String,
    /// When to renew the access token (a 401 always renews and retries once).
    #[arg(long, value_enum, default_value_t = Renewal::ExpiresIn)]
    pub renewal: Renewal,
}

/// The documented renewal strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Renewal {
    /// Renew when `expires_in` has (nearly) run out.
    ExpiresIn,
    /// Renew before the JWT's `exp`.
    JwtExp,
    /// Renew when the API answers 401.
    On401,
}

/// `vigie push FILE…`
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Where and as whom.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Files of readings: `.csv` (header naming sensorId, valueName, date, value, precision),
    /// `.json` (an array of readings) or `.ndjson` / `.jsonl` (one reading per line).
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Readings per request.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// `vigie anomalies`
#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    /// Where and as whom.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Events ending at or after this date (ISO-8601 with a time zone).
    #[arg(long)]
    pub from: Option<String>,
    /// Events starting before this date.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this sensor.
    #[arg(long)]
    pub sensor_id: Option<String>,
    /// Only events whose peak score is at least this.
    #[arg(long)]
    pub min_score: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
