//! Database access: one connection type over SQLite and PostgreSQL, the r2d2 pool,
//! and the embedded migrations of each backend.

pub mod backup;
pub mod schema;
pub mod search_file;
mod serving;
pub mod types;

pub use serving::lock_for_serving;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::migration::MigrationSource;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// A connection pool, knowing the database it connects to.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<Manager>,
    manager: Manager,
}

impl std::ops::Deref for DbPool {
    type Target = Pool<Manager>;

    fn deref(&self) -> &Pool<Manager> {
        &self.pool
    }
}

impl DbPool {
    /// How this pool connects: the database URL and SQLite's durability.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }
}
pub type PooledConn = PooledConnection<Manager>;

/// Which backend a URL selects, decided from the URL itself: SQLite accepts any
/// string, so trying backends in turn would silently open a file named like a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(String),
}

/// A PostgreSQL URL may carry a password: `Debug` shows `user:[redacted]@`.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
                        Some(colon) => {
                            format!("{}[redacted]{}", &url[..s + 3 + colon + 1], &url[at..])
                        }
                        None => url.clone(),
                    },
                    _ => url.clone(),
                };
                f.debug_tuple("Postgres").field(&shown).finish()
            }
        }
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://./data/portico.db".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else {
            Err("database URL must start with sqlite:// or postgres://".into())
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The URL with any password removed, fit for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => redact_url_password(url),
        }
    }
}

fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:[redacted]@{host}{tail}")
            } else {
                url.to_owned()
            }
        }
        None => url.to_owned(),
    }
}

impl DbConn {
    /// Runs `f` in a transaction that writes. On SQLite it begins with `BEGIN IMMEDIATE`,
    /// taking the write lock at once: a deferred transaction that reads first cannot
    /// upgrade to writing once another connection has committed, and fails with
    /// "database is locked" at once instead of waiting its turn. Inside an open
    /// transaction it is a savepoint, as `transaction` is.
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let DbConn::Sqlite(sqlite) = self else {
            return self.transaction(f);
        };
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?;
        if depth.is_some() {
            return self.transaction(f);
        }
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        let outcome = f(self);
        let DbConn::Sqlite(sqlite) = self else {
            unreachable!("the connection's backend does not change");
        };
        match outcome {
            Ok(value) => {
                AnsiTransactionManager::commit_transaction(sqlite)?;
                Ok(value)
            }
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(sqlite)?;
                Err(e)
            }
        }
    }
}

/// How a writer's transaction reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// As configured: a commit is on disk (or in PostgreSQL's flushed WAL) before it
    /// returns. Every accepted call's row and record.
    Durable,
    /// The commit returns before the disk flush (SQLite `synchronous = NORMAL` in WAL
    /// mode, PostgreSQL `synchronous_commit = off`): it survives a crash of Portico,
    /// and loses at most the last moments of work to a power cut or an OS crash.
    /// Refused calls' rows only.
    Relaxed,
}

impl DbConn {
    /// [`DbConn::write_transaction`] with `durability`; `configured` is this
    /// database's SQLite setting, restored after a relaxed commit.
    pub fn write_transaction_as<T, E, F>(
        &mut self,
        durability: Durability,
        configured: SqliteSync,
        f: F,
    ) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        if durability == Durability::Durable {
            return self.write_transaction(f);
        }
        match self {
            DbConn::Postgres(_) => self.transaction(|conn| {
                conn.batch_execute("SET LOCAL synchronous_commit TO OFF")?;
                f(conn)
            }),
            DbConn::Sqlite(_) => {
                self.batch_execute("PRAGMA synchronous = NORMAL")?;
                let outcome = self.write_transaction(f);
                self.batch_execute(&format!("PRAGMA synchronous = {}", configured.pragma()))?;
                outcome
            }
        }
    }
}

/// When SQLite flushes to disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// Every commit is on disk before it is acknowledged: a `201` survives power loss.
    #[default]
    Full,
    /// Commits survive a crash of Portico but the last ones may be lost on power
    /// loss or an OS crash; faster.
    Normal,
}

impl SqliteSync {
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        }
    }
}

/// Establishes connections for the pool, choosing the backend from the parsed URL.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
    sqlite_sync: SqliteSync,
    /// SQLite: attach the payload index's file (`search_file`).
    search: bool,
}

impl Manager {
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn sqlite_sync(&self) -> SqliteSync {
        self.sqlite_sync
    }
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = Checked;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Checked, Self::Error> {
        self.open().map(|conn| Checked {
            conn,
            checked: std::time::Instant::now(),
        })
    }

    /// A connection checked within [`CHECK_EVERY`] is handed out as it is; an older
    /// one is asked `SELECT 1` first (one round trip, not one per checkout).
    fn is_valid(&self, conn: &mut Checked) -> Result<(), Self::Error> {
        if conn.checked.elapsed() < CHECK_EVERY {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)?;
        conn.checked = std::time::Instant::now();
        Ok(())
    }

