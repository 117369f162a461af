//! Online backup and restore of the embedded database (SQLite). PostgreSQL has its
//! own tools for this (`pg_dump` / `pg_restore`; the README gives the procedure).
//!
//! A backup is `VACUUM INTO`: a consistent snapshot as of the moment it starts,
//! taken while the server keeps writing (WAL lets it read beside the writer), then
//! checked with `PRAGMA integrity_check`. A restore checks the backup the same way,
//! refuses while anything has the database open, and replaces the file atomically.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

use super::DatabaseUrl;

/// What a backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub path: PathBuf,
    pub bytes: u64,
    pub migrations: i64,
    pub endpoints: i64,
    pub tokens: i64,
    pub records: i64,
    pub calls: i64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes, integrity ok): {} migrations applied, {} endpoints, {} tokens, {} records, {} calls",
            self.path.display(),
            self.bytes,
            self.migrations,
            self.endpoints,
            self.tokens,
            self.records,
            self.calls
        )
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

fn sqlite_path<'a>(url: &'a DatabaseUrl, what: &str) -> anyhow::Result<&'a str> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(path),
        DatabaseUrl::Postgres(_) => bail!(
            "{what} works on the embedded SQLite database; for PostgreSQL use pg_dump and \
             pg_restore (see the README, \"Backup and restore\")"
        ),
    }
}

/// Writes a consistent copy of the live database at `url` to `to` and checks it.
pub fn backup(url: &DatabaseUrl, to: &Path) -> anyhow::Result<Summary> {
    let from = sqlite_path(url, "backup")?;
    if to.exists() {
        bail!("{} exists; choose a new file", to.display());
    }
    let target = to.to_str().context("the backup path must be UTF-8")?;
    let mut conn = SqliteConnection::establish(from).context("opening the database")?;
    conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target)
        .execute(&mut conn)
        .context("writing the backup")?;
    check(to)
}

/// Checks that `path` is an intact Portico database and says what it holds.
pub fn check(path: &Path) -> anyhow::Result<Summary> {
    let text = path.to_str().context("the path must be UTF-8")?;
    if !path.is_file() {
        bail!("{text} is not a file");
    }
    let mut conn = SqliteConnection::establish(&format!("file:{text}?mode=ro"))
        .with_context(|| format!("opening {text}"))?;
    let lines: Vec<Line> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .with_context(|| format!("{text} is not a SQLite database"))?;
    if lines.len() != 1 || lines[0].integrity_check != "ok" {
        let found: Vec<String> = lines.into_iter().map(|l| l.integrity_check).collect();
        bail!("{text} failed its integrity check: {}", found.join("; "));
    }
    let mut count = |table: &str| -> anyhow::Result<i64> {
        Ok(
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(&mut conn)
                .with_context(|| format!("{text} is not a Portico database (no {table})"))?
                .n,
        )
    };
    Ok(Summary {
        path: path.to_owned(),
        bytes: fs::metadata(path)?.len(),
        migrations: count("__diesel_schema_migrations")?,
        endpoints: count("endpoints")?,
        tokens: count("tokens")?,
        records: count("records")?,
        calls: count("calls")?,
    })
}

/// Replaces the database at `url` with the backup `from`. Refuses unless the
/// backup is intact and nothing has the database open (stop the server first).
pub fn restore(url: &DatabaseUrl, from: &Path) -> anyhow::Result<Summary> {
    let target = PathBuf::from(sqlite_path(url, "restore")?);
    let summary = check(from)?;
    if target.exists() {
        let mut conn = SqliteConnection::establish(&target.to_string_lossy())?;
        // Leaving WAL needs the database to itself: a running server keeps it.
        conn.batch_execute("PRAGMA busy_timeout = 0;")?;
        if conn.batch_execute("PRAGMA journal_mode = DELETE;").is_err() {
            bail!(
                "{} is in use (is Portico running?); stop the server, then restore",
                target.display()
            );
        }
    }
    let tmp = target.with_extension("restoring");
    fs::copy(from, &tmp).with_context(|| format!("copying to {}", tmp.display()))?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, &target)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        if side.exists() {
            fs::remove_file(&side)?;
        }
    }
    // The payload index's file named the records replaced: built again from these.
    let index = super::search_file::path(&target.to_string_lossy());
    for suffix in super::search_file::SIDE_FILES {
        let side = PathBuf::from(format!("{index}{suffix}"));
        if side.exists() {
            fs::remove_file(&side)?;
        }
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(Summary {
        path: target,
        ..summary
    })
}
