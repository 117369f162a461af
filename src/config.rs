//! Command line and `PORTICO_*` environment.

use clap::{Args, Parser, Subcommand};

use crate::domain::user::Role;

#[derive(Parser)]
#[command(name = "portico", version, about = "Portico: endpoint integration hub")]
pub struct Cli {
    /// Database: `sqlite://PATH` (embedded default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "PORTICO_DATABASE_URL",
        default_value = "sqlite://./data/portico.db",
        global = true
    )]
    pub database_url: String,

    /// Log filter, e.g. `info` or `portico=debug,actix_web=info`.
    #[arg(long, env = "PORTICO_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log lines as JSON instead of text.
    #[arg(long, env = "PORTICO_LOG_JSON", global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate {
        /// List applied and pending migrations instead, changing nothing.
        #[arg(long)]
        status: bool,
    },
    /// Write a consistent copy of the SQLite database to PATH while Portico runs,
    /// and check it (PostgreSQL: use pg_dump).
    Backup {
        /// A new file for the copy.
        path: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup (stop the server first;
    /// PostgreSQL: use pg_restore).
    Restore {
        /// A file written by `portico backup`.
        backup: std::path::PathBuf,
    },
    /// Run one pass of upkeep now and exit: partitions ahead of need, retention
    /// (calls older than --call-retention-days; records per endpoint), expired
    /// sessions and keys. Prints what it removed and how long it took.
    Sweep {
        /// Days the call log keeps a call (0: forever).
        #[arg(long, env = "PORTICO_CALL_RETENTION_DAYS", default_value_t = 0)]
        call_retention_days: u32,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PORTICO_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Password of the `admin` user created on a database with no users
    /// (a random one is printed once when unset).
    #[arg(long, env = "PORTICO_ADMIN_PASSWORD", hide_env_values = true,
          value_parser = |s: &str| Ok::<_, std::convert::Infallible>(crate::domain::secret::Password::new(s.into())))]
    pub admin_password: Option<crate::domain::secret::Password>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PORTICO_WORKERS")]
    pub workers: Option<usize>,

    /// Database connections in the pool.
    #[arg(long, env = "PORTICO_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,

    /// SQLite durability: `full` acknowledges a write once it is on disk; `normal`
    /// once it is in the write-ahead log (survives a crash of Portico, not power loss).
    #[arg(long, env = "PORTICO_SQLITE_SYNCHRONOUS", value_enum, default_value_t = crate::db::SqliteSync::Full)]
    pub sqlite_synchronous: crate::db::SqliteSync,

    /// Take the client address from X-Forwarded-For/Forwarded (only behind a proxy you trust).
    #[arg(long, env = "PORTICO_TRUST_PROXY_HEADERS")]
    pub trust_proxy_headers: bool,

    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. HTTP/2 for
    /// clients that offer it; session cookies become Secure.
    #[arg(long, env = "PORTICO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "PORTICO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long, env = "PORTICO_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Invalid-token requests per minute from one address before every ingest
    /// request from it is refused (429) for a minute; 0 turns this off.
    #[arg(long, env = "PORTICO_FAILED_TOKEN_LIMIT", default_value_t = crate::state::DEFAULT_FAILED_TOKEN_LIMIT)]
    pub failed_token_limit: u32,

    /// Exports streamed at once; one more is answered 429 with Retry-After.
    #[arg(long, env = "PORTICO_MAX_EXPORTS", default_value_t = crate::state::DEFAULT_MAX_EXPORTS)]
    pub max_exports: usize,

    /// A streaming replica of the PostgreSQL database (same form as
    /// --database-url): the data viewer, exports and stats read from it; access
    /// decisions and every write stay on the primary.
    #[arg(long, env = "PORTICO_DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,

    /// Seconds the read replica may be behind the primary; beyond, viewer reads
    /// go to the primary until it catches up.
    #[arg(long, env = "PORTICO_MAX_REPLICA_LAG", default_value_t = 5.0)]
    pub max_replica_lag: f64,

    /// Days the call log keeps a call (0: forever). On PostgreSQL whole days of the
    /// call log are dropped once they have passed it.
    #[arg(long, env = "PORTICO_CALL_RETENTION_DAYS", default_value_t = 0)]
    pub call_retention_days: u32,

    /// Session lifetime in hours.
    #[arg(long, env = "PORTICO_SESSION_TTL_HOURS", default_value_t = 12)]
    pub session_ttl_hours: u32,

    /// A file holding the server's secret key (32 bytes, base64 or hex), under
    /// which alert targets' signing secrets are sealed; created when missing.
    /// Default on SQLite: portico.key beside the database. On PostgreSQL give
    /// every instance the same key (this file, or PORTICO_SECRET_KEY).
    #[arg(long, env = "PORTICO_SECRET_KEY_FILE")]
    pub secret_key_file: Option<std::path::PathBuf>,

    /// The server's secret key itself (32 bytes, base64 or hex): from the
    /// environment only, so it never shows in a process listing.
    #[arg(skip = std::env::var("PORTICO_SECRET_KEY").ok().filter(|v| !v.is_empty()))]
    pub secret_key: Option<String>,

    /// Seconds before a failed alert delivery is tried again; the wait doubles
    /// after each failure (at most an hour, with jitter).
    #[arg(long, env = "PORTICO_ALERT_BACKOFF_SECONDS", default_value_t = 30.0)]
    pub alert_backoff_seconds: f64,

    /// Hours a failing alert delivery is retried before it is marked failed.
    #[arg(long, env = "PORTICO_ALERT_RETRY_HOURS", default_value_t = 24.0)]
    pub alert_retry_hours: f64,

    /// Seconds an alert target has to answer one delivery attempt.
    #[arg(long, env = "PORTICO_ALERT_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub alert_timeout_seconds: f64,

    /// Alert deliveries in flight at once on this instance.
    #[arg(long, env = "PORTICO_ALERT_CONCURRENCY", default_value_t = 8)]
    pub alert_concurrency: usize,

    /// Seconds between integration health checks (silent mappings, refusal
    /// spikes, expiring tokens), which raise the alert events.
    #[arg(long, env = "PORTICO_HEALTH_CHECK_INTERVAL", default_value_t = 60.0)]
    pub health_check_interval: f64,

    /// Refusals of one mapping within one 5-minute window that raise `refusals_spike`.
    #[arg(long, env = "PORTICO_REFUSALS_SPIKE_THRESHOLD", default_value_t = crate::state::DEFAULT_REFUSALS_SPIKE_THRESHOLD)]
    pub refusals_spike_threshold: i64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Username.
        name: String,
        /// Role of the new user.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

impl ServeArgs {
    /// The alert settings these flags give.
    pub fn alert_settings(&self) -> crate::domain::alert::AlertSettings {
        use std::time::Duration;
        let defaults = crate::domain::alert::AlertSettings::default();
        let secs = |v: f64, max: f64| Duration::from_secs_f64(v.clamp(0.01, max));
        crate::domain::alert::AlertSettings {
            backoff: crate::domain::alert::Backoff {
                base: secs(self.alert_backoff_seconds, 3600.0),
                give_up_after: secs(self.alert_retry_hours * 3600.0, 7.0 * 86_400.0),
                ..defaults.backoff
            },
            timeout: secs(self.alert_timeout_seconds, 300.0),
            concurrency: self.alert_concurrency.max(1),
            ..defaults
        }
    }
}