    /// A connection whose transaction could not be ended is not reused.
    fn has_broken(&self, conn: &mut Checked) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// How long a pooled connection counts as checked. A connection that broke within
/// it fails its request (503) and is checked, and replaced, on a later checkout.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A pooled connection and when it was last known to work.
pub struct Checked {
    conn: DbConn,
    checked: std::time::Instant,
}

impl std::ops::Deref for Checked {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Checked {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl Manager {
    fn open(&self) -> Result<DbConn, diesel::r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // The busy timeout first: writers queue instead of failing, the switch
                // to WAL too (two connections opening a new file at once). WAL: readers
                // run beside the writer; FULL: every commit durable before a 201;
                // statement journals in memory. The payload index's file attached.
                let sync = self.sqlite_sync.pragma();
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
                     PRAGMA temp_store = MEMORY;"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                if self.search {
                    search_file::attach(&mut conn, path)
                        .map_err(diesel::r2d2::Error::QueryError)?;
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Opens a pool on `url`, creating the SQLite file's folder when needed.
pub fn connect(url: &DatabaseUrl, max_size: u32) -> anyhow::Result<DbPool> {
    connect_with(url, max_size, SqliteSync::Full)
}

/// [`connect`], choosing SQLite's durability.
pub fn connect_with(
    url: &DatabaseUrl,
    max_size: u32,
    sqlite_sync: SqliteSync,
) -> anyhow::Result<DbPool> {
    if let DatabaseUrl::Sqlite(path) = url {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
    }
    let manager = Manager {
        url: url.clone(),
        sqlite_sync,
        search: true,
    };
    let pool = Pool::builder()
        .max_size(max_size)
        // Two connections up front (the pool must answer before the server starts);
        // the rest open as they are needed, so a start is not a burst of connections
        // that a busy database must accept within the timeout below.
        .min_idle(Some(max_size.min(2)))
        // How long a request waits for a connection before it is answered 503: a
        // database that is away is reported within seconds, not after a client's
        // own timeout.
        .connection_timeout(Duration::from_secs(3))
        .build(manager.clone())?;
    Ok(DbPool { pool, manager })
}

/// Another pool of at most `max_size` connections on the database of `pool` (the
/// writers' own, so readers never wait for a connection a writer holds), without
/// the payload index's file: a writer's `BEGIN IMMEDIATE` would lock it too.
pub fn sibling(pool: &DbPool, max_size: u32) -> anyhow::Result<DbPool> {
    let manager = Manager {
        search: false,
        ..pool.manager.clone()
    };
    Ok(DbPool {
        pool: Pool::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(3))
            .build(manager.clone())?,
        manager,
    })
}

/// Applies every pending migration of the connection's backend.
pub fn migrate(conn: &mut DbConn) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// Every migration of the connection's backend, oldest first: (name, applied).
pub fn migration_status(conn: &mut DbConn) -> anyhow::Result<Vec<(String, bool)>> {
    let err =
        |e: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("reading migrations: {e}");
    let (all, applied): (Vec<(String, String)>, Vec<String>) = match conn {
        DbConn::Postgres(c) => (
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(err)?
                .iter()
                .map(|m| (m.name().to_string(), m.name().version().to_string()))
                .collect(),
            c.applied_migrations()
                .map_err(err)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
        ),
        DbConn::Sqlite(c) => (
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(err)?
                .iter()
                .map(|m| (m.name().to_string(), m.name().version().to_string()))
                .collect(),
            c.applied_migrations()
                .map_err(err)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
        ),
    };
    let mut all = all;
    all.sort();
    Ok(all
        .into_iter()
        .map(|(name, version)| {
            let done = applied.contains(&version);
            (name, done)
        })
        .collect())
}

/// Applies migrations in order until the one named `version` is applied (for databases at an
/// earlier schema, as upgrade tests build them).
pub fn migrate_until(conn: &mut DbConn, version: &str) -> anyhow::Result<()> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| anyhow::anyhow!("migrating: {e}");
    loop {
        let status = migration_status(conn)?;
        match status.iter().find(|(v, _)| v == version) {
            None => anyhow::bail!("no migration {version}"),
            Some((_, true)) => return Ok(()),
            Some((_, false)) => {}
        }
        match conn {
            DbConn::Postgres(c) => c
                .run_next_migration(POSTGRES_MIGRATIONS)
                .map(|_| ())
                .map_err(err)?,
            DbConn::Sqlite(c) => c
                .run_next_migration(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(err)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_from_the_url() {
        assert!(DatabaseUrl::parse("sqlite://./data/p.db")
            .unwrap()
            .is_sqlite());
        assert!(!DatabaseUrl::parse("postgres://u@h/db").unwrap().is_sqlite());
        assert!(!DatabaseUrl::parse("postgresql://u@h/db")
            .unwrap()
            .is_sqlite());
        assert!(DatabaseUrl::parse("./data/p.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_reach_the_redacted_url() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/portico").unwrap();
        assert_eq!(url.redacted(), "postgres://app:[redacted]@db:5432/portico");
        let url = DatabaseUrl::parse("postgres://app@db/portico").unwrap();
        assert_eq!(url.redacted(), "postgres://app@db/portico");
    }
}
